import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AppError } from '../../../src/core/errors';
import { PathSandbox } from '../../../src/core/workspace/sandbox';

/**
 * Layout (all real files in temp dirs):
 *   <ws>/agents/alice/          writeRoot, with src/a.js, in-link -> src, out-link -> <outside>,
 *                               out-file-link -> <outside>/secret.txt, dangling -> <outside>/missing,
 *                               loop -> loop, ws-link -> <ws>/other, hard.txt (hard link to <outside>/hard.txt)
 *   <ws>/agents/alice2/         a sibling whose name starts with the agent's
 *   <ws>/other/file.txt, <ws>/.git/config
 *   <outside>/secret.txt        not in the workspace at all
 */
describe('PathSandbox', () => {
  let ws: string;
  let outside: string;
  let alice: string;
  let sb: PathSandbox;

  before(() => {
    ws = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'ai2ai-sb-ws-')));
    outside = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'ai2ai-sb-out-')));
    alice = path.join(ws, 'agents', 'alice');
    fs.mkdirSync(path.join(alice, 'src'), { recursive: true });
    fs.mkdirSync(path.join(ws, 'agents', 'alice2'), { recursive: true });
    fs.mkdirSync(path.join(ws, 'other'), { recursive: true });
    fs.mkdirSync(path.join(ws, '.git'), { recursive: true });
    fs.mkdirSync(path.join(alice, 'sub', '.git'), { recursive: true });
    fs.writeFileSync(path.join(alice, 'src', 'a.js'), 'a');
    fs.writeFileSync(path.join(ws, 'other', 'file.txt'), 'o');
    fs.writeFileSync(path.join(ws, '.git', 'config'), '[remote]');
    fs.writeFileSync(path.join(outside, 'secret.txt'), 's');
    fs.writeFileSync(path.join(outside, 'hard.txt'), 'h');
    fs.symlinkSync(path.join(alice, 'src'), path.join(alice, 'in-link'));
    fs.symlinkSync(outside, path.join(alice, 'out-link'));
    fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(alice, 'out-file-link'));
    fs.symlinkSync(path.join(outside, 'missing'), path.join(alice, 'dangling'));
    fs.symlinkSync(path.join(alice, 'loop'), path.join(alice, 'loop'));
    fs.symlinkSync(path.join(ws, 'other'), path.join(alice, 'ws-link'));
    fs.linkSync(path.join(outside, 'hard.txt'), path.join(alice, 'hard.txt'));
    sb = new PathSandbox({ workspaceRoots: [ws], writeRoot: alice, caseInsensitive: false });
  });

  after(() => {
    fs.rmSync(ws, { recursive: true, force: true });
    fs.rmSync(outside, { recursive: true, force: true });
  });

  const refused = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      assert.ok(AppError.is(e, 'path_escape'), `expected path_escape, got ${String(e)}`);
      return e.message;
    }
    assert.fail('the path was accepted');
  };

  // [description, path (a function when it needs the temp dirs)]
  const writeEscapes: Array<[string, string | (() => string)]> = [
    ['parent directory', '../x.txt'],
    ['two levels up', '../../x.txt'],
    ['up after going down', 'src/../../x.txt'],
    ['into a sibling agent', '../bob/x.txt'],
    ['into a sibling with the same prefix', '../alice2/x.txt'],
    ['absolute path of the same-prefix sibling', () => `${alice}2/x.txt`],
    ['deep climb out', 'a/b/c/../../../../../../etc/passwd'],
    ['backslash parent', '..\\x.txt'],
    ['backslash climb', 'src\\..\\..\\..\\x.txt'],
    ['mixed separators', 'src/..\\../x.txt'],
    ['absolute system path', '/etc/passwd'],
    ['absolute path outside the workspace', () => path.join(outside, 'secret.txt')],
    ['absolute path elsewhere in the workspace', () => path.join(ws, 'other', 'file.txt')],
    ['write elsewhere in the workspace via ..', '../../other/file.txt'],
    ['new file under a directory symlink out', 'out-link/new.txt'],
    ['existing file under a directory symlink out', 'out-link/secret.txt'],
    ['deep new file under a directory symlink out', 'out-link/a/b/c.txt'],
    ['file symlink pointing out', 'out-file-link'],
    ['dangling symlink', 'dangling'],
    ['symlink loop', 'loop/x'],
    ['symlink into the workspace but outside the folder', 'ws-link/file.txt'],
    ['hard link to a file outside', 'hard.txt'],
    ['NUL byte', 'a\0b.txt'],
    ['NUL byte before an extension', 'src/a.js\0.txt'],
    ['newline', 'a\nb.txt'],
    ['home directory', '~/x.txt'],
    ['bare tilde', '~'],
    ['other user home', '~root/.ssh/authorized_keys'],
    ['Windows drive path', 'C:\\Windows\\System32\\x.dll'],
    ['drive with forward slashes', 'c:/x.txt'],
    ['drive-relative path', 'C:x.txt'],
    ['UNC path', '\\\\server\\share\\x.txt'],
    ['UNC with forward slashes', '//server/share/x.txt'],
    ['Win32 long-path prefix', '\\\\?\\C:\\x.txt'],
    ['device namespace', '\\\\.\\PhysicalDrive0'],
    ['empty path', ''],
    ['whitespace only', '   '],
    ['leading space', ' src/a.js'],
    ['very long path', 'a/'.repeat(600) + 'x'],
    ['overlong segment', `src/${'n'.repeat(300)}.txt`],
    ['the folder itself (.)', '.'],
    ['the folder itself (./)', './'],
    ['the folder itself via src/..', 'src/..'],
    ['the folder itself, absolute', () => alice],
    ['.git internals', '.git/config'],
    ['.git in upper case', '.GIT/hooks/pre-commit'],
    ['.git in mixed case', '.Git/x'],
    ['nested .git', 'sub/.git/HEAD'],
    ['the workspace .git via ..', '../../.git/config'],
    ['8.3 short name of .git', 'GIT~1/config'],
    ['percent-encoded dots', '%2e%2e/x.txt'],
    ['percent-encoded slash', '..%2fx.txt'],
    ['double-encoded dots', '%252e%252e/x.txt'],
    ['encoded NUL', 'a%00.txt'],
    ['file URL', 'file:///etc/passwd'],
    ['fullwidth dots', '\uFF0E\uFF0E/x.txt'],
    ['fullwidth slash', '..\uFF0Fx.txt'],
    ['alternate data stream', 'a.txt:stream'],
    ['device name', 'CON'],
    ['device name with extension', 'src/nul.txt'],
    ['trailing dot segment', 'src/evil./x.txt'],
    ['three dots', '.../x.txt'],
    ['pipe character', 'a|b.txt'],
    ['wildcard character', 'a*.txt'],
    ['upper-case folder on a case-sensitive system is a different folder', () => path.join(ws, 'AGENTS', 'ALICE', 'x.txt')],
    ['not a string', (() => 42) as unknown as () => string],
  ];

  describe('refuses writes that escape', () => {
    it('has at least 40 attempts', () => assert.ok(writeEscapes.length >= 40));
    for (const [name, p] of writeEscapes) {
      it(name, () => {
        const value = typeof p === 'function' ? p() : p;
        const msg = refused(() => sb.resolveWrite(value));
        assert.match(msg, /^Refused path /);
        assert.match(msg, /agents\/alice\//, 'says where the agent may write');
      });
    }
  });

  describe('resolveEntry (delete_file): the same refusals, except that the last name itself may be a link', () => {
    // Deleting these removes only the name inside the folder, never what it points to.
    const ownEntries = new Set(['file symlink pointing out', 'dangling symlink', 'hard link to a file outside']);
    for (const [name, p] of writeEscapes) {
      it(name, () => {
        const value = typeof p === 'function' ? p() : p;
        if (ownEntries.has(name)) assert.equal(sb.resolveEntry(value as string), path.join(alice, value as string));
        else assert.match(refused(() => sb.resolveEntry(value)), /^Refused path /);
      });
    }
  });

  const readEscapes: Array<[string, string | (() => string)]> = [
    ['outside the workspace via ..', '../../../x.txt'],
    ['system file', '/etc/passwd'],
    ['absolute outside', () => path.join(outside, 'secret.txt')],
    ['through a symlink out', 'out-link/secret.txt'],
    ['file symlink out', 'out-file-link'],
    ['workspace .git', '../../.git/config'],
    ['workspace .git absolute', () => path.join(ws, '.git', 'config')],
    ['NUL', 'src/a.js\0'],
    ['home', '~/.ssh/id_rsa'],
  ];
  describe('refuses reads outside the workspace', () => {
    for (const [name, p] of readEscapes) {
      it(name, () => {
        const msg = refused(() => sb.resolveRead(typeof p === 'function' ? p() : p));
        assert.match(msg, /read files inside the open workspace/);
      });
    }
  });

  describe('accepts legitimate paths', () => {
    const w = (p: string, want: string) => it(`write ${JSON.stringify(p)}`, () => assert.equal(sb.resolveWrite(p), path.join(alice, want)));
    w('src/a.js', 'src/a.js');
    w('src\\b.js', 'src/b.js');
    w('./src/new/deep/file.ts', 'src/new/deep/file.ts');
    w('src/../README.md', 'README.md');
    w('in-link/x.js', 'src/x.js');
    w('café.txt', 'café.txt');
    w('My File (1).txt', 'My File (1).txt');
    w('.gitignore', '.gitignore');
    w('.github/workflows/ci.yml', '.github/workflows/ci.yml');
    w('a.b.c', 'a.b.c');
    it('write an absolute path inside the folder', () => assert.equal(sb.resolveWrite(path.join(alice, 'src', 'c.js')), path.join(alice, 'src', 'c.js')));
    it('read elsewhere in the workspace via ..', () => assert.equal(sb.resolveRead('../../other/file.txt'), path.join(ws, 'other', 'file.txt')));
    it('read elsewhere in the workspace, absolute', () => assert.equal(sb.resolveRead(path.join(ws, 'other', 'file.txt')), path.join(ws, 'other', 'file.txt')));
    it('read through a symlink that stays in the workspace', () => assert.equal(sb.resolveRead('ws-link/file.txt'), path.join(ws, 'other', 'file.txt')));
    it('read the folder itself', () => assert.equal(sb.resolveRead('.'), alice));
    it('display is relative with forward slashes', () => {
      assert.equal(sb.display(path.join(alice, 'src', 'a.js')), 'src/a.js');
      assert.equal(sb.display(path.join(ws, 'other', 'file.txt')), '../../other/file.txt');
    });
  });

  describe('case-insensitive file systems', () => {
    it('compares case-folded: the same folder in other case is inside', () => {
      const ci = new PathSandbox({ workspaceRoots: [ws], writeRoot: alice, caseInsensitive: true });
      const upper = path.join(ws, 'AGENTS', 'ALICE', 'x.txt');
      assert.ok(ci.resolveWrite(upper).toLowerCase().endsWith(path.join('agents', 'alice', 'x.txt')));
    });
    it('still refuses a sibling whose name differs only after folding', () => {
      const ci = new PathSandbox({ workspaceRoots: [ws], writeRoot: alice, caseInsensitive: true });
      refused(() => ci.resolveWrite(path.join(ws, 'AGENTS', 'ALICE2', 'x.txt')));
      refused(() => ci.resolveWrite('.GIT/config'));
    });
    it('detects the real file system when not told', () => {
      const auto = new PathSandbox({ workspaceRoots: [ws], writeRoot: alice });
      assert.equal(typeof auto.caseInsensitive, 'boolean');
    });
  });

  it('drive letters are paths on Windows only (and drive-relative never)', () => {
    const win = new PathSandbox({ workspaceRoots: [ws], writeRoot: alice, caseInsensitive: false, platform: 'win32' });
    // On this POSIX test machine a C:/ path is then outside every root: refused for escaping, not for syntax.
    assert.match(refused(() => win.resolveWrite('C:/x.txt')), /outside/);
    assert.match(refused(() => win.resolveWrite('C:x.txt')), /drive-relative/);
  });

  describe('folders swapped after the sandbox was made', () => {
    // Each test builds its own tree: <base>/ws/agents/bob is the agent's folder, <base>/elsewhere is outside.
    let base: string;
    let bob: string;
    let elsewhere: string;
    let own: PathSandbox;
    beforeEach(() => {
      base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'ai2ai-sb-swap-')));
      bob = path.join(base, 'ws', 'agents', 'bob');
      elsewhere = path.join(base, 'elsewhere');
      fs.mkdirSync(path.join(bob, 'src'), { recursive: true });
      fs.mkdirSync(path.join(elsewhere, 'bob', 'src'), { recursive: true });
      fs.writeFileSync(path.join(elsewhere, 'bob', 'src', 'a.js'), 'outside');
      own = new PathSandbox({ workspaceRoots: [path.join(base, 'ws')], writeRoot: bob, caseInsensitive: false });
      // the plain case, before any swap: the lexical path is the real one
      assert.equal(own.resolveWrite('src/a.js'), path.join(bob, 'src', 'a.js'));
    });
    afterEach(() => fs.rmSync(base, { recursive: true, force: true }));

    it('an ancestor of the agent\'s folder swapped for a symlink out: writes and reads are refused', () => {
      fs.renameSync(path.join(base, 'ws', 'agents'), path.join(base, 'ws', 'agents-old'));
      fs.symlinkSync(elsewhere, path.join(base, 'ws', 'agents'));
      for (const p of ['src/a.js', 'src/new.js', 'new.js']) {
        refused(() => own.resolveWrite(p));
      }
      refused(() => own.resolveRead('src/a.js'));
    });
    it('the agent\'s folder itself moved into a .git folder and an ancestor linked there: refused', () => {
      // the same folder (device and inode) as when the sandbox was made, now somewhere else
      fs.mkdirSync(path.join(base, 'repo', '.git'), { recursive: true });
      fs.renameSync(bob, path.join(base, 'repo', '.git', 'bob'));
      fs.renameSync(path.join(base, 'ws', 'agents'), path.join(base, 'ws', 'agents-old'));
      fs.symlinkSync(path.join(base, 'repo', '.git'), path.join(base, 'ws', 'agents'));
      for (const p of ['post-checkout', 'src/a.js', 'src/new.js']) refused(() => own.resolveWrite(p));
    });
    it('the agent\'s folder itself swapped for a symlink out: refused', () => {
      fs.renameSync(bob, `${bob}-old`);
      fs.symlinkSync(path.join(elsewhere, 'bob'), bob);
      refused(() => own.resolveWrite('src/new.js'));
      refused(() => own.resolveWrite('src/a.js'));
    });
    it('a folder below swapped for a symlink out: refused; for a symlink that stays inside: its real path', () => {
      fs.rmSync(path.join(bob, 'src'), { recursive: true });
      fs.symlinkSync(path.join(elsewhere, 'bob', 'src'), path.join(bob, 'src'));
      refused(() => own.resolveWrite('src/new.js'));
      fs.unlinkSync(path.join(bob, 'src'));
      fs.mkdirSync(path.join(bob, 'lib'));
      fs.symlinkSync(path.join(bob, 'lib'), path.join(bob, 'src'));
      assert.equal(own.resolveWrite('src/new.js'), path.join(bob, 'lib', 'new.js'));
    });
    it('the agent\'s folder deleted and made again: still accepted (realpath decides)', () => {
      fs.rmSync(bob, { recursive: true });
      fs.mkdirSync(path.join(bob, 'src'), { recursive: true });
      assert.equal(own.resolveWrite('src/a.js'), path.join(bob, 'src', 'a.js'));
    });
    it('a hard-linked file is refused, a file made plain again accepted', () => {
      fs.writeFileSync(path.join(bob, 'src', 'h.js'), 'h');
      fs.linkSync(path.join(bob, 'src', 'h.js'), path.join(elsewhere, 'h.js'));
      assert.match(refused(() => own.resolveWrite('src/h.js')), /several hard links/);
      fs.unlinkSync(path.join(elsewhere, 'h.js'));
      assert.equal(own.resolveWrite('src/h.js'), path.join(bob, 'src', 'h.js'));
    });
  });

  it('the error names the path and carries the facts for the log', () => {
    try {
      sb.resolveWrite('../x.txt');
    } catch (e) {
      assert.ok(AppError.is(e, 'path_escape'));
      assert.match(e.message, /"\.\.\/x\.txt"/);
      assert.equal(e.detail?.mode, 'write');
    }
  });
});
