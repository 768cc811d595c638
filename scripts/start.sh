#!/usr/bin/env bash
# npm start: build the extension and serve VS Code (code-server, in the browser) with it loaded and a copy of
# sample-workspace/ open (kept in .vscode-test/sample-workspace between starts). Stops on Ctrl-C.
#   npm start                          http://127.0.0.1:8080/...  (the full URL is printed)
#   PORT=9000 npm start                another port
#   VSCODE_VERSION=4.139.1 npm start   VS Code 1.139.1 instead of 1.100.3
set -euo pipefail
cd "$(dirname "$0")/.."
version=${VSCODE_VERSION:-4.100.3}
[ -d node_modules ] || { echo "[start] node_modules/ missing: npm ci"; npm ci; }
bash scripts/vscode-install.sh "$version"
npm run build
exec node scripts/vscode-run.mjs start --vscode "$version"
