#!/usr/bin/env bash
# On a GPU machine: wall time of the cerebellum (10 s simulated) and of its
# x64 variant (2 s) for several grid sizes of the persistent kernel, to
# choose the launch shape. Carry gpu-bin/ (scripts/gpu-prepare.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-gpu-bin}
OUT=${OUT:-$(mktemp -d)}
libdir=$(mktemp -d)
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
    for f in "$d"/libnvrtc.so*; do
        [ -e "$f" ] || continue
        case "$f" in *builtins*|*alt*) continue ;; esac
        ln -sf "$f" "$libdir/libnvrtc.so"; export LD_LIBRARY_PATH="$d:$libdir:${LD_LIBRARY_PATH:-}"; break 2
    done
done
wall() { sed -n 's/^simulated \([0-9.]*\) s in \([0-9.]*\) s wall.*/\2/p' "$1"; }
export CBMC_CACHE_DIR=$OUT/cache
for cfg in "1 1024" "1 512" "2 512" "4 256" "8 256" "16 256" "32 256" "66 256" "132 256" "132 512" "1 256"; do
    set -- $cfg
    CBMC_CUDA_BLOCKS=$1 CBMC_CUDA_THREADS=$2 timeout 60 "$BIN/cbmc" run models/cerebellum.cbm --duration 10s --backend cuda -o "$OUT/s" --quiet >"$OUT/s.log" 2>&1
    echo "cerebellum 10 s  blocks $1 threads $2: $(wall "$OUT/s.log") s  $(grep -o 'IO .*' "$OUT/s.log" | head -1)"
done
for chunk in 200 5000; do
    CBMC_CUDA_CHUNK=$chunk timeout 60 "$BIN/cbmc" run models/cerebellum.cbm --duration 10s --backend cuda -o "$OUT/s" --quiet >"$OUT/s.log" 2>&1
    echo "cerebellum 10 s  default grid, $chunk steps per launch: $(wall "$OUT/s.log") s"
done
for cfg in "132 256" "264 256" "132 512" "528 256"; do
    set -- $cfg
    CBMC_CUDA_BLOCKS=$1 CBMC_CUDA_THREADS=$2 timeout 90 "$BIN/cbmc" run models/variants/cerebellum_x64.cbm --duration 2s --backend cuda -o "$OUT/x" --quiet >"$OUT/x.log" 2>&1
    echo "x64 2 s  blocks $1 threads $2: $(wall "$OUT/x.log") s"
done
