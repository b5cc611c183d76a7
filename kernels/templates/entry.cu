// ---- entry points (kernels/templates/entry.cu) ------------------------------

// The persistent kernel: `n` steps from step `s0`, all phases of each step
// separated by grid barriers. Recording buffers hold the steps from `c0` on.
// Stops after the step in which a value became NaN or infinite.
extern "C" __global__ void cbm_run(i64 s0, int n, i64 c0) {
    for (int it = 0; it < n; ++it) {
        i64 s = s0 + it;
        for (int k = 0; k < CBM_PHASES; ++k) {
            cbm_phase(k, s, c0);
            cbm_grid_sync();
        }
        // A thread may already be in step s + 1 and may have found an error
        // there: only an error in this step or before stops the loop, so
        // that every thread stops after the same step.
        if (*(volatile u64*)&CBM_ERR[1] <= (u64)s) break;
    }
}

// One phase of one step, for launches without a cooperative grid.
extern "C" __global__ void cbm_phase_kernel(int k, i64 s, i64 c0) {
    if (*(volatile u64*)&CBM_ERR[1] < (u64)s) return;
    cbm_phase(k, s, c0);
}
// ---- end ---------------------------------------------------------------------
