#!/usr/bin/env bash
# Real-result runs for README "Results" (session 2). Budget: Color-MNIST 20,000 train images x 3 epochs,
# CIFAR-10 45,000 train images x 3 epochs; evaluation on the full 10,000-image test sets.
set -ex
cd /work/main/docs/results
export NGC_DATA_DIR=/work/shared/data
N=/tmp/ngc-run
$N train --dataset color-mnist --max-images 20000 --epochs 3 --eval-images 0 --quiet --out color-mnist/model.safetensors
$N eval --model color-mnist/model.safetensors --dataset color-mnist --task recon --quiet
$N eval --model color-mnist/model.safetensors --dataset color-mnist --task denoise --quiet
$N train --dataset cifar10 --max-images 0 --epochs 3 --eval-images 0 --quiet --out cifar10/model.safetensors
$N eval --model cifar10/model.safetensors --dataset cifar10 --task recon --quiet
$N eval --model cifar10/model.safetensors --dataset cifar10 --task denoise --quiet
echo ALLDONE
