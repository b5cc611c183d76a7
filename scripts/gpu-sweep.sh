#!/usr/bin/env bash
# On a GPU machine: wall time of the cerebellum (10 s simulated) and of its
# x64 variant (2 s) for several grid sizes of the persistent kernel, to
# choose the launch shape. Carry gpu-bin/ (scripts/gpu-prepare.sh). Prints
# one line per shape (with the grid the engine really used: it lowers the
# block count to what fits the GPU at once); run folders and the kernel
# cache go to a temporary folder. Each run is bounded by T seconds.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-gpu-bin}
RUNS=$(mktemp -d)
T=${T:-60}
# NVRTC on LD_LIBRARY_PATH (a second time under gpu-check.sh: harmless).
. scripts/nvrtc-path.sh
wall() { sed -n 's/^simulated \([0-9.]*\) s in \([0-9.]*\) s wall.*/\2/p' "$RUNS/s.log"; }
grid() { grep -o '[0-9]* x [0-9]* threads[^)]*' "$RUNS/s.log" | head -1; }
export CBMC_CACHE_DIR=$RUNS/cache
# A run that outlasts T ends the sweep: a hung kernel would hang the next
# shapes too, and the sweep must not take the rest of a GPU session.
run() {
    timeout -k 5 "$T" "$BIN/cbmc" run "$@" --backend cuda -o "$RUNS/s" --no-plot --quiet >"$RUNS/s.log" 2>&1
    local rc=$?
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        echo "TIMEOUT after $T s ($*): the sweep stops here"
        exit 124
    fi
}
for cfg in "1 512" "2 512" "4 256" "8 256" "16 256" "32 256" "66 256" "132 256" "132 512" "1 256"; do
    set -- $cfg
    CBMC_CUDA_BLOCKS=$1 CBMC_CUDA_THREADS=$2 run models/cerebellum.cbm --duration 10s
    echo "cerebellum 10 s  blocks $1 threads $2: $(wall) s  [$(grid)] $(grep -m1 -i 'error' "$RUNS/s.log")"
done
for chunk in 200 5000; do
    CBMC_CUDA_CHUNK=$chunk run models/cerebellum.cbm --duration 10s
    echo "cerebellum 10 s  default grid, $chunk steps per launch: $(wall) s"
done
# The barrier's cost against the grid: bench/models/floor.cbm does nothing
# else (two phases a step).
for b in 1 8 32 66 132; do
    CBMC_CUDA_BLOCKS=$b CBMC_CUDA_THREADS=256 run bench/models/floor.cbm --duration 60s
    echo "floor 60 s  blocks $b threads 256: $(wall) s  [$(grid)]"
done
for cfg in "132 256" "264 256" "132 512"; do
    set -- $cfg
    CBMC_CUDA_BLOCKS=$1 CBMC_CUDA_THREADS=$2 run models/variants/cerebellum_x64.cbm --duration 2s
    echo "x64 2 s  blocks $1 threads $2: $(wall) s  [$(grid)] $(grep -m1 -i 'error' "$RUNS/s.log")"
done
