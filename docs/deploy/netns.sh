#!/usr/bin/env bash
# Multi-host test on one machine: three network namespaces joined by veth pairs.
#
#   <p>s   the "server host": Debian's nats-server and the coordinator (ngc run)
#   <p>a   worker w1, linked to <p>s by a veth pair (10.77.1.2 ↔ 10.77.1.1)
#   <p>b   worker w2, linked to <p>s by a veth pair (10.77.2.2 ↔ 10.77.2.1)
#
# Every address lives in these namespaces only (the root namespace gets none and no route),
# so no traffic leaves them. Cases:
#   1. whole:    a synchronous run over the three hosts (the reference)
#   2. cut:      the same run; w2's link is cut (ip link set down) during a mini-batch; the
#                coordinator must fail within --timeout naming w2; the link comes back, the
#                workers are relaunched and `ngc run --resume` finishes the run
#   3. latency:  the same run with 20 ms ± 5 ms per link: tc netem on the veths where the
#                kernel has it, otherwise the runtime's own --delay 15ms --delay-jitter 10ms;
#                the sync result must not change; timings are reported
#   4. async:    --mode async --max-lag 2 under the same latency; staleness is reported
#
# Needs root, ip (iproute2) and nats-server. Usage:
#   docs/deploy/netns.sh NGC MODEL PLACEMENT OUTDIR [ngc run flags...]
# PLACEMENT names the nodes w1 and w2 (and optionally coordinator). The reports go to OUTDIR
# (whole.json, cut.json, latency.json, async.json); the last lines summarise.
set -euo pipefail
NGC=$1 MODEL=$2 PLACEMENT=$3 OUT=$4
shift 4
EXTRA=("$@")
TIMEOUT=${TIMEOUT:-2s}
mkdir -p "$OUT"
P=ngc$(( $$ % 100000 ))
S=${P}s A=${P}a B=${P}b
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  for ns in "$S" "$A" "$B"; do ip netns del "$ns" 2>/dev/null || true; done
}
trap cleanup EXIT

# --- the three hosts -------------------------------------------------------------------------
for ns in "$S" "$A" "$B"; do
  ip netns add "$ns"
  ip -n "$ns" link set lo up
done
link() { # link NS_PEER NET: a veth pair between $S (x.1) and NS_PEER (x.2)
  local peer=$1 net=$2
  ip link add "${peer}0" netns "$S" type veth peer name "${peer}1" netns "$peer"
  ip -n "$S" addr add "$net.1/24" dev "${peer}0"
  ip -n "$peer" addr add "$net.2/24" dev "${peer}1"
  ip -n "$S" link set "${peer}0" up
  ip -n "$peer" link set "${peer}1" up
}
link "$A" 10.77.1
link "$B" 10.77.2

cat > "$OUT/nats.conf" <<'CONF'
listen: 0.0.0.0:4222
max_payload: 8MB
max_pending: 64MB
CONF
ip netns exec "$S" nats-server -c "$OUT/nats.conf" > "$OUT/nats.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do grep -q "Server is ready" "$OUT/nats.log" && break; sleep 0.1; done
grep -q "Server is ready" "$OUT/nats.log" || { echo "netns: nats-server did not start"; cat "$OUT/nats.log"; exit 1; }

# --- helpers ---------------------------------------------------------------------------------
workers() { # workers RUN: start w1 and w2 in their namespaces
  ip netns exec "$A" "$NGC" worker --bus nats://10.77.1.1:4222 --run "$1" --node w1 > "$OUT/$1-w1.log" 2>&1 &
  W1=$!; PIDS+=($W1)
  ip netns exec "$B" "$NGC" worker --bus nats://10.77.2.1:4222 --run "$1" --node w2 > "$OUT/$1-w2.log" 2>&1 &
  W2=$!; PIDS+=($W2)
}
coordinator() { # coordinator RUN REPORT [flags...]: run ngc run on the server host
  local run=$1 report=$2
  shift 2
  ip netns exec "$S" "$NGC" run --model "$MODEL" --placement "$PLACEMENT" --bus nats://127.0.0.1:4222 --run "$run" \
    --timeout "$TIMEOUT" --quiet --out "$OUT/$report.json" "${EXTRA[@]}" "$@"
}
finish_workers() {
  wait "$W1" || { echo "netns: worker w1 failed"; cat "$OUT/$1-w1.log"; exit 1; }
  wait "$W2" || { echo "netns: worker w2 failed"; cat "$OUT/$1-w2.log"; exit 1; }
}
summary() { grep -E '^(reconstruct|denoise) on|^runtime|async \(budget' "$1" | sed 's/^/  /'; }

# --- 1. whole --------------------------------------------------------------------------------
workers whole
coordinator whole whole > "$OUT/whole.out" 2>&1 || { cat "$OUT/whole.out"; exit 1; }
finish_workers whole
echo "netns whole: ok"; summary "$OUT/whole.out"

# --- 2. cut ----------------------------------------------------------------------------------
workers cut
coordinator cut cut > "$OUT/cut.out" 2>&1 &
C=$!; PIDS+=($C)
for _ in $(seq 600); do grep -q "batch 1/" "$OUT/cut-w2.log" && break; sleep 0.05; done
grep -q "batch 1/" "$OUT/cut-w2.log" || { echo "netns: the cut run never finished batch 1"; cat "$OUT/cut.out"; exit 1; }
ip -n "$S" link set "${B}0" down
CUT=$(date +%s%N)
if wait "$C"; then echo "netns: the run survived the cut link"; cat "$OUT/cut.out"; exit 1; fi
TOOK=$(( ($(date +%s%N) - CUT) / 1000000 ))
LAST=$(tail -n 1 "$OUT/cut.out")
echo "netns cut: the coordinator failed ${TOOK} ms after the cut (--timeout $TIMEOUT): $LAST"
case "$LAST" in *w2*) ;; *) echo "netns: the failure does not name w2"; exit 1 ;; esac
ip -n "$S" link set "${B}0" up
kill "$W1" "$W2" 2>/dev/null || true
wait "$W1" 2>/dev/null || true
wait "$W2" 2>/dev/null || true
workers cut
coordinator cut cut --resume > "$OUT/resume.out" 2>&1 || { cat "$OUT/resume.out" "$OUT/cut-w1.log" "$OUT/cut-w2.log"; exit 1; }
finish_workers cut
echo "netns resume: ok"; summary "$OUT/resume.out"

# --- 3 and 4. latency ------------------------------------------------------------------------
DELAY=()
if ip netns exec "$S" tc qdisc add dev "${A}0" root netem delay 20ms 5ms 2>/dev/null; then
  for d in "$S ${B}0" "$A ${A}1" "$B ${B}1"; do
    set -- $d
    ip netns exec "$1" tc qdisc add dev "$2" root netem delay 20ms 5ms
  done
  echo "netns latency: tc netem, 20ms ± 5ms on every veth"
else
  DELAY=(--delay 15ms --delay-jitter 10ms)
  echo "netns latency: no tc netem in this kernel; the runtime holds every message 15-25 ms (--delay 15ms --delay-jitter 10ms)"
fi
workers latency
coordinator latency latency "${DELAY[@]}" > "$OUT/latency.out" 2>&1 || { cat "$OUT/latency.out"; exit 1; }
finish_workers latency
echo "netns latency (sync): ok"; summary "$OUT/latency.out"
workers async
coordinator async async --mode async --max-lag 2 "${DELAY[@]}" > "$OUT/async.out" 2>&1 || { cat "$OUT/async.out"; exit 1; }
finish_workers async
echo "netns latency (async, max lag 2): ok"; summary "$OUT/async.out"
echo "netns: all cases passed"
