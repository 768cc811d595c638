import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import initSqlJs from 'sql.js';
import { AppError } from '../../../src/core/errors';
import { LATEST_SCHEMA_VERSION, type Migration } from '../../../src/core/store/migrations';
import { openStore } from '../../../src/core/store/sqlite';
import type { Store, StoreChange } from '../../../src/core/store/types';
import { capturingLogger, INSERT_TASK, rmDir, sha256, tempDir, waitFor, WASM } from './fixtures/util';

const M1: Migration = { version: 1, description: 'notes', statements: ['CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL)'] };
const M2: Migration = { version: 2, description: 'notes.tag', statements: ["ALTER TABLE notes ADD COLUMN tag TEXT NOT NULL DEFAULT ''"] };
// Needs M2's column: run out of order, it fails.
const M3: Migration = { version: 3, description: 'seed', statements: ["INSERT INTO notes (id, body, tag) VALUES ('seed', 'hello', 'v3')"] };
const COUNTER = 'CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)';
const WITH_COUNTER: Migration[] = [
  { version: 1, description: 'counter', statements: [COUNTER, 'INSERT INTO counter VALUES (1, 0)', 'CREATE TABLE change_log (seq INTEGER PRIMARY KEY, changes TEXT NOT NULL)'] },
];

async function expectRefusal(p: Promise<unknown>, reason: 'storage_corrupt' | 'storage_newer_schema', file: string): Promise<AppError> {
  try {
    await p;
  } catch (e) {
    assert.ok(AppError.is(e, reason), `expected ${reason}, got ${String(e)}`);
    assert.ok(e.message.includes(file), `message should name ${file}: ${e.message}`);
    assert.match(e.message, /left untouched/);
    return e;
  }
  assert.fail(`expected ${reason}`);
}

/** The JSON of each complete journal line (format 2 lines carry `2 <checksum> ` before it). */
function journalLines(dir: string): string[] {
  return fs
    .readFileSync(path.join(dir, 'ai2ai.journal'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map(l => l.replace(/^2 [0-9a-f]{16} /, ''));
}

const taskIds = (s: Store) => s.read.all<{ id: string }>('SELECT id FROM tasks ORDER BY id').map(r => r.id);
const counter = (s: Store) => Number(s.read.get<{ n: number }>('SELECT n FROM counter WHERE id = 1')?.n);
const bump = (s: Store) =>
  s.mutate(tx => {
    tx.run('UPDATE counter SET n = n + 1 WHERE id = 1');
    tx.changed({ entity: 'counter', op: 'updated', id: '1' });
  });

describe('store: sqlite engine', function () {
  this.timeout(20_000);
  let dir: string;
  const open: Store[] = [];
  const track = async (p: Promise<Store>) => {
    const s = await p;
    open.push(s);
    return s;
  };
  beforeEach(() => (dir = tempDir()));
  afterEach(() => {
    for (const s of open.splice(0)) s.close();
    rmDir(dir);
  });

  describe('migrations and transactions', () => {
    it('applies the real migrations, records meta.schema_version, keeps data across reopen', async () => {
      const a = await openStore({ dir, wasmPath: WASM, watch: false });
      assert.equal(a.read.get<{ value: number }>("SELECT value FROM meta WHERE key = 'schema_version'")?.value, LATEST_SCHEMA_VERSION);
      const tables = a.read.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").map(r => r.name);
      for (const t of ['meta', 'providers', 'agents', 'tasks', 'task_deps', 'task_updates', 'messages', 'runs']) assert.ok(tables.includes(t), t);
      assert.equal(a.read.get<{ id: string }>('SELECT id FROM providers')?.id, 'ollama-local');
      assert.equal(a.read.get('PRAGMA foreign_keys')?.foreign_keys, 1);
      a.mutate(tx => tx.run(INSERT_TASK, ['t1', 'first', 1, 1]));
      a.close();
      a.close(); // idempotent
      const b = await track(openStore({ dir, wasmPath: WASM, watch: false }));
      assert.deepEqual(taskIds(b), ['t1']);
      assert.ok(fs.readFileSync(path.join(dir, 'ai2ai.sqlite')).subarray(0, 15).toString() === 'SQLite format 3');
    });

    it('applies migrations in order, upgrading an older database step by step', async () => {
      const a = await openStore({ dir, wasmPath: WASM, watch: false }, undefined, [M1]);
      a.mutate(tx => tx.run('INSERT INTO notes (id, body) VALUES (?, ?)', ['n1', 'kept']));
      a.close();
      const b = await track(openStore({ dir, wasmPath: WASM, watch: false }, undefined, [M1, M2, M3]));
      assert.equal(b.read.get<{ value: number }>("SELECT value FROM meta WHERE key = 'schema_version'")?.value, 3);
      assert.deepEqual(b.read.all('SELECT id, body, tag FROM notes ORDER BY id'), [
        { id: 'n1', body: 'kept', tag: '' },
        { id: 'seed', body: 'hello', tag: 'v3' },
      ]);
      await assert.rejects(openStore({ dir, wasmPath: WASM, watch: false }, undefined, [M1, M3, M2]), (e: unknown) => AppError.is(e, 'internal'));
    });

    it('rolls back a throwing mutation: no row, no journal line, next seq unchanged', async () => {
      const s = await track(openStore({ dir, wasmPath: WASM, watch: false }));
      s.mutate(tx => tx.run(INSERT_TASK, ['t1', 'ok', 1, 1]));
      const before = sha256(path.join(dir, 'ai2ai.journal'));
      assert.throws(
        () =>
          s.mutate(tx => {
            tx.run(INSERT_TASK, ['t2', 'doomed', 1, 1]);
            assert.equal(tx.all('SELECT id FROM tasks').length, 2, 'visible inside the transaction');
            throw new Error('boom');
          }),
        /boom/,
      );
      assert.deepEqual(taskIds(s), ['t1']);
      assert.equal(sha256(path.join(dir, 'ai2ai.journal')), before);
      // A failing statement (duplicate key) also rolls back the statements before it.
      assert.throws(() => s.mutate(tx => (tx.run(INSERT_TASK, ['t3', 'x', 1, 1]), tx.run(INSERT_TASK, ['t1', 'dup', 1, 1]))), /UNIQUE/);
      assert.deepEqual(taskIds(s), ['t1']);
      assert.equal(sha256(path.join(dir, 'ai2ai.journal')), before);
      const seqBefore = JSON.parse(journalLines(dir).at(-1)!).seq as number;
      s.mutate(tx => tx.run(INSERT_TASK, ['t4', 'ok', 1, 1]));
      assert.equal(JSON.parse(journalLines(dir).at(-1)!).seq, seqBefore + 1);
      // Misuse is refused rather than silently breaking the journal.
      assert.throws(() => s.mutate(() => Promise.resolve(1)), (e: unknown) => AppError.is(e, 'internal'));
      assert.throws(() => s.mutate(() => s.mutate(() => 1)), (e: unknown) => AppError.is(e, 'internal'));
      let leaked: { run(sql: string): unknown } | undefined;
      s.mutate(tx => void (leaked = tx));
      assert.throws(() => leaked!.run('DELETE FROM tasks'), (e: unknown) => AppError.is(e, 'internal'));
      assert.deepEqual(taskIds(s), ['t1', 't4']);
    });

    it('replays bytes, infinities, nulls and odd text exactly from the journal in another store', async () => {
      const a = await track(openStore({ dir, wasmPath: WASM, watch: false }, undefined, [{ version: 1, description: 'b', statements: ['CREATE TABLE b (id INTEGER PRIMARY KEY, v)'] }]));
      const b = await track(openStore({ dir, wasmPath: WASM, watch: false }, undefined, [{ version: 1, description: 'b', statements: ['CREATE TABLE b (id INTEGER PRIMARY KEY, v)'] }]));
      const bytes = new Uint8Array([0, 1, 2, 250, 255, 10, 13]);
      a.mutate(tx => {
        tx.run('INSERT INTO b VALUES (1, ?)', [bytes]);
        tx.run('INSERT INTO b VALUES (2, ?)', [Infinity]);
        tx.run('INSERT INTO b VALUES (3, ?)', [null]);
        tx.run('INSERT INTO b VALUES (4, ?)', ['line\nbreak "quoted" ünïcode']);
        tx.run('INSERT INTO b VALUES (5, ?)', [0.1 + 0.2]);
      });
      assert.equal(b.catchUp(), 1);
      assert.deepEqual(b.read.all('SELECT * FROM b ORDER BY id'), a.read.all('SELECT * FROM b ORDER BY id'));
      assert.deepEqual(b.read.get('SELECT v FROM b WHERE id = 1')?.v, bytes);
      // A third store that never saw a snapshot with these rows replays the journal on open.
      const c = await track(openStore({ dir, wasmPath: WASM, watch: false }, undefined, [{ version: 1, description: 'b', statements: ['CREATE TABLE b (id INTEGER PRIMARY KEY, v)'] }]));
      assert.deepEqual(c.read.all('SELECT * FROM b ORDER BY id'), a.read.all('SELECT * FROM b ORDER BY id'));
    });
  });

  describe('refusing damaged files', () => {
    const snapshot = () => path.join(dir, 'ai2ai.sqlite');
    const journal = () => path.join(dir, 'ai2ai.journal');

    async function refusesUnchanged(reason: 'storage_corrupt' | 'storage_newer_schema'): Promise<AppError> {
      const before = [sha256(snapshot()), sha256(journal())];
      const e = await expectRefusal(openStore({ dir, wasmPath: WASM, watch: false }), reason, snapshot());
      assert.deepEqual([sha256(snapshot()), sha256(journal())], before, 'snapshot and journal bytes must be unchanged');
      assert.ok(!fs.existsSync(path.join(dir, 'ai2ai.lock')), 'the lock must be released');
      return e;
    }

    function writeJournal(base: number): void {
      fs.writeFileSync(journal(), `{"gen":"g1","base":${base}}\n{"seq":${base + 1},"stmts":[["DELETE FROM tasks",[]]]}\n`);
    }

    it('refuses a 0-byte database', async () => {
      fs.writeFileSync(snapshot(), '');
      writeJournal(0);
      const e = await refusesUnchanged('storage_corrupt');
      assert.match(e.message, /0 bytes/);
    });

    it('refuses a file that is not SQLite', async () => {
      fs.writeFileSync(snapshot(), Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) % 256)));
      writeJournal(0);
      await refusesUnchanged('storage_corrupt');
    });

    it('refuses a truncated real database', async () => {
      const s = await openStore({ dir, wasmPath: WASM, watch: false });
      s.mutate(tx => {
        for (let i = 0; i < 400; i++) tx.run(INSERT_TASK, [`t${i}`, 'x'.repeat(1000), i, i]);
      });
      s.close();
      const full = fs.readFileSync(snapshot());
      fs.writeFileSync(snapshot(), full.subarray(0, Math.floor(full.length / 2)));
      const e = await refusesUnchanged('storage_corrupt');
      assert.match(e.message, /move .* aside/);
    });

    it('refuses a database newer than this version knows', async () => {
      const s = await openStore({ dir, wasmPath: WASM, watch: false });
      s.close();
      const SQL = await initSqlJs({ wasmBinary: fs.readFileSync(WASM).buffer as ArrayBuffer });
      const db = new SQL.Database(fs.readFileSync(snapshot()));
      db.run("UPDATE meta SET value = ? WHERE key = 'schema_version'", [LATEST_SCHEMA_VERSION + 1]);
      fs.writeFileSync(snapshot(), db.export());
      db.close();
      const e = await refusesUnchanged('storage_newer_schema');
      assert.match(e.message, /Update AI2AI/);
    });

    it('refuses a journal that continues from a snapshot that is missing', async () => {
      writeJournal(7);
      const before = sha256(journal());
      const e = await expectRefusal(openStore({ dir, wasmPath: WASM, watch: false }), 'storage_corrupt', snapshot());
      assert.match(e.message, /missing/);
      assert.equal(sha256(journal()), before);
      assert.ok(!fs.existsSync(snapshot()));
    });
  });

  describe('journal', () => {
    it('folds a journal of more than 64 KB into the snapshot once changes stop (idle compaction)', async () => {
      const s = await track(openStore({ dir, wasmPath: WASM, watch: false, idleCompactMs: 150 }, undefined, WITH_COUNTER));
      const jpath = path.join(dir, 'ai2ai.journal');
      const big = 'x'.repeat(2000);
      for (let i = 0; i < 40; i++) s.mutate(tx => tx.run('UPDATE counter SET n = n + 1 WHERE id = 1 AND ? <> ?', [big, 'y']));
      assert.ok(fs.statSync(jpath).size > 64 * 1024, 'the journal grew');
      assert.ok(await waitFor(() => journalLines(dir).length === 1, 5000), 'compacted: only the new generation\'s header is left');
      const again = await track(openStore({ dir, wasmPath: WASM, watch: false }, undefined, WITH_COUNTER));
      assert.equal(counter(again), 40, 'everything is in the snapshot');
      // A small journal is left alone: not worth a snapshot.
      bump(s);
      await new Promise(r => setTimeout(r, 400));
      assert.equal(journalLines(dir).length, 2);
    });

    it('ignores a torn last line, then truncates it before the next append', async () => {
      const a = await openStore({ dir, wasmPath: WASM, watch: false }, undefined, WITH_COUNTER);
      bump(a);
      bump(a);
      const jpath = path.join(dir, 'ai2ai.journal');
      // What a crash mid-append leaves: a line without its newline.
      fs.appendFileSync(jpath, '{"seq":99,"stmts":[["UPDATE counter SET n = n + 100 WHERE id = 1",[]]');
      const log = capturingLogger();
      const b = await track(openStore({ dir, wasmPath: WASM, watch: false }, log, WITH_COUNTER));
      assert.equal(counter(b), 2);
      assert.match(fs.readFileSync(jpath, 'utf8'), /n \+ 100/, 'opening alone must not rewrite the journal');
      bump(b);
      const text = fs.readFileSync(jpath, 'utf8');
      assert.doesNotMatch(text, /n \+ 100/);
      for (const l of journalLines(dir)) JSON.parse(l);
      assert.ok(log.warnings.some(w => /torn/.test(w)), 'the truncation is logged');
      a.catchUp();
      assert.equal(counter(a), 3);
      a.close();
      const c = await track(openStore({ dir, wasmPath: WASM, watch: false }, undefined, WITH_COUNTER));
      assert.equal(counter(c), 3);
    });

    it('refuses a complete but unreadable line instead of skipping it, and keeps every file', async () => {
      const a = await track(openStore({ dir, wasmPath: WASM, watch: false }, undefined, WITH_COUNTER));
      bump(a);
      fs.appendFileSync(path.join(dir, 'ai2ai.journal'), 'this is not json\n');
      const before = [sha256(path.join(dir, 'ai2ai.sqlite')), sha256(path.join(dir, 'ai2ai.journal'))];
      const e = await expectRefusal(openStore({ dir, wasmPath: WASM, watch: false }, undefined, WITH_COUNTER), 'storage_corrupt', 'line 3');
      assert.match(e.message, /is damaged.*left untouched.*remove line 3/);
      // The window that is open stops writing too, and compacts nothing on close.
      assert.throws(() => bump(a), (err: unknown) => AppError.is(err, 'storage_corrupt') && /stopped saving changes/.test(err.message));
      assert.equal(a.problem?.reason, 'storage_corrupt');
      a.close();
      assert.deepEqual([sha256(path.join(dir, 'ai2ai.sqlite')), sha256(path.join(dir, 'ai2ai.journal'))], before);
      assert.ok(!fs.existsSync(path.join(dir, 'ai2ai.lock')));
    });

    it('follows compaction generations: reload when behind the new base, continue when not', async () => {
      const a = await track(openStore({ dir, wasmPath: WASM, watch: false }, undefined, WITH_COUNTER));
      const b = await track(openStore({ dir, wasmPath: WASM, watch: false }, undefined, WITH_COUNTER));
      const seen: StoreChange['origin'][] = [];
      b.onDidChange(c => seen.push(c.origin));
      bump(a); // b has an unread line...
      a.compact(); // ...which is now only in the snapshot
      bump(a);
      assert.equal(b.catchUp(), 2);
      assert.equal(counter(b), 2);
      assert.deepEqual(seen, ['reload']);
      a.compact(); // b is up to date: the new generation continues where it is
      bump(a);
      assert.equal(b.catchUp(), 1);
      assert.deepEqual(seen, ['reload', 'external']);
      bump(b);
      a.catchUp();
      assert.equal(counter(a), 4);
      assert.equal(counter(b), 4);
    });

    it('never re-applies lines when a crash hits between snapshot and journal swap', async () => {
      const a = await openStore({ dir, wasmPath: WASM, watch: false }, undefined, WITH_COUNTER);
      for (let i = 0; i < 5; i++) bump(a);
      const jpath = path.join(dir, 'ai2ai.journal');
      const oldJournal = fs.readFileSync(jpath);
      a.compact();
      (a as unknown as { dispose(): void }).dispose(); // "crash": no close, no further compaction
      fs.writeFileSync(jpath, oldJournal); // the swap never happened: new snapshot, old journal
      const b = await track(openStore({ dir, wasmPath: WASM, watch: false }, undefined, WITH_COUNTER));
      assert.equal(counter(b), 5);
      bump(b);
      const c = await track(openStore({ dir, wasmPath: WASM, watch: false }, undefined, WITH_COUNTER));
      assert.equal(counter(c), 6);
    });

    it('compacts by itself when the journal passes compactAfterBytes', async () => {
      const s = await track(openStore({ dir, wasmPath: WASM, watch: false, compactAfterBytes: 2000 }, undefined, WITH_COUNTER));
      for (let i = 0; i < 100; i++) bump(s);
      assert.ok(fs.statSync(path.join(dir, 'ai2ai.journal')).size <= 2000 + 200);
      const header = JSON.parse(journalLines(dir)[0]) as { gen: string; base: number };
      assert.ok(header.base > 50, `base ${header.base}`);
      assert.equal(counter(s), 100);
    });

    it('publishes exactly what each mutation recorded, with its sequence number, here and in another window', async () => {
      const a = await track(openStore({ dir, wasmPath: WASM, watch: false }, undefined, WITH_COUNTER));
      const b = await track(openStore({ dir, wasmPath: WASM, watch: false }, undefined, WITH_COUNTER));
      const local: StoreChange[] = [];
      const external: StoreChange[] = [];
      a.onDidChange(c => local.push(c));
      b.onDidChange(c => external.push(c));
      a.mutate(tx => {
        tx.run('UPDATE counter SET n = n + 1 WHERE id = 1');
        tx.changed({ entity: 'counter', op: 'updated', id: '1' });
        tx.changed({ entity: 'note', op: 'created', id: 'x', taskId: 't' });
      });
      bump(a);
      assert.equal(local.length, 2);
      assert.deepEqual(local[0].changes, [{ entity: 'counter', op: 'updated', id: '1' }, { entity: 'note', op: 'created', id: 'x', taskId: 't' }]);
      assert.equal(local[1].seq, local[0].seq + 1);
      assert.equal(b.catchUp(), 2);
      assert.deepEqual(external.map(c => [c.origin, c.seq, c.changes]), local.map(c => ['external', c.seq, c.changes]), 'the other window gets the same records, one event per mutation');
      // A line without records (an older version's) makes the other window re-read everything.
      a.mutate(tx => tx.run('UPDATE counter SET n = n + 1 WHERE id = 1'));
      b.catchUp();
      assert.equal(external.at(-1)?.origin, 'reload');
      // A mutation that throws records nothing.
      assert.throws(() => a.mutate(tx => {
        tx.changed({ entity: 'counter', op: 'updated', id: '1' });
        throw new Error('no');
      }), /no/);
      assert.equal(local.length, 3);
    });

    it("fires onDidChange 'external' in a watching store when another store writes", async () => {
      const watching = await track(openStore({ dir, wasmPath: WASM }, undefined, WITH_COUNTER));
      const writer = await track(openStore({ dir, wasmPath: WASM, watch: false }, undefined, WITH_COUNTER));
      const seen: StoreChange[] = [];
      watching.onDidChange(c => seen.push(c));
      bump(writer);
      assert.ok(await waitFor(() => seen.length > 0), 'no change event within 3 s');
      assert.equal(seen[0].origin, 'external');
      assert.equal(counter(watching), 1);
      // Across a compaction (the journal is renamed over) the watch keeps working.
      writer.compact();
      bump(writer);
      assert.ok(await waitFor(() => counter(watching) === 2), 'no catch-up after compaction');
      assert.ok(seen.every(c => c.origin === 'external'), JSON.stringify(seen));
    });
  });

  describe('engine load', () => {
    it('turns a missing wasm into one storage_io error, with no unhandled rejection', async () => {
      const unhandled: unknown[] = [];
      const onUnhandled = (e: unknown) => unhandled.push(e);
      process.on('unhandledRejection', onUnhandled);
      try {
        const missing = path.join(dir, 'nope', 'sql-wasm.wasm');
        await assert.rejects(openStore({ dir, wasmPath: missing }), (e: unknown) => AppError.is(e, 'storage_io') && e.message.includes(missing));
        fs.writeFileSync(path.join(dir, 'bad.wasm'), 'not wasm');
        await assert.rejects(openStore({ dir, wasmPath: path.join(dir, 'bad.wasm') }), (e: unknown) => AppError.is(e, 'storage_io'));
        await new Promise(r => setTimeout(r, 200));
        assert.deepEqual(unhandled, []);
        assert.ok(!fs.existsSync(path.join(dir, 'ai2ai.sqlite')), 'nothing written');
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    });
  });
});
