#!/usr/bin/env bash
# Issue 13, parts 5 and 6: learning through the actors, asynchronously and with sigma-delta
# messages. Every configuration trains the paper network on the same Color-MNIST training digits
# (B=100, T=60, Adam 1e-3, stored order) from one initial checkpoint (tied and untied each have
# theirs), for the same image budget, and is measured on the same 500 validation digits every
# VAL_EVERY updates (the batched reference's reconstruction of the actors' model); then every
# final model is evaluated on 1,000 test digits.
#   ./learning.sh [init train eval plot]   (default: all, in that order)
# Environment: IMAGES (6000: training images per configuration), EPOCHS (1: passes over them),
# VAL_EVERY (10), THETA (0.005), CONFIGS (names below, default all), OUT (the output folder,
# default learning/ beside this script; the initial checkpoints are always taken from there),
# NGC (a built ngc binary). The longer runs of learning-long/ were
#   EPOCHS=3 OUT=docs/results/sigma-delta/learning-long CONFIGS="sync async-lag0 async-lag2" ./learning.sh train eval plot
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
export NGC_DATA_DIR=${NGC_DATA_DIR:-$(cd "$root/.." && pwd)/shared/data}
ngc=${NGC:-$root/ngc-bin}
[ -x "$ngc" ] || (cd "$root" && go build -o "$ngc" ./cmd/ngc)
init=$here/learning
out=${OUT:-$init}
images=${IMAGES:-6000}
epochs=${EPOCHS:-1}
every=${VAL_EVERY:-10}
theta=${THETA:-0.005}
journal=$(mktemp -d)
trap 'rm -rf "$journal"' EXIT
mkdir -p "$out"

# name | initial checkpoint | ngc run flags
configs=(
  "sync|tied|--mode sync"
  "async-lag0|tied|--mode async"
  "async-lag2|tied|--mode async --max-lag 2"
  "async-lag8|tied|--mode async --max-lag 8"
  "async-lag2-delay|tied|--mode async --max-lag 2 --delay 1ms --delay-jitter 4ms"
  "sync-sd|tied|--mode sync --encoding sigma-delta --threshold $theta --no-dense"
  "async-lag2-sd|tied|--mode async --max-lag 2 --encoding sigma-delta --threshold $theta --no-dense"
  "sync-untied|untied|--mode sync"
  "async-lag2-untied|untied|--mode async --max-lag 2"
  "sync-sd-untied|untied|--mode sync --encoding sigma-delta --threshold $theta --no-dense"
)
want=${CONFIGS:-}

steps=("${@:-init train eval plot}")
for step in ${steps[@]}; do
case $step in
init)
  "$ngc" train --dataset color-mnist --epochs 0 --batch 100 --seed 1 --val-images 0 --eval-images 0 --quiet --out "$init/init-tied.safetensors"
  "$ngc" train --dataset color-mnist --epochs 0 --batch 100 --seed 1 --untied --val-images 0 --eval-images 0 --quiet --out "$init/init-untied.safetensors"
  rm -f "$init"/init-*.json ;;
train)
  for c in "${configs[@]}"; do
    IFS='|' read -r name start flags <<< "$c"
    if [ -n "$want" ] && [[ " $want " != *" $name "* ]]; then continue; fi
    echo "== $name: $flags"
    t0=$(date +%s)
    "$ngc" run --model "$init/init-$start.safetensors" --dataset color-mnist --split train --max-images $images --batch 100 \
      --learn --epochs $epochs --val-images 500 --val-every $every $flags --quiet --journal "$journal/j" \
      --out "$out/$name.json" --save "$out/$name.safetensors" | grep -E "^(reconstruct|validation after|  (dense|sigma))" || true
    echo "   $(( $(date +%s) - t0 )) s"
    rm -f "$out/$name.png"
  done ;;
eval)
  for c in "${configs[@]}"; do
    IFS='|' read -r name start flags <<< "$c"
    [ -f "$out/$name.safetensors" ] || continue
    "$ngc" eval --model "$out/$name.safetensors" --dataset color-mnist --max-images 1000 --quiet --out "$out/$name-test.json" | sed -n 1p
    rm -f "$out/$name-test.png" "$out/$name-test-energy.png"
  done ;;
plot)
  (cd "$root" && go run ./docs/results/sigma-delta/plot -learning "$out") ;;
*) echo "unknown step $step" >&2; exit 2 ;;
esac
done
