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
