//! The flags of the fused step (`Variant::fuse`), which order work within
//! a phase instead of a grid barrier: per target (below) and per cell (the
//! second `impl`).
//!
//! Per-target flags between a delivery and its targets' cell update: a
//! delivery with a delay of one step, deferred to the
//! next step, may then share a phase with its targets' cell update (see
//! `schedule`). The delivery's warp sets a target's flag to the step it
//! delivered after the target's deposits (`cbm_signal`); the target's
//! thread waits for the step before its own before it takes its ring slot
//! (`cbm_await`). Whether a projection's flags are used is the schedule's
//! choice, made after the tasks are written: the code is under
//! `#if CBM_FLAG_<projection>`, defined in front of the tasks.

use super::*;

/// Projections whose deliveries may be ordered by flags: those with a
/// delay of one step that deposit or count teacher arrivals (`teachers`:
/// `super::teachers(ir)`).
fn flaggable(ir: &Ir, teachers: &[bool]) -> Vec<usize> {
    (0..ir.projections.len())
        .filter(|&qi| {
            let q = &ir.projections[qi];
            q.delay_steps == 1 && (!q.on_pre.is_empty() || teachers[qi])
        })
        .collect()
}

/// The most target cells, over all the deliveries that flags would order,
/// for which the fused step pays. Each target's flag costs its delivery
/// warp a fence (~1 us), and a warp delivers to its targets one after
/// another. With no more targets than a grid has warps (132
/// multiprocessors of 8 warps on an H100 or H200), the fences run side by
/// side and the step saves a grid barrier; with many more, they queue up
/// and cost more than the barrier. Measured on an H200 (fifteenth
/// session, fused against usual, 60 s of the cerebellum, 1 s of the
/// others): the cerebellum, 776 targets, 0.722 against 0.819 s; CUBA and
/// COBA, 8,000, 0.117 against 0.107 s and 0.132 against 0.115 s; the
/// cerebellum x64, 49,664, 1.287 against 0.945 s (5 s).
pub const FUSE_MAX_TARGETS: usize = 1024;

/// Whether the fused step (`Variant::fuse`) is expected to be the faster
/// for `ir`: the targets of its flagged deliveries are few (see
/// `FUSE_MAX_TARGETS`) and there is at least one.
pub fn fuse_pays(ir: &Ir) -> bool {
    let flagged = flaggable(ir, &teachers(ir));
    let targets: usize = flagged
        .iter()
        .map(|&qi| ir.populations[ir.projections[qi].target].size)
        .sum();
    !flagged.is_empty() && targets <= FUSE_MAX_TARGETS
}

impl Gen<'_> {
    /// Projections whose deliveries may be ordered by flags (`flaggable`),
    /// none unless the step is fused.
    pub(super) fn flag_candidates(&self) -> Vec<usize> {
        if !self.fuse {
            return vec![];
        }
        flaggable(self.ir, &self.teachers)
    }

    /// The waits of target cell `i` (of step `s`) for the deliveries of
    /// step `s - 1` into population `pi` that the schedule orders by flags,
    /// then one fence for them all (the acquire), before any ring slot or
    /// teacher count is taken.
    pub(super) fn await_deliveries(&mut self, pi: usize, pad: &str) -> String {
        let flagged: Vec<usize> = self
            .flag_candidates()
            .into_iter()
            .filter(|&qi| self.ir.projections[qi].target == pi)
            .collect();
        if flagged.is_empty() {
            return String::new();
        }
        let mut out = String::new();
        for &qi in &flagged {
            let flag = self.name(Entry::Flag { proj: qi });
            out.push_str(&format!(
                "#if CBM_FLAG_{qi}\n{pad}cbm_await({flag} + i, s - 1);\n#endif\n"
            ));
        }
        let any: Vec<String> = flagged.iter().map(|q| format!("CBM_FLAG_{q}")).collect();
        out.push_str(&format!(
            "#if {}\n{pad}__threadfence(); // (the acquire of the deposits the flags announce)\n#endif\n",
            any.join(" || ")
        ));
        out
    }

    /// A rule's wait, in synapse `k` of target `pj_`, for that target's
    /// flag of step `s` (the delivery of the rule's step done reading and
    /// writing the target's synapses), then a fence (the acquire), before
    /// the synapse is read or written: only where the schedule puts the
    /// rule in the delivery's phase (`Flag::Synapses`, `CBM_RULEFLAG_<q>`);
    /// elsewhere a barrier orders them.
    pub(super) fn await_delivery(&mut self, qi: usize, pad: &str) -> String {
        if !self.rule_flags || !self.flag_candidates().contains(&qi) {
            return String::new();
        }
        let flag = self.name(Entry::Flag { proj: qi });
        format!(
            "#if CBM_RULEFLAG_{qi}\n{pad}cbm_await({flag} + pj_, s);\n{pad}__threadfence(); // (the acquire of the delivery's reads and writes)\n#endif\n"
        )
    }

    /// The delivery warp's signal that target `j`'s deposits of step `s`
    /// are in (after every lane's stores).
    pub(super) fn signal_delivery(&mut self, qi: usize, pad: &str) -> String {
        if !self.flag_candidates().contains(&qi) {
            return String::new();
        }
        let flag = self.name(Entry::Flag { proj: qi });
        format!("#if CBM_FLAG_{qi}\n{pad}cbm_signal({flag} + j, s);\n#endif\n")
    }
}

/// Per-cell flags between a population's arrivals (with its gap currents)
/// and its step in one phase (`schedule::CellFlags`): under
/// `#if CBM_CELLFLAG_<population>`, defined after scheduling.
impl Gen<'_> {
    /// Cell `i`'s thread, done with its arrivals and gap currents of step
    /// `s`: its stores, then a fence, then its flag (the release).
    pub(super) fn signal_cell(&mut self, pi: usize, pad: &str) -> String {
        let flag = self.name(Entry::CellFlag { pop: pi });
        format!(
            "#if CBM_CELLFLAG_{pi}\n{pad}__threadfence();\n{pad}*(volatile u32*)&{flag}[i] = (u32)(u64)s;\n#endif\n"
        )
    }

    /// Cell `i`'s step waits for its own arrivals and for the gap currents
    /// of its partners (which read its voltage), then fences once.
    pub(super) fn await_cells(&mut self, pi: usize, pad: &str) -> String {
        let flag = self.name(Entry::CellFlag { pop: pi });
        let mut out = format!("#if CBM_CELLFLAG_{pi}\n{pad}cbm_await({flag} + i, s);\n");
        let gaps: Vec<usize> = (0..self.ir.gaps.len())
            .filter(|&g| self.ir.gaps[g].population == pi)
            .collect();
        for g in gaps {
            let off = self.name(Entry::GapOff { gap: g });
            let list = self.name(Entry::GapList { gap: g });
            out.push_str(&format!(
                "{pad}for (u32 e = {off}[i]; e < {off}[i + 1]; ++e) cbm_await({flag} + ({list}[e] & 0x7fffffffu), s); // (the partners of gap junction {})\n",
                self.ir.gaps[g].name
            ));
        }
        out.push_str(&format!(
            "{pad}__threadfence(); // (the acquire of what the flags announce)\n#endif\n"
        ));
        out
    }
}
