#!/usr/bin/env bash
# Pylon with many published APIs: creates N APIs across NGROUPS groups and publishes each, with
# PARALLEL admin clients at once, then prints create and publish latency (first 100 against
# last 100), how soon a publish is served after its admin call returns, resident memory, and
# requests/s on one API with 10 APIs against with N (wrk). See bench/README.md.
#
# Environment:
#   N         APIs (default 10000)        NGROUPS    groups (default 100)
#   PARALLEL  admin clients (default 8)   DURATION  seconds of each wrk run (default 10)
#   PYLON_BIN use this pylon binary instead of building one (release)
#   KEEP_TMP=1 keep the data directory and log
set -euo pipefail

N=${N:-10000}
NGROUPS=${NGROUPS:-100}
PARALLEL=${PARALLEL:-8}
DURATION=${DURATION:-10}
die() { echo "scale: $*" >&2; exit 1; }
for v in N NGROUPS PARALLEL DURATION; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
done
((N >= 200)) || die "N must be at least 200 (the first and last 100 are compared)"
((NGROUPS >= 1 && PARALLEL >= 1 && DURATION >= 1)) || die "NGROUPS, PARALLEL, DURATION must be at least 1"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
command -v python3 >/dev/null || die "python3 is needed"
if ! command -v wrk >/dev/null; then
  if [[ $(id -u) == 0 ]]; then
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  else
    echo "scale: wrk not found: requests/s are skipped" >&2
  fi
fi
WRK=$(command -v wrk || true)

if [[ -z ${PYLON_BIN:-} ]]; then
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/pylon-target}
  echo "scale: building pylon (release) into $CARGO_TARGET_DIR" >&2
  (cd "$ROOT" && cargo build --release --locked --bin pylon --quiet) || die "cargo build failed"
  PYLON_BIN=$CARGO_TARGET_DIR/release/pylon
fi
[[ -x $PYLON_BIN ]] || die "$PYLON_BIN is not an executable"

TMP=$(mktemp -d /tmp/pylon-scale.XXXXXX)
TOKEN=scale-admin-token-0123456789
PYLON_PID=
cleanup() {
  [[ -n $PYLON_PID ]] && kill "$PYLON_PID" 2>/dev/null && wait "$PYLON_PID" 2>/dev/null
  if [[ ${KEEP_TMP:-0} == 1 ]]; then echo "scale: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

# A free status port, for builds that have a status listener (PYLON_BIN may be an older one).
STATUS=()
SERVE_HELP=$("$PYLON_BIN" serve --help)
[[ $SERVE_HELP == *--status-listen* ]] && STATUS=(--status-listen 127.0.0.1:0)
PYLON_LOG=${PYLON_LOG:-warn} PYLON_ADMIN_TOKEN=$TOKEN "$PYLON_BIN" serve --data-dir "$TMP/data" \
  --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 "${STATUS[@]}" --base-domain scale.test \
  >"$TMP/stdout" 2>"$TMP/pylon.log" &
PYLON_PID=$!
for _ in $(seq 100); do
  grep -q "pylon admin listening" "$TMP/stdout" 2>/dev/null && break
  kill -0 "$PYLON_PID" 2>/dev/null || die "pylon exited: $(tail -5 "$TMP/pylon.log")"
  sleep 0.1
done
GATEWAY=$(sed -n 's/^pylon gateway listening on //p' "$TMP/stdout")
ADMIN=$(sed -n 's/^pylon admin listening on //p' "$TMP/stdout")
[[ -n $GATEWAY && -n $ADMIN ]] || die "pylon did not print its addresses"

GATEWAY=$GATEWAY ADMIN=$ADMIN TOKEN=$TOKEN PID=$PYLON_PID N=$N NGROUPS=$NGROUPS \
  PARALLEL=$PARALLEL WRK=$WRK DURATION=$DURATION python3 "$ROOT/bench/scale.py"
