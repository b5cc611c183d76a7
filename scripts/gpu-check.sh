#!/usr/bin/env bash
# On a machine with a GPU: the CUDA-vs-CPU parity tests and the GPU
# benchmarks in one go, ending in a table. Build the binaries elsewhere with
# scripts/gpu-prepare.sh and carry gpu-bin/ along:
#
#   scripts/gpu-check.sh [BIN_DIR]      # BIN_DIR defaults to gpu-bin
#
# Needs the CUDA driver and NVRTC (libnvrtc.so*, found in the usual places
# and put on LD_LIBRARY_PATH).
#
# What comes back from a lent machine is limited (a few files under $OUT),
# so everything goes to one log, $OUT/gpu-check.log, appended step by step
# (it survives a call stopped at its time limit), and the runs' own output
# folders stay in a temporary folder. Each step is bounded by T seconds
# (default 90) and killed 5 s after that even if it ignores SIGTERM (a hung
# kernel does: the run waits in the driver). After a first hang (most
# likely the persistent kernel's grid barrier) the remaining steps launch
# one kernel per phase instead, and say so; after a second, the remaining
# GPU steps are skipped, so that the table is still printed in time.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-gpu-bin}
CBMC=$BIN/cbmc
# x64's network (26M synapses) is drawn on every core: less device time.
NT=$(nproc 2>/dev/null || echo 1)
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
LOG=$OUT/gpu-check.log
: >"$LOG"
RUNS=$(mktemp -d)
export CBMC_ROOT=$PWD
T=${T:-90}
# The rows run the defaults unless they say otherwise.

say() { echo "$@" | tee -a "$LOG"; }
T0=$(date +%s)

# NVRTC on LD_LIBRARY_PATH (sets NVRTC_LIB).
. scripts/nvrtc-path.sh
say "== device"
say "$(nvidia-smi -L 2>/dev/null || echo '(no nvidia-smi)')"
say "NVRTC: ${NVRTC_LIB:-not found} ($(readlink -f "${NVRTC_LIB:-/nonexistent}" 2>/dev/null || echo '?'))"
say "binaries: $(cat "$BIN/BUILD" 2>/dev/null || echo 'no BUILD file: built by an older gpu-prepare.sh?')"

rows=()
# A table row, printed now (in case the call is cut short) and again at the end.
row() {
    rows+=("$(printf '%-50s %s' "$1" "$2")")
    say "ROW $(printf '%-50s %s' "$1" "$2")"
}

hung=""
hangs=0
failed=0
# step [--cpu] NAME CMD...: run a bounded step, its output appended to the
# log. Returns the command's status. A GPU step that times out counts as a
# hang; a CPU step (--cpu) never does, and is never skipped.
step() {
    local cpu="" name rc
    if [ "$1" = --cpu ]; then
        cpu=1
        shift
    fi
    name=$1
    shift
    say "-- $name (at $(($(date +%s) - T0)) s)"
    : >"$RUNS/step.log"
    if [ -z "$cpu" ] && [ "$hangs" -ge 2 ]; then
        say "skipped: two earlier steps hung (the last: $hung)"
        return 125
    fi
    timeout -k 5 "$T" "$@" >"$RUNS/step.log" 2>&1
    rc=$?
    cat "$RUNS/step.log" >>"$LOG"
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        say "TIMEOUT after $T s: $name"
        [ -n "$cpu" ] && return "$rc"
        hung=$name
        hangs=$((hangs + 1))
        if [ "$hangs" = 1 ]; then
            export CBMC_CUDA_NO_PERSISTENT=1
            say "NOTE: the steps after this one launch one kernel per phase (CBMC_CUDA_NO_PERSISTENT=1)"
        fi
    fi
    return "$rc"
}
last() { cat "$RUNS/step.log"; }
wall() { sed -n 's/^simulated \([0-9.]*\) s in \([0-9.]*\) s wall.*/\2/p' "$RUNS/step.log"; }
# `cbmc bench`'s fastest wall seconds, without and with recording.
bench_walls() { awk '/^no recording/ {a=$3} /^with recording/ {b=$3} END {printf "%s s without recording, %s s with", a, b}' "$RUNS/step.log"; }
compile_line() { grep -E '^cuda: kernels' "$RUNS/step.log" | head -1 | sed 's/^cuda: //'; }
# parity LABEL [VAR=VALUE...] [TEST FILTER...]: the parity tests
# (tests/cuda_gpu.rs, CBMC_REQUIRE_GPU=1) with those variables, and a row.
parity() {
    local label=$1
    shift
    local vars=()
    while [ $# -gt 0 ] && [[ $1 == *=* ]]; do
        vars+=("$1")
        shift
    done
    if step "parity: $label" env ${vars[@]+"${vars[@]}"} CBMC_REQUIRE_GPU=1 "$BIN/cuda_gpu" "$@" --nocapture --test-threads=1; then
        row "$label" "passed"
    else
        row "$label" "FAILED (see gpu-check.log)"
        failed=1
    fi
}

say "== parity: CUDA vs CPU engine (tests/cuda_gpu.rs)"
# The defaults: the counter barrier, tasks in warps of their own, the fused
# step where it pays (the cerebellum), one delivery way per projection.
parity "parity tests (defaults, persistent kernel)"
last | grep -E "identical|part at|bitwise|kernels:" | sed 's/^/  /'
parity "bitwise parity (one launch per phase)" CBMC_CUDA_NO_PERSISTENT=1 bitwise
parity "bitwise parity (one launch per phase, sources early)" CBMC_CUDA_NO_PERSISTENT=1 CBMC_CUDA_EARLY_SOURCES=1 bitwise
# Every other way at once: every model fused with its rules in their
# deliveries' phase and its sources drawn early, every delivery that can
# through source words, warps spread, equal shares, the generation barrier.
parity "parity tests (fused, rule flags, sources early, words, spread, even, generation)" CBMC_CUDA_FUSE=1 CBMC_CUDA_RULE_FLAGS=1 CBMC_CUDA_EARLY_SOURCES=1 CBMC_CUDA_DELIVERY=words CBMC_CUDA_SPREAD=1 CBMC_CUDA_SHARES=even CBMC_CUDA_BARRIER=generation
parity "cerebellum parity (sources not early, CBMC_CUDA_EARLY_SOURCES=0)" CBMC_CUDA_EARLY_SOURCES=0 cerebellum
parity "cerebellum parity (rule flags, CBMC_CUDA_RULE_FLAGS=1)" CBMC_CUDA_RULE_FLAGS=1 cerebellum
parity "cerebellum parity (usual step, CBMC_CUDA_FUSE=0)" CBMC_CUDA_FUSE=0 cerebellum
parity "cerebellum parity (usual step, sources early, one launch per phase)" CBMC_CUDA_FUSE=0 CBMC_CUDA_EARLY_SOURCES=1 CBMC_CUDA_NO_PERSISTENT=1 cerebellum

say "== compilation: cold, then cached"
export CBMC_CACHE_DIR=$RUNS/cache
# Sources never compiled before on this machine (NVRTC 13 seems to reuse
# work for a source it has seen): the LTD step changed in its last digits.
# The default on this host is tiered (units first, the whole program
# beside the run: src/engine/cuda/tiers.rs); CBMC_NVRTC_UNITS=0 is the
# whole program alone.
for ltd in 0.0027501 0.0027502 0.0027503; do
    step "compile cold, new source" "$CBMC" run models/cerebellum.cbm --set PlasticPF.ltd=$ltd --duration 0.1s --backend cuda -o "$RUNS/out" --no-plot
    row "compile + load, cold (1 s), ltd = $ltd" "$(compile_line)"
done
step "compile cached" "$CBMC" run models/cerebellum.cbm --set PlasticPF.ltd=0.0027503 --duration 0.1s --backend cuda -o "$RUNS/out" --no-plot
row "compile + load, cached (limit 50 ms)" "$(compile_line)"
for ltd in 0.0027505 0.0027506; do
    step "compile cold, one program" env CBMC_NVRTC_UNITS=0 "$CBMC" run models/cerebellum.cbm --set PlasticPF.ltd=$ltd --duration 0.1s --backend cuda -o "$RUNS/out" --no-plot
    row "compile + load, cold, one program, ltd = $ltd" "$(compile_line)"
done
# A first run of 60 s, tiered: its wall time, and when the whole program took over.
step "cerebellum 60 s, cold, tiered" "$CBMC" run models/cerebellum.cbm --set PlasticPF.ltd=0.0027507 --duration 60s --backend cuda -o "$RUNS/out" --no-plot
row "cerebellum 60 s, a cold first run, tiered" "$(wall) s wall; $(compile_line)"
# Where NVRTC's time goes on this host: the front end and NVVM against
# ptxas (bench/nvrtc-phases.py; the persistent kernel, fastest of 3).
"$CBMC" emit-cuda models/cerebellum.cbm >"$RUNS/cerebellum.cu" 2>/dev/null
if step --cpu "NVRTC phases" env CBMC_NVRTC_LIB="${NVRTC_LIB:-}" python3 bench/nvrtc-phases.py "$RUNS/cerebellum.cu"; then
    row "NVRTC: front end + NVVM / ptxas" "$(awk '/^front end/ {a=$(NF-1)} /^ptxas/ {b=$(NF-1)} END {printf "%s / %s s", a, b}' "$RUNS/step.log")"
fi
# The tasks as relocatable units compiled side by side, then linked by the
# driver (CBMC_NVRTC_UNITS; src/engine/cuda/units.rs): first its parity,
# then cold compiles of new sources, then what it costs the run.
parity "cerebellum parity, kernels linked from 8 units" CBMC_NVRTC_UNITS=8 cerebellum
for u in "4 0.0027511" "8 0.0027512" "8 0.0027513" "16 0.0027514" "auto 0.0027515"; do
    set -- $u
    step "compile cold, $1 units" env CBMC_NVRTC_UNITS=$1 "$CBMC" run models/cerebellum.cbm --set PlasticPF.ltd=$2 --duration 0.1s --backend cuda -o "$RUNS/out" --no-plot
    row "compile + link + load, cold, $1 units" "$(compile_line)"
done
step "compile cached, auto units" env CBMC_NVRTC_UNITS=auto "$CBMC" run models/cerebellum.cbm --set PlasticPF.ltd=0.0027515 --duration 0.1s --backend cuda -o "$RUNS/out" --no-plot
row "compile + load, cached, CBMC_NVRTC_UNITS=auto" "$(compile_line)"
step "cerebellum 60 s, 8 units" env CBMC_NVRTC_UNITS=8 "$CBMC" bench models/cerebellum.cbm --duration 60s --backend cuda --repeat 3
row "cerebellum 60 s, best of 3, CBMC_NVRTC_UNITS=8" "$(bench_walls)"
# ptxas on all host cores too (the same CUBIN, byte for byte, with NVRTC
# 12.9 on the development machine).
step "compile cold, ptxas split" env CBMC_NVRTC_OPTIONS=--ptxas-options=--split-compile=0 "$CBMC" run models/cerebellum.cbm --set PlasticPF.ltd=0.0027504 --duration 0.1s --backend cuda -o "$RUNS/out" --no-plot
row "compile + load, cold, ptxas --split-compile=0" "$(compile_line)"

say "== cerebellum, 60 s simulated"
step "cerebellum 60 s" "$CBMC" run models/cerebellum.cbm --duration 60s --backend cuda -o "$RUNS/out" --no-plot
last | grep -v '^cuda profile'
row "cerebellum 60 s, defaults (limit 0.5 s)" "$(wall) s wall"
step "cerebellum 60 s, bench" "$CBMC" bench models/cerebellum.cbm --duration 60s --backend cuda --repeat 3
last
row "cerebellum 60 s, best of 3 (limit 0.5 s)" "$(bench_walls)"
# Where the host's time goes over the run (the device's timers make it
# slower: the waits are longer, the copies and launches are not).
for v in CBMC_CUDA_STAGE=1 CBMC_CUDA_STAGE=0; do
    step "cerebellum 60 s, host profile, $v" env CBMC_CUDA_PROFILE=1 $v "$CBMC" run models/cerebellum.cbm --duration 60s --backend cuda -o "$RUNS/out" --no-plot
    last | grep -E '^cuda host|^simulated'
done
# The defaults' other ways, one at a time.
for v in CBMC_CUDA_EARLY_SOURCES=0 CBMC_CUDA_SPREAD=0 CBMC_CUDA_RULE_FLAGS=1 CBMC_CUDA_STAGE=0 CBMC_CUDA_SHARES=even CBMC_CUDA_FUSE=0 CBMC_CUDA_BARRIER=generation CBMC_CUDA_DELIVERY=scan CBMC_CUDA_DELIVERY=words; do
    step "cerebellum 60 s, $v" env $v "$CBMC" bench models/cerebellum.cbm --duration 60s --backend cuda --repeat 3
    row "cerebellum 60 s, best of 3, $v" "$(bench_walls)"
done
# A grid of more warps (the fused phase packs about 1,075 warps of tasks,
# `cbm_phase` in `cbmc emit-cuda`, into the default 132 blocks of 8
# warps, 1,056, so a few tasks share warps), launches of 4,000 steps
# instead of 1,000 (15 chunks, not 60).
for v in "CBMC_CUDA_BLOCKS=136" "CBMC_CUDA_CHUNK=4000"; do
    step "cerebellum 60 s, $v" env $v "$CBMC" bench models/cerebellum.cbm --duration 60s --backend cuda --repeat 3
    row "cerebellum 60 s, best of 3, $v" "$(bench_walls)"
done
step "cerebellum 60 s, --Ofast-compile=min" env CBMC_NVRTC_OPTIONS=--Ofast-compile=min "$CBMC" run models/cerebellum.cbm --duration 60s --backend cuda -o "$RUNS/out" --no-plot
row "cerebellum 60 s, --Ofast-compile=min" "$(wall) s wall; $(compile_line)"
# Where the step's time goes: each phase's mean time (block 0, globaltimer).
step "cerebellum profile" env CBMC_CUDA_PROFILE=1 "$CBMC" run models/cerebellum.cbm --duration 10s --backend cuda -o "$RUNS/out" --no-plot
last | grep -A40 '^cuda profile'
step "cerebellum profile, sources not early" env CBMC_CUDA_PROFILE=1 CBMC_CUDA_EARLY_SOURCES=0 "$CBMC" run models/cerebellum.cbm --duration 10s --backend cuda -o "$RUNS/out" --no-plot
last | grep -A40 '^cuda profile'
step "cerebellum profile, even shares" env CBMC_CUDA_PROFILE=1 CBMC_CUDA_SHARES=even "$CBMC" run models/cerebellum.cbm --duration 10s --backend cuda -o "$RUNS/out" --no-plot
last | grep -A40 '^cuda profile'
step "cerebellum 10 s, one launch per phase" env CBMC_CUDA_NO_PERSISTENT=1 "$CBMC" run models/cerebellum.cbm --duration 10s --backend cuda -o "$RUNS/out" --no-plot
row "cerebellum 10 s, one launch per phase" "$(wall) s wall"
step --cpu "cerebellum 10 s, CPU" "$CBMC" run models/cerebellum.cbm --duration 10s --backend cpu -o "$RUNS/out" --no-plot
row "cerebellum 10 s, CPU engine (1 thread)" "$(wall) s wall"

say "== cerebellum x64, 5 s simulated"
step "x64 5 s" "$CBMC" run models/variants/cerebellum_x64.cbm --duration 5s --backend cuda --threads "$NT" -o "$RUNS/out" --no-plot
last
w=$(wall)
row "cerebellum x64, per simulated second (limit 0.3 s)" "$(python3 -c "print(f'{float(\"${w:-nan}\")/5:.3f} s wall')" 2>/dev/null || echo "$w s / 5")"
for v in CBMC_CUDA_EARLY_SOURCES=1 "CBMC_CUDA_FUSE=1 CBMC_CUDA_EARLY_SOURCES=1" CBMC_CUDA_STAGE=0 CBMC_CUDA_SHARES=even; do
    step "x64 5 s, $v" env $v "$CBMC" run models/variants/cerebellum_x64.cbm --duration 5s --backend cuda --threads "$NT" -o "$RUNS/out" --no-plot
    row "cerebellum x64, 5 s, $v" "$(wall) s wall"
done
# x64 is too large for the CPU parity test: its fused recordings must
# equal the usual kernels' (per-cell flags order its olive's step).
step "x64 2 s, usual" env CBMC_CUDA_FUSE=0 "$CBMC" run models/variants/cerebellum_x64.cbm --duration 2s --backend cuda --threads "$NT" -o "$RUNS/x64_usual" --no-plot
step "x64 2 s, fused" env CBMC_CUDA_FUSE=1 CBMC_CUDA_SHARES=even "$CBMC" run models/variants/cerebellum_x64.cbm --duration 2s --backend cuda --threads "$NT" -o "$RUNS/x64_fused" --no-plot
step --cpu "x64, same recordings" python3 scripts/same-npz.py "$RUNS"/x64_usual/*.npz "$RUNS"/x64_fused/*.npz
case $? in
0) row "x64 2 s, fused (even shares) vs usual recordings" "identical" ;;
1)
    row "x64 2 s, fused (even shares) vs usual recordings" "DIFFERENT (see gpu-check.log)"
    failed=1
    ;;
*) row "x64 2 s, fused (even shares) vs usual recordings" "not compared: a run failed (see gpu-check.log)" ;;
esac

say "== the floor, and the classic networks"
# bench/models/floor.cbm: a step with nothing to do but its phases'
# barriers, the least any model's step costs.
for v in CBMC_CUDA_FUSE=0 CBMC_CUDA_FUSE=1; do
    step "floor 60 s, $v" env $v "$CBMC" run bench/models/floor.cbm --duration 60s --backend cuda -o "$RUNS/out" --no-plot
    row "floor (32 cells), 60 s, $v" "$(wall) s wall"
done
# (The whole program from the start: a first run, tiered, starts on the
# units' kernels, slower by half for CUBA, and 1 s is over before the
# whole program can take over.)
for m in cuba coba brunel_poisson; do
    for v in CBMC_CUDA_SHARES=packed CBMC_CUDA_SHARES=even; do
        step "$m 1 s, $v" env $v CBMC_NVRTC_UNITS=0 "$CBMC" run "bench/models/$m.cbm" --duration 1s --backend cuda -o "$RUNS/out" --no-plot
        row "bench/models/$m.cbm, 1 s, $v" "$(wall) s wall"
    done
done

say ""
say "== summary ($(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1))"
[ "$hangs" = 0 ] || say "($hangs step(s) hung, the first: see TIMEOUT in the log; later rows may be one launch per phase)"
for r in "${rows[@]}"; do say "$r"; done
# Status 1 when a parity test failed or a step hung (the table is printed
# either way).
[ "$failed" = 0 ] && [ "$hangs" = 0 ]
