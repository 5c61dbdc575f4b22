#!/usr/bin/env bash
# Real result for README "Training through the actor runtime" (issue 3): the paper network trained on
# 10,000 Color-MNIST digits for 3 epochs (60 updates of 500, T=60) twice from one initialised
# checkpoint: batched (`ngc train --no-shuffle`) and through the actor runtime (`ngc run --learn`,
# sync, in-process bus, 136 populations); then their parameters compared and both evaluated on the
# 10,000 test digits.
set -ex
cd "$(dirname "$0")"
export NGC_DATA_DIR=${NGC_DATA_DIR:-/work/shared/data}
N=${NGC:-ngc}
$N train --epochs 0 --eval-images 0 --quiet --out init.safetensors
time $N train --from init.safetensors --max-images 10000 --epochs 3 --no-shuffle --eval-images 0 --quiet --out batched.safetensors
time $N run --model init.safetensors --split train --max-images 10000 --learn --epochs 3 --quiet --save actors.safetensors --out actors-train.json
$N inspect --model actors.safetensors --against batched.safetensors
$N inspect --model actors.safetensors --against batched.safetensors --json > diff.json
$N eval --model batched.safetensors --max-images 0 --quiet
$N eval --model actors.safetensors --max-images 0 --quiet
echo ALLDONE
