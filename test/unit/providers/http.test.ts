import * as assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readLines, readText, request } from '../../../src/core/providers/http';

/** A real HTTP server whose handler writes the body the test scripts, piece by piece. */
async function serve(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>(r => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

const tick = (ms: number) => new Promise(r => setTimeout(r, ms));

describe('streamed responses read line by line (readLines)', () => {
  it('joins lines split across chunks, keeps a multi-byte character cut between chunks whole, strips CR, and reads a last line without a newline', async () => {
    const body = Buffer.from('{"a":"é€"}\r\n{"b":"😀"}\n\n{"c":3}', 'utf8');
    const s = await serve(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      for (let i = 0; i < body.length; i += 3) {
        res.write(body.subarray(i, i + 3));
        await tick(2);
      }
      res.end();
    });
    try {
      const lines: string[] = [];
      const res = await request(`${s.url}/x`);
      await readLines(res, l => lines.push(l));
      assert.deepEqual(lines, ['{"a":"é€"}', '{"b":"😀"}', '', '{"c":3}']);
    } finally {
      await s.close();
    }
  });

  it('after a whole body the kept-alive socket serves the next request', async () => {
    const N = 200;
    const s = await serve(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      for (let i = 0; i < N; i++) {
        res.write(`{"i":${i}}\n`);
        await new Promise(r => setImmediate(r));
      }
      res.end();
    });
    try {
      const first: string[] = [];
      const res = await request(`${s.url}/x`);
      const socket = res.socket;
      await readLines(res, l => first.push(l));
      assert.equal(first.length, N);
      assert.deepEqual(first.slice(0, 2), ['{"i":0}', '{"i":1}']);
      const again = await request(`${s.url}/y`);
      assert.equal(again.socket, socket, 'the socket was reused');
      const next: string[] = [];
      await readLines(again, l => next.push(l));
      assert.equal(next.length, N);
    } finally {
      await s.close();
    }
  });

  it('stop() from a line resolves at once and the rest of the body is drained', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(200);
      res.end('one\ntwo\nthree\n');
    });
    try {
      const seen: string[] = [];
      await readLines(await request(s.url), (l, stop) => {
        seen.push(l);
        if (l === 'two') stop();
      });
      assert.deepEqual(seen, ['one', 'two']);
    } finally {
      await s.close();
    }
  });

  it('after stop(), a body that never ends is closed after a short grace, and the listener on the caller\'s signal goes with it', async function () {
    this.timeout(10_000);
    let closed!: () => void;
    const gone = new Promise<void>(r => (closed = r));
    const s = await serve((_req, res) => {
      res.writeHead(200);
      res.write('{"done":true}\n');
      res.on('close', () => closed());
      // and then nothing, without ending the body
    });
    try {
      const signal = new AbortController().signal;
      const listeners = () => getEventListeners(signal, 'abort').length;
      const res = await request(s.url, { signals: [signal] });
      await readLines(res, (_l, stop) => stop());
      assert.equal(listeners(), 1, 'the request is still open right after stop()');
      const t0 = performance.now();
      await gone;
      assert.ok(performance.now() - t0 < 5000);
      await tick(20);
      assert.equal(listeners(), 0, 'the abort listener was removed with the request');
    } finally {
      await s.close();
    }
  });

  it('a line without an end beyond the cap is refused instead of held in memory', async function () {
    this.timeout(20_000);
    const { MAX_LINE_BYTES } = await import('../../../src/core/providers/http');
    const s = await serve(async (_req, res) => {
      res.writeHead(200);
      const block = Buffer.alloc(1 << 20, 'a');
      for (let sent = 0; sent <= MAX_LINE_BYTES && !res.destroyed; sent += block.length) {
        if (!res.write(block)) await new Promise(r => res.once('drain', r));
      }
      res.end();
    });
    try {
      await assert.rejects(readLines(await request(s.url), () => assert.fail('no line should come')), { name: 'InvalidResponseError', message: /longer than 16 MB/ });
    } finally {
      await s.close();
    }
  });

  it('an exception from a line rejects with it and closes the connection', async () => {
    let closed!: () => void;
    const gone = new Promise<void>(r => (closed = r));
    const s = await serve((_req, res) => {
      res.writeHead(200);
      res.write('bad\n');
      res.on('close', () => closed());
    });
    try {
      const res = await request(s.url);
      await assert.rejects(readLines(res, () => { throw new Error('unreadable line'); }), /unreadable line/);
      await gone;
    } finally {
      await s.close();
    }
  });

  it('a connection that breaks in the middle of the body rejects as a reset', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(200);
      res.write('one\n');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    try {
      const seen: string[] = [];
      await assert.rejects(
        readLines(await request(s.url), l => seen.push(l)),
        (e: NodeJS.ErrnoException) => e.code === 'ECONNRESET',
      );
      assert.deepEqual(seen, ['one']);
    } finally {
      await s.close();
    }
  });

  it('any of several signals cancels: before the request, while waiting for headers, and in the middle of the body', async () => {
    const s = await serve((req, res) => {
      if (req.url === '/slow-headers') return; // never answers
      res.writeHead(200);
      res.write('one\n');
    });
    try {
      const done = new AbortController();
      done.abort();
      await assert.rejects(request(s.url, { signals: [undefined, done.signal] }), { name: 'AbortError' });

      const a = new AbortController();
      const b = new AbortController();
      const pending = request(`${s.url}/slow-headers`, { signals: [a.signal, b.signal] });
      setTimeout(() => b.abort(), 20);
      await assert.rejects(pending);

      const c = new AbortController();
      const res = await request(`${s.url}/body`, { signals: [c.signal] });
      const reading = readLines(res, () => c.abort());
      await assert.rejects(reading);
    } finally {
      await s.close();
    }
  });

  it('readText reads an error answer whole', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{"error":"server busy"}');
    });
    try {
      const res = await request(s.url);
      assert.equal(res.statusCode, 503);
      assert.equal(await readText(res), '{"error":"server busy"}');
    } finally {
      await s.close();
    }
  });
});

describe('ollamaHost: chat goes where the ollama package sends the short calls', () => {
  it('fills in the scheme and port as the package does', async () => {
    const { ollamaHost } = await import('../../../src/core/providers/ollama');
    assert.equal(ollamaHost('localhost'), 'http://localhost:11434');
    assert.equal(ollamaHost('gpu-box:8080'), 'http://gpu-box:8080');
    assert.equal(ollamaHost(':11435'), 'http://127.0.0.1:11435');
    assert.equal(ollamaHost('http://10.0.0.2'), 'http://10.0.0.2:80');
    assert.equal(ollamaHost('https://user:pw@ollama.example/proxy/'), 'https://user:pw@ollama.example:443/proxy');
  });
});

describe('Watchdog', () => {
  it('a stream that keeps sending within the idle window never times out, however long it lasts; a pause longer than the window does', async () => {
    const { Watchdog } = await import('../../../src/core/providers/http');
    const wd = new Watchdog(1000, 60);
    const t0 = performance.now();
    wd.touch();
    while (performance.now() - t0 < 300) {
      await tick(15);
      wd.touch();
    }
    assert.equal(wd.signal.aborted, false, 'pieces every 15 ms keep a 60 ms window open for 300 ms');
    const lastPiece = performance.now();
    await new Promise<void>(resolve => wd.signal.addEventListener('abort', () => resolve(), { once: true }));
    const silent = performance.now() - lastPiece;
    assert.ok(silent >= 55, `fired ${silent.toFixed(0)} ms after the last piece, not before the window`);
    assert.deepEqual(wd.fired, { what: 'next token', ms: 60 });
    wd.stop();
  });

  it('the first-token window applies until the first piece', async () => {
    const { Watchdog } = await import('../../../src/core/providers/http');
    const wd = new Watchdog(40, 1000);
    await new Promise<void>(resolve => wd.signal.addEventListener('abort', () => resolve(), { once: true }));
    assert.deepEqual(wd.fired, { what: 'first token', ms: 40 });
  });
});
