# Sourced by gpu-check.sh and gpu-sweep.sh: put NVRTC on LD_LIBRARY_PATH.
# The toolkit's, pip's, or whatever the loader already knows. cudarc asks
# for libnvrtc.so (and .so.12, .so.11...); CUDA 13 names it .so.13, so a
# link named libnvrtc.so goes on the path. Sets NVRTC_LIB to what it found.
NVRTC_LIB=""
nvrtc_links=$(mktemp -d)
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
    $(python3 -c 'import nvidia, os; [print(os.path.join(p, q, "lib")) for p in nvidia.__path__ for q in os.listdir(p)]' 2>/dev/null); do
    for f in "$d"/libnvrtc.so*; do
        [ -e "$f" ] || continue
        case "$f" in *builtins*|*alt*) continue ;; esac
        ln -sf "$f" "$nvrtc_links/libnvrtc.so"
        export LD_LIBRARY_PATH="$d:$nvrtc_links:${LD_LIBRARY_PATH:-}"
        NVRTC_LIB=$f
        break 2
    done
done
