import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AppError } from '../../../src/core/errors';
import { FileLock } from '../../../src/core/store/lock';
import { capturingLogger, rmDir, tempDir } from './fixtures/util';

describe('store: lock file', () => {
  let dir: string;
  let lockPath: string;
  beforeEach(() => {
    dir = tempDir();
    lockPath = path.join(dir, 'ai2ai.lock');
  });
  afterEach(() => rmDir(dir));

  it('waits on a live holder, then gives up with storage_locked and advice', () => {
    // A live pid (the test runner's parent) on this host, recent: must not be broken.
    fs.writeFileSync(lockPath, `${process.ppid}\n${os.hostname()}\n${Date.now()}\nabc\n`);
    const lock = new FileLock(lockPath, capturingLogger(), { timeoutMs: 300 });
    const t0 = Date.now();
    assert.throws(
      () => lock.acquire(),
      (e: unknown) => AppError.is(e, 'storage_locked') && /VS Code window seems stuck/.test(e.message) && e.message.includes(lockPath),
    );
    assert.ok(Date.now() - t0 >= 290, 'it waited');
    assert.ok(fs.existsSync(lockPath), "the live holder's lock is untouched");
  });

  it("breaks a dead process's lock, and one older than the staleness bound", () => {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    fs.writeFileSync(lockPath, `${dead}\n${os.hostname()}\n${Date.now()}\nabc\n`);
    const log = capturingLogger();
    const lock = new FileLock(lockPath, log, { timeoutMs: 2000 });
    const t0 = Date.now();
    lock.acquire();
    assert.ok(Date.now() - t0 < 500, 'broken promptly');
    assert.ok(log.warnings.some(w => /stale/.test(w)));
    lock.release();
    assert.ok(!fs.existsSync(lockPath));

    // Alive as far as we can tell (another host), but not renewed for longer than the stale time.
    fs.writeFileSync(lockPath, `${process.ppid}\nanother-host\n${Date.now() - 60_000}\nabc\n`);
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(lockPath, old, old);
    lock.acquire();
    lock.release();
  });

  it('release leaves alone a lock that someone else took over', () => {
    const lock = new FileLock(lockPath, capturingLogger());
    lock.acquire();
    fs.writeFileSync(lockPath, `${process.ppid}\n${os.hostname()}\n${Date.now()}\nsomeone-else\n`);
    lock.release();
    assert.match(fs.readFileSync(lockPath, 'utf8'), /someone-else/);
  });
});
