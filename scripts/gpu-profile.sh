#!/usr/bin/env bash
# On a GPU machine: where the cerebellum's step spends its time, below what
# CBMC_CUDA_PROFILE shows. Nsight Compute (ncu, from the CUDA toolkit)
# profiles one launch of the persistent kernel (100 steps) with its full
# set of sections, stall reasons per SASS instruction included, and the
# reports go to $OUT: ncu-details.txt (per-section summary) and
# ncu-sass.csv (per instruction). Carry gpu-bin/ (scripts/gpu-prepare.sh):
#
#   OUT=... scripts/gpu-profile.sh [BIN_DIR] [MODEL]
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-gpu-bin}
MODEL=${2:-models/cerebellum.cbm}
OUT=${OUT:-$(mktemp -d)}
RUNS=$(mktemp -d)
. scripts/nvrtc-path.sh
export CBMC_CACHE_DIR=$RUNS/cache
NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu /usr/local/cuda/nsight-compute*/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
if [ -z "$NCU" ]; then
    echo "no ncu on this machine"
    exit 1
fi
echo "ncu: $NCU ($("$NCU" --version 2>/dev/null | tail -1))"
CBMC_CUDA_CHUNK=100 timeout -k 5 "${T:-240}" "$NCU" -k cbm_run --launch-skip 3 --launch-count 1 \
    --set full --import-source no -f -o "$RUNS/prof" \
    "$BIN/cbmc" run "$MODEL" --duration 1s --backend cuda -o "$RUNS/o" --no-plot --quiet 2>&1 | tail -15
"$NCU" --import "$RUNS/prof.ncu-rep" --page details >"$OUT/ncu-details.txt" 2>&1
"$NCU" --import "$RUNS/prof.ncu-rep" --page source --print-source sass --csv >"$OUT/ncu-sass.csv" 2>&1
gzip -9 "$OUT/ncu-sass.csv"
ls -la "$OUT"
head -c 3000 "$OUT/ncu-details.txt"
