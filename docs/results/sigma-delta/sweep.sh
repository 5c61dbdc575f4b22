#!/usr/bin/env bash
# Issue 13: the sigma-delta (send-on-change) encoding against dense messages, swept over the
# threshold θ on the trained CIFAR-10 and Color-MNIST models (the converged checkpoints when
# present, else the committed ones), through the actor runtime (sync and async with a staleness
# bound of 2), and priced by hwsim on every architecture. Every run uses the same test images.
#   ./sweep.sh [runs hwsim plot]   (default: all three, in that order)
# Environment: IMAGES (500), BATCH (250), THETAS ("0 0.001 0.002 0.005 0.01 0.02 0.05"),
# HWSIM_THETAS ("0.002 0.005 0.01 0.02"), HWSIM_IMAGES (16), NGC (a built ngc binary).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
export NGC_DATA_DIR=${NGC_DATA_DIR:-$(cd "$root/.." && pwd)/shared/data}
ngc=${NGC:-$root/ngc-bin}
[ -x "$ngc" ] || (cd "$root" && go build -o "$ngc" ./cmd/ngc)
images=${IMAGES:-500}
batch=${BATCH:-250}
thetas=${THETAS:-"0 0.001 0.002 0.005 0.01 0.02 0.05"}
hwthetas=${HWSIM_THETAS:-"0.002 0.005 0.01 0.02"}
hwimages=${HWSIM_IMAGES:-16}
journal=$(mktemp -d)
trap 'rm -rf "$journal"' EXIT

model() {
  local m=$root/docs/results/converged/$1/model-best.safetensors
  [ -f "$m" ] || m=$root/docs/results/$1/model.safetensors
  echo "$m"
}

steps=("${@:-runs hwsim plot}")
for step in ${steps[@]}; do
case $step in
runs)
  for ds in cifar10 color-mnist; do
    m=$(model $ds)
    echo "$ds: $m ($(sha256sum "$m" | cut -c1-16))" | tee "$here/$ds-model.txt"
    for mode in sync async; do
      dir=$here/$ds/$mode
      mkdir -p "$dir"
      flags=(--model "$m" --dataset $ds --max-images $images --batch $batch --mode $mode --quiet --journal "$journal/j")
      [ $mode = async ] && flags+=(--max-lag 2)
      echo "== $ds $mode dense"
      "$ngc" run "${flags[@]}" --out "$dir/dense.json" | grep -E "^(reconstruct|  dense)" || true
      for t in $thetas; do
        echo "== $ds $mode sigma-delta θ=$t"
        "$ngc" run "${flags[@]}" --encoding sigma-delta --threshold $t --no-dense --out "$dir/theta-$t.json" | grep -E "^(reconstruct|  sigma)" || true
      done
      rm -f "$dir"/*.png
    done
  done ;;
hwsim)
  for ds in cifar10 color-mnist; do
    m=$(model $ds)
    for t in $hwthetas; do
      echo "== hwsim $ds θ=$t"
      out=$here/$ds/hwsim/theta-$t
      mkdir -p "$out"
      "$ngc" hwsim --model "$m" --dataset $ds --max-images $hwimages --batch $hwimages --mode sync \
        --encoding sigma-delta --threshold $t --quiet --out "$out" > "$out/output.txt"
      rm -f "$out"/*.png
    done
  done ;;
plot)
  (cd "$root" && go run ./docs/results/sigma-delta/plot "$here") ;;
*) echo "unknown step $step" >&2; exit 2 ;;
esac
done
