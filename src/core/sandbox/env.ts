/**
 * The environment a command gets: an explicit list of variables from the host, never the whole of it.
 * The extension host's environment carries API keys, tokens, VS Code's own IPC handles and variables that
 * make shells and runtimes load code (`BASH_ENV`, `NODE_OPTIONS`, `PYTHONSTARTUP`, exported bash
 * functions); none of that reaches an agent's command.
 */

/** Passed through when set: locale, paths to toolchains, and nothing that names a secret. */
const PASS = [
  'PATH', 'LANG', 'LANGUAGE', 'LC_ALL', 'LC_CTYPE', 'LC_MESSAGES', 'LC_NUMERIC', 'LC_TIME', 'LC_COLLATE', 'TZ',
  'USER', 'LOGNAME', 'GOROOT', 'GOPATH', 'CARGO_HOME', 'RUSTUP_HOME', 'JAVA_HOME', 'VIRTUAL_ENV', 'CONDA_PREFIX',
  'PYENV_ROOT', 'PYENV_VERSION', 'NVM_DIR', 'NVM_BIN', 'VOLTA_HOME', 'PNPM_HOME', 'SYSTEMROOT', 'WINDIR', 'COMSPEC', 'PATHEXT',
];

/** Only with network access: certificates and proxies (a proxy URL may carry credentials, so not without). */
const PASS_NETWORK = ['SSL_CERT_FILE', 'SSL_CERT_DIR', 'NODE_EXTRA_CA_CERTS', 'REQUESTS_CA_BUNDLE', 'http_proxy', 'https_proxy', 'no_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY'];

export function commandEnv(host: NodeJS.ProcessEnv, opts: { network?: boolean; extra?: Record<string, string> } = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of [...PASS, ...(opts.network ? PASS_NETWORK : [])]) {
    const v = host[k];
    if (typeof v === 'string') env[k] = v;
  }
  env.PATH ??= '/usr/local/bin:/usr/bin:/bin';
  if (host.HOME) env.HOME = host.HOME;
  if (host.USERPROFILE) env.USERPROFILE = host.USERPROFILE;
  env.CI = '1'; // no watch modes or prompts: nobody can answer them
  return { ...env, ...opts.extra };
}
