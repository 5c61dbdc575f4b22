#!/usr/bin/env bash
# Issue 9: the paper's baselines trained until their validation MSE stops improving (by less than
# 1% over 5 consecutive epochs), on every training image less the 5,000-image hold-out, as
# resumable jobs: Conv-AE and Conv-DAE (backprop, Adam 1e-3, batch 128, batch-norm momentum 0.99;
# the paper's step size, 2e-5, would need hundreds of epochs) and the fully connected NGC (local
# learning, the paper's settings). The Conv-DAE validates on denoising. Checkpoints, curves and
# logs land beside this script under baselines/<dataset>/<model>; rerunning resumes every job
# from its checkpoint.
#   ./baselines.sh [color-mnist|cifar10 ...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
export NGC_DATA_DIR=${NGC_DATA_DIR:-$(cd "$root/.." && pwd)/shared/data}
ngc=${NGC:-$root/ngc-bin}
[ -x "$ngc" ] || (cd "$root" && go build -o "$ngc" ./cmd/ngc)
for ds in "${@:-color-mnist cifar10}"; do
  for model in conv-ae conv-dae ngc-fc; do
    dir=$here/baselines/$ds/$model
    mkdir -p "$dir"
    out=$dir/model.safetensors
    if [ -f "$dir/model-latest.safetensors" ]; then
      "$ngc" baseline train --resume --eval-images 0 --out "$out" >>"$dir/train.log" 2>&1 || echo "$ds $model: stopped, see $dir/train.log"
      continue
    fi
    flags=()
    [ "$model" != ngc-fc ] && flags=(--lr 1e-3)
    "$ngc" baseline train --model "$model" --dataset "$ds" --max-images 0 "${flags[@]}" \
      --epochs 0 --patience 5 --min-improvement 0.01 --val-images 1000 --checkpoint-every 10m \
      --eval-images 0 --out "$out" >>"$dir/train.log" 2>&1 || echo "$ds $model: stopped, see $dir/train.log"
  done
done
