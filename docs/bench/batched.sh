#!/usr/bin/env bash
# Measures the batched reference against the PyTorch peer in one session, on
# one machine: `ngc bench` (which first measures the machine's FP32 FMA peak),
# the peer's inference and training batch, then `ngc bench` again, with the
# host, the time and the load before each. Run it on a quiet machine; the log
# goes to stdout.
#
#   docs/bench/batched.sh [ngc binary] > docs/bench/batched-DATE.txt
#
# The peer is ../shared/bench/torch_convngc.py (PyTorch on the CPU, 2 threads);
# PEER overrides its path. Extra `ngc bench` flags can go in NGC_BENCH_FLAGS.
set -euo pipefail
cd "$(dirname "$0")/../.."
NGC=${1:-ngc}
PEER=${PEER:-../shared/bench/torch_convngc.py}
FLAGS=${NGC_BENCH_FLAGS:-}
stamp() { date -u '+%Y-%m-%d %H:%M:%S UTC'; uptime; }
echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) CPUs; $(go version 2>/dev/null || echo 'go: not on PATH')"
stamp
# shellcheck disable=SC2086
"$NGC" bench $FLAGS
stamp
/usr/bin/python3 "$PEER" --threads 2
stamp
/usr/bin/python3 "$PEER" --threads 2 --train
stamp
# shellcheck disable=SC2086
"$NGC" bench $FLAGS
stamp
