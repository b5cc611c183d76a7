#!/usr/bin/env python3
"""Where NVRTC's time goes for a model's kernels: the front end and NVVM
(source to PTX) against ptxas (PTX to CUBIN), without a GPU.

    cargo run --release -- emit-cuda models/cerebellum.cbm > /tmp/cerebellum.cu
    python3 bench/nvrtc-phases.py /tmp/cerebellum.cu [--arch 90] [--repeat 3]

Compiles the persistent kernel's entry point (as a run does, with
-DCBM_ONLY_PERSISTENT) with the options of src/engine/cuda/nvrtc.rs, once to
PTX (compute_XX) and once to CUBIN (sm_XX), and prints the fastest of
--repeat tries of each; ptxas's share is their difference. Finds libnvrtc
from $CBMC_NVRTC_LIB, else pip's nvidia-cuda-nvrtc-cu12, else the loader's
path. Only the standard library.
"""
import argparse
import ctypes
import glob
import os
import sys
import time

# src/engine/cuda/nvrtc.rs: OPTIONS, and -split-compile=0 where NVRTC has it.
OPTIONS = ["--fmad=false", "--std=c++17", "-default-device", "--maxrregcount=128",
           "-split-compile=0", "-DCBM_ONLY_PERSISTENT"]


def load_nvrtc():
    candidates = []
    if os.environ.get("CBMC_NVRTC_LIB"):
        candidates.append(os.environ["CBMC_NVRTC_LIB"])
    for site in sys.path:
        candidates += sorted(glob.glob(os.path.join(site, "nvidia/cuda_nvrtc/lib/libnvrtc.so*")))
    candidates += ["libnvrtc.so", "libnvrtc.so.12", "libnvrtc.so.13"]
    for c in candidates:
        try:
            return ctypes.CDLL(c), c
        except OSError:
            continue
    sys.exit("no libnvrtc found: pip install nvidia-cuda-nvrtc-cu12, or set CBMC_NVRTC_LIB")


def compile_once(lib, source, arch):
    prog = ctypes.c_void_p()
    if lib.nvrtcCreateProgram(ctypes.byref(prog), source, b"cbmc_model.cu", 0, None, None):
        sys.exit("nvrtcCreateProgram failed")
    opts = [o.encode() for o in OPTIONS + ["--gpu-architecture=" + arch]]
    array = (ctypes.c_char_p * len(opts))(*opts)
    start = time.perf_counter()
    status = lib.nvrtcCompileProgram(prog, len(opts), array)
    seconds = time.perf_counter() - start
    if status:
        size = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetProgramLog(prog, log)
        sys.exit(f"NVRTC could not compile for {arch}:\n{log.value.decode(errors='replace')[:4000]}")
    lib.nvrtcDestroyProgram(ctypes.byref(prog))
    return seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", help="the output of `cbmc emit-cuda MODEL`")
    ap.add_argument("--arch", default="90")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with open(args.source, "rb") as f:
        source = f.read()
    lib, path = load_nvrtc()
    major, minor = ctypes.c_int(), ctypes.c_int()
    lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor))
    ptx = min(compile_once(lib, source, "compute_" + args.arch) for _ in range(args.repeat))
    cubin = min(compile_once(lib, source, "sm_" + args.arch) for _ in range(args.repeat))
    print(f"NVRTC {major.value}.{minor.value} ({path}), {os.cpu_count()} cores, "
          f"fastest of {args.repeat}")
    print(f"front end and NVVM (to PTX):  {ptx:.3f} s")
    print(f"whole (to CUBIN for sm_{args.arch}):  {cubin:.3f} s")
    print(f"ptxas (the difference):       {cubin - ptx:.3f} s")


if __name__ == "__main__":
    main()
