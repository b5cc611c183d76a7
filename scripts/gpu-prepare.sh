#!/usr/bin/env bash
# Build, here, what scripts/gpu-check.sh runs on a GPU machine, into gpu-bin/
# (ignored by git; carry it): the cbmc binary and the GPU parity test binary,
# stripped so that they travel under the size limit.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release
test_bin=$(cargo test --release --test cuda_gpu --no-run --message-format=json 2>/dev/null \
    | sed -n 's/.*"executable":"\([^"]*cuda_gpu[^"]*\)".*/\1/p' | tail -1)
[ -n "$test_bin" ] || { echo "could not build the cuda_gpu test" >&2; exit 1; }
rm -rf gpu-bin && mkdir -p gpu-bin
cp target/release/cbmc gpu-bin/cbmc
cp "$test_bin" gpu-bin/cuda_gpu
strip gpu-bin/cbmc gpu-bin/cuda_gpu 2>/dev/null || true
# Which code the binaries are (gpu-check.sh prints it): stale binaries
# carried to a rare GPU session would measure old kernels.
dirty=$(git status --porcelain --untracked-files=no | grep -q . && echo ", with uncommitted changes" || true)
echo "commit $(git rev-parse --short HEAD)$dirty, built $(date -u '+%Y-%m-%d %H:%M UTC')" > gpu-bin/BUILD
grep -qx '/gpu-bin/' .git/info/exclude 2>/dev/null || echo '/gpu-bin/' >> "$(git rev-parse --git-path info/exclude)"
ls -la gpu-bin
