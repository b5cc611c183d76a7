// ---- entry points (kernels/templates/entry.cu) ------------------------------

// The persistent kernel: `n` steps from step `s0`, the phases of each step
// separated by grid barriers (a phase with nothing to do in a step is
// skipped, barrier and all). Recording buffers hold the steps from `c0` on.
// Stops after the step in which a value became NaN or infinite. Tasks
// deferred to the next step (see `cbm_phase`) run for the last step in a
// last iteration, so that the launch ends with whole steps.
#ifdef CBM_PROFILE
// CBMC_CUDA_PROFILE=1: per phase, the nanoseconds from block 0 leaving the
// barrier before it to leaving the one after it, summed, and the count; and
// per task of the phase, its slowest warp's time in this step (see
// CBM_TIMED), summed, and the count.
__device__ u64 cbm_prof[2 * CBM_PHASES];
#define CBM_PROFILE_START u64 prof_t_ = cbm_tid() == 0 ? cbm_clock_ns() : 0ull;
#define CBM_PROFILE_PHASE(k)                                                   \
    if (cbm_tid() == 0) {                                                      \
        const u64 now_ = cbm_clock_ns();                                       \
        cbm_prof[k] += now_ - prof_t_;                                         \
        cbm_prof[CBM_PHASES + (k)] += 1ull;                                    \
        prof_t_ = now_;                                                        \
        for (int t_ = 0; t_ < CBM_TASKS; ++t_) {                               \
            if (cbm_task_phase[t_] != (k)) continue;                           \
            const u64 m_ = atomicExch(&cbm_task_max[2 * t_ + (s & 1)], 0ull);  \
            if (m_ == 0ull) continue; /* (1 + ns: it ran) */                   \
            cbm_task_prof[t_] += m_ - 1ull;                                    \
            cbm_task_prof[CBM_TASKS + t_] += 1ull;                             \
        }                                                                      \
    }
#else
#define CBM_PROFILE_START
#define CBM_PROFILE_PHASE(k)
#endif

// The host compiles one of the two entry points (CBM_ONLY_PERSISTENT or
// CBM_ONLY_PHASE_KERNEL), the one it launches. Host emulation and the CI
// compile test build both.
#ifndef CBM_ONLY_PHASE_KERNEL
extern "C" __global__ void cbm_run(i64 s0, int n, i64 c0) {
    int flagged = 0;  // a NaN somewhere (the top bit of the barrier word)
    u32 barriers = 0; // this launch's grid barriers so far
    // Sources drawn a step early (`cbm_phase`'s parts & 4) draw the first
    // step's spikes here; each later step's in the step before it.
    if (cbm_prologue(s0, c0)) flagged = cbm_grid_sync(++barriers);
    CBM_PROFILE_START
    // Iterations 0 .. n - 1 are the steps; iteration `last` (n, or the one
    // after an error) runs only the deferred tasks of the step before it.
    // One loop, so that the step's code appears once in the kernel.
    int last = n;
    for (int it = 0; it <= last; ++it) {
        const i64 s = s0 + it;
        const int parts = (it == last ? 1 : it > 0 ? 3 : 2) | (it + 1 < last ? 4 : 0);
        for (int k = 0; k < CBM_PHASES; ++k) {
            if (!cbm_phase_active(k, s, parts)) continue;
            cbm_phase(k, s, c0, parts);
            flagged = cbm_grid_sync(++barriers);
            CBM_PROFILE_PHASE(k)
        }
        // A thread may already be in step s + 1 and may have found an error
        // there: only an error in this step or before stops the loop, so
        // that every thread stops after the same step. (This needs every
        // write of an error step of s or before to come before this step's
        // last barrier: cell tasks write it, and they are never deferred.)
        if (it < last && flagged && *(volatile u64*)&CBM_ERR[1] <= (u64)s) last = it + 1;
    }
}
#endif

// One phase of one step, for launches without a cooperative grid; `parts`
// as in `cbm_phase`. The host launches `cbm_prologue` as phase -1 of the
// chunk's first step, then every phase of every step of the chunk (the
// first with parts = 2, the others with 3; and 4 but in the last), then
// every phase with parts = 1 and the step after the last, for its
// deferred tasks. Nothing runs for the steps after one in which a value
// became NaN.
#ifndef CBM_ONLY_PERSISTENT
extern "C" __global__ void cbm_phase_kernel(int k, i64 s, i64 c0, int parts) {
    if (k < 0) {
        cbm_prologue(s, c0);
        return;
    }
    const u64 err = *(volatile u64*)&CBM_ERR[1];
    if (err < (u64)s) parts &= ~6;
    if (err < (u64)(s - 1)) parts &= ~1;
    if (!cbm_phase_active(k, s, parts)) return;
    cbm_phase(k, s, c0, parts);
}
#endif
// ---- end ---------------------------------------------------------------------
