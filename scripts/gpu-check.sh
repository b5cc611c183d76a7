#!/usr/bin/env bash
# On a machine with a GPU: the CUDA-vs-CPU parity tests and the GPU
# benchmarks in one go, ending in a table. Build the binaries elsewhere with
# scripts/gpu-prepare.sh and carry gpu-bin/ along:
#
#   scripts/gpu-check.sh [BIN_DIR]      # BIN_DIR defaults to gpu-bin
#
# Needs the CUDA driver and NVRTC (libnvrtc.so*, found in the usual places
# and put on LD_LIBRARY_PATH). Writes its outputs under $OUT (or a temp dir).
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-gpu-bin}
CBMC=$BIN/cbmc
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
export CBMC_ROOT=$PWD

# NVRTC: the toolkit's, pip's, or whatever the loader already knows.
libdir=$(mktemp -d)
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
    $(python3 -c 'import nvidia, os; [print(os.path.join(p, q, "lib")) for p in nvidia.__path__ for q in os.listdir(p)]' 2>/dev/null); do
    for f in "$d"/libnvrtc.so*; do
        [ -e "$f" ] || continue
        case "$f" in *builtins*|*alt*) continue ;; esac
        ln -sf "$f" "$libdir/libnvrtc.so"
        export LD_LIBRARY_PATH="$d:$libdir:${LD_LIBRARY_PATH:-}"
        break 2
    done
done
echo "== device"
nvidia-smi -L 2>/dev/null || echo "(no nvidia-smi)"
echo "NVRTC: $(readlink "$libdir/libnvrtc.so" 2>/dev/null || echo 'not found')"

rows=()
row() { rows+=("$(printf '%-46s %s' "$1" "$2")"); }

echo "== parity: CUDA vs CPU engine (tests/cuda_gpu.rs)"
# Every command is bounded, so that a hang cannot take the whole GPU lease.
T=${T:-240}
if CBMC_REQUIRE_GPU=1 timeout "$T" "$BIN/cuda_gpu" --nocapture --test-threads=1 2>&1 | tee "$OUT/parity.log"; then
    row "parity tests (persistent kernel)" "passed"
else
    row "parity tests (persistent kernel)" "FAILED (see parity.log)"
fi
grep -E "identical|part at|bitwise" "$OUT/parity.log" | sed 's/^/  /'
if CBMC_CUDA_NO_PERSISTENT=1 CBMC_REQUIRE_GPU=1 timeout "$T" "$BIN/cuda_gpu" bitwise --nocapture --test-threads=1 >"$OUT/parity_phases.log" 2>&1; then
    row "bitwise parity (one launch per phase)" "passed"
else
    row "bitwise parity (one launch per phase)" "FAILED (see parity_phases.log)"
fi

wall() { sed -n 's/^simulated \([0-9.]*\) s in \([0-9.]*\) s wall.*/\2/p' "$1"; }
compile_line() { grep -E '^cuda: kernels' "$1" | head -1; }

echo "== compilation: cold, then cached"
cache=$(mktemp -d)
CBMC_CACHE_DIR=$cache timeout "$T" "$CBMC" run models/cerebellum.cbm --duration 0.1s --backend cuda -o "$OUT/c1" >"$OUT/cold.log" 2>&1
CBMC_CACHE_DIR=$cache timeout "$T" "$CBMC" run models/cerebellum.cbm --duration 0.1s --backend cuda -o "$OUT/c2" >"$OUT/cached.log" 2>&1
row "compile + load, cold (limit 1 s)" "$(compile_line "$OUT/cold.log" | sed 's/^cuda: //')"
row "compile + load, cached (limit 50 ms)" "$(compile_line "$OUT/cached.log" | sed 's/^cuda: //')"

echo "== cerebellum, 60 s simulated"
timeout "$T" "$CBMC" run models/cerebellum.cbm --duration 60s --backend cuda -o "$OUT/r60" >"$OUT/cer60.log" 2>&1
cat "$OUT/cer60.log"
row "cerebellum 60 s, persistent kernel (limit 0.5 s)" "$(wall "$OUT/cer60.log") s wall"
# Where the step's time goes: each phase's mean time (block 0, globaltimer).
CBMC_CUDA_PROFILE=1 timeout "$T" "$CBMC" run models/cerebellum.cbm --duration 10s --backend cuda -o "$OUT/rprof" >"$OUT/profile.log" 2>&1
grep -A12 '^cuda profile' "$OUT/profile.log"
# Grid shapes and chunk lengths around the defaults (the engine clamps the
# blocks to what can be resident): which one to make the default, if any.
echo "== cerebellum 10 s: grid shapes (blocks x threads, steps per launch)"
for cfg in "0 128 1000" "0 256 1000" "0 512 1000" "66 256 1000" "132 256 1000" \
    "264 256 1000" "132 128 1000" "0 256 5000"; do
    set -- $cfg
    log="$OUT/grid_$1_$2_$3.log"
    if [ "$1" = 0 ]; then unset CBMC_CUDA_BLOCKS; else export CBMC_CUDA_BLOCKS=$1; fi
    CBMC_CUDA_THREADS=$2 CBMC_CUDA_CHUNK=$3 timeout "$T" "$CBMC" run models/cerebellum.cbm \
        --duration 10s --backend cuda --no-plot -o "$OUT/rgrid" >"$log" 2>&1
    printf '  blocks %-7s threads %-4s chunk %-5s %8s s wall  %s\n' "${1/#0/default}" "$2" "$3" \
        "$(wall "$log")" "$(sed -n 's/^simulated .* on \(cuda.*\)/\1/p' "$log")"
done
unset CBMC_CUDA_BLOCKS
CBMC_CUDA_NO_PERSISTENT=1 timeout "$T" "$CBMC" run models/cerebellum.cbm --duration 10s --backend cuda -o "$OUT/r10" >"$OUT/cer10np.log" 2>&1
row "cerebellum 10 s, one launch per phase" "$(wall "$OUT/cer10np.log") s wall"
timeout "$T" "$CBMC" run models/cerebellum.cbm --duration 10s --backend cpu -o "$OUT/rcpu" >"$OUT/cer10cpu.log" 2>&1
row "cerebellum 10 s, CPU engine (1 thread)" "$(wall "$OUT/cer10cpu.log") s wall"

echo "== cerebellum x64, 5 s simulated"
timeout "$T" "$CBMC" run models/variants/cerebellum_x64.cbm --duration 5s --backend cuda -o "$OUT/x64" >"$OUT/x64.log" 2>&1
cat "$OUT/x64.log"
CBMC_CUDA_PROFILE=1 timeout "$T" "$CBMC" run models/variants/cerebellum_x64.cbm --duration 2s --backend cuda -o "$OUT/x64prof" >"$OUT/x64_profile.log" 2>&1
grep -A12 '^cuda profile' "$OUT/x64_profile.log"
for th in 128 512; do
    CBMC_CUDA_THREADS=$th timeout "$T" "$CBMC" run models/variants/cerebellum_x64.cbm --duration 2s \
        --backend cuda --no-plot -o "$OUT/x64grid" >"$OUT/x64_threads_$th.log" 2>&1
    printf '  x64, 2 s, threads %-4s %8s s wall  %s\n' "$th" "$(wall "$OUT/x64_threads_$th.log")" \
        "$(sed -n 's/^simulated .* on \(cuda.*\)/\1/p' "$OUT/x64_threads_$th.log")"
done
w=$(wall "$OUT/x64.log")
row "cerebellum x64, per simulated second (limit 0.3 s)" "$(python3 -c "print(f'{float(\"${w:-nan}\")/5:.3f} s wall')" 2>/dev/null || echo "$w s / 5")"

echo
echo "== summary ($(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1))"
for r in "${rows[@]}"; do echo "$r"; done
