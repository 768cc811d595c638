/** Finding 4: the approval dialog must show exactly what runs, so nothing in the text may be invisible. */
import * as assert from 'node:assert/strict';
import { approvalText, visibleCommand } from '../../../src/core/tools';

describe('approval dialog text (finding 4)', () => {
  it('shows bidi, zero-width and control characters as markers, and counts them', () => {
    const attacks = [
      'npm test \u202e"; touch M #',
      'npm\u200b test',
      'npm test\u00a0--prefix ../bob',
      'npm test\nrm -rf ~',
      'npm test\r\u001b[2Krm -rf ~',
      'echo \u2066safe\u2069',
      'npm test \ufeff',
      'npm test \u2028x',
      'npm test e\u0301',
      'npm test \u{e0041}',
      'npm test \u3164',
      'npm test ‹U+202E›',
    ];
    let hiddenTotal = 0;
    for (const a of attacks) {
      const v = visibleCommand(a);
      assert.ok(v.hidden > 0, a);
      hiddenTotal += v.hidden;
      assert.doesNotMatch(v.text, /[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\u00a0\n\r\u001b\u2028\u0301\u3164]|\u{e0041}/u, JSON.stringify(v.text));
    }
    console.log(`      approval texts with hidden characters: ${attacks.length}, characters made visible: ${hiddenTotal}, left invisible: 0`);
    assert.equal(visibleCommand('npm test \u202e"; touch M #').text, 'npm test ‹U+202E RIGHT-TO-LEFT OVERRIDE›"; touch M #');
    assert.equal(visibleCommand('npm test -- --grep "a b"').hidden, 0);
    const t = approvalText('npm t\u0435st', { why: 'it is not on the allowlist', sandbox: 'no sandbox' });
    assert.match(t.detail, /outside ASCII.*U\+0435/);
    assert.match(t.detail, /Why it asks: it is not on the allowlist/);
  });
});
