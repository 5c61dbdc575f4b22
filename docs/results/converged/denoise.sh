#!/usr/bin/env bash
# Issue 9, part 5: why denoising falls short of the paper's, measured on a converged model.
# For the model of $1 (color-mnist or cifar10; MODEL overrides the checkpoint) on 1,000 test
# images: the MSE against the clean image after every step t of the window (--per-step), the
# energy per layer over t (in every report), the effect of the clamp (the noisy image held for
# 1, 5, 20 or all 60 steps), of the noise level (std 0.05, 0.1, 0.2) and of the window (T = 20,
# 60, 120). The paper's protocol is the first line; every other reading is a flag of ngc eval.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
export NGC_DATA_DIR=${NGC_DATA_DIR:-$(cd "$root/.." && pwd)/shared/data}
ngc=${NGC:-$root/ngc-bin}
[ -x "$ngc" ] || (cd "$root" && go build -o "$ngc" ./cmd/ngc)
ds=$1
model=${MODEL:-$here/$ds/model-best.safetensors}   # MODEL and OUT override the checkpoint and the output folder
out=${OUT:-$here/$ds/denoise}
mkdir -p "$out"
data=()
[ "$ds" = cifar10 ] && data=(--data "$NGC_DATA_DIR/cifar10/bin")   # the 1,000 exact test images
run() {
  local name=$1 text; shift
  text=$("$ngc" eval --model "$model" --dataset "$ds" "${data[@]}" --max-images 1000 --quiet --out "$out/$name.json" "$@")
  echo "$name: ${text%%$'\n'*}"
}
run paper --task denoise --per-step
run recon --task recon
for c in 5 20 60; do run clamp$c --task denoise --clamp-steps $c; done
for s in 0.05 0.2; do run noise$s --task denoise --noise-std $s; done
for t in 20 120; do run T$t --task denoise --T $t; done
