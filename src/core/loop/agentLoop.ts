/**
 * One run: one agent on one task. Ask the model, parse exactly one action, execute it, feed the result
 * back, until the agent completes (after its tests pass) or fails, or a guard stops it with a precise
 * reason. Knows nothing of VS Code or the database: the caller passes a provider, tools, a tool context
 * and an AbortSignal, and hears about everything through `onEvent`.
 */
import { AppError, errorMessage } from '../errors';
import {
  formatToolResult, jsonProtocolSchema, parseTextReply, nativeToolDefinitions, parseJsonReply, parseNativeToolCalls, TextProtocolStreamParser,
  type ParseErrorKind, type ParseOutcome, type ToolCall, type WireProtocol,
} from '../protocol';
import { ProviderError, estimateTokens, type ChatMessage, type ChatResult, type LlmProvider } from '../providers';
import { resolveTestCommand, type ToolContext, type ToolRegistry, type ToolResult, type Verdict } from '../tools';
import { formatDuration } from '../util';

export interface LoopBudgets {
  maxSteps: number;
  /** Malformed replies in a row before the run ends. */
  maxMalformed: number;
  /** The same action this many times in a row ends the run. */
  maxRepeats: number;
  /** Prompt + completion tokens over the whole run. */
  maxTokens: number;
  maxWallMs: number;
  /** The model's context window (num_ctx). */
  numCtx: number;
  /** Retries of a transient provider error (busy, reset, broken stream) before giving up. */
  maxRetries: number;
  retryBaseMs: number;
}

export const DEFAULT_BUDGETS: LoopBudgets = {
  maxSteps: 40,
  maxMalformed: 3,
  maxRepeats: 3,
  maxTokens: 400_000,
  maxWallMs: 30 * 60_000,
  numCtx: 8192,
  maxRetries: 3,
  retryBaseMs: 1000,
};

export type LoopEvent =
  | { type: 'model'; step: number }
  | { type: 'delta'; text: string }
  | { type: 'reply'; step: number; content: string; result: ChatResult }
  | { type: 'action'; step: number; call: ToolCall }
  | { type: 'tool'; step: number; call: ToolCall; result: ToolResult }
  | { type: 'malformed'; step: number; error: string; count: number }
  | { type: 'tests'; passed: number; failed: number; ok: boolean; beforeComplete: boolean }
  /** `complete` was accepted without any test having run: there is no test command and none was detected. */
  | { type: 'no_tests' }
  /** A transient provider failure; another attempt follows after `delayMs` (retry `attempt` of `of`). */
  | { type: 'retry'; attempt: number; of: number; reason: string; delayMs: number }
  | { type: 'protocol'; from: WireProtocol; to: WireProtocol; reason: string }
  | { type: 'condensed'; savedTokens: number; reason: string }
  | { type: 'truncated'; estimated: number; reported: number };

export type LoopOutcome = 'completed' | 'failed' | 'cancelled' | 'error';

export interface LoopResult {
  outcome: LoopOutcome;
  result?: string;
  reason?: string;
  /**
   * Why a run that did not complete ended, as a stable code: the provider error kind when outcome is
   * 'error' (model_not_found, connection…), or the guard (step_limit, time_budget, token_budget,
   * context_full, malformed, repeated) or agent_failed when 'failed'.
   */
  errorKind?: string;
  steps: number;
  promptTokens: number;
  completionTokens: number;
  /** Of the prompt tokens, those the server reported as read from its cache (0 when it does not say). */
  cachedTokens: number;
  modelMs: number;
  /** Of modelMs, where the server reported them apart: prompt evaluation and generation. */
  promptMs: number;
  evalMs: number;
  testsPassed: number;
  testsFailed: number;
  /** Whether any test command ran in this run (a completed run without one says so). */
  testsRan: boolean;
  protocol: WireProtocol;
  messages: ChatMessage[];
  /** A reviewer's verdict, when the run ended with approve or request_changes. */
  verdict?: Verdict;
  /** The run paused its task (waiting for subtasks): why. */
  waiting?: string;
}

export { NO_TESTS_NOTE } from './runService';

export interface LoopInput {
  provider: LlmProvider;
  model: string;
  tools: ToolRegistry;
  protocol: WireProtocol;
  system: (protocol: WireProtocol) => string;
  task: string;
  /** Everything the tools need except the signal, which is the run's. */
  toolContext: Omit<ToolContext, 'signal'>;
  budgets?: Partial<LoopBudgets>;
  temperature?: number;
  /**
   * Resume an interrupted run: the conversation so far (its system prompt is replaced by the current one)
   * and a note on where it stands, sent instead of `task`.
   */
  resume?: { messages: readonly ChatMessage[]; note: string };
  /**
   * Messages other agents sent since the last turn: each is delivered as a new message at the end of the
   * conversation before the next model call (the system prompt, and with it the server's prompt cache, stays).
   */
  inbox?: () => string[];
  /** Called with the conversation after every step, so an interrupted run can be resumed from it. */
  checkpoint?: (messages: readonly ChatMessage[], steps: number) => void;
  /** For tests: how the loop waits between retries. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  now?: () => number;
}

/** Old tool output is condensed above this share of the window; the run fails if it is still above 95 %. */
const CONDENSE_AT = 0.75;
const KEEP_RECENT = 4;
/** Characters a model may write after a complete action before its stream is stopped. */
const RAMBLE_CHARS = 80;

export async function runAgentLoop(input: LoopInput, signal: AbortSignal, onEvent: (e: LoopEvent) => void = () => {}): Promise<LoopResult> {
  const b = { ...DEFAULT_BUDGETS, ...input.budgets };
  const now = input.now ?? (() => Date.now());
  const sleep = input.sleep ?? abortableSleep;
  const started = now();
  let protocol = input.protocol;
  const messages: ChatMessage[] = input.resume
    ? [{ role: 'system', content: input.system(protocol) }, ...input.resume.messages.filter(m => m.role !== 'system').map(m => ({ ...m })), { role: 'user', content: input.resume.note }]
    : [
        { role: 'system', content: input.system(protocol) },
        { role: 'user', content: input.task },
      ];
  const r: LoopResult = {
    outcome: 'failed', steps: 0, promptTokens: 0, completionTokens: 0, cachedTokens: 0, modelMs: 0, promptMs: 0, evalMs: 0, testsPassed: 0, testsFailed: 0, testsRan: false, protocol, messages,
  };
  const end = (outcome: LoopOutcome, text: string, errorKind?: string): LoopResult => {
    r.outcome = outcome;
    if (outcome === 'completed') r.result = text;
    else r.reason = text;
    r.errorKind = errorKind;
    r.protocol = protocol;
    return r;
  };
  let malformed = 0;
  let lastKey = '';
  let repeats = 0;
  // The time budget also ends a model call or a command in flight: a server that holds its headers, or a
  // test that hangs, cannot keep a run past its budget.
  const budget = new AbortController();
  // (A budget beyond what a timer can hold, ~24 days, is checked between steps only.)
  const budgetTimer = b.maxWallMs < 2 ** 31 - 1 ? setTimeout(() => budget.abort(new AppError('cancelled', 'The run reached its time budget.')), Math.max(0, b.maxWallMs)) : undefined;
  budgetTimer?.unref?.();
  const runSignal = AbortSignal.any([signal, budget.signal]);
  const ctx: ToolContext = { ...input.toolContext, signal: runSignal };
  // Stops a model that keeps talking after its action (text protocol): one controller serves every model
  // call of the run until it is used (a controller and a listener per call cost more than the rest of a
  // turn's bookkeeping), and the run's signal stops it too.
  const stopper = { controller: new AbortController() };
  const forward = () => stopper.controller.abort(runSignal.reason);
  if (runSignal.aborted) forward();
  else runSignal.addEventListener('abort', forward, { once: true });
  const overBudget = () => !signal.aborted && (budget.signal.aborted || now() - started >= b.maxWallMs);
  const budgetEnd = () =>
    end('failed', `Stopped after ${formatDuration(b.maxWallMs)} (the time budget) without completing. Raise the time budget or split the task.`, 'time_budget');

  try {
    for (;;) {
      if (signal.aborted) return end('cancelled', 'Cancelled by user');
      if (r.steps >= b.maxSteps) return end('failed', `Stopped after ${b.maxSteps} step${b.maxSteps === 1 ? '' : 's'} without completing (the step limit). Split the task or raise the agent's max steps.`, 'step_limit');
      if (overBudget()) return budgetEnd();
      if (r.promptTokens + r.completionTokens > b.maxTokens) {
        return end('failed', `Stopped after using ${r.promptTokens + r.completionTokens} tokens (the token budget is ${b.maxTokens}).`, 'token_budget');
      }
      const fit = fitContext(messages, b.numCtx);
      if (fit.saved > 0) onEvent({ type: 'condensed', savedTokens: fit.saved, reason: 'the conversation neared the context window' });
      if (fit.tokens > b.numCtx * 0.95) {
        return end('failed', `The conversation no longer fits the model's context window (about ${fit.tokens} tokens of ${b.numCtx}) even after condensing old tool output. Raise num_ctx or split the task.`, 'context_full');
      }

      for (const m of input.inbox?.() ?? []) messages.push({ role: 'user', content: m });
      r.steps++;
      onEvent({ type: 'model', step: r.steps });
      let reply: ChatResult;
      let streamParsed: ParseOutcome | undefined;
      try {
        ({ reply, parsed: streamParsed } = await callWithRetry(input, messages, protocol, b, runSignal, stopper, sleep, onEvent));
      } catch (e) {
        if (ProviderError.isProviderError(e, 'tools_unsupported') && protocol === 'native') {
          onEvent({ type: 'protocol', from: 'native', to: 'text', reason: e.message });
          protocol = 'text';
          messages[0] = { role: 'system', content: input.system(protocol) };
          r.steps--;
          continue;
        }
        if (ProviderError.isProviderError(e, 'context_too_long')) {
          const saved = condense(messages, 0);
          if (saved > 0) {
            onEvent({ type: 'condensed', savedTokens: saved, reason: 'the server said the prompt is too long' });
            r.steps--;
            continue;
          }
        }
        throw e;
      }
      r.promptTokens += reply.promptTokens;
      r.completionTokens += reply.completionTokens;
      r.cachedTokens += reply.cachedTokens ?? 0;
      r.modelMs += reply.modelMs;
      r.promptMs += reply.promptMs ?? 0;
      r.evalMs += reply.evalMs ?? 0;
      onEvent({ type: 'reply', step: r.steps, content: reply.content, result: reply });
      if (reply.truncated) {
        onEvent({ type: 'truncated', estimated: reply.estimatedPromptTokens ?? 0, reported: reply.promptTokens });
        condense(messages, KEEP_RECENT);
      }

      const parsed = streamParsed ?? parse(reply, protocol, input.tools);
      messages.push({ role: 'assistant', content: reply.content, ...(protocol === 'native' && reply.toolCalls.length ? { toolCalls: reply.toolCalls } : {}) });
      if (!parsed.ok) {
        malformed++;
        onEvent({ type: 'malformed', step: r.steps, error: parsed.error, count: malformed });
        if (malformed >= b.maxMalformed) {
          // For the user: what went wrong and what to do. The corrections written for the model are in the
          // task's timeline, one per unusable reply.
          return end(
            'failed',
            `The model's last ${malformed} replies could not be used: ${UNUSABLE[parsed.kind]}. Try a larger model, or another tool protocol for this agent (Edit Agent, Tool protocol).`,
            'malformed',
          );
        }
        messages.push({ role: 'user', content: parsed.error });
        continue;
      }
      malformed = 0;
      const call = parsed.call;
      const key = `${call.name}:${JSON.stringify(call.args)}`;
      repeats = key === lastKey ? repeats + 1 : 1;
      lastKey = key;
      if (repeats >= b.maxRepeats) return end('failed', `The agent repeated the same action (${call.name}) ${repeats} times in a row; stopped to save time.`, 'repeated');
      onEvent({ type: 'action', step: r.steps, call });

      const result = await input.tools.execute(call, ctx);
      if (overBudget()) return budgetEnd(); // the tool was stopped by the budget: its result is not the agent's doing
      onEvent({ type: 'tool', step: r.steps, call, result });
      if (call.name === 'run_tests') recordTests(r, result, false, onEvent);

      const usage = (result.data as { usage?: { promptTokens: number; completionTokens: number } } | undefined)?.usage;
      if (usage) {
        // An ask's completion counts against this run's token budget.
        r.promptTokens += usage.promptTokens;
        r.completionTokens += usage.completionTokens;
      }
      if (result.end?.kind === 'fail') return end('failed', result.end.reason, 'agent_failed');
      if (result.end?.kind === 'wait') {
        messages.push(toolResultMessage(protocol, call, result));
        input.checkpoint?.(messages, r.steps);
        r.waiting = result.end.reason;
        return end('failed', result.end.reason, 'waiting');
      }
      if (result.end?.kind === 'complete' && result.end.verdict) {
        // A reviewer's verdict: its tests were its own business (run_tests), nothing to check before it.
        r.verdict = result.end.verdict;
        return end('completed', result.end.result);
      }
      if (result.end?.kind === 'complete') {
        const check = await testsBeforeComplete(input, ctx, r, onEvent);
        if (overBudget()) return budgetEnd();
        if (!check) {
          if (!r.testsRan) onEvent({ type: 'no_tests' });
          return end('completed', result.end.result);
        }
        messages.push(toolResultMessage(protocol, call, { ok: false, output: check }));
        continue;
      }
      messages.push(toolResultMessage(protocol, call, result));
      input.checkpoint?.(messages, r.steps);
    }
  } catch (e) {
    if (overBudget()) return budgetEnd();
    if (signal.aborted || AppError.is(e, 'cancelled') || ProviderError.isProviderError(e, 'cancelled')) return end('cancelled', 'Cancelled by user');
    if (ProviderError.isProviderError(e)) return end('error', e.message, e.kind);
    return end('error', `Unexpected error: ${errorMessage(e)}`, 'internal');
  } finally {
    clearTimeout(budgetTimer);
    runSignal.removeEventListener('abort', forward);
  }
}

/** What a run of unusable replies was, in the user's terms (the model got a precise correction each time). */
const UNUSABLE: Record<ParseErrorKind, string> = {
  empty: 'the model sent empty replies',
  no_action: 'the model answered without an action in the tool format',
  multiple_actions: 'the model put several actions in one reply',
  unknown_tool: 'the model called tools that do not exist',
  unclosed: 'the model left its actions unfinished',
  malformed: 'the model wrote actions that were not well-formed',
  missing_param: "the model left out the actions' required arguments",
  invalid_param: "the model gave the actions' arguments in the wrong form",
  cut_off: 'the replies were cut off before the action was complete',
};

async function callWithRetry(
  input: LoopInput,
  messages: ChatMessage[],
  protocol: WireProtocol,
  b: LoopBudgets,
  signal: AbortSignal,
  stopper: { controller: AbortController },
  sleep: NonNullable<LoopInput['sleep']>,
  onEvent: (e: LoopEvent) => void,
): Promise<{ reply: ChatResult; parsed?: ParseOutcome }> {
  const specs = input.tools.specs();
  for (let attempt = 1; ; attempt++) {
    const delayMs = b.retryBaseMs * 2 ** (attempt - 1);
    // Text protocol: parse while streaming, and once one whole action has arrived, stop a model that keeps
    // talking (small models go on to invent the tool's result: wasted time, and misleading). A model that
    // stops by itself right after its action is left to finish, so its final chunk brings the real token
    // counts that silent truncation is detected by. The run's stopper is used up by a stop: a fresh one then.
    if (stopper.controller.signal.aborted && !signal.aborted) stopper.controller = new AbortController();
    const early =
      protocol === 'text'
        ? { controller: stopper.controller, parser: new TextProtocolStreamParser(specs), started: performance.now(), completeAt: -1, seen: 0 }
        : undefined;
    try {
      const reply = await input.provider.chat(
        {
          model: input.model,
          messages,
          options: { numCtx: b.numCtx, temperature: input.temperature },
          ...(protocol === 'native' ? { tools: nativeToolDefinitions(specs).map(d => ({ name: d.function.name, description: d.function.description, parameters: d.function.parameters })) } : {}),
          ...(protocol === 'json' ? { format: jsonProtocolSchema(specs) } : {}),
        },
        early ? early.controller.signal : signal,
        d => {
          if (!d.content) return;
          onEvent({ type: 'delta', text: d.content });
          if (!early || early.controller.signal.aborted) return;
          early.seen += d.content.length;
          if (early.completeAt < 0 && early.parser.push(d.content).complete) early.completeAt = early.seen;
          else if (early.completeAt >= 0 && early.seen - early.completeAt > RAMBLE_CHARS) early.controller.abort();
        },
      );
      // the action the stream parser already parsed, when the reply is exactly that text
      return { reply, parsed: early?.parser.outcomeFor(reply.content) };
    } catch (e) {
      if (early?.controller.signal.aborted && !signal.aborted) {
        const reply = stoppedEarly(early.parser.text(), messages, performance.now() - early.started);
        return { reply, parsed: early.parser.outcomeFor(reply.content) };
      }
      if (!ProviderError.isProviderError(e) || !e.retryable || signal.aborted) throw e;
      if (attempt > b.maxRetries) {
        // No retry follows: say so, and that retries were made, instead of the error's own hopes.
        throw new ProviderError(e.kind, `${e.message} Gave up after ${attempt} attempts.`, { status: e.status, serverMessage: e.serverMessage, retryable: false, cause: e });
      }
      onEvent({ type: 'retry', attempt, of: b.maxRetries, reason: e.message, delayMs });
    }
    await sleep(delayMs, signal);
  }
}

/** The reply of a stream stopped after its action: the server sent no counts, so they are estimates. */
function stoppedEarly(content: string, messages: ChatMessage[], ms: number): ChatResult {
  return {
    content, toolCalls: [], doneReason: 'stop', promptTokens: estimateTokens([...messages]), completionTokens: estimateTokens([{ content }]),
    modelMs: ms, totalMs: ms, loadMs: 0,
  };
}

function parse(reply: ChatResult, protocol: WireProtocol, tools: ToolRegistry): ParseOutcome {
  const specs = tools.specs();
  if (protocol === 'native') return parseNativeToolCalls(reply.toolCalls.map(c => ({ id: c.id, function: { name: c.name, arguments: c.arguments } })), specs, reply.content);
  if (protocol === 'json') return parseJsonReply(reply.content, specs, { doneReason: reply.doneReason });
  return parseTextReply(reply.content, specs, { doneReason: reply.doneReason });
}

function toolResultMessage(protocol: WireProtocol, call: ToolCall, result: ToolResult): ChatMessage {
  // The target models' templates drop tool-role messages, so only native tool calling uses them.
  if (protocol === 'native') return { role: 'tool', content: result.output, toolName: call.name, toolCallId: call.id };
  return { role: 'user', content: formatToolResult(call.name, result, { ok: result.ok }) };
}

function recordTests(r: LoopResult, result: ToolResult, beforeComplete: boolean, onEvent: (e: LoopEvent) => void): void {
  const d = result.data as { passed?: number; failed?: number; ok?: boolean } | undefined;
  if (!d || typeof d.passed !== 'number') return;
  r.testsRan = true;
  r.testsPassed = d.passed;
  r.testsFailed = d.failed ?? 0;
  onEvent({ type: 'tests', passed: d.passed, failed: d.failed ?? 0, ok: result.ok, beforeComplete });
}

/** Runs the folder's tests before accepting `complete`; returns the message for the model when they fail. */
async function testsBeforeComplete(input: LoopInput, ctx: ToolContext, r: LoopResult, onEvent: (e: LoopEvent) => void): Promise<string | undefined> {
  if (!(await resolveTestCommand(ctx.cwd, ctx.testCommand))) return undefined;
  const call: ToolCall = { name: 'run_tests', args: {} };
  const result = await input.tools.execute(call, ctx);
  onEvent({ type: 'tool', step: r.steps, call, result });
  recordTests(r, result, true, onEvent);
  if (result.ok) return undefined;
  return `You called complete, but the tests do not pass yet. Fix them, then call complete again.\n\n${result.output}`;
}

/** Token estimate of the conversation, condensing old tool output when it nears the window. */
function fitContext(messages: ChatMessage[], numCtx: number): { tokens: number; saved: number } {
  let tokens = conversationTokens(messages);
  let saved = 0;
  if (tokens > numCtx * CONDENSE_AT) {
    saved = condense(messages, KEEP_RECENT);
    tokens = conversationTokens(messages);
  }
  return { tokens, saved };
}

export function conversationTokens(messages: readonly ChatMessage[]): number {
  return estimateTokens([...messages]);
}

/** Shortens tool results and corrections older than the last `keep` messages; returns tokens saved. */
export function condense(messages: ChatMessage[], keep: number): number {
  let saved = 0;
  for (let i = 2; i < messages.length - keep; i++) {
    const m = messages[i];
    if ((m.role !== 'user' && m.role !== 'tool') || m.content.length <= 600 || m.content.includes('[condensed:')) continue;
    const before = estimateTokens([m]);
    const cut = m.content.length - 400;
    m.content = `${m.content.slice(0, 300)}\n[condensed: ${cut} characters of old output removed to fit the context window]\n${m.content.slice(-100)}`;
    saved += before - estimateTokens([m]);
  }
  return saved;
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new AppError('cancelled', 'The run was cancelled.'));
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new AppError('cancelled', 'The run was cancelled.'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
