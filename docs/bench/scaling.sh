#!/usr/bin/env bash
# Issue 10: the batched reference's cost per image and per pixel against image size (the paper
# network with one more layer of 25 maps per doubling: 32, 64, 128 px) and mini-batch size (50 to
# 1,000), T=60, best of 2 runs each. Run on a quiet machine (pause background work first).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=docs/bench/scaling-$(date +%F)
go run ./cmd/ngc bench --scaling 32,64,128 --repeats 2 --json "$out.json" | tee "$out.txt"
uptime | tee -a "$out.txt"
