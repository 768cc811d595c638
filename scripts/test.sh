#!/usr/bin/env bash
# All tests: unit tests (mocha, plain Node) + integration tests and the end-to-end UI check in a real VS Code
# (code-server + headless chromium, see scripts/vscode-run.mjs). Works on a fresh clone: installs the npm
# dependencies when node_modules/ is missing and code-server/chromium/bubblewrap when missing (scripts/vscode-install.sh;
# the unit tests run commands in bubblewrap for real and fail without it).
#
#   npm test                                   VS Code 1.100.3 (code-server 4.100.3)
#   VSCODE_VERSIONS=all npm test               1.100.3 and 1.139.1 (code-server 4.139.1)   = npm run test:all-versions
#   VSCODE_VERSIONS="4.139.1" npm test         only 1.139.1
#
# Runs every step even after a failure, prints a summary, and exits non-zero if any step failed.
# Full output of each step: artifacts/test-logs/<step>.log; screenshots: artifacts/*.png.
set -uo pipefail
cd "$(dirname "$0")/.."

versions=${VSCODE_VERSIONS:-${VSCODE_VERSION:-4.100.3}}
[ "$versions" = all ] && versions="4.100.3 4.139.1"
for v in $versions; do
  case "$v" in 4.100.3|4.139.1) ;; *) echo "unknown VS Code (code-server) version '$v': use 4.100.3, 4.139.1 or all" >&2; exit 2 ;; esac
done
install_arg=$([ "$(echo $versions | wc -w)" -gt 1 ] && echo all || echo "$versions")

LOGS=artifacts/test-logs
rm -rf "$LOGS" && mkdir -p "$LOGS"
summary=()
failed=0

# step <name> <fatal:yes|no> <command...>: run, tee to a log, record result and time
step() {
  local name=$1 fatal=$2; shift 2
  local log="$LOGS/$name.log" t0 rc secs counts
  echo; echo "======== $name: $*"
  t0=$(date +%s%N)
  "$@" < /dev/null 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  secs=$(( ($(date +%s%N) - t0) / 1000000 )); secs="$((secs / 1000)).$(printf %03d $((secs % 1000)) | cut -c1)s"
  # test counts: the integration runner's "N passed, N failed" line, or mocha's "N passing" / "N failing"
  counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
  if [ -z "$counts" ] && grep -qE '^ +[0-9]+ passing' "$log"; then
    counts="$(grep -oE '^ +[0-9]+ passing' "$log" | tail -1 | grep -oE '[0-9]+') passed, $(grep -oE '^ +[0-9]+ failing' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0) failed"
  fi
  if [ "$rc" -eq 0 ]; then summary+=("$(printf '  PASS  %-26s %8s  %s' "$name" "$secs" "$counts")")
  else summary+=("$(printf '  FAIL  %-26s %8s  %s (exit %s, log %s)' "$name" "$secs" "$counts" "$rc" "$log")"); failed=1; fi
  if [ "$rc" -ne 0 ] && [ "$fatal" = yes ]; then finish; fi
  return "$rc"
}

finish() {
  echo; echo "======== summary (VS Code via code-server: $versions)"
  printf '%s\n' "${summary[@]}"
  if [ $failed -eq 0 ]; then echo "ALL PASSED"; else echo "SOME STEPS FAILED"; fi
  exit $failed
}

if [ ! -d node_modules ]; then
  step npm-ci yes npm ci
fi
step install-vscode yes bash scripts/vscode-install.sh "$install_arg"
step build yes npm run build
# type errors fail the run, but tsc still emits out/, so the tests below run anyway
step compile-tests no npx tsc -p .
step unit no npx mocha
for v in $versions; do
  step "integration-$v" no node scripts/vscode-run.mjs tests --vscode "$v"
  step "e2e-$v" no node scripts/vscode-run.mjs ui --vscode "$v"
done
# a new user's first five minutes on an empty board: add a model server, an agent on it with a model from its list,
# a task, run it, open its details (screenshots per step: artifacts/ui-<version>-walkthrough-*.png)
step "e2e-walkthrough" no env AI2AI_E2E_VARIANT=walkthrough AI2AI_E2E_SCRIPT=test/e2e/walkthrough.e2e.js AI2AI_E2E_SEED= \
  node scripts/vscode-run.mjs ui --vscode "${versions%% *}"
# a damaged database: refused, said so in the views, file untouched
step "e2e-corrupt-db" no env AI2AI_E2E_VARIANT=corrupt AI2AI_E2E_SEED=out/test/e2e/seed-corrupt.js AI2AI_E2E_EXPECT= \
  AI2AI_E2E_EXPECT_WELCOME="could not open its database" node scripts/vscode-run.mjs ui --vscode "${versions%% *}"
# a task that went through review: its details show the round and the findings (screenshot ui-*-review-details.png)
step "e2e-review" no env AI2AI_E2E_VARIANT=review AI2AI_E2E_SEED=out/test/e2e/seed-review.js AI2AI_E2E_EXPECT="Write the add function" \
  AI2AI_E2E_OPEN="Write the add function" AI2AI_E2E_DETAILS="changes requested by Critic|subtracts instead of adding" \
  node scripts/vscode-run.mjs ui --vscode "${versions%% *}"
# the dashboard with three agents' history, prompt-cache figures included: screenshot ui-<version>-dashboard-dashboard.png
step "e2e-dashboard" no env AI2AI_E2E_VARIANT=dashboard AI2AI_E2E_SEED=out/test/e2e/seed-dashboard.js AI2AI_E2E_EXPECT='Ada|Bea|Cyd' \
  AI2AI_E2E_DASHBOARD='Ada|Bea|Cyd|Prompt cache|72%' node scripts/vscode-run.mjs ui --vscode "${versions%% *}"
# last, because it rebuilds dist/ minified: the packaged .vsix installed into code-server as a user would
first=${versions%% *}
step "vsix-$first" no bash -c "npm run package && AI2AI_VSIX=ai2ai.vsix node scripts/vscode-run.mjs ui --vscode $first"
finish
