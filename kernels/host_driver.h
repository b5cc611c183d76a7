// The C interface of a generated module compiled for host emulation
// (included after kernels/host_shim.h and the generated source).
#pragma once

struct CbmEmuArgs {
    long long s0;
    int n;
    long long c0;
    int k;
    int parts;
};

static void cbm_emu_body_run(void* a) {
    CbmEmuArgs* r = (CbmEmuArgs*)a;
    cbm_run(r->s0, r->n, r->c0);
}

static void cbm_emu_body_phase(void* a) {
    CbmEmuArgs* r = (CbmEmuArgs*)a;
    cbm_phase_kernel(r->k, r->s0, r->c0, r->parts);
}

extern "C" {

int cbm_emu_nptr() { return CBM_NPTR; }
int cbm_emu_phases() { return CBM_PHASES; }

void cbm_emu_set_table(const unsigned long long* p, int n, unsigned int k0, unsigned int k1) {
    for (int i = 0; i < n && i < CBM_NPTR; ++i) cbm_p[i] = p[i];
    cbm_key[0] = k0;
    cbm_key[1] = k1;
}

// Steps s0 .. s0 + n on a grid of `blocks` x `threads`: with the persistent
// kernel (grid barriers between phases), or one launch per phase and step.
int cbm_emu_run(long long s0, int n, long long c0, int blocks, int threads, unsigned int seed,
                int persistent) {
    if (n <= 0) return 0;
    CbmEmuArgs a{s0, n, c0, 0, 0};
    if (persistent) return cbm_emu_launch(blocks, threads, cbm_emu_body_run, &a, seed);
    // As the engine's driver launches them (src/engine/cuda/driver.rs):
    // the prologue (phase -1), every phase of every step, then the
    // deferred tasks of the last step; after a NaN the kernels themselves
    // skip the later steps.
    CbmEmuArgs p{s0, 1, c0, -1, 0};
    int rc0 = cbm_emu_launch(blocks, threads, cbm_emu_body_phase, &p, seed + 977);
    if (rc0) return rc0;
    for (int it = 0; it < n; ++it) {
        for (int k = 0; k < CBM_PHASES; ++k) {
            CbmEmuArgs b{s0 + it, 1, c0, k, (it > 0 ? 3 : 2) | (it + 1 < n ? 4 : 0)};
            int rc = cbm_emu_launch(blocks, threads, cbm_emu_body_phase, &b, seed + it * 131 + k);
            if (rc) return rc;
        }
    }
    for (int k = 0; k < CBM_PHASES; ++k) {
        CbmEmuArgs b{s0 + n, 1, c0, k, 1};
        int rc = cbm_emu_launch(blocks, threads, cbm_emu_body_phase, &b, seed + n * 131 + k);
        if (rc) return rc;
    }
    return 0;
}
}
