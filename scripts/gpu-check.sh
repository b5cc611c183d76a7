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
CBMC_CUDA_NO_PERSISTENT=1 timeout "$T" "$CBMC" run models/cerebellum.cbm --duration 10s --backend cuda -o "$OUT/r10" >"$OUT/cer10np.log" 2>&1
row "cerebellum 10 s, one launch per phase" "$(wall "$OUT/cer10np.log") s wall"
timeout "$T" "$CBMC" run models/cerebellum.cbm --duration 10s --backend cpu -o "$OUT/rcpu" >"$OUT/cer10cpu.log" 2>&1
row "cerebellum 10 s, CPU engine (1 thread)" "$(wall "$OUT/cer10cpu.log") s wall"

echo "== cerebellum x64, 5 s simulated"
timeout "$T" "$CBMC" run models/variants/cerebellum_x64.cbm --duration 5s --backend cuda -o "$OUT/x64" >"$OUT/x64.log" 2>&1
cat "$OUT/x64.log"
CBMC_CUDA_PROFILE=1 timeout "$T" "$CBMC" run models/variants/cerebellum_x64.cbm --duration 2s --backend cuda -o "$OUT/x64prof" >"$OUT/x64_profile.log" 2>&1
grep -A12 '^cuda profile' "$OUT/x64_profile.log"
w=$(wall "$OUT/x64.log")
row "cerebellum x64, per simulated second (limit 0.3 s)" "$(python3 -c "print(f'{float(\"${w:-nan}\")/5:.3f} s wall')" 2>/dev/null || echo "$w s / 5")"

# Grid shapes (scripts/gpu-sweep.sh): which launch shape to make the default.
echo "== grid sweep"
mkdir -p "$OUT/sweep"
OUT=$OUT/sweep timeout "$T" bash scripts/gpu-sweep.sh "$BIN" 2>&1 | tee "$OUT/sweep.log"

echo
echo "== summary ($(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1))"
for r in "${rows[@]}"; do echo "$r"; done
