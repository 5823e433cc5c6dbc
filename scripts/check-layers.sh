#!/usr/bin/env bash
# The layer rules of ARCHITECTURE.md ("Invariants"), checked on the source text: each rule
# prints the lines that break it and fails. Run by `make lint`.
set -euo pipefail
cd "$(dirname "$0")/.."

status=0
# forbid PATTERN MESSAGE FILE...: no FILE may contain a line matching PATTERN.
forbid() {
  local pattern=$1 message=$2
  shift 2
  if grep -nE "$pattern" "$@"; then
    echo "check-layers: $message" >&2
    status=1
  fi
}

core=$(find src/domain src/contract -name '*.rs')
outside() { find src -name '*.rs' | grep -vxF -f <(printf '%s\n' "$@"); }

forbid '(^|[^a-z_])(worker|wasm_bindgen|js_sys|web_sys)::|use (worker|wasm_bindgen|js_sys|web_sys)([^a-z_]|$)' \
  "the core (src/domain, src/contract) must not use the Workers runtime" $core
forbid '(^|[^a-z_])env\.(var|secret|d1|kv|send_email)\(' \
  "only src/edge/env.rs reads the environment" $(outside src/edge/env.rs)
forbid '(^|[^A-Za-z_])(D1Database|D1DatabaseSession|D1PreparedStatement|KvStore)([^A-Za-z_]|$)' \
  "only src/edge/d1.rs and src/edge/kv.rs talk to D1 and KV" $(outside src/edge/d1.rs src/edge/kv.rs src/edge/env.rs)
forbid '(^|[^a-z_])Reply::new\(|[^a-z_]status: [0-9]' \
  "statuses are chosen in src/contract/reply.rs and src/contract/error.rs only" \
  $(outside src/contract/reply.rs src/contract/error.rs)
# The Worker's JavaScript (src/edge/entrypoint.mjs) declares its entrypoints and hands every call
# to the wasm module: it lives in the edge and reads no binding.
stray=$(find src \( -name '*.js' -o -name '*.mjs' \) -not -path 'src/edge/*')
if [ -n "$stray" ]; then
  echo "$stray"
  echo "check-layers: the Worker's JavaScript belongs in src/edge" >&2
  status=1
fi
forbid '(^|[^A-Za-z_.])env(\.[A-Z_]|\[)|\.env(\.[A-Z_]|\[)' \
  "only src/edge/env.rs reads the environment; the JavaScript passes env to the wasm module" \
  $(find src/edge -name '*.mjs')
exit $status
