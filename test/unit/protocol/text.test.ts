import * as assert from 'node:assert/strict';
import { parseTextReply, TextProtocolStreamParser, type ParseOutcome } from '../../../src/core/protocol';
import { CASES, SPECS, type Expect } from './cases';

function check(outcome: ParseOutcome, expect: Expect): void {
  if (expect.ok) {
    assert.ok(outcome.ok, `expected ok, got ${JSON.stringify(outcome).slice(0, 400)}`);
    assert.equal(outcome.call.name, expect.name);
    for (const [k, v] of Object.entries(expect.args ?? {})) assert.deepEqual(outcome.call.args[k], v, `argument ${k}`);
  } else {
    assert.ok(!outcome.ok, `expected ${expect.kind}, got ok ${JSON.stringify(outcome).slice(0, 300)}`);
    assert.equal(outcome.kind, expect.kind, outcome.error);
    assert.ok(outcome.error.length > 10, 'the message for the model says something');
    for (const s of expect.includes ?? []) assert.ok(outcome.error.includes(s), `message should include ${JSON.stringify(s)}: ${outcome.error}`);
  }
}

/** Deterministic PRNG (mulberry32) so a failing chunking can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('text protocol: whole replies', () => {
  it('has at least 100 distinct cases', () => {
    assert.ok(CASES.length >= 100, `only ${CASES.length}`);
    assert.equal(new Set(CASES.map(c => c.name)).size, CASES.length, 'case names are unique');
  });
  for (const c of CASES) {
    it(c.name, () => check(parseTextReply(c.reply, SPECS, { doneReason: c.doneReason }), c.expect));
  }
});

describe('text protocol: streaming equals whole-reply parsing', () => {
  const random = rng(20250707);
  for (const c of CASES) {
    it(`streamed in random chunks: ${c.name}`, () => {
      const whole = parseTextReply(c.reply, SPECS, { doneReason: c.doneReason });
      for (let round = 0; round < 4; round++) {
        const parser = new TextProtocolStreamParser(SPECS);
        let early: ParseOutcome | undefined;
        const max = c.reply.length > 100_000 ? 4096 : round === 0 ? 3 : 80;
        for (let i = 0; i < c.reply.length; ) {
          const n = 1 + Math.floor(random() * max);
          const status = parser.push(c.reply.slice(i, i + n));
          if (status.complete && !early) early = status.outcome;
          i += n;
        }
        assert.deepEqual(parser.finish(c.doneReason), whole);
        if (early) {
          assert.ok(early.ok, 'push only reports complete with a valid call');
          // Stopping at `early` must give the same call, unless more actions followed it.
          if (whole.ok) assert.deepEqual(early, whole);
          else assert.equal(whole.kind, 'multiple_actions');
        } else {
          assert.ok(!whole.ok || c.reply.length === 0 || whole.call.name !== undefined);
        }
      }
    });
  }

  it('reports completion as soon as the closing tag arrives, before trailing text', () => {
    const parser = new TextProtocolStreamParser(SPECS);
    assert.equal(parser.push('Reading.\n<read_file><path>a.js</pa').complete, false);
    assert.equal(parser.push('th>\n</read_fi').complete, false);
    const s = parser.push('le>\nand then');
    assert.ok(s.complete && s.outcome.ok && s.outcome.call.name === 'read_file');
  });

  it('outcomeFor hands back the completed outcome only for exactly the text it was parsed from', () => {
    const parser = new TextProtocolStreamParser(SPECS);
    const reply = 'Reading.\n<read_file><path>a.js</path></read_file>';
    assert.equal(parser.outcomeFor(reply), undefined, 'nothing parsed yet');
    parser.push(reply.slice(0, 20));
    parser.push(reply.slice(20));
    const reused = parser.outcomeFor(reply);
    assert.deepEqual(reused, parseTextReply(reply, SPECS));
    // a reply that went on after its action (a second action, say) is parsed whole, not reused
    const longer = `${reply}\n<read_file><path>b.js</path></read_file>`;
    assert.equal(parser.outcomeFor(longer), undefined);
    assert.equal(parseTextReply(longer, SPECS).ok, false);
  });

  it('does not complete on a closing tag inside a body', () => {
    const parser = new TextProtocolStreamParser(SPECS);
    assert.equal(parser.push('<write_file><path>a</path><content>\nconst x = "</write_file>";\n').complete, false);
    const s = parser.push('</content></write_file>');
    assert.ok(s.complete && s.outcome.ok);
    assert.equal((s.outcome as unknown as { call: { args: { content: string } } }).call.args.content, 'const x = "</write_file>";\n');
  });

  it('startsInThinking: everything up to </think> is thinking', () => {
    const reply = 'maybe <delete_file><path>x</path></delete_file>?</think><read_file><path>a</path></read_file>';
    const out = parseTextReply(reply, SPECS, { startsInThinking: true });
    assert.ok(out.ok && out.call.name === 'read_file');
    const p = new TextProtocolStreamParser(SPECS, { startsInThinking: true });
    assert.equal(p.push(reply.slice(0, 50)).complete, false);
    assert.ok(p.push(reply.slice(50)).complete);
    const open = parseTextReply('still thinking <read_file>', SPECS, { startsInThinking: true });
    assert.ok(!open.ok && open.kind === 'unclosed');
  });
});
