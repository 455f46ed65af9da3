#!/usr/bin/env bash
# Installs what the console's browser tests (tests/console/console.test.mjs) drive Chromium
# with: npm `playwright-core` from the committed lock, into
# ${PYLON_CLIENTS_DIR:-$HOME/.cache/pylon-clients}/console-node. The browser is Debian's
# `chromium` (`apt-get install chromium`, done by .ci/run): never a downloaded one.
# Idempotent: a stamp of the lock skips the work when nothing changed; a lock serialises
# concurrent test processes. Prints `node_modules=...` and `chromium=...`.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
dir="${PYLON_CLIENTS_DIR:-$HOME/.cache/pylon-clients}/console-node"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
exec 9>"$dir/.install.lock"
flock 9

command -v npm >/dev/null || { echo "console tests: npm is required" >&2; exit 1; }
chromium="${CHROMIUM:-$(command -v chromium || true)}"
[[ -x $chromium ]] || {
  echo "console tests: Debian's chromium is required (apt-get install chromium), or set CHROMIUM" >&2
  exit 1
}

stamp="$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -d' ' -f1) $(node --version)"
if [ "$(cat "$dir/.stamp" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$dir/node_modules" "$dir/.stamp"
  cp "$here/package.json" "$here/package-lock.json" "$dir/"
  # playwright-core downloads nothing itself; the variable makes sure of it.
  (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2
  (cd "$dir" && node -e "require('playwright-core')")
  echo "$stamp" >"$dir/.stamp"
fi

echo "node_modules=$dir/node_modules"
echo "chromium=$chromium"
