//! Last spike and last teacher steps kept per step parity (`Variant::fuse`).
//!
//! A periodic rule that reads `pre.last_spike` or `post.last_teacher` may
//! run at the start of the next step only if that step's cells do not
//! overwrite what it reads. Where such a rule reads them, the steps are
//! kept twice, a row per step parity: step `s` reads and writes row
//! `s & 1`, after carrying each cell's value over from the other row, so a
//! task deferred from step `s` still finds step `s`'s values while step
//! `s + 1` writes its own (`Res::SpkRow`, `Res::TarrRow` in the schedule).
//!
//! A reader that comes before the writer in the step would find the row
//! not yet carried over, so a buffer is kept per parity only where every
//! reader comes after its writer.

use super::*;

/// Per population (`Lspk`) and per teacher projection (`Tarr`): kept per
/// step parity?
#[derive(Clone, Debug, Default)]
pub(super) struct ParityRows {
    pub spk: Vec<bool>,
    pub tarr: Vec<bool>,
}

/// Where a handler runs in the step, by the position of the population
/// whose tasks it follows (`Gen::tasks`).
#[derive(Clone, Copy)]
enum Place {
    /// After that population's whole update.
    After(usize),
    /// After its arrivals, before its step (`on_teacher`).
    BeforeStep(usize),
}

/// Which last spike and teacher steps to keep per step parity.
pub(super) fn parity_rows(ir: &Ir, fuse: bool) -> ParityRows {
    let mut rows = ParityRows {
        spk: vec![false; ir.populations.len()],
        tarr: vec![false; ir.projections.len()],
    };
    if !fuse {
        return rows;
    }
    let mut pos = vec![0; ir.populations.len()];
    for (k, &p) in ir.schedule.iter().enumerate() {
        pos[p] = k;
    }
    // Per buffer: read by a rule; read before its writer.
    let mut spk = vec![(false, false); ir.populations.len()];
    let mut tarr = vec![(false, false); ir.projections.len()];
    for q in &ir.projections {
        let teacher = q.teacher;
        // The handlers, each with where it runs in the step: after the
        // source's update (`on_pre`), after the target's (`on_post`), after
        // the target's arrivals but before its step (`on_teacher`), or
        // after every population (rules: None).
        let mut handlers: Vec<(&[Stmt], Option<Place>)> = vec![
            (&q.on_pre, Some(Place::After(pos[q.source]))),
            (&q.on_post, Some(Place::After(pos[q.target]))),
            (&q.on_teacher, Some(Place::BeforeStep(pos[q.target]))),
        ];
        for (_, body) in &q.every {
            handlers.push((body, None));
        }
        for (stmts, at) in handlers {
            // `by_step`: the buffer's writer is the population's step (last
            // spikes), not its arrivals (last teacher steps).
            let note = |reads: &mut (bool, bool), writer: usize, by_step: bool| match at {
                None => reads.0 = true,
                Some(Place::After(at)) if at < pos[writer] => reads.1 = true,
                Some(Place::BeforeStep(at))
                    if at < pos[writer] || (at == pos[writer] && by_step) =>
                {
                    reads.1 = true
                }
                Some(_) => {}
            };
            visit_exprs(stmts, &mut |e| {
                walk(e, &mut |x| match x {
                    Expr::Pre(CellAccess::LastSpike | CellAccess::Spiked) => {
                        note(&mut spk[q.source], q.source, true)
                    }
                    Expr::Post(CellAccess::LastSpike | CellAccess::Spiked) => {
                        note(&mut spk[q.target], q.target, true)
                    }
                    Expr::Post(CellAccess::LastTeacher) => {
                        if let Some(ti) = teacher {
                            note(&mut tarr[ti], ir.projections[ti].target, false)
                        }
                    }
                    _ => {}
                })
            });
        }
    }
    for (p, &(by_rule, early)) in spk.iter().enumerate() {
        rows.spk[p] = by_rule && !early;
    }
    for (t, &(by_rule, early)) in tarr.iter().enumerate() {
        rows.tarr[t] = by_rule && !early;
    }
    rows
}

impl Gen<'_> {
    /// Cells of a last spike (`Entry::Lspk`) or last teacher
    /// (`Entry::Tarr`) buffer kept per step parity; None where it is one row.
    fn parity_cells(&self, e: Entry) -> Option<usize> {
        match e {
            Entry::Lspk { pop } if self.rows.spk[pop] => Some(self.pop_size(pop)),
            Entry::Tarr { proj } if self.rows.tarr[proj] => {
                Some(self.pop_size(self.ir.projections[proj].target))
            }
            _ => None,
        }
    }

    /// Such a buffer as step `s` reads and writes it.
    pub(super) fn row_of(&mut self, e: Entry) -> String {
        let name = self.name(e);
        match self.parity_cells(e) {
            Some(n) => format!("({name} + ((u64)s & 1ull) * {n}ull)"),
            None => name,
        }
    }

    /// The line that carries cell `i`'s value of such a buffer over from
    /// the row of the step before (nothing where there is one row).
    pub(super) fn carry(&mut self, e: Entry, pad: &str) -> String {
        let Some(n) = self.parity_cells(e) else {
            return String::new();
        };
        let name = self.name(e);
        format!("{pad}{name}[((u64)s & 1ull) * {n}ull + i] = {name}[(((u64)s + 1ull) & 1ull) * {n}ull + i]; // (a row per step parity)\n")
    }

    /// What a task that reads the cells' last spike steps reads.
    pub(super) fn spk_res(&self, pop: usize) -> Res {
        if self.rows.spk[pop] {
            Res::SpkRow(pop)
        } else {
            Res::Spk(pop)
        }
    }

    /// What a task that reads a teacher's last arrival steps reads.
    pub(super) fn tarr_res(&self, ti: usize) -> Res {
        if self.rows.tarr[ti] {
            Res::TarrRow(ti)
        } else {
            Res::Tarr(ti)
        }
    }

    /// The buffers kept per step parity (twice the cells).
    pub(super) fn parity_entries(&self) -> Vec<Entry> {
        let spk = (0..self.rows.spk.len())
            .filter(|&p| self.rows.spk[p])
            .map(|pop| Entry::Lspk { pop });
        let tarr = (0..self.rows.tarr.len())
            .filter(|&t| self.rows.tarr[t])
            .map(|proj| Entry::Tarr { proj });
        spk.chain(tarr).collect()
    }
}
