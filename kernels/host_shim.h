// Host emulation of the CUDA thread grid, for running generated kernels on a
// machine without a GPU (tests/cuda_host_emulation.rs).
//
// Every CUDA thread is a fiber (ucontext) with its own stack; a scheduler runs
// them in a shuffled order, and each one runs until it meets a barrier
// (__syncthreads, a warp operation, the grid barrier) or ends. Warp
// operations (__ballot_sync, __shfl_sync, __syncwarp) are real exchanges among
// the 32 lanes of a warp, so warp-synchronous code is checked, not assumed.
// Atomics are plain operations: only one fiber runs at a time.
//
// Include order: this header, the generated .cu, then host_driver.h.
#pragma once
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <ucontext.h>

#include <vector>

#define CBM_HOST_EMULATION 1
#define __global__
#define __device__
#define __constant__
#define __forceinline__ inline
#define __noinline__

struct cbm_uint3 {
    unsigned int x, y, z;
};

struct CbmBar {
    unsigned int size = 0;
    unsigned int count = 0;
    unsigned int gen = 0;
};

struct CbmFiber {
    ucontext_t ctx;
    jmp_buf jb;
    int started = 0;
    cbm_uint3 tid;
    cbm_uint3 bid;
    char* stack = nullptr;
    int done = 0;
    CbmBar* wait_bar = nullptr;
    unsigned int wait_gen = 0;
};

struct CbmWarp {
    CbmBar bar;
    unsigned long long slot[2][32];
};

struct CbmEmu {
    cbm_uint3 bdim{1, 1, 1};
    cbm_uint3 gdim{1, 1, 1};
    std::vector<CbmFiber> fibers;
    std::vector<CbmBar> blocks;
    std::vector<CbmWarp> warps;
    CbmBar grid;
    jmp_buf sched;
    void (*body)(void*) = nullptr;
    void* arg = nullptr;
    unsigned long long rng = 1;
    size_t stack_bytes = 256 * 1024;
};

static CbmEmu cbm_emu;
static CbmFiber* cbm_emu_cur = nullptr;

#define threadIdx (cbm_emu_cur->tid)
#define blockIdx (cbm_emu_cur->bid)
#define blockDim (cbm_emu.bdim)
#define gridDim (cbm_emu.gdim)

static void cbm_emu_wait(CbmBar* b) {
    unsigned int g = b->gen;
    if (++b->count == b->size) {
        b->count = 0;
        b->gen++;
    }
    CbmFiber* f = cbm_emu_cur;
    f->wait_bar = b;
    f->wait_gen = g;
    // Always yield, so that the scheduler's order decides who goes on first.
    // (_setjmp/_longjmp switch stacks without the signal-mask system call of
    // swapcontext; makecontext only starts each fiber.)
    if (!_setjmp(f->jb)) _longjmp(cbm_emu.sched, 1);
    f->wait_bar = nullptr;
}

static inline unsigned int cbm_emu_lane() { return cbm_emu_cur->tid.x & 31u; }
static inline CbmWarp& cbm_emu_warp() {
    size_t per_block = cbm_emu.bdim.x / 32;
    return cbm_emu.warps[cbm_emu_cur->bid.x * per_block + cbm_emu_cur->tid.x / 32];
}

// All 32 lanes publish a value; returns the row everyone published.
static const unsigned long long* cbm_emu_exchange(unsigned long long v) {
    CbmWarp& w = cbm_emu_warp();
    unsigned int par = w.bar.gen & 1u;
    w.slot[par][cbm_emu_lane()] = v;
    cbm_emu_wait(&w.bar);
    return w.slot[par];
}

// A thread that waits for another's flag (`cbm_await`) lets the others run
// (each call, one round of the scheduler). A wait of `spins` rounds that
// has not ended never will (a wrong schedule): a deadlock, not a hang.
static inline void cbm_emu_yield(unsigned long long spins) {
    if (spins > 10000000ull) {
        fprintf(stderr, "host emulation: deadlock (a flag wait never ended)\n");
        abort();
    }
    CbmFiber* f = cbm_emu_cur;
    if (!_setjmp(f->jb)) _longjmp(cbm_emu.sched, 1);
}

static inline void __syncthreads() { cbm_emu_wait(&cbm_emu.blocks[cbm_emu_cur->bid.x]); }
static inline void __syncwarp(unsigned int = 0xffffffffu) { cbm_emu_wait(&cbm_emu_warp().bar); }
static inline void cbm_emu_grid_sync() { cbm_emu_wait(&cbm_emu.grid); }
static inline void __threadfence() {}

static inline unsigned int __ballot_sync(unsigned int mask, int pred) {
    if (mask != 0xffffffffu) {
        fprintf(stderr, "host emulation: partial warp masks are not supported\n");
        abort();
    }
    const unsigned long long* row = cbm_emu_exchange(pred != 0);
    unsigned int r = 0;
    for (int l = 0; l < 32; ++l)
        if (row[l]) r |= 1u << l;
    return r;
}

template <typename T>
static inline T __shfl_sync(unsigned int mask, T v, int src) {
    if (mask != 0xffffffffu) {
        fprintf(stderr, "host emulation: partial warp masks are not supported\n");
        abort();
    }
    static_assert(sizeof(T) <= 8, "shuffle of a wide type");
    unsigned long long bits = 0;
    memcpy(&bits, &v, sizeof(T));
    const unsigned long long* row = cbm_emu_exchange(bits);
    T out;
    memcpy(&out, &row[src & 31], sizeof(T));
    return out;
}

template <typename T>
static inline T __shfl_xor_sync(unsigned int mask, T v, int lane_mask) {
    return __shfl_sync(mask, v, (int)(cbm_emu_lane() ^ (unsigned)lane_mask));
}

template <typename T>
static inline T __ldg(const T* p) {
    return *p;
}
static inline int __ffs(int x) { return __builtin_ffs(x); }
static inline int __popc(unsigned int x) { return __builtin_popcount(x); }
static inline long long __double_as_longlong(double x) {
    long long b;
    memcpy(&b, &x, 8);
    return b;
}
static inline double __longlong_as_double(long long b) {
    double x;
    memcpy(&x, &b, 8);
    return x;
}

template <typename T>
static inline T atomicAdd(T* p, T v) {
    T old = *p;
    *p = old + v;
    return old;
}
template <typename T>
static inline T atomicOr(T* p, T v) {
    T old = *p;
    *p = old | v;
    return old;
}
template <typename T>
static inline T atomicMin(T* p, T v) {
    T old = *p;
    if (v < old) *p = v;
    return old;
}
template <typename T>
static inline T atomicExch(T* p, T v) {
    T old = *p;
    *p = v;
    return old;
}

static void cbm_emu_entry() {
    cbm_emu.body(cbm_emu.arg);
    cbm_emu_cur->done = 1;
    _longjmp(cbm_emu.sched, 1);
}

static unsigned long long cbm_emu_next() {
    cbm_emu.rng = cbm_emu.rng * 6364136223846793005ull + 1442695040888963407ull;
    return cbm_emu.rng >> 33;
}

// Run `body(arg)` on a grid of `blocks` x `threads` fibers. Returns 0, or 1
// when the fibers deadlock (some wait at a barrier the others never reach).
static int cbm_emu_launch(int blocks, int threads, void (*body)(void*), void* arg, unsigned int seed) {
    if (threads % 32 != 0 || blocks < 1) {
        fprintf(stderr, "host emulation: blockDim must be a multiple of 32\n");
        return 2;
    }
    size_t n = (size_t)blocks * threads;
    cbm_emu.bdim = {(unsigned)threads, 1, 1};
    cbm_emu.gdim = {(unsigned)blocks, 1, 1};
    cbm_emu.body = body;
    cbm_emu.arg = arg;
    cbm_emu.rng = seed * 2654435761ull + 1;
    if (cbm_emu.fibers.size() != n) {
        for (auto& f : cbm_emu.fibers) free(f.stack);
        cbm_emu.fibers.assign(n, CbmFiber());
        for (auto& f : cbm_emu.fibers) f.stack = (char*)malloc(cbm_emu.stack_bytes);
    }
    cbm_emu.blocks.assign(blocks, CbmBar());
    for (auto& b : cbm_emu.blocks) b.size = threads;
    cbm_emu.warps.assign(n / 32, CbmWarp());
    for (auto& w : cbm_emu.warps) w.bar.size = 32;
    cbm_emu.grid = CbmBar();
    cbm_emu.grid.size = (unsigned)n;
    for (size_t i = 0; i < n; ++i) {
        CbmFiber& f = cbm_emu.fibers[i];
        f.tid = {(unsigned)(i % threads), 0, 0};
        f.bid = {(unsigned)(i / threads), 0, 0};
        f.done = 0;
        f.started = 0;
        f.wait_bar = nullptr;
        getcontext(&f.ctx);
        f.ctx.uc_stack.ss_sp = f.stack;
        f.ctx.uc_stack.ss_size = cbm_emu.stack_bytes;
        f.ctx.uc_link = nullptr;
        makecontext(&f.ctx, cbm_emu_entry, 0);
    }
    std::vector<size_t> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = i;
    size_t left = n;
    while (left > 0) {
        // A new shuffled order each round.
        for (size_t i = n; i > 1; --i) {
            size_t j = cbm_emu_next() % i;
            size_t t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
        int progress = 0;
        for (size_t k = 0; k < n; ++k) {
            CbmFiber& f = cbm_emu.fibers[order[k]];
            if (f.done) continue;
            if (f.wait_bar && f.wait_bar->gen == f.wait_gen) continue;
            cbm_emu_cur = &f;
            if (!_setjmp(cbm_emu.sched)) {
                if (!f.started) {
                    f.started = 1;
                    ucontext_t from;
                    swapcontext(&from, &f.ctx);
                } else {
                    _longjmp(f.jb, 1);
                }
            }
            cbm_emu_cur = nullptr;
            progress = 1;
            if (f.done) --left;
        }
        if (!progress) {
            fprintf(stderr, "host emulation: deadlock (%zu threads wait at barriers)\n", left);
            return 1;
        }
    }
    return 0;
}
