#!/usr/bin/env bash
# The real run behind README "Paper experiments": Tables 1, 2a, 2b and Figures 3, 4 on Color-MNIST
# and the CIFAR-10 JPEG copy, all four models, 3 trials, a budget for ~1.5-2 hours on 2 shared cores
# (autoencoders 30 epochs; an earlier 10-epoch run is in git history).
# Rerunning it recomputes nothing (the trials are stored under trials/); models/ is not committed.
set -e
cd "$(dirname "$0")/../.."
export NGC_DATA_DIR=${NGC_DATA_DIR:-/work/shared/data}
go run ./cmd/ngc experiment --table all --trials 3 \
  --datasets color-mnist,cifar10 --models conv-ngc,conv-ae,conv-dae,ngc-fc \
  --pairs color-mnist:cifar10,cifar10:color-mnist \
  --max-images 4000 --eval-images 1000 --epochs 3 --model-epochs conv-ae=30,conv-dae=30 \
  --ngc-batch 100 --fc-batch 100 --ae-batch 32 --ae-lr 2e-3 --ae-bn-momentum 0.9 \
  --quiet --out docs/experiments "$@"
