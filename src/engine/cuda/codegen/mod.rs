//! CUDA C generated from the IR.
//!
//! The step of the CPU engine (src/engine/cpu) is cut into *tasks*: a source
//! update, a neuron population update (arrivals, then the step program, spike
//! test, reset and refractory count), a gap junction, a projection's delivery
//! (its `on_pre` code and deposits), `on_post`, `on_teacher`, a periodic rule,
//! recording. Each task is one `__device__` function over a grid-stride loop,
//! so any launch shape computes the same thing. `schedule` packs the tasks
//! into *phases* (grid barriers between them in the persistent kernel
//! `cbm_run`, or one launch each through `cbm_phase_kernel`), deferring some
//! to the start of the next step and skipping phases with nothing to do.
//!
//! Determinism: every value is written by one thread. Deposits are gathered
//! per target over the by-target (CSC) index in ascending synapse id, which is
//! the order in which the CPU engine adds them (spiking sources ascending, each
//! source's synapses in storage order): a warp finds the spiking synapses of
//! up to 512 entries at once, runs `on_pre` for them a lane each, and adds
//! their deposits in ascending order through shuffles, so the sums are
//! bitwise those of the CPU engine.
//!
//! The generated text uses built-in types only (NVRTC has no headers); the
//! same text compiles with the host C++ compiler against kernels/host_shim.h.

use crate::engine::c_expr;
use crate::ir::visit_exprs;
use crate::ir::{CellAccess, Expr, Ir, PopulationKindIr, RecorderKindIr, SourceIr, Stmt, VarKind};
use crate::network::rng::{self, stream};
use std::collections::HashMap;
use std::fmt::Write;

mod cell_tasks;
mod entries;
mod flags;
mod rows;
mod synapse_tasks;
mod variant;

pub use entries::Entry;
pub use flags::{fuse_pays, FUSE_MAX_TARGETS};
pub use variant::{Delivery, Variant};

const ENTRY: &str = include_str!("../../../../kernels/templates/entry.cu");

/// Chunks of 32 synapses a delivery warp tests for spiking sources in one
/// round before it runs `on_pre` for the spiking ones.
const DELIVERY_CHUNKS: usize = 16;

/// Registers a lane gives to a source's spike bits in a delivery (so sources
/// of up to 32 * 32 * this many cells are looked up by shuffles).
const MASK_REGISTERS: usize = 4;

/// Longest pulse (in steps) whose ring slots a delivery warp keeps in
/// registers while it adds a target's deposits. Longer pulses add into the
/// ring in memory, the lanes sharing the slots: one register per slot would
/// spill, and a generated line per slot made a `for 65536 ms` pulse a 10 MB
/// kernel.
const PULSE_REGISTERS: usize = 8;

/// The generated module and what the engine needs to feed it.
#[derive(Clone, Debug)]
pub struct Generated {
    pub source: String,
    pub entries: Vec<Entry>,
    /// Task names per phase, in order.
    pub phases: Vec<Vec<String>>,
    /// Per projection: are its synapse variables stored on the device in
    /// CSC order (position `e` holds the synapse of the by-target index's
    /// entry `e`)? So for projections with deliveries, `on_post` or
    /// `on_teacher`: their kernels then read a synapse's variables without
    /// first looking up its id; periodic rules look up the position
    /// (`CsrPos`).
    pub csc_order: Vec<bool>,
    /// Buffers kept in rows, each with its rows (copies of the cells):
    /// per step parity (`Variant::fuse`), or three for a source drawn a
    /// step early (`Variant::early_sources`).
    pub parity_rows: Vec<(Entry, usize)>,
}

/// Which projections keep their synapse variables in CSC order: those with
/// kernels that go through the by-target index.
pub fn csc_order(ir: &Ir) -> Vec<bool> {
    let teachers = teachers(ir);
    ir.projections
        .iter()
        .enumerate()
        .map(|(qi, q)| {
            !q.on_pre.is_empty()
                || teachers[qi]
                || !q.on_post.is_empty()
                || (q.teacher.is_some() && !q.on_teacher.is_empty())
        })
        .collect()
}

impl Generated {
    pub fn slot(&self, e: Entry) -> Option<usize> {
        self.entries.iter().position(|x| *x == e)
    }
}

/// Words of a spike mask row: one bit per cell.
pub fn mask_words(n: usize) -> usize {
    n.div_ceil(32)
}

/// Projections whose spikes teach another projection.
pub fn teachers(ir: &Ir) -> Vec<bool> {
    let mut t = vec![false; ir.projections.len()];
    for q in &ir.projections {
        if let Some(ti) = q.teacher {
            t[ti] = true;
        }
    }
    t
}

use super::schedule::{warps_for, CellFlags, Defer, Res, Task, ALL_WARPS};
pub use crate::engine::c_expr::lit;

/// Where an expression is evaluated.
#[derive(Clone, Copy)]
enum Ctx {
    /// Cell code of a neuron population; the cell is `i`.
    Neuron { pop: usize },
    /// Synapse code of a projection; the synapse is `k`, its cells `pi_`, `pj_`.
    Synapse { proj: usize },
    /// A guard on the presynaptic cell `pi_` of a periodic rule.
    PreCell { pop: usize },
    /// A source's rate: time, signals and the source's own values of
    /// cell `i` (a drawn rate, the cell index).
    Source { pop: usize },
}

struct Gen<'a> {
    ir: &'a Ir,
    entries: Vec<Entry>,
    names: Vec<String>,
    index: HashMap<Entry, usize>,
    teachers: Vec<bool>,
    csc_order: Vec<bool>,
    /// `Variant::fuse`: fewer phases a step (see `generate_with`).
    fuse: bool,
    /// `Variant::rule_flags`: rules ordered after their deliveries by flags.
    rule_flags: bool,
    rows: rows::ParityRows,
    /// Per recorder: a trace the cells' own threads record (`Variant::fuse`).
    traced_by_cells: Vec<bool>,
    /// Populations whose arrivals task may set per-cell flags for their
    /// step (`CellFlags`; `Variant::fuse`).
    cell_flag_pops: Vec<usize>,
}

/// The default kernels of `ir` (see `generate_with`).
pub fn generate(ir: &Ir) -> Result<Generated, String> {
    generate_with(ir, &Variant::default())
}

/// The kernels of `ir` as `variant` makes them: its `#define`s in front of
/// the source, and with `variant.fuse` a step of fewer phases, which only
/// the persistent kernel may run (its waits need every block resident).
pub fn generate_with(ir: &Ir, variant: &Variant) -> Result<Generated, String> {
    let mut g = Gen {
        ir,
        entries: vec![],
        names: vec![],
        index: HashMap::new(),
        teachers: teachers(ir),
        csc_order: csc_order(ir),
        fuse: variant.fuse,
        rule_flags: variant.fuse && variant.rule_flags,
        rows: rows::parity_rows(ir, variant.fuse, variant.early_sources),
        traced_by_cells: vec![false; ir.recorders.len()],
        cell_flag_pops: vec![],
    };
    g.slot(Entry::Err);
    let tasks = g.tasks()?;
    // The kernel stops every thread after the same step only if the error
    // step is written before that step's last barrier (entry.cu).
    if let Some(t) = tasks
        .iter()
        .find(|t| t.defer != Defer::No && t.code.contains("CBM_ERR"))
    {
        return Err(format!(
            "internal error: task {} may be deferred but records errors",
            t.name
        ));
    }
    let sched = super::schedule::schedule(&tasks, g.fuse);
    let n_phases = sched.phases.len();
    let mut src = String::new();
    let _ = writeln!(
        src,
        "// cbmc: CUDA for model `{}` (generated; `cbmc emit-cuda` prints it)",
        ir.model_name
    );
    let _ = writeln!(
        src,
        "// {} tasks in {} phase{} per step ({:.2} a step on average: a phase of periodic tasks is skipped in the other steps, see cbm_phase_active); table of {} entries.",
        tasks.len(),
        n_phases,
        if n_phases == 1 { "" } else { "s" },
        sched.expected_phases(&tasks),
        g.entries.len()
    );
    let _ = writeln!(src, "#define CBM_NPTR {}", g.entries.len().max(1));
    let _ = writeln!(src, "#define CBM_PHASES {n_phases}");
    let _ = writeln!(src, "#define CBM_DT {}", lit(ir.dt));
    let _ = writeln!(src, "#define CBM_TAU {}", lit(std::f64::consts::TAU));
    src.push_str(&crate::engine::templates::cuda_prelude());
    src.push_str("\n// ---- buffers (entries of cbm_p) ----\n");
    for (i, (e, name)) in g.entries.iter().zip(&g.names).enumerate() {
        if e.is_scalar() {
            let _ = writeln!(src, "#define {name} (cbm_p[{i}])");
        } else if e.is_read_only() {
            let t = e.c_type();
            let _ = writeln!(
                src,
                "#define {name} (cbm_ro<{t}>{{(const {t}*)cbm_p[{i}]}})"
            );
        } else {
            let _ = writeln!(src, "#define {name} (({}*)cbm_p[{i}])", e.c_type());
        }
    }
    src.push_str("\n// ---- signals ----\n");
    for (i, s) in ir.signals.iter().enumerate() {
        let _ = writeln!(
            src,
            "// from: signal {}\n__device__ __forceinline__ double cbm_sig{i}(double t) {{",
            s.name
        );
        let _ = writeln!(src, "    const double trial = floor(t / {});", lit(s.trial));
        if let Some(n) = s.trials {
            let _ = writeln!(src, "    if (trial >= {}) return 0.0;", lit(n as f64));
        }
        if s.silenced_in_probe {
            if let Some(k) = s.probe_every {
                let _ = writeln!(
                    src,
                    "    if ((((u64)trial) + 1ull) % {k}ull == 0ull) return 0.0;"
                );
            }
        }
        let _ = writeln!(
            src,
            "    const double within = t - trial * {};",
            lit(s.trial)
        );
        let _ = writeln!(
            src,
            "    return (within >= {} && within < {}) ? 1.0 : 0.0;\n}}",
            lit(s.start - 1e-12),
            lit(s.end - 1e-12)
        );
    }
    src.push_str("\n// ---- tasks ----\n");
    // Which deliveries the schedule orders by per-target flags.
    for qi in g.flag_candidates() {
        let _ = writeln!(
            src,
            "#define CBM_FLAG_{qi} {}",
            u8::from(sched.flagged.contains(&qi))
        );
    }
    if g.rule_flags {
        for qi in g.flag_candidates() {
            let _ = writeln!(
                src,
                "#define CBM_RULEFLAG_{qi} {}",
                u8::from(sched.rule_flagged.contains(&qi))
            );
        }
    }
    for &pi in &g.cell_flag_pops {
        let _ = writeln!(
            src,
            "#define CBM_CELLFLAG_{pi} {}",
            u8::from(sched.cell_flagged.contains(&pi))
        );
    }
    // Each task in a guard, so that NVRTC may also compile the tasks as
    // separate units (`units::compile`): in a unit (`CBM_UNIT`) that
    // does not hold it (no `CBM_HAS_<t>`), only its declaration.
    for (t, task) in tasks.iter().enumerate() {
        let _ = writeln!(
            src,
            "{UNIT_GUARD}{t})\nCBM_TASK void cbm_{}(i64 s, i64 c0, u64 rot_);\n#else",
            task.name
        );
        src.push_str(&task.code);
        src.push_str("#endif\n\n");
    }
    // The phases and the entry points: the main unit's (`CBM_UNIT` 0).
    src.push_str("#if !defined(CBM_UNIT) || CBM_UNIT == 0\n");
    src.push_str("// ---- phases ----\n");
    src.push_str(&sched.emit(&tasks));
    src.push_str(ENTRY);
    src.push_str("#endif\n");
    let parity_rows = g.parity_entries();
    Ok(Generated {
        source: variant.apply(&src),
        entries: g.entries,
        phases: sched.names(&tasks),
        csc_order: g.csc_order,
        parity_rows,
    })
}

/// The start of the line that opens each task's guard in the generated
/// source, followed by the task's number and `)`: in a unit that does not
/// hold the task, only its declaration (see `units::compile`).
pub const UNIT_GUARD: &str = "#if defined(CBM_UNIT) && !defined(CBM_HAS_";

/// `source` with one entry point: `cbm_run` (persistent) or
/// `cbm_phase_kernel`. Each inlines the whole step, so compiling only the
/// one a run launches halves the work of NVRTC's back end.
pub fn one_entry(source: &str, persistent: bool) -> String {
    let only = if persistent {
        "CBM_ONLY_PERSISTENT"
    } else {
        "CBM_ONLY_PHASE_KERNEL"
    };
    format!("#define {only} 1\n{source}")
}

/// Whether `source` has the profiling timers (`Variant::profile`; its
/// `#define`s come first, see `Variant::apply`).
pub fn profiled(source: &str) -> bool {
    source
        .lines()
        .take_while(|l| l.starts_with("#define "))
        .any(|l| l == "#define CBM_PROFILE 1")
}

/// The statements' `Deposit`s in program order: pulse steps of each.
fn deposits(stmts: &[Stmt], out: &mut Vec<u32>) {
    for s in stmts {
        match s {
            Stmt::Deposit { pulse_steps, .. } => out.push(*pulse_steps),
            Stmt::If {
                then, otherwise, ..
            } => {
                deposits(then, out);
                deposits(otherwise, out);
            }
            _ => {}
        }
    }
}

fn writes_any(stmts: &[Stmt]) -> bool {
    stmts.iter().any(|s| match s {
        Stmt::Set { .. } => true,
        Stmt::If {
            then, otherwise, ..
        } => writes_any(then) || writes_any(otherwise),
        _ => false,
    })
}

use crate::ir::walk;

/// Synapse variables an expression list reads.
fn syn_vars_used(stmts: &[Stmt], out: &mut Vec<usize>) {
    visit_exprs(stmts, &mut |e| {
        walk(e, &mut |x| {
            if let Expr::Var(v) = x {
                if !out.contains(v) {
                    out.push(*v);
                }
            }
        })
    });
    fn sets(stmts: &[Stmt], out: &mut Vec<usize>) {
        for s in stmts {
            match s {
                Stmt::Set { var, .. } if !out.contains(var) => out.push(*var),
                Stmt::If {
                    then, otherwise, ..
                } => {
                    sets(then, out);
                    sets(otherwise, out);
                }
                _ => {}
            }
        }
    }
    sets(stmts, out);
}

/// Can a source rate be evaluated before the step (time and signals only)?
fn source_rate_only(e: &Expr) -> bool {
    match e {
        Expr::Const(_) | Expr::Time | Expr::Signal(_) | Expr::Var(_) => true,
        Expr::Unary(_, x) => source_rate_only(x),
        Expr::Binary(_, a, b) => source_rate_only(a) && source_rate_only(b),
        Expr::Call(f, args, _) => !f.is_random() && args.iter().all(source_rate_only),
        _ => false,
    }
}

fn ind(level: usize) -> String {
    "    ".repeat(level)
}

impl Gen<'_> {
    fn slot(&mut self, e: Entry) -> usize {
        if let Some(&i) = self.index.get(&e) {
            return i;
        }
        let i = self.entries.len();
        let ir = self.ir;
        let pop = |p: usize| ir.populations[p].name.clone();
        let proj = |q: usize| ir.projections[q].name.clone();
        let pvar = |p: usize, v: usize| match &ir.populations[p].kind {
            PopulationKindIr::Neuron(n) => n.vars[v].name.clone(),
            PopulationKindIr::Source(s) => s
                .per_cell()
                .get(v)
                .map_or_else(|| format!("v{v}"), |x| x.name.clone()),
        };
        let qvar = |q: usize, v: usize| ir.projections[q].vars[v].name.clone();
        let mut name = match e {
            Entry::CellVar { pop: p, var } => format!("V_{}_{}", pop(p), pvar(p, var)),
            Entry::Refr { pop: p } => format!("REFR_{}", pop(p)),
            Entry::Lspk { pop: p } => format!("LSPK_{}", pop(p)),
            Entry::Mask { pop: p } => format!("MASK_{}", pop(p)),
            Entry::SrcNext { pop: p } => format!("NEXT_{}", pop(p)),
            Entry::SrcCount { pop: p } => format!("COUNT_{}", pop(p)),
            Entry::SrcLogQ { pop: p } => format!("LOGQ_{}", pop(p)),
            Entry::SrcTimes { pop: p } => format!("TIMES_{}", pop(p)),
            Entry::SrcCells { pop: p } => format!("FIRES_{}", pop(p)),
            Entry::SynVar { proj: q, var } => format!("S_{}_{}", proj(q), qvar(q, var)),
            Entry::CsrOff { proj: q } => format!("CSR_{}", proj(q)),
            Entry::Pre { proj: q } => format!("PRE_{}", proj(q)),
            Entry::Post { proj: q } => format!("POST_{}", proj(q)),
            Entry::CsrPos { proj: q } => format!("POS_{}", proj(q)),
            Entry::CscOff { proj: q } => format!("CSC_{}", proj(q)),
            Entry::CscPre { proj: q } => format!("CSCPRE_{}", proj(q)),
            Entry::CscDelay { proj: q } => format!("CSCDELAY_{}", proj(q)),
            Entry::CscWords { proj: q } => format!("CSCWORDS_{}", proj(q)),
            Entry::CscRuns { proj: q } => format!("CSCRUNS_{}", proj(q)),
            Entry::Ring { proj: q } => format!("RING_{}", proj(q)),
            Entry::Arr { proj: q } => format!("ARR_{}", proj(q)),
            Entry::Tarr { proj: q } => format!("TARR_{}", proj(q)),
            Entry::DepVal { proj: q, d } => format!("DEPVAL_{}_{d}", proj(q)),
            Entry::DepFlag { proj: q, d } => format!("DEPFLAG_{}_{d}", proj(q)),
            Entry::GapOff { gap } => format!("GAPOFF_{}", ir.gaps[gap].name),
            Entry::GapList { gap } => format!("GAPLIST_{}", ir.gaps[gap].name),
            Entry::TraceCells { rec } => format!("TRCELLS_{}", ir.recorders[rec].name),
            Entry::TraceBuf { rec } => format!("TRBUF_{}", ir.recorders[rec].name),
            Entry::TraceAt { rec } => format!("TRAT_{}", ir.recorders[rec].name),
            Entry::Flag { proj: q } => format!("FLAG_{}", proj(q)),
            Entry::CellFlag { pop: p } => format!("CFLAG_{}", pop(p)),
            Entry::WeightIds { rec } => format!("WIDS_{}", ir.recorders[rec].name),
            Entry::WeightBuf { rec } => format!("WBUF_{}", ir.recorders[rec].name),
            Entry::Err => "CBM_ERR".into(),
            Entry::NSyn { proj: q } => format!("NSYN_{}", proj(q)),
            Entry::NTimes { pop: p } => format!("NTIMES_{}", pop(p)),
            Entry::NWeightIds { rec } => format!("NWIDS_{}", ir.recorders[rec].name),
        };
        if self.names.contains(&name) {
            name = format!("{name}_{i}");
        }
        self.entries.push(e);
        self.names.push(name);
        self.index.insert(e, i);
        i
    }

    fn name(&mut self, e: Entry) -> String {
        let i = self.slot(e);
        self.names[i].clone()
    }

    fn pop_size(&self, p: usize) -> usize {
        self.ir.populations[p].size
    }

    // ------------------------------------------------------------ expressions

    fn cell_access(
        &mut self,
        a: CellAccess,
        pop: usize,
        idx: &str,
        teacher: Option<usize>,
    ) -> String {
        match a {
            CellAccess::Var(v) => format!("{}[{idx}]", self.name(Entry::CellVar { pop, var: v })),
            CellAccess::LastSpike => {
                format!("cbm_last({}[{idx}])", self.row_of(Entry::Lspk { pop }))
            }
            CellAccess::Spiked => format!(
                "({}[{idx}] == s ? 1.0 : 0.0)",
                self.row_of(Entry::Lspk { pop })
            ),
            CellAccess::LastTeacher => match teacher {
                Some(ti) => format!("cbm_last({}[{idx}])", self.row_of(Entry::Tarr { proj: ti })),
                None => lit(-1e9),
            },
        }
    }

    fn expr(&mut self, e: &Expr, c: Ctx) -> String {
        if let Ctx::Source { .. } = c {
            if !source_rate_only(e) {
                // eval_scalar gives up, and the CPU engine uses 0.
                return "0.0".into();
            }
        }
        c_expr::expr(
            e,
            &mut CudaLeaves {
                g: self,
                c,
                deposits: 0,
            },
        )
    }

    /// Statements of cell code (Neuron) or synapse code (Synapse). Deposits
    /// set `dv<d>`/`df<d>` in program order (`dep` counts them).
    fn stmts(&mut self, out: &mut String, stmts: &[Stmt], c: Ctx, level: usize, dep: &mut usize) {
        let mut leaves = CudaLeaves {
            g: self,
            c,
            deposits: *dep,
        };
        c_expr::stmts(out, stmts, &mut leaves, level);
        *dep = leaves.deposits;
    }

    fn locals(n: usize, level: usize) -> String {
        c_expr::locals(n, &ind(level))
    }

    // ------------------------------------------------------------------ tasks

    fn tasks(&mut self) -> Result<Vec<Task>, String> {
        let ir = self.ir;
        let mut tasks = Vec::new();
        for (pos, &pi) in ir.schedule.iter().enumerate() {
            match &ir.populations[pi].kind {
                PopulationKindIr::Source(s) => tasks.push(self.source_task(pi, s)),
                PopulationKindIr::Neuron(_) => {
                    let teacher_handlers = ir.projections.iter().any(|q| {
                        q.teacher.is_some_and(|ti| ir.projections[ti].target == pi)
                            && !q.on_teacher.is_empty()
                    });
                    let gaps: Vec<usize> = (0..ir.gaps.len())
                        .filter(|&g| ir.gaps[g].population == pi)
                        .collect();
                    // A gap junction whose voltage the arrivals leave alone
                    // runs in the arrivals task, cell by cell: a phase less.
                    let arrival_vars = self.arrival_vars(pi);
                    let fused = !teacher_handlers
                        && gaps.iter().all(|&g| {
                            let v = ir.gaps[g].voltage;
                            !arrival_vars.contains(&v)
                                && gaps.iter().all(|&h| ir.gaps[h].target != v)
                        });
                    // Fewer phases (`Variant::fuse`): the cells' own
                    // threads record the population's traces (its step
                    // task is the last to write its variables); one that
                    // fits a warp is updated by one warp, gap currents and
                    // all; a larger one's step may follow its arrivals and
                    // gap currents in their phase, ordered by cell flags
                    // (sound because the arrivals of cell c write only
                    // cell c and read other cells only as gap voltages,
                    // and the step of cell i touches only cell i: keep it
                    // so, or the schedule's waiver races).
                    let one_warp = self.fuse && fused && ir.populations[pi].size <= 32;
                    if self.fuse {
                        self.trace_in_cells(pi);
                    }
                    if one_warp && !gaps.is_empty() {
                        tasks.push(self.cell_task(pi, pos, true, true, &gaps, CellFlags::None));
                    } else if fused && !gaps.is_empty() {
                        let (signals, awaits) = if self.fuse {
                            self.cell_flag_pops.push(pi);
                            (CellFlags::Signals(pi), CellFlags::Awaits(pi))
                        } else {
                            (CellFlags::None, CellFlags::None)
                        };
                        tasks.push(self.cell_task(pi, pos, true, false, &gaps, signals));
                        tasks.push(self.cell_task(pi, pos, false, true, &[], awaits));
                    } else if teacher_handlers || !gaps.is_empty() {
                        tasks.push(self.cell_task(pi, pos, true, false, &[], CellFlags::None));
                        for (ti, t) in ir.projections.iter().enumerate() {
                            if t.target != pi || !self.teachers[ti] {
                                continue;
                            }
                            for (qi, q) in ir.projections.iter().enumerate() {
                                if q.teacher == Some(ti) && !q.on_teacher.is_empty() {
                                    tasks.push(self.by_target_task(qi, true));
                                }
                            }
                        }
                        for g in gaps {
                            tasks.push(self.gap_task(g));
                        }
                        tasks.push(self.cell_task(pi, pos, false, true, &[], CellFlags::None));
                    } else {
                        tasks.push(self.cell_task(pi, pos, true, true, &[], CellFlags::None));
                    }
                }
            }
            for (qi, q) in ir.projections.iter().enumerate() {
                if q.source == pi && (!q.on_pre.is_empty() || self.teachers[qi]) {
                    tasks.push(self.deliver_task(qi));
                }
            }
            for (qi, q) in ir.projections.iter().enumerate() {
                if q.target == pi && !q.on_post.is_empty() {
                    tasks.push(self.by_target_task(qi, false));
                }
            }
        }
        for (qi, q) in ir.projections.iter().enumerate() {
            for k in 0..q.every.len() {
                tasks.push(self.every_task(qi, k));
            }
        }
        tasks.extend(self.record_tasks());
        // Sources drawn a step early come last in the list, as the step
        // after's first tasks would (stable: in their order). They touch
        // only the next step's rows and their own state, so the schedule
        // puts them in the first phase, beside the whole step.
        tasks.sort_by_key(|t| t.early);
        Ok(tasks)
    }
}

/// The leaves of CUDA expressions: buffers from the table, cells `i`,
/// synapses `k`, presynaptic cell `pi_`, postsynaptic cell `pj_`.
struct CudaLeaves<'g, 'a> {
    g: &'g mut Gen<'a>,
    c: Ctx,
    /// Deposits printed so far (each sets its own `dv<d>`, `df<d>`).
    deposits: usize,
}

impl c_expr::Leaves for CudaLeaves<'_, '_> {
    fn var(&mut self, v: usize) -> String {
        match self.c {
            // cell tasks hold the cell's variables in registers
            Ctx::Neuron { .. } => format!("cv{v}_"),
            Ctx::Synapse { proj } => format!("{}[k]", self.g.name(Entry::SynVar { proj, var: v })),
            Ctx::Source { pop } => format!("{}[i]", self.g.name(Entry::CellVar { pop, var: v })),
            _ => "0.0".into(),
        }
    }
    fn signal(&mut self, i: usize) -> String {
        if i < self.g.ir.signals.len() {
            format!("cbm_sig{i}(t)")
        } else {
            "0.0".into()
        }
    }
    fn pre(&mut self, a: CellAccess) -> String {
        match self.c {
            Ctx::Synapse { proj } => {
                let src = self.g.ir.projections[proj].source;
                self.g.cell_access(a, src, "pi_", None)
            }
            Ctx::PreCell { pop } => self.g.cell_access(a, pop, "pi_", None),
            _ => "0.0".into(),
        }
    }
    fn post(&mut self, a: CellAccess) -> String {
        match self.c {
            Ctx::Synapse { proj } => {
                let q = &self.g.ir.projections[proj];
                let (tgt, teacher) = (q.target, q.teacher);
                self.g.cell_access(a, tgt, "pj_", teacher)
            }
            _ => "0.0".into(),
        }
    }
    fn rand(&mut self, normal: bool, site: u32) -> String {
        match self.c {
            Ctx::Neuron { pop } => {
                let st = stream(rng::STEP_RNG, pop, site);
                let func = if normal { "cbm_rand_n" } else { "cbm_rand_u" };
                format!("{func}({st}u, i, s)")
            }
            _ => "0.0".into(),
        }
    }
    fn rand_poisson(&mut self, site: u32, mean: c_expr::PoissonMean) -> String {
        match self.c {
            Ctx::Neuron { pop } => {
                let st = stream(rng::STEP_RNG, pop, site);
                format!("{}({st}u, i, s, {})", mean.func(), mean.args())
            }
            _ => "0.0".into(),
        }
    }
}

impl c_expr::Statements for CudaLeaves<'_, '_> {
    fn store(&mut self, var: usize) -> c_expr::Store {
        match self.c {
            Ctx::Neuron { .. } => c_expr::Store::Local(format!("cv{var}_")),
            Ctx::Synapse { proj } => {
                let bounds = self.g.ir.projections[proj].bounds_of(var);
                c_expr::Store::Synapse(self.g.name(Entry::SynVar { proj, var }), bounds)
            }
            _ => c_expr::Store::Nowhere,
        }
    }

    fn deposit(&mut self, out: &mut String, pad: &str, value: &Expr, _pulse_steps: u32) {
        let v = c_expr::expr(value, self);
        let d = self.deposits;
        self.deposits += 1;
        let _ = writeln!(out, "{pad}dv{d} = {v};\n{pad}df{d} = 1;");
    }
}
