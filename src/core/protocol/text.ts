/**
 * The text (XML-style) tool protocol: the default for models without native tool calling.
 *
 * A reply holds exactly one action:
 *
 *   <write_file>
 *   <path>src/add.js</path>
 *   <content>
 *   ...raw code, no escaping...
 *   </content>
 *   </write_file>
 *
 * Parsing rules (why they are what they are):
 * - Prose, code fences, `<think>`/`<thinking>` blocks (with any tags inside), and trailing text are
 *   ignored, because small models wrap actions in all of these. For templates that open `<think>`
 *   themselves, pass `startsInThinking`: everything up to the first `</think>` is then thinking. (Not
 *   guessed from an orphan `</think>`: a stream cannot know one is coming, and the streamed and
 *   whole-reply results must agree.)
 * - The action is the FIRST known tool tag outside thinking. It ends at the first `</tool>` that closes
 *   a well-formed parameter list, so a streamed reply can be acted on the moment that tag arrives.
 *   A file body that contains its own tool's closing tag right after `</content>` would end early; the
 *   instructions tell models never to do that, and nothing else in a body can end an action early.
 * - Bodies are raw. A raw parameter (file contents, search/replace text) ends at the LAST `</param>`
 *   before the action's end that is followed only by whitespace and then another parameter or the
 *   action's end, so `</div>`, `<`, `&` and even `</content>` inside code survive. A short parameter
 *   (path, command) ends at the first such close. Raw bodies keep their text except one leading newline;
 *   a body that is entirely one fenced code block loses the fence (models add them; a lone fenced block
 *   is almost never the intended file). Other values are trimmed. Entities are never decoded.
 * - Line endings are normalised to LF before anything else.
 * - More than one complete action is an error, not "run the first": the model must learn to wait for
 *   each result, and silently dropping an action it thinks it ran is worse.
 */
import { type DoneReason, isToolName, type ParseOutcome, type ToolSpec } from './types';
import { renderExample } from './textInstructions';
import { knownToolsList, unknownToolError, validateCall } from './validate';

const TAG = /<(\/?)([A-Za-z_][\w.-]*)([^<>]*?)(\/?)>/g;
const THINK_TAGS = new Set(['think', 'thinking']);

export interface TextParseOptions {
  /** Ollama's done_reason; 'length' turns "incomplete" into "cut off". */
  doneReason?: DoneReason;
  /** The reply starts inside a thinking block whose `<think>` the chat template already wrote. */
  startsInThinking?: boolean;
}

interface Found {
  start: number;
  end: number;
  name: string;
  selfClosing: boolean;
  attrs: string;
}

type Scan = { kind: 'tool'; tag: Found } | { kind: 'none'; unknown?: string; paramOutside?: string } | { kind: 'open_think' };

/** Index where visible text starts when the reply began inside thinking; -1 when thinking never ended. */
function afterLeadingThink(text: string): number {
  const close = /<\/think(?:ing)?\s*>/i.exec(text);
  return close ? close.index + close[0].length : -1;
}

/** Find the first known tool tag from `from`, skipping thinking blocks. */
function scanForAction(text: string, from: number, tools: readonly ToolSpec[]): Scan {
  const re = new RegExp(TAG.source, 'g');
  re.lastIndex = from;
  let unknown: string | undefined;
  let paramOutside: string | undefined;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const [whole, slash, name, attrs, selfSlash] = m as unknown as [string, string, string, string, string];
    if (slash) continue;
    const lower = name.toLowerCase();
    if (THINK_TAGS.has(lower)) {
      const close = new RegExp(`</${lower}\\s*>`, 'ig');
      close.lastIndex = m.index + whole.length;
      const c = close.exec(text);
      if (!c) return { kind: 'open_think' };
      re.lastIndex = c.index + c[0].length;
      continue;
    }
    if (tools.some(t => t.name === name)) {
      return { kind: 'tool', tag: { start: m.index, end: m.index + whole.length, name, selfClosing: selfSlash === '/', attrs: attrs.trim() } };
    }
    // Remember the first tag that looks like an attempted action (it has a matching close), for the error.
    if (!unknown && !paramOutside && text.indexOf(`</${name}>`, m.index + whole.length) >= 0) {
      if (tools.some(t => Object.hasOwn(t.input.shape, name))) paramOutside = name;
      else unknown = name;
    }
  }
  return { kind: 'none', unknown, paramOutside };
}

type Structure = { ok: true; params: Record<string, string> } | { ok: false; kind: 'malformed' | 'invalid_param' | 'unclosed'; error: string };

const PARAM_OPEN = /<([A-Za-z_][\w.-]*)\s*>/y;

/** Is position `at` (after a param close) followed by whitespace and then `end`, or a not-yet-seen parameter tag? */
function closesCleanly(text: string, at: number, end: number, allowed: Set<string>): boolean {
  let i = at;
  while (i < end && /\s/.test(text[i]!)) i++;
  if (i >= end) return true;
  PARAM_OPEN.lastIndex = i;
  const m = PARAM_OPEN.exec(text);
  return !!m && m.index === i && allowed.has(m[1]!);
}

/** Parse the parameter list of one action between `from` (after the open tag) and `to` (the close tag). */
function parseParams(text: string, from: number, to: number, spec: ToolSpec): Structure {
  const names = Object.keys(spec.input.shape);
  const raw = new Set(spec.rawParams ?? []);
  const params: Record<string, string> = {};
  let pos = from;
  for (;;) {
    while (pos < to && /\s/.test(text[pos]!)) pos++;
    if (pos >= to) return { ok: true, params };
    PARAM_OPEN.lastIndex = pos;
    const m = PARAM_OPEN.exec(text);
    if (!m || m.index !== pos || m.index + m[0].length > to) {
      const snippet = text.slice(pos, Math.min(to, pos + 40)).replace(/\n/g, ' ');
      return {
        ok: false,
        kind: 'malformed',
        error: `Unexpected text "${snippet}" inside <${spec.name}>. Put each parameter in its own tag, e.g. <${names[0] ?? 'param'}>…</${names[0] ?? 'param'}>, and nothing else between them.`,
      };
    }
    const pname = m[1]!;
    if (!names.includes(pname)) {
      return { ok: false, kind: 'invalid_param', error: `${spec.name} has no parameter <${pname}>. Its parameters are: ${names.join(', ') || '(none)'}.` };
    }
    if (pname in params) {
      return { ok: false, kind: 'malformed', error: `The parameter <${pname}> appears twice in <${spec.name}>; give it once.` };
    }
    const bodyStart = pos + m[0].length;
    // A close followed by the same tag again counts as clean so a repeated short parameter is reported as such.
    const allowed = new Set(names.filter(n => !(n in params)));
    const closeTag = `</${pname}>`;
    let chosen = -1;
    for (let c = text.indexOf(closeTag, bodyStart); c >= 0 && c + closeTag.length <= to; c = text.indexOf(closeTag, c + 1)) {
      if (closesCleanly(text, c + closeTag.length, to, allowed)) {
        chosen = c;
        if (!raw.has(pname)) break; // short values end at the first clean close, bodies at the last
      }
    }
    if (chosen < 0) {
      // Closed, but followed by stray text: take the close and let the next round name the stray text.
      const first = text.indexOf(closeTag, bodyStart);
      if (first >= 0 && first + closeTag.length <= to) chosen = raw.has(pname) ? text.lastIndexOf(closeTag, to - closeTag.length) : first;
    }
    if (chosen < 0) {
      return { ok: false, kind: 'unclosed', error: `The <${pname}> parameter of <${spec.name}> is not closed: write ${closeTag} right after its value, before </${spec.name}>.` };
    }
    params[pname] = text.slice(bodyStart, chosen);
    pos = chosen + closeTag.length;
  }
}

const WHOLE_FENCE = /^[ \t]*```[^\n`]*\n([\s\S]*?\n)?[ \t]*```[ \t]*\n?$/;

function cleanValue(value: string, raw: boolean): string {
  if (!raw) return value.trim();
  let v = value.startsWith('\n') ? value.slice(1) : value;
  const f = WHOLE_FENCE.exec(v);
  if (f && !/^[ \t]*```/m.test(f[1] ?? '')) v = f[1] ?? '';
  return v;
}

/** Count complete actions in `text` from `from` (thinking skipped): used to refuse replies with several. */
function countMoreActions(text: string, from: number, tools: readonly ToolSpec[]): string[] {
  const names: string[] = [];
  let pos = from;
  for (let guard = 0; guard < 1000; guard++) {
    const s = scanForAction(text, pos, tools);
    if (s.kind !== 'tool') break;
    const closeAt = s.tag.selfClosing ? s.tag.end : text.indexOf(`</${s.tag.name}>`, s.tag.end);
    if (closeAt < 0) break;
    names.push(s.tag.name);
    pos = s.tag.selfClosing ? s.tag.end : closeAt + s.tag.name.length + 3;
  }
  return names;
}

export interface ActionSpan {
  outcome: ParseOutcome;
  /** Offset just past the action's closing tag in the normalised text, when an action was found. */
  end?: number;
}

function exampleOf(spec: ToolSpec): string {
  return renderExample(spec);
}

/** Parse a whole reply. Never throws. */
export function parseTextReply(reply: string, tools: readonly ToolSpec[], options: TextParseOptions = {}): ParseOutcome {
  return parseTextAction(reply, tools, options).outcome;
}

export function parseTextAction(reply: string, tools: readonly ToolSpec[], options: TextParseOptions = {}): ActionSpan {
  const cut = options.doneReason === 'length';
  const cutOff: ParseOutcome = {
    ok: false,
    kind: 'cut_off',
    error: 'Your reply was cut off before the action was complete (output length limit). Reply again with a shorter action: write a smaller file, or split the work into several smaller write_file/replace_in_file steps.',
  };
  if (reply.trim() === '') {
    if (cut) return { outcome: cutOff };
    return { outcome: { ok: false, kind: 'empty', error: `Your reply was empty. Reply with exactly one action, for example:\n${exampleFor(tools)}` } };
  }
  const text = reply.includes('\r') ? reply.replace(/\r\n?/g, '\n') : reply;
  const start = options.startsInThinking ? afterLeadingThink(text) : 0;
  const scan: Scan = start < 0 ? { kind: 'open_think' } : scanForAction(text, start, tools);

  if (scan.kind === 'open_think') {
    if (cut) return { outcome: cutOff };
    return { outcome: { ok: false, kind: 'unclosed', error: 'Your <think> block is not closed. Close it with </think>, then write exactly one action.' } };
  }
  if (scan.kind === 'none') {
    if (cut) return { outcome: cutOff };
    if (scan.paramOutside) {
      const param = scan.paramOutside;
      const owner = tools.find(t => param in t.input.shape && !t.input.shape[param]!.safeParse(undefined).success) ?? tools.find(t => param in t.input.shape);
      return {
        outcome: {
          ok: false,
          kind: 'malformed',
          error: `<${scan.paramOutside}> must be inside a tool tag. Wrap the parameters in the tool's tag, for example:\n${owner ? exampleOf(owner) : exampleFor(tools)}`,
        },
      };
    }
    if (scan.unknown) return { outcome: unknownToolError(scan.unknown, tools) };
    return {
      outcome: {
        ok: false,
        kind: 'no_action',
        error: `Your reply contained no action. Reply with exactly one action in the XML format (tools: ${knownToolsList(tools)}), for example:\n${exampleFor(tools)}\nWhen the task is done, use <complete>.`,
      },
    };
  }

  const tag = scan.tag;
  const spec = tools.find(t => t.name === tag.name)!;
  if (tag.attrs) {
    return {
      outcome: { ok: false, kind: 'malformed', error: `Write parameters as child tags, not attributes of <${tag.name}>. For example:\n${exampleOf(spec)}` },
    };
  }
  let params: Record<string, string> | undefined;
  let end = tag.end;
  let lastError: Structure | undefined;
  if (tag.selfClosing) {
    params = {};
  } else {
    const closeRe = new RegExp(`</${tag.name}\\s*>`, 'g');
    closeRe.lastIndex = tag.end;
    for (let c = closeRe.exec(text); c; c = closeRe.exec(text)) {
      const s = parseParams(text, tag.end, c.index, spec);
      if (s.ok) {
        params = s.params;
        end = c.index + c[0].length;
        break;
      }
      lastError = s;
    }
  }
  if (!params) {
    if (cut) return { outcome: cutOff };
    if (lastError && !lastError.ok) return { outcome: { ok: false, kind: lastError.kind, error: lastError.error } };
    const inner = parseParams(text, tag.end, text.length, spec);
    const detail = inner.ok ? '' : ` ${inner.error}`;
    return {
      outcome: { ok: false, kind: 'unclosed', error: `Your <${tag.name}> action is not closed: end it with </${tag.name}>.${detail} For example:\n${exampleOf(spec)}` },
    };
  }

  const more = countMoreActions(text, end, tools);
  if (more.length) {
    const all = [tag.name, ...more];
    return {
      outcome: {
        ok: false,
        kind: 'multiple_actions',
        error: `Only one action per reply is allowed; yours had ${all.length} (${all.join(', ')}). Nothing was run. Send the first action alone, wait for its <tool_result>, then continue.`,
      },
      end,
    };
  }
  const raw = new Set(spec.rawParams ?? []);
  const args: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) args[k] = cleanValue(v, raw.has(k));
  return { outcome: validateCall(tools, tag.name, args, undefined, exampleOf), end };
}

function exampleFor(tools: readonly ToolSpec[]): string {
  const spec = tools.find(t => t.name === 'read_file') ?? tools[0];
  return spec ? exampleOf(spec) : '<complete><result>…</result></complete>';
}

export type StreamStatus = { complete: false } | { complete: true; outcome: ParseOutcome };

/**
 * The closing-tag pattern per tool set (a parser is made per model call, the tool set rarely changes). One
 * RegExp serves every parser of that set: `push` sets its lastIndex and uses it without yielding.
 */
const TRIGGERS = new Map<string, RegExp>();

/**
 * Incremental parser for a streamed reply. `push` is cheap (it only looks at the new chunk plus a short
 * tail for a closing tool tag) and reports `complete` as soon as a whole, valid action has arrived, so
 * the caller can stop generation early. `finish()` parses everything pushed and equals
 * `parseTextReply(allText)`; when the caller stopped early, that is the same call `push` reported.
 */
export class TextProtocolStreamParser {
  private chunks: string[] = [];
  private tail = '';
  private done: ParseOutcome | undefined;
  /** The text `done` was parsed from. */
  private doneText = '';
  private readonly trigger: RegExp;
  private readonly tailSize: number;

  constructor(
    private readonly tools: readonly ToolSpec[],
    private readonly options: { startsInThinking?: boolean } = {},
  ) {
    const names = tools.map(t => t.name).filter(isToolName).join('|');
    let trigger = TRIGGERS.get(names);
    if (!trigger) {
      if (TRIGGERS.size > 32) TRIGGERS.clear();
      TRIGGERS.set(names, (trigger = new RegExp(`</(?:${names})\\s*>|<(?:${names})\\s*/>`, 'g')));
    }
    this.trigger = trigger;
    this.tailSize = Math.max(...tools.map(t => t.name.length), 4) + 8;
  }

  push(chunk: string): StreamStatus {
    if (!chunk) return this.status();
    this.chunks.push(chunk);
    if (this.done) return this.status();
    const window = this.tail + chunk;
    const tailLen = this.tail.length;
    this.tail = window.slice(-this.tailSize);
    this.trigger.lastIndex = 0;
    for (let m = this.trigger.exec(window); m; m = this.trigger.exec(window)) {
      if (m.index + m[0].length <= tailLen) continue; // already seen in an earlier push
      const text = this.text();
      const outcome = parseTextReply(text, this.tools, this.options);
      if (outcome.ok) {
        this.done = outcome;
        this.doneText = text;
      }
      break;
    }
    return this.status();
  }

  /**
   * The outcome `push` reported complete, when `reply` is exactly the text it was parsed from (a reply that
   * went on after its action, or any other text, is not: parse it whole). Saves parsing a reply twice.
   */
  outcomeFor(reply: string): ParseOutcome | undefined {
    return this.done && this.doneText === reply ? this.done : undefined;
  }

  finish(doneReason?: DoneReason): ParseOutcome {
    return parseTextReply(this.text(), this.tools, { ...this.options, doneReason });
  }

  /** Everything pushed so far. */
  text(): string {
    if (this.chunks.length > 1) this.chunks = [this.chunks.join('')];
    return this.chunks[0] ?? '';
  }

  private status(): StreamStatus {
    return this.done ? { complete: true, outcome: this.done } : { complete: false };
  }
}
