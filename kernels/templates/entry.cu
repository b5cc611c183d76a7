// ---- entry points (kernels/templates/entry.cu) ------------------------------

// The persistent kernel: `n` steps from step `s0`, the phases of each step
// separated by grid barriers (a phase with nothing to do in a step is
// skipped, barrier and all). Recording buffers hold the steps from `c0` on.
// Stops after the step in which a value became NaN or infinite. Tasks
// deferred to the next step (see `cbm_phase`) run for the last step after
// the loop, so that the launch ends with whole steps.
extern "C" __global__ void cbm_run(i64 s0, int n, i64 c0) {
    i64 s = s0;
    for (int it = 0; it < n; ++it) {
        s = s0 + it;
        const int parts = it > 0 ? 3 : 2;
        for (int k = 0; k < CBM_PHASES; ++k) {
            if (!cbm_phase_active(k, s, parts)) continue;
            cbm_phase(k, s, c0, parts);
            cbm_grid_sync();
        }
        // A thread may already be in step s + 1 and may have found an error
        // there: only an error in this step or before stops the loop, so
        // that every thread stops after the same step.
        if (*(volatile u64*)&CBM_ERR[1] <= (u64)s) break;
    }
    for (int k = 0; k < CBM_PHASES; ++k) {
        if (!cbm_phase_active(k, s + 1, 1)) continue;
        cbm_phase(k, s + 1, c0, 1);
        cbm_grid_sync();
    }
}

// One phase of one step, for launches without a cooperative grid; `parts`
// as in `cbm_phase`. The host launches every phase of every step of a
// chunk (the first with parts = 2, the others with 3), then every phase
// with parts = 1 and the step after the last, for its deferred tasks.
// Nothing runs for the steps after one in which a value became NaN.
extern "C" __global__ void cbm_phase_kernel(int k, i64 s, i64 c0, int parts) {
    const u64 err = *(volatile u64*)&CBM_ERR[1];
    if (err < (u64)s) parts &= ~2;
    if (err < (u64)(s - 1)) parts &= ~1;
    if (!cbm_phase_active(k, s, parts)) return;
    cbm_phase(k, s, c0, parts);
}
// ---- end ---------------------------------------------------------------------
