#!/usr/bin/env bash
# The load benchmark: release servers pinned to core 0, wrk and the ingestion sink on core 1,
# interleaved rounds (untraced, mode, untraced, mode, ...), a table of medians and ratios.
#
#   bench/load.sh                      # full run: the users' shape (#[tokio::main], 64 connections,
#                                      # a traceparent on every request), 3 rounds x 10 s per mode
#   bench/load.sh --shape single       # the earlier shape: one worker, 32 connections, no traceparent
#   bench/load.sh --shape all --modes traced,sampled_out,excluded,null_layer
#                                      # null_layer: a pass-through layer, what Router::layer costs alone
#   bench/load.sh --modes traced,null_layer,floor
#                                      # floor: a hand-made minimal tracer, an upper bound on any tracer
#                                      # floor_context: only the incoming trace handed to the handler
#   bench/load.sh --rounds 5 --duration 20
#   bench/load.sh --smoke              # dev build, short, no peer: asserts delivery, not speed
#   bench/load.sh --outage 60          # the soak: ingestion down 60 s, a SIGKILL, exactly-once check
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null 2>&1; then
  echo "installing wrk (Debian package)" >&2
  (apt-get install -y wrk >/dev/null 2>&1 || (apt-get update >/dev/null 2>&1 && apt-get install -y wrk >/dev/null 2>&1)) \
    || { echo "error: cannot install wrk; install it and run again" >&2; exit 2; }
fi

smoke=0
for a in "$@"; do [ "$a" = "--smoke" ] && smoke=1; done
if [ "$smoke" = 1 ]; then
  # Same profile and features as `cargo test --all-features`: nothing is built twice in CI.
  cargo build --quiet --all-features --example bench
  bin=target/debug/examples/bench
else
  cargo build --quiet --release --example bench
  bin=target/release/examples/bench
fi
exec python3 bench/load.py --bin "$bin" "$@"
