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
    void* const* p;   // buffers, in the order listed above each function
    const u32* ids;   // synapse ids (on_post, on_teacher) or spiking cells (on_pre)
    u64 n;            // how many ids
    double t;         // simulation time at the start of the step, s
    u64 s;            // step
    u64 first_slot;   // ring slot where on_pre deposits start
    u32 key0, key1;   // Philox key (the seed)
} CbmCtx;

// Rust's f64::clamp (below lo gives lo, above hi gives hi, NaN stays NaN)
// and select(c, a, b) (a where c is nonzero, else b), written so that the
// compiler vectorises loops around them (compare and blend).
static inline double cbm_clamp(double x, double lo, double hi) {
    x = lo > x ? lo : x;
    x = hi < x ? hi : x;
    return x;
}
static inline double cbm_select(double c, double a, double b) { return c != 0.0 ? a : b; }

// A hint to load a cache line early (nothing where the compiler lacks it).
#if defined(__GNUC__)
#define CBM_PREFETCH(p) __builtin_prefetch((p), 0, 3)
#else
#define CBM_PREFETCH(p) ((void)(p))
#endif

// Philox4x32-10, counter [c0, c1, c2, c3] (src/network/rng.rs).
static inline void cbm_philox(u32 k0, u32 k1, u32 c0, u32 c1, u32 c2, u32 c3, u32* out) {
    for (int r = 0; r < 10; ++r) {
        if (r > 0) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        u64 p0 = (u64)0xD2511F53u * (u64)c0;
        u64 p1 = (u64)0xCD9E8D57u * (u64)c2;
        u32 hi0 = (u32)(p0 >> 32), lo0 = (u32)p0;
        u32 hi1 = (u32)(p1 >> 32), lo1 = (u32)p1;
        u32 n0 = hi1 ^ c1 ^ k0;
        u32 n2 = hi0 ^ c3 ^ k1;
        c0 = n0;
        c1 = lo1;
        c2 = n2;
        c3 = lo0;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

static inline double cbm_uniform(u32 w) { return (double)(w >> 8) * (1.0 / 16777216.0); }
static inline double cbm_uniform_open(u32 w) { return ((double)(w >> 8) + 1.0) * (1.0 / 16777216.0); }

// rand() / randn() in cell code: stream of (population, call site), counter
// (cell, step), as the interpreter's NeuronEnv::rand.
static inline double cbm_rand_u(const CbmCtx* c, u32 st, u64 i) {
    u32 w[4];
    cbm_philox(c->key0, c->key1, (u32)i, (u32)c->s, (u32)(c->s >> 32), st, w);
    return cbm_uniform(w[0]);
}
static inline double cbm_rand_n(const CbmCtx* c, u32 st, u64 i) {
    u32 w[4];
    cbm_philox(c->key0, c->key1, (u32)i, (u32)c->s, (u32)(c->s >> 32), st, w);
    double u1 = cbm_uniform_open(w[0]);
    double u2 = cbm_uniform(w[1]);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
// ---- end of prelude ----------------------------------------------------------
