// ---- prelude (kernels/templates/prelude.cu) --------------------------------
// Built-in types only: NVRTC has no headers. Under CBM_HOST_EMULATION the
// same text is compiled by the host C++ compiler against kernels/host_shim.h.

typedef unsigned int u32;
typedef unsigned long long u64;
typedef long long i64;

#define CBM_FULL 0xffffffffu

// How a delivery from a source of up to 4096 cells finds the spiking
// synapses of its targets (src/engine/cuda/codegen/synapse_tasks.rs): 0,
// the way the generator estimated cheaper for the projection; 1, testing
// each synapse's source; 2, through the target's source words wherever it
// has them. The results are the same; `CBMC_CUDA_DELIVERY` sets it.
#ifndef CBM_DELIVERY
#define CBM_DELIVERY 0
#endif

// The table of buffer addresses and scalars (set by the engine before a launch)
// and the Philox key (the seed), so that a new seed needs no new compilation.
// Compiled as units (`CBM_UNIT`, src/engine/cuda/units.rs), the module's
// globals are defined in the main unit (0) and declared in the others.
#if defined(CBM_UNIT) && CBM_UNIT != 0
#define CBM_GLOBAL extern
#else
#define CBM_GLOBAL
#endif
CBM_GLOBAL __constant__ u64 cbm_p[CBM_NPTR];
CBM_GLOBAL __constant__ u32 cbm_key[2];

#ifdef CBM_PROFILE
// The GPU's nanosecond clock, for the profiled kernels' timers.
__device__ __forceinline__ u64 cbm_clock_ns() {
    u64 t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}
#endif

#ifdef CBM_SPREAD
// Warp w of block b is the grid's warp w * gridDim.x + b, so that a task's
// consecutive warps run on different multiprocessors instead of filling a
// few (`CBMC_CUDA_SPREAD=1`, for comparisons on a GPU).
__device__ __forceinline__ u64 cbm_tid() {
    return (((u64)(threadIdx.x >> 5) * gridDim.x + blockIdx.x) << 5) + (threadIdx.x & 31u);
}
#else
__device__ __forceinline__ u64 cbm_tid() { return (u64)blockIdx.x * blockDim.x + threadIdx.x; }
#endif
__device__ __forceinline__ u64 cbm_nthr() { return (u64)gridDim.x * blockDim.x; }
__device__ __forceinline__ u32 cbm_lane() { return threadIdx.x & 31u; }
__device__ __forceinline__ u64 cbm_warp() { return cbm_tid() >> 5; }
__device__ __forceinline__ u64 cbm_nwarps() { return cbm_nthr() >> 5; }
// A task's threads rotated by `rot` (a multiple of 32, so warps stay whole,
// and less than the grid's threads) within the grid: the tasks of one phase
// start at different warps and run side by side instead of one after the
// other on the first warps. (No `%`: a 64-bit division costs ~100 cycles.)
__device__ __forceinline__ u64 cbm_tid_r(u64 rot) {
    const u64 t = cbm_tid() + rot, n = cbm_nthr();
    return t >= n ? t - n : t;
}
__device__ __forceinline__ u64 cbm_warp_r(u64 rot) { return cbm_tid_r(rot) >> 5; }
// The rotation (`rot_`, see `cbm_tid_r`) of the next task of a phase
// packed into the grid's `nw` warps (src/engine/cuda/schedule.rs,
// `rotations`): its first item goes to warp `f` when `rot_` is `nw - f`
// warps. Up from the first warp, after the `*next` warps given so far, or
// down from the last, below the `*used` warps given so far; `warps` of its
// own (counted in full where a task has more items than the grid has
// warps, so that the next task starts where its last round ends). Past the
// grid's end, packing goes round again. (32-bit remainders: a 64-bit one
// costs ~100 cycles.)
__device__ __forceinline__ u64 cbm_pack_up(u64* next, u64 warps, u64 nw) {
    const u32 f = (u32)*next % (u32)nw;
    *next += warps;
    return (f == 0u ? 0ull : nw - f) << 5;
}
__device__ __forceinline__ u64 cbm_pack_down(u64* used, u64 warps, u64 nw) {
    *used += warps;
    return (u64)((u32)*used % (u32)nw) << 5; // (its first warp: nw - that)
}
// A task's rotation in `cbm_phase`: packed (the second argument), or with
// CBM_EVEN_SHARES (`CBMC_CUDA_SHARES=even`) the first, the task's equal
// share of the grid.
#ifdef CBM_EVEN_SHARES
#define CBM_ROT(even, packed) (even)
#else
#define CBM_ROT(even, packed) (packed)
#endif
// Cells per warp where a warp tests cells in a ballot and then works through
// the active ones one after another (guarded rules, `on_post`): few, so that
// the work spreads over the grid instead of queueing in a few warps; at most 32.
__device__ __forceinline__ u64 cbm_group(u64 n) {
    const u64 w = cbm_nwarps();
    const u64 g = (n + w - 1) / w;
    return g < 1ull ? 1ull : (g > 32ull ? 32ull : g);
}

// A buffer no kernel writes (indices, offsets, lists): read through the
// read-only data cache (`__ldg`), whose lines survive the grid barriers, so
// that a persistent warp finds its own targets' indices there step after step.
template <typename T>
struct cbm_ro {
    const T* p;
    __device__ __forceinline__ T operator[](u64 i) const { return __ldg(p + i); }
};

__device__ __forceinline__ double cbm_from_bits(u64 b) { return __longlong_as_double((i64)b); }
__device__ __forceinline__ int cbm_finite(double x) {
    return (((u64)__double_as_longlong(x) >> 52) & 0x7ffull) != 0x7ffull;
}
#define CBM_INF cbm_from_bits(0x7ff0000000000000ull)
#define CBM_NAN cbm_from_bits(0x7ff8000000000000ull)

// Rust's f64::clamp: below lo gives lo, above hi gives hi, NaN stays NaN.
__device__ __forceinline__ double cbm_clamp(double x, double lo, double hi) {
    if (x < lo) x = lo;
    if (x > hi) x = hi;
    return x;
}

// Position of the n-th (from 0) set bit of m; n < popcount(m).
__device__ __forceinline__ u32 cbm_nth_set(u32 m, u32 n) {
    u32 p = 0u;
    for (u32 w = 16u; w > 0u; w >>= 1) {
        const u32 c = (u32)__popc(m & ((1u << w) - 1u));
        if (n >= c) {
            n -= c;
            m >>= w;
            p += w;
        }
    }
    return p;
}

#define CBM_FN __device__ __forceinline__
// A task of the step (a source, a cell update, a delivery, a rule, a
// recorder): one function each, never inlined into the entry point. Inlined,
// the cerebellum's whole step became one function of 290 KB of machine code
// that took NVRTC 2.4 s and all 128 registers a thread may have (with
// spills); apart, the kernel needs 72. A call per task and step costs a few
// cycles, against microseconds per step.
#define CBM_TASK __device__ __noinline__
// @include philox.inc
// @include math.inc

// Philox with the key of this run (the seed).
__device__ __forceinline__ void cbm_philox(u32 c0, u32 c1, u32 c2, u32 c3, u32* out) {
    cbm_philox_key(cbm_key[0], cbm_key[1], c0, c1, c2, c3, out);
}

// rand() / randn() / rand_poisson() in cell code: stream of (population, call site), counter (cell, step).
__device__ __forceinline__ double cbm_rand_u(u32 st, u64 i, i64 s) {
    u32 w[4];
    cbm_philox((u32)i, (u32)(u64)s, (u32)((u64)s >> 32), st, w);
    return cbm_uniform(w[0]);
}
__device__ __forceinline__ double cbm_rand_n(u32 st, u64 i, i64 s) {
    u32 w[4];
    cbm_philox((u32)i, (u32)(u64)s, (u32)((u64)s >> 32), st, w);
    return cbm_normal(w[0], w[1]);
}
__device__ __forceinline__ double cbm_rand_p(u32 st, u64 i, i64 s, double mean) {
    return cbm_poisson(cbm_key[0], cbm_key[1], st, (u32)i, (u32)(u64)s, (u32)((u64)s >> 32), mean);
}
__device__ __forceinline__ double cbm_rand_pk(u32 st, u64 i, i64 s, u32 n, double part, double first) {
    return cbm_poisson_parts(cbm_key[0], cbm_key[1], st, (u32)i, (u32)(u64)s, (u32)((u64)s >> 32), n, part, first);
}

// Steps to the next spike of a Bernoulli(p) source (failures before the first
// success), from the cell's own counter; log1mp = ln(1 - p), folded on the host.
__device__ __forceinline__ u64 cbm_geometric(u32 st, u64 cell, u32 count, double log1mp) {
    u32 w[4];
    cbm_philox((u32)cell, count, 0u, st, w);
    double u = cbm_uniform_open(w[0]);
    double q = fmin(floor(log(u) / log1mp), 1e15);
    return q > 0.0 ? (u64)q : 0ull;
}

__device__ __forceinline__ double cbm_last(i64 step) { return step < 0 ? -1e9 : (double)step * CBM_DT; }

// A grid-wide barrier for the persistent kernel (launched cooperatively, so
// every block is resident): `cbm_grid_sync(k)` is the launch's k-th. It
// returns whether a thread found a NaN (`cbm_note_error`), so that the
// kernel reads the error step only when there is one. Two ways:
//
// - by default, one count of arrivals that the host zeroes before each
//   launch: the k-th barrier waits until every block has arrived k times.
//   The last block to arrive then waits for one atomic instead of four
//   round trips to memory (on an H200, a step of the floor model's two
//   phases took 3.2 us against 4.35 us). The NaN flag is the count's top
//   bit, cleared with it: the engine starts no launch after one that found
//   a NaN (`GpuEngine::run_chunk`);
// - with CBM_GENERATION_BARRIER (`CBMC_CUDA_BARRIER=generation`), a count
//   of arrivals that the last to arrive resets, and a generation counter
//   it then advances, which the others wait for; the NaN flag is the
//   generation's top bit (kept across launches).
#ifdef CBM_HOST_EMULATION
#define cbm_grid_sync(k) ((void)(k), cbm_emu_grid_sync(), 1)
#define cbm_note_error()
#elif defined(CBM_GENERATION_BARRIER)
CBM_GLOBAL __device__ u32 cbm_bar[2];
__device__ __forceinline__ void cbm_note_error() { atomicOr(&cbm_bar[1], 0x80000000u); }
__device__ __forceinline__ int cbm_grid_sync(u32) {
    __shared__ u32 seen_;
    __syncthreads();
    if (threadIdx.x == 0) {
        volatile u32* gen = &cbm_bar[1];
        const u32 g = *gen & 0x7fffffffu;
        __threadfence();
        const u32 arrived = atomicAdd(&cbm_bar[0], 1u);
        u32 x;
        if (arrived == gridDim.x - 1) {
            atomicExch(&cbm_bar[0], 0u);
            __threadfence();
            x = atomicAdd(&cbm_bar[1], 1u) + 1u;
        } else {
            while (((x = *gen) & 0x7fffffffu) == g) {
            }
        }
        seen_ = x;
        __threadfence();
    }
    __syncthreads();
    return (int)(seen_ >> 31);
}
#else
CBM_GLOBAL __device__ u32 cbm_count;
__device__ __forceinline__ void cbm_note_error() { atomicOr(&cbm_count, 0x80000000u); }
__device__ __forceinline__ int cbm_grid_sync(u32 k) {
    __shared__ u32 seen_;
    __syncthreads();
    if (threadIdx.x == 0) {
        const u32 all = k * gridDim.x;
        __threadfence();
        u32 x = atomicAdd(&cbm_count, 1u) + 1u;
        while ((x & 0x7fffffffu) < all) x = *(volatile u32*)&cbm_count;
        seen_ = x;
        __threadfence();
    }
    __syncthreads();
    return (int)(seen_ >> 31);
}
#endif

// Per-target flags (the fused step; src/engine/cuda/codegen/flags.rs): a
// delivery's warp marks target `j` delivered for step `s` after every
// lane's deposits, and the target's thread waits for it before it takes
// its ring slot. The fences make the pair a release and an acquire, as in
// the grid barrier: the lanes' stores, then the warp's sync, then lane 0's
// fence and flag; the waiter's reads of its flags, then one fence (after
// `cbm_await` for each, in the generated code). Only the persistent kernel
// waits (every block resident, and in a phase every warp delivers before
// it waits), so a wait always ends. `__nanosleep` needs sm_70.
#ifdef CBM_HOST_EMULATION
#define cbm_nap(spins) cbm_emu_yield(spins)
#elif __CUDA_ARCH__ >= 700
#define cbm_nap(spins) ((void)(spins), __nanosleep(32))
#else
#define cbm_nap(spins) ((void)(spins))
#endif
__device__ __forceinline__ void cbm_signal(u32* flag, i64 s) {
    __syncwarp();
    if (cbm_lane() == 0u) {
        __threadfence();
        *(volatile u32*)flag = (u32)(u64)s;
    }
}
__device__ __forceinline__ void cbm_await(const u32* flag, i64 s) {
    for (u64 n = 1; *(volatile const u32*)flag != (u32)(u64)s; ++n) cbm_nap(n);
}
// ---- end of prelude ---------------------------------------------------------
