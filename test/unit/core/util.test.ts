import * as assert from 'node:assert/strict';
import { bufferedAppend } from '../../../src/core/util';

describe('bufferedAppend: streamed pieces written in batches', () => {
  it('writes the pieces of a burst once, after the interval, in order', async () => {
    const writes: string[] = [];
    const b = bufferedAppend({ append: t => writes.push(t) }, 30);
    for (const p of ['Hel', 'lo ', 'wor', 'ld']) b.append(p);
    assert.deepEqual(writes, [], 'nothing is written while the burst lasts');
    await new Promise(r => setTimeout(r, 60));
    assert.deepEqual(writes, ['Hello world']);
    b.append('!');
    await new Promise(r => setTimeout(r, 60));
    assert.deepEqual(writes, ['Hello world', '!']);
  });

  it('flush writes what is pending at once (before another kind of line), and nothing when nothing is', async () => {
    const writes: string[] = [];
    const b = bufferedAppend({ append: t => writes.push(t) }, 1000);
    b.flush();
    b.append('<write_file>');
    b.append('…');
    b.flush();
    assert.deepEqual(writes, ['<write_file>…']);
    await new Promise(r => setTimeout(r, 20));
    b.flush();
    assert.deepEqual(writes, ['<write_file>…'], 'the cancelled timer writes nothing more');
  });
});
