#!/usr/bin/env bash
# Installs the cloud gateways' real clients that tests/e2e/real_clients calls Pylon with:
#   node/            npm `aliyun-api-gateway` (Alibaba's official Node.js SDK), from package-lock.json
#   venv-aliyun/     PyPI `aliyun-api-gateway-sign` (Alibaba's Python signing demo; top-level `com/`)
#   venv-tencent/    PyPI `tencentcloud-apigateway-authorization` (a Tencent key-pair signer)
#   venv-websockets/ PyPI `websockets` (WebSocket client and echo backend)
#   venv-lambda/     PyPI `awslambdaric` (AWS's Lambda runtime interface client: hosted-function workers)
# into ${PYLON_CLIENTS_DIR:-$HOME/.cache/pylon-clients}. Idempotent: a stamp of the pinned
# inputs skips the work when nothing changed; a lock serialises concurrent test processes.
# Prints `name=path` lines for what it installed.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
dir="${PYLON_CLIENTS_DIR:-$HOME/.cache/pylon-clients}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

# Test binaries (nextest runs one process per test) may all call this at once.
exec 9>"$dir/.install.lock"
flock 9

command -v node >/dev/null || { echo "install.sh: node is required" >&2; exit 1; }
command -v npm >/dev/null || { echo "install.sh: npm is required" >&2; exit 1; }
command -v python3 >/dev/null || { echo "install.sh: python3 is required" >&2; exit 1; }

python_pins="aliyun-api-gateway-sign==1.0.4 tencentcloud-apigateway-authorization==0.1.0 websockets==15.0.1 awslambdaric==4.2.2"
stamp="$(cat "$here/package.json" "$here/package-lock.json" "$0" | sha256sum | cut -d' ' -f1) $(node --version) $(python3 --version)"

if [ "$(cat "$dir/.stamp" 2>/dev/null)" != "$stamp" ]; then
  rm -f "$dir/.stamp"
  start=$(date +%s)

  # npm ci wants package.json beside the lock; the install lives outside the repository.
  rm -rf "$dir/node"
  mkdir -p "$dir/node"
  cp "$here/package.json" "$here/package-lock.json" "$dir/node/"
  # --ignore-scripts: the only install script in the tree is core-js's donation banner.
  (cd "$dir/node" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2

  # Both Alibaba Python packages install a top-level `com/`, so each client gets its own venv.
  rm -rf "$dir/venv-aliyun" "$dir/venv-tencent" "$dir/venv-websockets" "$dir/venv-lambda"
  python3 -m venv "$dir/venv-aliyun"
  "$dir/venv-aliyun/bin/pip" install --quiet --disable-pip-version-check aliyun-api-gateway-sign==1.0.4 >&2
  python3 -m venv "$dir/venv-tencent"
  "$dir/venv-tencent/bin/pip" install --quiet --disable-pip-version-check tencentcloud-apigateway-authorization==0.1.0 >&2
  python3 -m venv "$dir/venv-websockets"
  "$dir/venv-websockets/bin/pip" install --quiet --disable-pip-version-check websockets==15.0.1 >&2
  python3 -m venv "$dir/venv-lambda"
  "$dir/venv-lambda/bin/pip" install --quiet --disable-pip-version-check awslambdaric==4.2.2 >&2

  # Fail here, not in a test, if an install is incomplete.
  (cd "$dir/node" && node -e "require('aliyun-api-gateway'); require('httpx')")
  "$dir/venv-aliyun/bin/python" -c "import com.aliyun.api.gateway.sdk.client"
  "$dir/venv-tencent/bin/python" -c "import apigateway"
  "$dir/venv-websockets/bin/python" -c "import websockets.asyncio.client"
  "$dir/venv-lambda/bin/python" -c "import awslambdaric"

  echo "$stamp" >"$dir/.stamp"
  echo "install.sh: installed in $(($(date +%s) - start)) s ($python_pins, npm aliyun-api-gateway@1.1.6)" >&2
fi

echo "clients_dir=$dir"
echo "node_modules=$dir/node/node_modules"
echo "python_aliyun=$dir/venv-aliyun/bin/python"
echo "python_tencent=$dir/venv-tencent/bin/python"
echo "python_websockets=$dir/venv-websockets/bin/python"
echo "python_lambda=$dir/venv-lambda/bin/python"
