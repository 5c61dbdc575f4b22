#!/usr/bin/env bash
# Issue 11: the paper's Appendix C residual-block network beside the plain network at the same
# budget: Color-MNIST, 1,000 training digits, 3 epochs of mini-batches of 50 (60 updates), T=30,
# the paper's other settings; residual blocks with 4 maps inside, the paper's error pathway
# (lra) and the exact one. Each is evaluated on 1,000 test digits, reconstruction and denoising.
# (The residual network runs on the batched reference's whole-layer executor, about 15 times the
# plain network's work per image and step without the tiled engine's speed: hence the budget.)
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../../.. && pwd)
export NGC_DATA_DIR=${NGC_DATA_DIR:-$(cd "$root/.." && pwd)/shared/data}
ngc=${NGC:-$root/ngc-bin}
[ -x "$ngc" ] || (cd "$root" && go build -o "$ngc" ./cmd/ngc)
common=(--dataset color-mnist --max-images 1000 --batch 50 --epochs 3 --T 30 --val-images 200 --eval-images 0 --quiet)
for variant in plain lra exact; do
  case $variant in
    plain) flags=() ;;
    *) flags=(--residual 4 --pathway "$variant") ;;
  esac
  start=$(date +%s)
  "$ngc" train "${common[@]}" "${flags[@]}" --out "$variant/model.safetensors" || echo "$variant: training failed"
  echo "$variant: trained in $(( $(date +%s) - start )) s"
  for task in recon denoise; do
    [ -f "$variant/model.safetensors" ] && "$ngc" eval --model "$variant/model.safetensors" --dataset color-mnist \
      --max-images 1000 --task "$task" --quiet --out "$variant/$task.json"
  done
done
