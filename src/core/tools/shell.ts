/**
 * Reading a command line the way POSIX `sh` will, or not at all.
 *
 * The allowlist decides from the words of a command whether it may run without asking, and `sh` then
 * runs the same text. If the two read the text differently, a command that looks like `npm test "x"` to
 * the matcher can be `npm test ...; touch M` to the shell. So this tokenizer follows the POSIX quoting
 * rules exactly for the subset it accepts, and refuses (returns the reason) everything else:
 *
 * - unquoted: a backslash makes the next character literal; blanks (space, tab) separate words;
 * - single quotes: every character literal up to the next `'`;
 * - double quotes: a backslash escapes only `$`, `` ` ``, `"`, `\` (and newline); before anything else it
 *   stays a backslash;
 * - refused: operators and redirections (`; & | < > ( )`), expansions and substitutions (`$`, `` ` ``,
 *   also inside double quotes), globs (`* ? [`), braces (bash as `/bin/sh` expands them), `~`, `#`
 *   (comments), `!` and `^`, reserved words as the first word, an assignment as the first word, an
 *   unterminated quote, and every control, format (bidi, zero-width) or non-space blank character
 *   anywhere (sh separates words only on space and tab, so a no-break space would join two words that
 *   the eye, and a careless tokenizer, would split).
 *
 * A refusal is not an error: the command simply is not "certainly these words", so it asks the user.
 */

export type ShellParse = { ok: true; argv: string[] } | { ok: false; why: string };

/** Characters sh treats specially outside quotes, with why each one makes the line uncertain. */
const UNQUOTED_SPECIAL: Record<string, string> = {
  ';': 'it chains commands (;)',
  '&': 'it chains or backgrounds commands (&)',
  '|': 'it pipes into another command (|)',
  '<': 'it redirects input (<)',
  '>': 'it redirects output (>)',
  '(': 'it uses a subshell or function syntax ( )',
  ')': 'it uses a subshell or function syntax ( )',
  $: 'it expands variables or substitutes commands ($)',
  '`': 'it substitutes commands (`)',
  '*': 'it has a file-name pattern (*)',
  '?': 'it has a file-name pattern (?)',
  '[': 'it has a file-name pattern ([)',
  '{': 'it uses brace expansion or grouping ({ })',
  '}': 'it uses brace expansion or grouping ({ })',
  '~': 'it uses home-folder expansion (~)',
  '#': 'it has a comment (#)',
  '!': 'it uses ! (negation or history expansion)',
  '^': 'it uses ^ (a pipe in old shells)',
};

const RESERVED = new Set(['if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'case', 'esac', 'while', 'until', 'for', 'in', 'function', 'select', 'time', 'coproc', '[[', ']]', '{', '}', '!']);

/** Control, format (bidi, zero-width, tags), separators and unusual blanks: everything but space and tab. */
const INVISIBLE = /[\p{C}\p{Z}]/u;

export function parseShellCommand(line: string): ShellParse {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  const chars = [...line];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch !== ' ' && ch !== '\t' && INVISIBLE.test(ch)) {
      const cp = ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
      return { ok: false, why: `it contains an invisible or control character (U+${cp})` };
    }
    if (quote === "'") {
      if (ch === "'") quote = undefined;
      else cur += ch;
      continue;
    }
    if (quote === '"') {
      if (ch === '"') quote = undefined;
      else if (ch === '$' || ch === '`') return { ok: false, why: UNQUOTED_SPECIAL[ch]! };
      else if (ch === '\\') {
        const next = chars[i + 1];
        if (next === undefined) return { ok: false, why: 'it ends inside a quote' };
        if (next === '$' || next === '`' || next === '"' || next === '\\') {
          cur += next;
          i++;
        } else cur += ch; // POSIX: before any other character the backslash is kept
      } else cur += ch;
      continue;
    }
    if (ch === ' ' || ch === '\t') {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (ch === '\\') {
      const next = chars[i + 1];
      if (next === undefined) return { ok: false, why: 'it ends with a backslash' };
      if (next !== ' ' && next !== '\t' && INVISIBLE.test(next)) return { ok: false, why: 'it escapes an invisible or control character' };
      cur += next;
      i++;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
    } else if (UNQUOTED_SPECIAL[ch]) {
      return { ok: false, why: UNQUOTED_SPECIAL[ch]! };
    } else cur += ch;
  }
  if (quote) return { ok: false, why: 'a quote is not closed' };
  if (inWord) words.push(cur);
  if (words.length === 0) return { ok: false, why: 'it is empty' };
  const first = words[0]!;
  if (RESERVED.has(first)) return { ok: false, why: `it starts with the shell keyword "${first}"` };
  if (first.includes('=')) return { ok: false, why: 'it sets environment variables (NAME=value)' };
  return { ok: true, argv: words };
}

/** Quotes one argument for sh (single quotes, with `'` written as `'\''`). */
export function shellQuote(arg: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}
