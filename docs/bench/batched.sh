#!/usr/bin/env bash
# Measures the batched reference against the PyTorch peer in one session, on
# one machine, in ROUNDS interleaved rounds (default 4): each round runs
# `ngc bench` (which first measures the machine's FP32 FMA peak) and one
# inference batch and one training batch of the peer, with the time, the load
# and the busiest other processes before each. A summary at the end gives the
# best figure of each across the rounds: on a machine that other jobs share
# now and then, the best of interleaved short runs is the undisturbed speed,
# and every side had the same chances. The log goes to stdout.
#
#   docs/bench/batched.sh [ngc binary] > docs/bench/batched-DATE.txt
#
# The peer is ../shared/bench/torch_convngc.py (PyTorch on the CPU, 2 threads;
# Debian's python3-torch, run by /usr/bin/python3); PEER overrides its path.
# Extra `ngc bench` flags can go in NGC_BENCH_FLAGS.
set -euo pipefail
cd "$(dirname "$0")/../.."
NGC=${1:-ngc}
PEER=${PEER:-../shared/bench/torch_convngc.py}
FLAGS=${NGC_BENCH_FLAGS:-}
ROUNDS=${ROUNDS:-4}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
stamp() {
	# The busiest processes over the last second (%CPU and name).
	busy=$(top -b -n 2 -d 1 | awk '/^top -/ { n++ } n == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 > 2 { printf "%s %s; ", $9, $12 }')
	echo "# $(date -u '+%Y-%m-%d %H:%M:%S UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg); busy: ${busy:-none}"
}
# quiet waits up to QUIET_WAIT seconds (default 60) for a second in which no
# process uses more than 5% of a CPU, so that each measurement starts on a
# quiet machine when it can; the stamp that follows says what was busy.
quiet() {
	local end=$((SECONDS + ${QUIET_WAIT:-60}))
	while [ $SECONDS -lt $end ]; do
		if [ -z "$(top -b -n 2 -d 1 | awk '/^top -/ { n++ } n == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 > 5')" ]; then
			return
		fi
	done
}
{
	echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) CPUs; $(go version 2>/dev/null || echo 'go: not on PATH'); ngc: $NGC"
	for r in $(seq "$ROUNDS"); do
		echo "## round $r"
		quiet
		stamp
		# shellcheck disable=SC2086
		"$NGC" bench --repeats 2 $FLAGS
		quiet
		stamp
		/usr/bin/python3 "$PEER" --threads 2 --reps 1
		quiet
		stamp
		/usr/bin/python3 "$PEER" --threads 2 --reps 1 --train
	done
	stamp
} | tee "$log"
echo "## best of $ROUNDS rounds"
awk '
	/^FP32 FMA peak/ { if ($4 > peak) peak = $4 }
	/^inference / { if ($2 > inf) inf = $2 }
	/^train-batch / { if ($2 > tr) tr = $2 }
	/^torch .* infer:/ { v = $(NF-1); if (v > pinf) pinf = v }
	/^torch .* train:/ { v = $(NF-1); if (v > ptr) ptr = v }
	END {
		printf "FMA peak %.1f GFLOP/s (best round)\n", peak
		printf "inference:   ngc %.1f img/s, peer %.1f img/s, ratio %.2fx\n", inf, pinf, inf / pinf
		printf "train-batch: ngc %.1f img/s, peer %.1f img/s, ratio %.2fx\n", tr, ptr, tr / ptr
	}' "$log"
