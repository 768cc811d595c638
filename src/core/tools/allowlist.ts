/**
 * Which commands may run without asking: an allowlist entry's words, exactly as `sh` will read them
 * (`parseShellCommand`), followed by arguments that neither load other code, nor move the runner's
 * root, nor name a path outside the agent's folder.
 *
 * The allowlist is a convenience, not the boundary: an allowlisted test runner still runs the test code
 * and configuration the agent wrote (a `scripts.test`, a `conftest.py`), which is why commands run in an
 * OS sandbox (core/sandbox). What this file guarantees is narrower: the words the user allowlisted are the
 * words that run, and no flag smuggles in code from elsewhere (`--require ../bob/x.js`, `--prefix ../bob`,
 * `--script-shell=…`, `pytest -p evil`, `go test -exec …`). Anything it is unsure about asks.
 */
import * as path from 'node:path';
import { parseShellCommand } from './shell';

export type AllowlistVerdict = { match: true; argv: string[]; entry: string } | { match: false; why: string };

/**
 * Long options (without dashes) that load or run other code, change the runner's root, configuration or
 * shell, or write where the user did not say. Matched exactly, as `--name=value`, and as an abbreviation
 * (argparse and npm's option parser accept unambiguous prefixes such as `--root` for `--rootdir`).
 */
const RISKY_LONG = new Set([
  // node
  'require', 'import', 'loader', 'experimental-loader', 'eval', 'print', 'env-file', 'env-file-if-exists', 'run',
  'test-reporter', 'test-reporter-destination', 'test-global-setup', 'inspect', 'inspect-brk', 'inspect-port', 'inspect-wait',
  'inspect-publish-uid', 'debug', 'debug-brk', 'debug-port', 'openssl-config', 'icu-data-dir', 'snapshot-blob', 'build-snapshot',
  'build-snapshot-config', 'redirect-warnings', 'report-dir', 'report-directory', 'report-filename', 'diagnostic-dir', 'cpu-prof-dir',
  'heap-prof-dir', 'watch', 'watch-path', 'node-options', 'node-option', 'node-arg', 'interactive',
  // npm and friends
  'prefix', 'script-shell', 'shell', 'userconfig', 'globalconfig', 'workspace', 'workspaces', 'include-workspace-root', 'call',
  'cache', 'init-module', 'onload-script', 'global', 'location', 'package', 'node-gyp', 'git', 'editor', 'browser', 'viewer',
  // pytest
  'rootdir', 'confcutdir', 'config-file', 'inifile', 'override-ini', 'pyargs', 'basetemp', 'pdbcls', 'pdb', 'trace', 'junitxml',
  'junit-xml', 'resultlog', 'result-log', 'log-file', 'report-log', 'cov-config', 'tx', 'rsyncdir', 'pythonwarnings',
  // cargo, go (go also accepts --name)
  'config', 'manifest-path', 'target-dir', 'exec', 'toolexec', 'modfile', 'overlay', 'pkgdir', 'ldflags', 'gcflags', 'asmflags',
  'gccgoflags', 'compiler', 'outputdir',
  // test runners started through a script (mocha, jest, vitest, ts-node…) and generic ones
  'reporter', 'reporters', 'ui', 'file', 'setupfiles', 'setup-files', 'setupfilesafterenv', 'globalsetup', 'global-setup',
  'globalteardown', 'testrunner', 'test-runner', 'runner', 'transform', 'resolver', 'environment', 'testenvironment', 'projects',
  'rcfile', 'init-file', 'plugin', 'plugins', 'preload', 'execdir', 'ok', 'okdir', 'interpreter', 'python', 'configfile', 'configuration',
  'cwd', 'chdir', 'dir', 'directory', 'root', 'roots', 'base-dir', 'basedir', 'workdir', 'C',
]);

/** Every `--experimental-…` switch (some load code: loaders, config files, SEA configs). */
const RISKY_LONG_PREFIX = ['experimental-'];

/**
 * Single-letter options that load code or move the root in some runner: node -r/-e/-p, pytest -p/-c/-o/-W,
 * npm -C/-w/-c, cargo -C/-Z, mocha -R/-u. Checked in every cluster (`-qp evil` is `-q -p evil`).
 */
const RISKY_SHORT = new Set(['r', 'e', 'p', 'c', 'C', 'o', 'w', 'W', 'Z', 'R', 'u']);

/** go's flags are single-dash words (`-run`, `-exec`), so they are matched by name, not letter by letter. */
const RISKY_GO = new Set(['exec', 'toolexec', 'C', 'modfile', 'overlay', 'pkgdir', 'o', 'ldflags', 'gcflags', 'asmflags', 'gccgoflags', 'compiler', 'outputdir']);

/** npm takes any configuration key as a flag; before `--` only these harmless ones run without asking. */
const NPM_SAFE = new Set(['--silent', '-s', '--quiet', '-q', '--if-present', '--ignore-scripts', '--foreground-scripts', '--verbose', '-d', '-dd', '-ddd']);

type Family = 'npm' | 'go' | 'pytest' | 'other';

function programOf(argv: readonly string[]): Family {
  const base = path.basename(argv[0]!.replace(/\\/g, '/')).replace(/\.(exe|cmd|bat)$/i, '').toLowerCase();
  if (base === 'npm' || base === 'pnpm' || base === 'yarn' || base === 'npx' || base === 'bun') return 'npm';
  if (base === 'go') return 'go';
  if (base === 'pytest' || base === 'py.test' || (/^python[0-9.]*$/.test(base) && argv[1] === '-m' && argv[2] === 'pytest')) return 'pytest';
  return 'other';
}

/** Does a value name something outside the agent's folder (absolute, home, drive, or climbing with ..)? */
function pathOutside(value: string): boolean {
  if (value === '') return false;
  const v = value.replace(/\\/g, '/');
  if (v.startsWith('/') || v.startsWith('~') || /^[A-Za-z]:/.test(v)) return true;
  return v.split('/').some(s => s === '..');
}

function longRisky(name: string, family: Family): boolean {
  if (RISKY_LONG.has(name)) return true;
  if (RISKY_LONG_PREFIX.some(p => name.startsWith(p))) return true;
  // pytest (argparse) accepts unambiguous abbreviations: `--root` is `--rootdir`. (npm's own flags, which
  // abbreviate too, all ask before its `--`.)
  return family === 'pytest' && name.length >= 2 && [...RISKY_LONG].some(l => l.length > name.length && l.startsWith(name));
}

/** Why one argument makes the command ask, or undefined. */
function argumentRisk(arg: string, family: Family): string | undefined {
  const eq = arg.indexOf('=');
  const value = eq >= 0 ? arg.slice(eq + 1) : arg;
  if (pathOutside(value) || (eq >= 0 && pathOutside(arg.slice(0, eq)))) return `the argument "${arg}" names a path outside the agent's folder`;
  if (!arg.startsWith('-') || arg === '-' || arg === '--') return undefined;
  const flag = eq >= 0 ? arg.slice(0, eq) : arg;
  if (flag.startsWith('--')) {
    return longRisky(flag.slice(2), family) ? `the option ${flag} can make the runner load other code or change where it runs` : undefined;
  }
  const name = flag.slice(1);
  if (family === 'go') return RISKY_GO.has(name) ? `the option ${flag} can make go run other programs or change where it runs` : undefined;
  if (RISKY_LONG.has(name)) return `the option ${flag} can make the runner load other code or change where it runs`;
  const letter = [...name].find(c => RISKY_SHORT.has(c));
  if (!letter) return undefined;
  return `the option ${flag}${flag.length > 2 ? ` (-${letter})` : ''} can make the runner load other code or change where it runs`;
}

/** Why the arguments after an allowlisted prefix make the command ask, or undefined if they are harmless. */
export function riskyArguments(argv: readonly string[], from: number): string | undefined {
  const family = programOf(argv);
  let afterDashes = false;
  for (let i = from; i < argv.length; i++) {
    const arg = argv[i]!;
    if (family === 'npm' && !afterDashes) {
      if (arg === '--') {
        afterDashes = true;
        continue;
      }
      if (arg.startsWith('-') && !NPM_SAFE.has(arg) && !/^--loglevel=(silent|error|warn|notice|http|info|verbose|silly)$/.test(arg)) {
        return `npm reads ${arg.split('=')[0]} as a setting, which can change the shell, folder or scripts it runs`;
      }
    }
    const why = argumentRisk(arg, family);
    if (why) return why;
  }
  return undefined;
}

/**
 * Does `command` run without asking? Yes only when sh would run exactly an entry's words followed by
 * harmless arguments. Entries themselves are parsed the same way; an entry that is not plain words
 * never matches.
 */
export function checkAllowlist(command: string, allowlist: readonly string[]): AllowlistVerdict {
  // No String.trim(): it strips no-break spaces, line separators and \r, which sh keeps as words.
  const parsed = parseShellCommand(command);
  if (!parsed.ok) return { match: false, why: `the command line is not plain words: ${parsed.why}` };
  const argv = parsed.argv;
  let best: string[] | undefined;
  let bestEntry = '';
  for (const entry of allowlist) {
    const want = parseShellCommand(entry);
    if (!want.ok || want.argv.length > argv.length) continue;
    if (!want.argv.every((w, i) => w === argv[i])) continue;
    if (!best || want.argv.length > best.length) {
      best = want.argv;
      bestEntry = entry.trim();
    }
  }
  if (!best) return { match: false, why: 'it is not on the allowlist (ai2ai.commands.allowlist)' };
  const risk = riskyArguments(argv, best.length);
  if (risk) return { match: false, why: risk };
  return { match: true, argv, entry: bestEntry };
}

/** Is `command` an allowlist entry's words followed by harmless arguments, read exactly as sh reads it? */
export function isAllowlisted(command: string, allowlist: readonly string[]): boolean {
  return checkAllowlist(command, allowlist).match;
}
