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
