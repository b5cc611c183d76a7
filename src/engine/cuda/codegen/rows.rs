//! Last spike and last teacher steps kept per step parity (`Variant::fuse`),
//! and the sources drawn a step early (`Variant::early_sources`, with or
//! without `fuse`).
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
//!
//! A source drawn a step early writes step `s + 1`'s row during step `s`,
//! while step `s` reads row `s` and a task deferred from step `s - 1`
//! reads row `s - 1`: its last spikes, where anything reads them, are kept
//! in three rows (`s % 3`). It may be drawn early only where every reader of
//! its last spikes comes after it in the step (else that reader would find
//! the step's spikes already there).

use super::*;

/// Per population (`Lspk`): how many rows (1, 2 per step parity, or 3
/// for a source drawn early); per teacher projection (`Tarr`): kept per step
/// parity?; per population: a source drawn a step early?
#[derive(Clone, Debug, Default)]
pub(super) struct ParityRows {
    pub spk: Vec<usize>,
    pub tarr: Vec<bool>,
    pub early: Vec<bool>,
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

/// Which last spike and teacher steps to keep per step parity, and which
/// sources are drawn a step early (`early`: where they may).
pub(super) fn parity_rows(ir: &Ir, fuse: bool, early: bool) -> ParityRows {
    let mut rows = ParityRows {
        spk: vec![1; ir.populations.len()],
        tarr: vec![false; ir.projections.len()],
        early: vec![false; ir.populations.len()],
    };
    let mut pos = vec![0; ir.populations.len()];
    for (k, &p) in ir.schedule.iter().enumerate() {
        pos[p] = k;
    }
    // Per buffer: read by a rule; read before its writer. And whether
    // anything reads a population's last spikes at all.
    let mut spk = vec![(false, false); ir.populations.len()];
    let mut spk_read = vec![false; ir.populations.len()];
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
                        spk_read[q.source] = true;
                        note(&mut spk[q.source], q.source, true)
                    }
                    Expr::Post(CellAccess::LastSpike | CellAccess::Spiked) => {
                        spk_read[q.target] = true;
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
    for (p, &(by_rule, read_early)) in spk.iter().enumerate() {
        let source = matches!(ir.populations[p].kind, PopulationKindIr::Source(_));
        rows.early[p] = early && source && !read_early;
        rows.spk[p] = if rows.early[p] && spk_read[p] {
            3
        } else if fuse && by_rule && !read_early {
            2
        } else {
            1
        };
    }
    for (t, &(by_rule, early)) in tarr.iter().enumerate() {
        rows.tarr[t] = fuse && by_rule && !early;
    }
    rows
}

impl Gen<'_> {
    /// The cells and rows of a last spike (`Entry::Lspk`) or last teacher
    /// (`Entry::Tarr`) buffer kept in rows; None where it is one row.
    fn row_cells(&self, e: Entry) -> Option<(usize, usize)> {
        match e {
            Entry::Lspk { pop } if self.rows.spk[pop] > 1 => {
                Some((self.pop_size(pop), self.rows.spk[pop]))
            }
            Entry::Tarr { proj } if self.rows.tarr[proj] => {
                Some((self.pop_size(self.ir.projections[proj].target), 2))
            }
            _ => None,
        }
    }

    /// Such a buffer as step `s` reads and writes it.
    pub(super) fn row_of(&mut self, e: Entry) -> String {
        let name = self.name(e);
        match self.row_cells(e) {
            Some((n, rows)) => format!("({name} + {} * {n}ull)", row_index(rows, 0)),
            None => name,
        }
    }

    /// The line that carries cell `i`'s value of such a buffer over from
    /// the row of the step before (nothing where there is one row).
    pub(super) fn carry(&mut self, e: Entry, pad: &str) -> String {
        let Some((n, rows)) = self.row_cells(e) else {
            return String::new();
        };
        let name = self.name(e);
        let what = if rows == 2 {
            "a row per step parity"
        } else {
            "a row per step modulo 3"
        };
        format!(
            "{pad}{name}[{} * {n}ull + i] = {name}[{} * {n}ull + i]; // ({what})\n",
            row_index(rows, 0),
            row_index(rows, rows - 1)
        )
    }

    /// What a task that reads the cells' last spike steps reads.
    pub(super) fn spk_res(&self, pop: usize) -> Res {
        if self.rows.spk[pop] > 1 {
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

    /// The buffers kept in rows, each with its rows (copies of the cells).
    pub(super) fn parity_entries(&self) -> Vec<(Entry, usize)> {
        let spk = (0..self.rows.spk.len())
            .filter(|&p| self.rows.spk[p] > 1)
            .map(|pop| (Entry::Lspk { pop }, self.rows.spk[pop]));
        let tarr = (0..self.rows.tarr.len())
            .filter(|&t| self.rows.tarr[t])
            .map(|proj| (Entry::Tarr { proj }, 2));
        spk.chain(tarr).collect()
    }
}

/// The row of step `s + plus` in a buffer of `rows` rows (2: by the step's
/// parity), as C.
fn row_index(rows: usize, plus: usize) -> String {
    let s = if plus == 0 {
        "(u64)s".to_string()
    } else {
        format!("((u64)s + {plus}ull)")
    };
    if rows == 2 {
        format!("({s} & 1ull)")
    } else {
        format!("({s} % {rows}ull)")
    }
}
