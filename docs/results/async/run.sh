#!/usr/bin/env bash
# Sync vs async reconstruction of 1,000 CIFAR-10 test images with the trained model of
# docs/results/cifar10 (README "The asynchronous runtime"), in-process actors, B=250, T=60.
set -ex
cd "$(dirname "$0")/.."
export NGC_DATA_DIR=${NGC_DATA_DIR:-/work/shared/data}
N=${NGC:-ngc}
uptime
$N run --model cifar10/model.safetensors --dataset cifar10 --max-images 1000 --batch 250 --quiet --out async/cifar10-sync.json
uptime
$N run --model cifar10/model.safetensors --dataset cifar10 --max-images 1000 --batch 250 --mode async --max-lag 2 --quiet --out async/cifar10-async-lag2.json
uptime
$N run --model cifar10/model.safetensors --dataset cifar10 --max-images 1000 --batch 250 --mode async --quiet --out async/cifar10-async-unbounded.json
uptime
echo ALLDONE
