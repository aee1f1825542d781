#!/usr/bin/env bash
# Install what bench/dataplane.py needs, only where it is missing (safe to rerun):
#   wrk, haproxy and h2load (nghttp2-client, for bench/tls_h2.py) from the distribution (apt-get),
#   vllm-router from PyPI (pip),
#   plus the Python packages the fake upstream and the stream client use.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
PY="${PYTHON:-python3}"

need_apt=()
command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
{ command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ]; } || need_apt+=(haproxy)
command -v taskset >/dev/null 2>&1 || need_apt+=(util-linux)
command -v h2load >/dev/null 2>&1 || need_apt+=(nghttp2-client)
if [ ${#need_apt[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "installing ${need_apt[*]} (apt-get)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
  else
    echo "please install: ${need_apt[*]} (no apt-get here)" >&2
    exit 1
  fi
fi

need_pip=()
"$PY" -c "import vllm_router" >/dev/null 2>&1 || need_pip+=(vllm-router)
"$PY" -c "import httptools" >/dev/null 2>&1 || need_pip+=(httptools)
"$PY" -c "import uvloop" >/dev/null 2>&1 || need_pip+=(uvloop)
if [ ${#need_pip[@]} -gt 0 ]; then
  echo "installing ${need_pip[*]} (pip)"
  "$PY" -m pip install -q "${need_pip[@]}"
fi

echo "ready: $(wrk -v 2>&1 | head -n1 | cut -c1-40); $(haproxy -v 2>/dev/null | head -n1 | cut -c1-40);" \
  "vllm-router $("$PY" -c 'from importlib.metadata import version; print(version("vllm-router"))')"
