#!/usr/bin/env bash
# Async parity across transports (README "Deploying across machines"): the paper network trained
# on Color-MNIST (docs/results/color-mnist), 300 test digits in mini-batches of 100, T=60, async
# with staleness bound 2 — in one process on the in-process bus, in one process over an embedded
# NATS server, and a coordinator plus the two workers of docs/deploy/placement.json over Debian's
# nats-server on 127.0.0.1 (token) — for both firing rules, beside the sync run.
set -ex
cd "$(dirname "$0")/../.."
export NGC_DATA_DIR=${NGC_DATA_DIR:-/work/shared/data}
N=${NGC:-ngc}
M=docs/results/color-mnist/model.safetensors
OUT=${OUT:-/tmp/ngc-async-parity}
mkdir -p "$OUT"
COMMON=(--model $M --max-images 300 --batch 100 --quiet)
uptime
$N run "${COMMON[@]}" --out "$OUT/sync.json" | head -1
printf 'port: 4334\nmax_payload: 64MB\nmax_pending: 256MB\nauthorization { token: "s3cret" }\n' > "$OUT/nats.conf"
nats-server -c "$OUT/nats.conf" > "$OUT/nats.log" 2>&1 &
SRV=$!
trap 'kill $SRV' EXIT
sleep 1
for fire in own-error arrival; do
  A=(--mode async --max-lag 2 --fire $fire)
  $N run "${COMMON[@]}" "${A[@]}" --out "$OUT/inproc-$fire.json" | grep -E 'MSE|async'
  $N run "${COMMON[@]}" "${A[@]}" --bus embedded --out "$OUT/embedded-$fire.json" | grep -E 'MSE|async'
  $N worker --bus nats://127.0.0.1:4334 --token s3cret --run ap-$fire --node w1 > "$OUT/w1-$fire.log" 2>&1 &
  W1=$!
  $N worker --bus nats://127.0.0.1:4334 --token s3cret --run ap-$fire --node w2 > "$OUT/w2-$fire.log" 2>&1 &
  W2=$!
  $N run "${COMMON[@]}" "${A[@]}" --bus nats://127.0.0.1:4334 --token s3cret --run ap-$fire \
    --placement docs/deploy/placement.json --out "$OUT/workers-$fire.json" | grep -E 'MSE|async'
  wait $W1 $W2
done
uptime
echo ALLDONE
