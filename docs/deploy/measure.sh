#!/usr/bin/env bash
# The figures of README "Deploying across machines", on one machine over loopback: the paper
# network trained on Color-MNIST (docs/results/color-mnist), 300 test digits in mini-batches of
# 100, T=60 — batched (`ngc eval`), the actor runtime in one process (`ngc run`), and a
# coordinator plus the two workers of docs/deploy/placement.json over an embedded NATS server.
set -ex
cd "$(dirname "$0")/../.."
export NGC_DATA_DIR=${NGC_DATA_DIR:-/work/shared/data}
N=${NGC:-ngc}
M=docs/results/color-mnist/model.safetensors
OUT=${OUT:-/tmp/ngc-deploy-measure}
mkdir -p "$OUT"
uptime
$N eval --model $M --max-images 300 --batch 100 --quiet --out "$OUT/batched.json"
$N run --model $M --max-images 300 --batch 100 --quiet --out "$OUT/inproc.json"
$N worker --bus nats://127.0.0.1:4333 --run dm1 --node w1 > "$OUT/w1.log" 2>&1 &
$N worker --bus nats://127.0.0.1:4333 --run dm1 --node w2 > "$OUT/w2.log" 2>&1 &
$N run --model $M --max-images 300 --batch 100 --quiet --bus embedded --listen 127.0.0.1:4333 \
  --run dm1 --placement docs/deploy/placement.json --out "$OUT/workers.json"
wait
uptime
echo ALLDONE
