/**
 * What the approval dialog shows: the command exactly as it will run. A dialog renders text, and text can
 * lie: a right-to-left override makes `rm -rf x #"tset mpn"` read as something harmless, a zero-width
 * space splits a word invisibly, a newline pushes the rest of the command out of view, a no-break space
 * looks like a word break that sh does not make. So every character that is not plainly visible is
 * replaced by a marker naming its code point, and so is the marker character itself, so a command cannot
 * fake a marker either.
 */

const NAMES: Record<number, string> = {
  0x09: 'TAB', 0x0a: 'LINE FEED', 0x0d: 'CARRIAGE RETURN', 0x1b: 'ESCAPE', 0x00: 'NUL', 0x7f: 'DELETE', 0xa0: 'NO-BREAK SPACE',
  0xad: 'SOFT HYPHEN', 0x061c: 'ARABIC LETTER MARK', 0x180e: 'MONGOLIAN VOWEL SEPARATOR', 0x200b: 'ZERO WIDTH SPACE',
  0x200c: 'ZERO WIDTH NON-JOINER', 0x200d: 'ZERO WIDTH JOINER', 0x200e: 'LEFT-TO-RIGHT MARK', 0x200f: 'RIGHT-TO-LEFT MARK',
  0x2028: 'LINE SEPARATOR', 0x2029: 'PARAGRAPH SEPARATOR', 0x202a: 'LEFT-TO-RIGHT EMBEDDING', 0x202b: 'RIGHT-TO-LEFT EMBEDDING',
  0x202c: 'POP DIRECTIONAL FORMATTING', 0x202d: 'LEFT-TO-RIGHT OVERRIDE', 0x202e: 'RIGHT-TO-LEFT OVERRIDE', 0x2060: 'WORD JOINER',
  0x2066: 'LEFT-TO-RIGHT ISOLATE', 0x2067: 'RIGHT-TO-LEFT ISOLATE', 0x2068: 'FIRST STRONG ISOLATE', 0x2069: 'POP DIRECTIONAL ISOLATE',
  0x3000: 'IDEOGRAPHIC SPACE', 0x3164: 'HANGUL FILLER', 0xfeff: 'ZERO WIDTH NO-BREAK SPACE', 0x2039: 'MARKER', 0x203a: 'MARKER',
};

/**
 * Controls, format characters (bidi, zero-width, tags), separators and blanks other than the plain space,
 * combining marks and variation selectors (they change how the previous character looks), invisible
 * fillers, and the marker brackets themselves.
 */
const HIDDEN = /[\p{C}\p{Z}\p{M}\u115F\u1160\u3164\uFFA0\u2039\u203A]/u;

/** The command with every invisible or deceptive character shown as ‹U+XXXX NAME›, and how many there were. */
export function visibleCommand(command: string): { text: string; hidden: number } {
  let text = '';
  let hidden = 0;
  for (const ch of command) {
    if (ch === ' ' || !HIDDEN.test(ch)) {
      text += ch;
      continue;
    }
    hidden++;
    const cp = ch.codePointAt(0)!;
    const name = NAMES[cp];
    text += `‹U+${cp.toString(16).toUpperCase().padStart(4, '0')}${name ? ` ${name}` : ''}›`;
  }
  return { text, hidden };
}

/** Letters outside ASCII (look-alikes such as Cyrillic "е" in "tеst"), listed so the user can tell. */
function nonAscii(command: string): string[] {
  const seen = new Set<string>();
  for (const ch of command) if (ch.codePointAt(0)! > 0x7e && !HIDDEN.test(ch)) seen.add(`"${ch}" U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`);
  return [...seen].slice(0, 10);
}

/** The dialog's message and detail for one command. */
export function approvalText(command: string, request?: { why: string; sandbox: string }): { message: string; detail: string } {
  const v = visibleCommand(command);
  const notes: string[] = [];
  if (v.hidden) notes.push(`⚠ This command contains ${v.hidden} invisible or control character${v.hidden > 1 ? 's' : ''}, shown above as ‹U+…›. They are part of what would run.`);
  const letters = nonAscii(command);
  if (letters.length) notes.push(`⚠ Characters outside ASCII (they may look like others): ${letters.join(', ')}.`);
  if (request) {
    notes.push(`Why it asks: ${request.why}.`);
    notes.push(`It would run in: ${request.sandbox}.`);
  }
  notes.push('Add commands you trust to the user setting ai2ai.commands.allowlist to run them without asking (a workspace cannot change it).');
  return { message: 'An AI2AI agent wants to run a command in its folder:', detail: `${v.text}\n\n${notes.join('\n')}` };
}
