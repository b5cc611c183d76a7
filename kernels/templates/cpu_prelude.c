// ---- prelude (kernels/templates/cpu_prelude.c) -----------------------------
// The CPU engine's native code: plain C99, compiled by the machine's C
// compiler with FMA contraction off, so that every operation rounds exactly
// as the interpreter's (and the CUDA kernels') do. libm's exp, log, pow, cos
// are the functions Rust's f64 methods call, so results are bit-identical.

#include <math.h>
#include <stdint.h>

typedef uint32_t u32;
typedef uint64_t u64;

// What the engine passes to every function (src/engine/cpu/native/mod.rs,
// `Ctx`, is the same layout).
typedef struct {
    void* const* p;   // buffers, in the order each function unpacks them
    const u32* ids;   // synapse ids (on_post, on_teacher) or spiking cells (on_pre)
    u64 n;            // how many ids
    double t;         // simulation time at the start of the step, s
    u64 s;            // step
    u64 first_slot;   // ring slot where on_pre deposits start
    u32 key0, key1;   // Philox key (the seed)
    // The part of a busy projection's work this call does (src/engine/cpu/
    // parts.rs); a whole call has every target and every source.
    u64 tlo, thi;     // on_pre: the synapses onto targets tlo .. thi - 1;
                      // periodic rules: the per-target values of those;
                      // cell functions: the cells tlo .. thi - 1
    u64 slo, shi;     // periodic rules: the synapses of sources slo .. shi - 1
} CbmCtx;

// Where a source's synapses onto targets from `j` on start: the first k in
// a .. b with post[k] >= j (a row is sorted by target, network/mod.rs).
#define CBM_LOWER_BOUND(name, type)                                            \
    static inline u64 name(const type* post, u64 a, u64 b, u64 j) {            \
        while (a < b) {                                                        \
            const u64 m = a + (b - a) / 2u;                                    \
            if ((u64)post[m] < j) a = m + 1u; else b = m;                      \
        }                                                                      \
        return a;                                                              \
    }
CBM_LOWER_BOUND(cbm_lower_u8, unsigned char)
CBM_LOWER_BOUND(cbm_lower_u16, unsigned short)
CBM_LOWER_BOUND(cbm_lower_u32, u32)

// Rust's f64::clamp (below lo gives lo, above hi gives hi, NaN stays NaN).
// On x86-64 with the SSE2 instructions whose definitions are exactly these
// two selections (MAXSD: a > b ? a : b, MINSD: a < b ? a : b): the compiler
// otherwise branches on `lo > x`, which mispredicts when values sit at a bound.
#if defined(__SSE2__)
#include <emmintrin.h>
static inline double cbm_clamp(double x, double lo, double hi) {
    __m128d v = _mm_max_sd(_mm_set_sd(lo), _mm_set_sd(x));
    return _mm_cvtsd_f64(_mm_min_sd(_mm_set_sd(hi), v));
}
#else
static inline double cbm_clamp(double x, double lo, double hi) {
    x = lo > x ? lo : x;
    x = hi < x ? hi : x;
    return x;
}
#endif

// A hint to load a cache line early (nothing where the compiler lacks it).
#if defined(__GNUC__)
#define CBM_PREFETCH(p) __builtin_prefetch((p), 0, 3)
#else
#define CBM_PREFETCH(p) ((void)(p))
#endif

#define CBM_FN static inline
#define CBM_TAU 6.283185307179586
#define CBM_INF HUGE_VAL
#define CBM_NAN NAN
// @include philox.inc
// @include math.inc

// rand() / randn() / rand_poisson() in cell code: stream of (population, call site), counter
// (cell, step), as the interpreter's NeuronEnv::rand.
static inline double cbm_rand_u(const CbmCtx* c, u32 st, u64 i) {
    u32 w[4];
    cbm_philox_key(c->key0, c->key1, (u32)i, (u32)c->s, (u32)(c->s >> 32), st, w);
    return cbm_uniform(w[0]);
}
static inline double cbm_rand_n(const CbmCtx* c, u32 st, u64 i) {
    u32 w[4];
    cbm_philox_key(c->key0, c->key1, (u32)i, (u32)c->s, (u32)(c->s >> 32), st, w);
    return cbm_normal(w[0], w[1]);
}
static inline double cbm_rand_p(const CbmCtx* c, u32 st, u64 i, double mean) {
    return cbm_poisson(c->key0, c->key1, st, (u32)i, (u32)c->s, (u32)(c->s >> 32), mean);
}
// rand_poisson with a constant mean, whose part's cumulative probabilities
// are `table` (Rng::poisson_table): a part's count is how many of them lie
// below its uniform, which is what cbm_poisson_parts's loop finds, counted
// without its unpredictable branch. The parts' uniforms are drawn as there
// (written out again: through a shared helper this loop ran 3% slower).
static inline double cbm_rand_ptab(const CbmCtx* c, u32 st, u64 i, u32 n, const double* table, u32 len) {
    u32 w[4];
    u32 lo = (u32)c->s, hi = (u32)(c->s >> 32);
    double count = 0.0;
    for (u32 j = 0; j < n; ++j) {
        if (j % 2u == 0u) cbm_philox_key(c->key0, c->key1, (u32)i, lo, hi | ((j / 2u) << 16), st, w);
        double u = j % 2u == 0u ? cbm_uniform53(w[0], w[1]) : cbm_uniform53(w[2], w[3]);
        u32 k = 0;
        for (u32 m = 0; m < len; ++m) k += table[m] < u;
        count += (double)k;
    }
    return count;
}
// ---- end of prelude ----------------------------------------------------------
