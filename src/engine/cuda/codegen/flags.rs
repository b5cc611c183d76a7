//! Per-target flags between a delivery and its targets' cell update
//! (`Variant::fuse`): a delivery with a delay of one step, deferred to the
//! next step, may then share a phase with its targets' cell update (see
//! `schedule`). The delivery's warp sets a target's flag to the step it
//! delivered after the target's deposits (`cbm_signal`); the target's
//! thread waits for the step before its own before it takes its ring slot
//! (`cbm_await`). Whether a projection's flags are used is the schedule's
//! choice, made after the tasks are written: the code is under
//! `#if CBM_FLAG_<projection>`, defined in front of the tasks.

use super::*;

impl Gen<'_> {
    /// Projections whose deliveries may be ordered by flags: those with a
    /// delay of one step that deposit or count teacher arrivals.
    pub(super) fn flag_candidates(&self) -> Vec<usize> {
        if !self.fuse {
            return vec![];
        }
        (0..self.ir.projections.len())
            .filter(|&qi| {
                let q = &self.ir.projections[qi];
                q.delay_steps == 1 && (!q.on_pre.is_empty() || self.teachers[qi])
            })
            .collect()
    }

    /// The wait of target cell `i` (of step `s`) for projection `qi`'s
    /// delivery of step `s - 1`, where the schedule orders it by flags.
    pub(super) fn await_delivery(&mut self, qi: usize, pad: &str) -> String {
        if !self.flag_candidates().contains(&qi) {
            return String::new();
        }
        let flag = self.name(Entry::Flag { proj: qi });
        format!("#if CBM_FLAG_{qi}\n{pad}cbm_await({flag} + i, s - 1);\n#endif\n")
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
