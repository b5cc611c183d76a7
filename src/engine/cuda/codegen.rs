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
use crate::ir::{
    CellAccess, Expr, Func, Ir, PopulationKindIr, RecorderKindIr, SourceIr, Stmt, VarKind,
};
use crate::network::rng::{self, stream};
use std::collections::HashMap;
use std::fmt::Write;

const ENTRY: &str = include_str!("../../../kernels/templates/entry.cu");

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

/// One slot of the table `cbm_p` the kernels read their buffers (and a few
/// sizes) from. The engine allocates and fills each one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Entry {
    /// f64[n]: a cell variable.
    CellVar {
        pop: usize,
        var: usize,
    },
    /// u32[n]: refractory steps left.
    Refr {
        pop: usize,
    },
    /// i64[n]: step of the last spike, -1 before the first.
    Lspk {
        pop: usize,
    },
    /// u32[chunk * words]: spike bits of each step of the current chunk.
    Mask {
        pop: usize,
    },
    /// u64[n], u32[n]: a constant-probability source's next spike step and count.
    SrcNext {
        pop: usize,
    },
    SrcCount {
        pop: usize,
    },
    /// u64[len]: the steps of a spike-time source; u32[n] 1 for cells that fire.
    SrcTimes {
        pop: usize,
    },
    SrcCells {
        pop: usize,
    },
    /// f64[synapses]: a per-synapse variable, in the network's CSR order, or
    /// in CSC order (by target) where `Generated::csc_order` says so.
    SynVar {
        proj: usize,
        var: usize,
    },
    /// u32: CSR offsets (sources + 1), pre and post cell of each synapse.
    CsrOff {
        proj: usize,
    },
    Pre {
        proj: usize,
    },
    Post {
        proj: usize,
    },
    /// u32 per synapse (in the network's order): where its variables are
    /// on the device, for projections stored in CSC order (`csc_order`).
    CsrPos {
        proj: usize,
    },
    /// u32: CSC offsets (targets + 1) and the pre cell of each CSC entry.
    CscOff {
        proj: usize,
    },
    CscPre {
        proj: usize,
    },
    /// f64[slots * targets]: deposits waiting for their step.
    Ring {
        proj: usize,
    },
    /// u32[slots * targets]: teacher arrivals waiting for their step.
    Arr {
        proj: usize,
    },
    /// i64[targets]: step of the last teacher arrival, -1 before the first.
    Tarr {
        proj: usize,
    },
    /// f64[synapses], u32[synapses]: values of the second and later deposits of `on_pre`.
    DepVal {
        proj: usize,
        d: usize,
    },
    DepFlag {
        proj: usize,
        d: usize,
    },
    /// u32: per-cell gap partner lists (offsets, partner | 1 << 31 when the cell is the pair's second).
    GapOff {
        gap: usize,
    },
    GapList {
        gap: usize,
    },
    /// u32 cell indices; f64[samples * cells] samples of the current chunk.
    TraceCells {
        rec: usize,
    },
    TraceBuf {
        rec: usize,
    },
    /// u32 synapse ids; f64[samples * ids].
    WeightIds {
        rec: usize,
    },
    WeightBuf {
        rec: usize,
    },
    /// u64[2]: first NaN (key: schedule position << 48 | variable << 32 | cell), step.
    Err,
    /// Scalars stored in the table itself.
    NSyn {
        proj: usize,
    },
    NTimes {
        pop: usize,
    },
    NWeightIds {
        rec: usize,
    },
}

impl Entry {
    pub fn is_scalar(&self) -> bool {
        matches!(
            self,
            Entry::NSyn { .. } | Entry::NTimes { .. } | Entry::NWeightIds { .. }
        )
    }
    /// Never written by a kernel: indices, offsets and lists fixed at the
    /// start (read through the read-only cache).
    fn is_read_only(&self) -> bool {
        matches!(
            self,
            Entry::CsrOff { .. }
                | Entry::Pre { .. }
                | Entry::Post { .. }
                | Entry::CsrPos { .. }
                | Entry::CscOff { .. }
                | Entry::CscPre { .. }
                | Entry::GapOff { .. }
                | Entry::GapList { .. }
                | Entry::SrcTimes { .. }
                | Entry::SrcCells { .. }
                | Entry::TraceCells { .. }
                | Entry::WeightIds { .. }
        )
    }
    fn c_type(&self) -> &'static str {
        match self {
            Entry::CellVar { .. }
            | Entry::SynVar { .. }
            | Entry::Ring { .. }
            | Entry::DepVal { .. }
            | Entry::TraceBuf { .. }
            | Entry::WeightBuf { .. } => "double",
            Entry::Lspk { .. } | Entry::Tarr { .. } => "i64",
            Entry::SrcNext { .. } | Entry::SrcTimes { .. } | Entry::Err => "u64",
            _ => "u32",
        }
    }
}

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

/// A projection's ring size in steps.
pub fn slots(q: &crate::ir::ProjectionIr) -> usize {
    (q.delay_steps + q.max_pulse_steps) as usize
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

use super::schedule::{Defer, Res, Task};
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
    /// A source's rate: time and signals only.
    Time,
}

struct Gen<'a> {
    ir: &'a Ir,
    entries: Vec<Entry>,
    names: Vec<String>,
    index: HashMap<Entry, usize>,
    teachers: Vec<bool>,
    csc_order: Vec<bool>,
}

pub fn generate(ir: &Ir) -> Result<Generated, String> {
    let mut g = Gen {
        ir,
        entries: vec![],
        names: vec![],
        index: HashMap::new(),
        teachers: teachers(ir),
        csc_order: csc_order(ir),
    };
    g.slot(Entry::Err);
    let tasks = g.tasks()?;
    let sched = super::schedule::schedule(&tasks);
    let n_phases = sched.phases.len();
    let mut src = String::new();
    let _ = writeln!(
        src,
        "// cbmc: CUDA for model `{}` (generated; `cbmc emit-cuda` prints it)",
        ir.model_name
    );
    let _ = writeln!(
        src,
        "// {} tasks in {} phases per step (some may be skipped in a step: cbm_phase_active); table of {} entries.",
        tasks.len(),
        n_phases,
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
    for t in &tasks {
        src.push_str(&t.code);
        src.push('\n');
    }
    src.push_str("// ---- phases ----\n");
    src.push_str(&sched.emit(&tasks));
    src.push_str(ENTRY);
    Ok(Generated {
        source: src,
        entries: g.entries,
        phases: sched.names(&tasks),
        csc_order: g.csc_order,
    })
}

/// The source with timers around each phase of the persistent kernel
/// (`CBMC_CUDA_PROFILE=1`; kernels/templates/entry.cu).
pub fn profiled(source: &str) -> String {
    format!("#define CBM_PROFILE 1\n{source}")
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

fn walk(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    match e {
        Expr::Unary(_, x) => walk(x, f),
        Expr::Binary(_, a, b) => {
            walk(a, f);
            walk(b, f);
        }
        Expr::Call(_, args, _) => args.iter().for_each(|a| walk(a, f)),
        _ => {}
    }
}

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
fn time_only(e: &Expr) -> bool {
    match e {
        Expr::Const(_) | Expr::Time | Expr::Signal(_) => true,
        Expr::Unary(_, x) => time_only(x),
        Expr::Binary(_, a, b) => time_only(a) && time_only(b),
        Expr::Call(f, args, _) => {
            !matches!(f, Func::Rand | Func::Randn) && args.iter().all(time_only)
        }
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
            _ => format!("v{v}"),
        };
        let qvar = |q: usize, v: usize| ir.projections[q].vars[v].name.clone();
        let mut name = match e {
            Entry::CellVar { pop: p, var } => format!("V_{}_{}", pop(p), pvar(p, var)),
            Entry::Refr { pop: p } => format!("REFR_{}", pop(p)),
            Entry::Lspk { pop: p } => format!("LSPK_{}", pop(p)),
            Entry::Mask { pop: p } => format!("MASK_{}", pop(p)),
            Entry::SrcNext { pop: p } => format!("NEXT_{}", pop(p)),
            Entry::SrcCount { pop: p } => format!("COUNT_{}", pop(p)),
            Entry::SrcTimes { pop: p } => format!("TIMES_{}", pop(p)),
            Entry::SrcCells { pop: p } => format!("FIRES_{}", pop(p)),
            Entry::SynVar { proj: q, var } => format!("S_{}_{}", proj(q), qvar(q, var)),
            Entry::CsrOff { proj: q } => format!("CSR_{}", proj(q)),
            Entry::Pre { proj: q } => format!("PRE_{}", proj(q)),
            Entry::Post { proj: q } => format!("POST_{}", proj(q)),
            Entry::CsrPos { proj: q } => format!("POS_{}", proj(q)),
            Entry::CscOff { proj: q } => format!("CSC_{}", proj(q)),
            Entry::CscPre { proj: q } => format!("CSCPRE_{}", proj(q)),
            Entry::Ring { proj: q } => format!("RING_{}", proj(q)),
            Entry::Arr { proj: q } => format!("ARR_{}", proj(q)),
            Entry::Tarr { proj: q } => format!("TARR_{}", proj(q)),
            Entry::DepVal { proj: q, d } => format!("DEPVAL_{}_{d}", proj(q)),
            Entry::DepFlag { proj: q, d } => format!("DEPFLAG_{}_{d}", proj(q)),
            Entry::GapOff { gap } => format!("GAPOFF_{}", ir.gaps[gap].name),
            Entry::GapList { gap } => format!("GAPLIST_{}", ir.gaps[gap].name),
            Entry::TraceCells { rec } => format!("TRCELLS_{}", ir.recorders[rec].name),
            Entry::TraceBuf { rec } => format!("TRBUF_{}", ir.recorders[rec].name),
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
                format!("cbm_last({}[{idx}])", self.name(Entry::Lspk { pop }))
            }
            CellAccess::Spiked => format!(
                "({}[{idx}] == s ? 1.0 : 0.0)",
                self.name(Entry::Lspk { pop })
            ),
            CellAccess::LastTeacher => match teacher {
                Some(ti) => format!("cbm_last({}[{idx}])", self.name(Entry::Tarr { proj: ti })),
                None => lit(-1e9),
            },
        }
    }

    fn expr(&mut self, e: &Expr, c: Ctx) -> String {
        if let Ctx::Time = c {
            if !time_only(e) {
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
                    if fused && !gaps.is_empty() {
                        tasks.push(self.cell_task(pi, pos, true, false, &gaps));
                        tasks.push(self.cell_task(pi, pos, false, true, &[]));
                    } else if teacher_handlers || !gaps.is_empty() {
                        tasks.push(self.cell_task(pi, pos, true, false, &[]));
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
                        tasks.push(self.cell_task(pi, pos, false, true, &[]));
                    } else {
                        tasks.push(self.cell_task(pi, pos, true, true, &[]));
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
        Ok(tasks)
    }

    fn source_task(&mut self, pi: usize, s: &SourceIr) -> Task {
        let ir = self.ir;
        let p = &ir.populations[pi];
        let n = p.size;
        let w = mask_words(n);
        let name = format!("src_{}", p.name);
        let lspk = self.name(Entry::Lspk { pop: pi });
        let mask = self.name(Entry::Mask { pop: pi });
        let mut body = String::new();
        let mut pre = String::new();
        let kind;
        if let Some(prob) = s.fixed_probability(ir.dt) {
            kind = "constant probability, geometric gaps";
            let refractory = match s {
                SourceIr::Bernoulli {
                    refractory_steps, ..
                } => *refractory_steps as u64,
                _ => 0,
            };
            let next = self.name(Entry::SrcNext { pop: pi });
            let count = self.name(Entry::SrcCount { pop: pi });
            let gap = if prob <= 0.0 {
                format!("{}ull", u64::MAX / 4)
            } else if prob >= 1.0 {
                "0ull".into()
            } else {
                format!(
                    "cbm_geometric({}u, i, c_, {})",
                    stream(rng::SOURCE, pi, 1),
                    lit(crate::engine::gaps::log_q(prob))
                )
            };
            let _ = write!(
                body,
                "            const u32 cn_ = {count}[i]; // (loaded with the next step, not after it)\n            if ({next}[i] == (u64)s) {{\n                spk = 1;\n                const u32 c_ = cn_ + 1u;\n                {count}[i] = c_;\n                {next}[i] = (u64)s + {}ull + {gap};\n                {lspk}[i] = s;\n                (void)c_;\n            }}\n",
                1 + refractory
            );
        } else {
            match s {
                SourceIr::SpikeTimes { cells, .. } => {
                    kind = "spike times";
                    let times = self.name(Entry::SrcTimes { pop: pi });
                    let nt = self.name(Entry::NTimes { pop: pi });
                    let _ = write!(
                        pre,
                        "    u64 lo_ = 0, hi_ = {nt};\n    while (lo_ < hi_) {{\n        const u64 mid_ = (lo_ + hi_) / 2;\n        if ({times}[mid_] < (u64)s) lo_ = mid_ + 1; else hi_ = mid_;\n    }}\n    const int fire_ = lo_ < {nt} && {times}[lo_] == (u64)s;\n"
                    );
                    let who = if cells.is_some() {
                        format!(" && {}[i] != 0u", self.name(Entry::SrcCells { pop: pi }))
                    } else {
                        String::new()
                    };
                    let _ = write!(
                        body,
                        "            if (fire_{who}) {{\n                spk = 1;\n                {lspk}[i] = s;\n            }}\n"
                    );
                }
                SourceIr::Bernoulli {
                    p,
                    refractory_steps,
                } => {
                    kind = "bernoulli, time-varying";
                    let v = self.expr(p, Ctx::Time);
                    let _ = writeln!(pre, "    const double prob_ = {v};");
                    self.draw_body(&mut body, pi, *refractory_steps, &lspk);
                }
                SourceIr::Poisson { rate } => {
                    kind = "poisson, time-varying";
                    let v = self.expr(rate, Ctx::Time);
                    let _ = writeln!(pre, "    const double v_ = {v};");
                    let _ = writeln!(pre, "    const double prob_ = 1.0 - exp(-v_ * CBM_DT);");
                    self.draw_body(&mut body, pi, 0, &lspk);
                }
            }
        }
        let mut code = String::new();
        let _ = writeln!(
            code,
            "// from: population {} (source: {kind})\n__device__ void cbm_{name}(i64 s, i64 c0, u64 rot_) {{",
            p.name
        );
        code.push_str("    const double t = (double)s * CBM_DT;\n    (void)t;\n");
        code.push_str(&pre);
        let _ = write!(
            code,
            "    for (u64 base = cbm_warp_r(rot_) * 32; base < {n}ull; base += cbm_nwarps() * 32) {{\n        const u64 i = base + cbm_lane();\n        int spk = 0;\n        if (i < {n}ull) {{\n{body}        }}\n        const u32 m_ = __ballot_sync(CBM_FULL, spk);\n        if (cbm_lane() == 0u) {mask}[(u64)(s - c0) * {w}ull + (base >> 5)] = m_;\n    }}\n}}\n"
        );
        Task {
            name,
            code,
            reads: vec![],
            writes: vec![Res::Spk(pi), Res::Mask(pi), Res::Src(pi)],
            period: None,
            defer: Defer::No,
        }
    }

    fn draw_body(&mut self, body: &mut String, pi: usize, refractory: u32, lspk: &str) {
        let refr = self.name(Entry::Refr { pop: pi });
        let st = stream(rng::SOURCE, pi, 0);
        let _ = write!(
            body,
            "            if ({refr}[i] > 0u) {{\n                {refr}[i] -= 1u;\n            }} else {{\n                u32 w_[4];\n                cbm_philox((u32)i, (u32)(u64)s, (u32)((u64)s >> 32), {st}u, w_);\n                if (cbm_uniform(w_[0]) < prob_) {{\n                    spk = 1;\n                    {lspk}[i] = s;\n                    {refr}[i] = {refractory}u;\n                }}\n            }}\n"
        );
    }

    /// Cell variables the arrivals write: inputs (zeroed) and the targets
    /// of projections (deposits added).
    fn arrival_vars(&self, pi: usize) -> Vec<usize> {
        let ir = self.ir;
        let PopulationKindIr::Neuron(nir) = &ir.populations[pi].kind else {
            return vec![];
        };
        let inputs = (0..nir.vars.len()).filter(|&v| nir.vars[v].kind == VarKind::Input);
        let targets = ir
            .projections
            .iter()
            .filter(|q| q.target == pi)
            .map(|q| q.target_var);
        inputs.chain(targets).collect()
    }

    /// A cell's arrivals, into the registers `cv<v>_`: inputs zeroed, this
    /// step's ring slots added (read first, cleared after), teacher arrivals
    /// noted.
    fn arrivals(&mut self, pi: usize, pad: &str, body: &mut String, writes: &mut Vec<Res>) {
        let ir = self.ir;
        let n = self.pop_size(pi);
        let PopulationKindIr::Neuron(nir) = &ir.populations[pi].kind else {
            return;
        };
        // The ring slots of this step, read before anything is stored.
        let mut taken = String::new();
        for (qi, q) in ir.projections.iter().enumerate() {
            if q.target != pi || q.on_pre.is_empty() {
                continue;
            }
            let ring = self.name(Entry::Ring { proj: qi });
            let sl = slots(q);
            let _ = writeln!(
                body,
                "{pad}double* rg{qi}_ = {ring} + ((u64)s % {sl}ull) * {n}ull; // from: projection {}\n{pad}const double rv{qi}_ = rg{qi}_[i];",
                q.name
            );
            let _ = writeln!(taken, "{pad}rg{qi}_[i] = 0.0;");
            writes.push(Res::RingNow(qi));
        }
        for (v, var) in nir.vars.iter().enumerate() {
            if var.kind == VarKind::Input {
                let _ = writeln!(body, "{pad}cv{v}_ = 0.0;");
                writes.push(Res::Var(pi, v));
            }
        }
        for (qi, q) in ir.projections.iter().enumerate() {
            if q.target != pi {
                continue;
            }
            let tv = q.target_var;
            writes.push(Res::Var(pi, tv));
            if q.on_pre.is_empty() {
                // No deposits: the CPU engine still adds its empty ring.
                let _ = writeln!(body, "{pad}cv{tv}_ += 0.0; // {} (no deposits)", q.name);
            } else {
                let _ = writeln!(body, "{pad}cv{tv}_ += rv{qi}_;");
            }
        }
        for (ti, t) in ir.projections.iter().enumerate() {
            if t.target != pi || !self.teachers[ti] {
                continue;
            }
            let arr = self.name(Entry::Arr { proj: ti });
            let tarr = self.name(Entry::Tarr { proj: ti });
            let sl = slots(t);
            let _ = writeln!(
                body,
                "{pad}u32* ar{ti}_ = {arr} + ((u64)s % {sl}ull) * {n}ull; // from: teacher {}\n{pad}const u32 an{ti}_ = ar{ti}_[i];",
                t.name
            );
            let _ = writeln!(
                taken,
                "{pad}if (an{ti}_ > 0u) {{\n{pad}    ar{ti}_[i] = 0u;\n{pad}    {tarr}[i] = s;\n{pad}}}"
            );
            writes.push(Res::ArrNow(ti));
            writes.push(Res::Tarr(ti));
        }
        body.push_str(&taken);
    }

    /// A neuron population's update: arrivals (inputs zeroed, deposits added,
    /// teacher arrivals noted) and/or the step (program, spike test, reset,
    /// refractory count, NaN check).
    /// `gaps`: gap junctions of the population computed after the arrivals,
    /// in the same task (the caller checked that the arrivals do not write
    /// their voltages).
    fn cell_task(
        &mut self,
        pi: usize,
        sched_pos: usize,
        arrive: bool,
        step: bool,
        gaps: &[usize],
    ) -> Task {
        let ir = self.ir;
        let p = &ir.populations[pi];
        let PopulationKindIr::Neuron(nir) = &p.kind else {
            unreachable!("cell task of a source")
        };
        let n = p.size;
        let w = mask_words(n);
        let part = match (arrive, step) {
            (true, true) => "cells",
            (true, false) if gaps.is_empty() => "arrivals",
            (true, false) => "arrivals_gaps",
            _ => "step",
        };
        let name = format!("{part}_{}", p.name);
        let mut reads = vec![];
        let mut writes = vec![];
        let mut body = String::new();
        let pad = ind(3);
        // The cell's variables live in registers for the task (`cv<v>_`):
        // loaded together at the start and stored at the end, so that the
        // loads do not wait one after another behind stores to buffers the
        // compiler cannot tell apart.
        let mut regs: Vec<usize> = if step {
            (0..nir.vars.len()).collect()
        } else {
            let mut r = self.arrival_vars(pi);
            r.extend(gaps.iter().map(|&g| ir.gaps[g].target));
            r
        };
        regs.sort_unstable();
        regs.dedup();
        for &v in &regs {
            let arr = self.name(Entry::CellVar { pop: pi, var: v });
            let _ = writeln!(body, "{pad}double cv{v}_ = {arr}[i];");
        }
        let refr = self.name(Entry::Refr { pop: pi });
        if step {
            if nir.spike.is_some() {
                let _ = writeln!(body, "{pad}u32 r_ = {refr}[i];");
            } else {
                let _ = writeln!(body, "{pad}const u32 r_ = 0u;");
            }
            let _ = writeln!(body, "{pad}(void)r_;");
        }
        if arrive {
            self.arrivals(pi, &pad, &mut body, &mut writes);
        }
        for &g in gaps {
            let gap = &ir.gaps[g];
            let current = self.gap_current(g, &ind(4), Some(&format!("cv{}_", gap.target)));
            let _ = write!(
                body,
                "{pad}{{\n{pad}    const u64 c = i;\n{current}{pad}}}\n"
            );
            reads.push(Res::Var(pi, gap.voltage));
            writes.push(Res::Var(pi, gap.target));
        }
        if step {
            for v in 0..nir.vars.len() {
                writes.push(Res::Var(pi, v));
            }
            writes.push(Res::Refr(pi));
            writes.push(Res::Spk(pi));
            writes.push(Res::Mask(pi));
            body.push_str(&Self::locals(nir.locals, 3));
            let c = Ctx::Neuron { pop: pi };
            let mut dep = 0;
            let _ = writeln!(body, "{pad}// from: population {} (step program)", p.name);
            self.stmts(&mut body, &nir.step, c, 3, &mut dep);
            if let Some(sp) = &nir.spike {
                let cond = self.expr(sp, c);
                let lspk = self.name(Entry::Lspk { pop: pi });
                let _ = writeln!(
                    body,
                    "{pad}// from: population {} (spike test, reset)",
                    p.name
                );
                let _ = writeln!(
                    body,
                    "{pad}{{\n{pad}    const double c_ = {cond};\n{pad}    const int free_ = r_ == 0u;\n{pad}    if (r_ > 0u) r_ -= 1u;\n{pad}    if (c_ != 0.0 && free_) {{\n{pad}        spk = 1;\n{pad}        r_ = {}u;\n{pad}        {lspk}[i] = s;",
                    nir.refractory_steps
                );
                self.stmts(&mut body, &nir.reset, c, 5, &mut dep);
                let _ = writeln!(body, "{pad}    }}\n{pad}    {refr}[i] = r_;\n{pad}}}");
            }
            if !nir.checked_vars.is_empty() {
                let _ = writeln!(body, "{pad}{{ // NaN check\n{pad}    u64 key_ = ~0ull;");
                for (order, &v) in nir.checked_vars.iter().enumerate().rev() {
                    let _ = writeln!(
                        body,
                        "{pad}    if (!cbm_finite(cv{v}_)) key_ = ({sched_pos}ull << 48) | ({order}ull << 32) | i;"
                    );
                }
                let _ = writeln!(
                    body,
                    "{pad}    if (key_ != ~0ull) {{\n{pad}        atomicMin(&CBM_ERR[0], key_);\n{pad}        atomicMin(&CBM_ERR[1], (u64)s);\n{pad}        cbm_note_error();\n{pad}    }}\n{pad}}}"
                );
            }
        }
        for &v in &regs {
            let arr = self.name(Entry::CellVar { pop: pi, var: v });
            let _ = writeln!(body, "{pad}{arr}[i] = cv{v}_;");
        }
        let mut code = String::new();
        let _ = writeln!(
            code,
            "// from: population {} ({part})\n__device__ void cbm_{name}(i64 s, i64 c0, u64 rot_) {{\n    const double t = (double)s * CBM_DT;\n    (void)t;\n    (void)c0;",
            p.name
        );
        let _ = write!(
            code,
            "    for (u64 base = cbm_warp_r(rot_) * 32; base < {n}ull; base += cbm_nwarps() * 32) {{\n        const u64 i = base + cbm_lane();\n        int spk = 0;\n        (void)spk;\n        if (i < {n}ull) {{\n{body}        }}\n"
        );
        if step {
            let mask = self.name(Entry::Mask { pop: pi });
            let _ = writeln!(
                code,
                "        const u32 m_ = __ballot_sync(CBM_FULL, spk);\n        if (cbm_lane() == 0u) {mask}[(u64)(s - c0) * {w}ull + (base >> 5)] = m_;"
            );
        }
        code.push_str("    }\n}\n");
        reads.extend(writes.iter().copied());
        Task {
            name,
            code,
            reads,
            writes,
            period: None,
            defer: Defer::No,
        }
    }

    /// A gap junction's currents into cell `c`: its pairs in order, added
    /// to the target variable (or to `local`, the register that holds it).
    fn gap_current(&mut self, g: usize, pad: &str, local: Option<&str>) -> String {
        let gap = &self.ir.gaps[g];
        let pi = gap.population;
        let v = self.name(Entry::CellVar {
            pop: pi,
            var: gap.voltage,
        });
        let tg = self.name(Entry::CellVar {
            pop: pi,
            var: gap.target,
        });
        let off = self.name(Entry::GapOff { gap: g });
        let list = self.name(Entry::GapList { gap: g });
        let k = lit(gap.coupling);
        let tg = match local {
            Some(l) => l.to_string(),
            None => format!("{tg}[c]"),
        };
        format!(
            "{pad}{{ // from: gap junction {} (pairs in order)\n{pad}    double acc = {tg};\n{pad}    for (u32 e = {off}[c]; e < {off}[c + 1]; ++e) {{\n{pad}        const u32 x = {list}[e];\n{pad}        const u32 o = x & 0x7fffffffu;\n{pad}        if (x >> 31) {{\n{pad}            const double cur = {k} * ({v}[c] - {v}[o]);\n{pad}            acc -= cur;\n{pad}        }} else {{\n{pad}            const double cur = {k} * ({v}[o] - {v}[c]);\n{pad}            acc += cur;\n{pad}        }}\n{pad}    }}\n{pad}    {tg} = acc;\n{pad}}}\n",
            gap.name
        )
    }

    fn gap_task(&mut self, g: usize) -> Task {
        let gap = &self.ir.gaps[g];
        let pi = gap.population;
        let n = self.pop_size(pi);
        let name = format!("gap_{}", gap.name);
        let reads = vec![Res::Var(pi, gap.voltage), Res::Var(pi, gap.target)];
        let writes = vec![Res::Var(pi, gap.target)];
        let body = self.gap_current(g, &ind(2), None);
        let code = format!(
            "__device__ void cbm_{name}(i64 s, i64 c0, u64 rot_) {{\n    (void)s;\n    (void)c0;\n    for (u64 c = cbm_tid_r(rot_); c < {n}ull; c += cbm_nthr()) {{\n{body}    }}\n}}\n"
        );
        Task {
            name,
            code,
            reads,
            writes,
            period: None,
            defer: Defer::No,
        }
    }

    /// Cells and teacher times that synapse code reads.
    fn handler_reads(&self, qi: usize, stmts: &[Stmt], extra: Option<&Expr>) -> Vec<Res> {
        let q = &self.ir.projections[qi];
        let mut out = vec![Res::Syn(qi)];
        let mut add = |e: &Expr| {
            walk(e, &mut |x| match x {
                Expr::Pre(a) => match a {
                    CellAccess::Var(v) => out.push(Res::Var(q.source, *v)),
                    CellAccess::LastSpike | CellAccess::Spiked => out.push(Res::Spk(q.source)),
                    CellAccess::LastTeacher => {}
                },
                Expr::Post(a) => match a {
                    CellAccess::Var(v) => out.push(Res::Var(q.target, *v)),
                    CellAccess::LastSpike | CellAccess::Spiked => out.push(Res::Spk(q.target)),
                    CellAccess::LastTeacher => {
                        if let Some(ti) = q.teacher {
                            out.push(Res::Tarr(ti))
                        }
                    }
                },
                _ => {}
            })
        };
        visit_exprs(stmts, &mut add);
        if let Some(e) = extra {
            add(e);
        }
        out
    }

    /// Synapse variables the handlers of a projection use, so they get buffers.
    fn touch_syn_vars(&mut self, qi: usize, stmts: &[Stmt]) {
        let mut used = vec![];
        syn_vars_used(stmts, &mut used);
        for v in used {
            self.slot(Entry::SynVar { proj: qi, var: v });
        }
    }

    /// Delivery of a projection's spikes: per target, a warp scans the CSC
    /// entries in ascending synapse id, runs `on_pre` for those whose source
    /// spiked, and adds their deposits in that order.
    fn deliver_task(&mut self, qi: usize) -> Task {
        let ir = self.ir;
        let q = &ir.projections[qi];
        let nt = self.pop_size(q.target);
        let ws = mask_words(self.pop_size(q.source));
        let sl = slots(q);
        let d = q.delay_steps as usize;
        let teacher = self.teachers[qi];
        let mut pulses = vec![];
        deposits(&q.on_pre, &mut pulses);
        let max_pulse = pulses.iter().copied().max().unwrap_or(0) as usize;
        self.touch_syn_vars(qi, &q.on_pre);
        let off = self.name(Entry::CscOff { proj: qi });
        let cpre = self.name(Entry::CscPre { proj: qi });
        let mask = self.name(Entry::Mask { pop: q.source });
        let mut code = String::new();
        let _ = writeln!(
            code,
            "// from: projection {} (delivery: on_pre, {} deposit(s), delay {d}, {sl} slots)\n__device__ void cbm_deliver_{}(i64 s, i64 c0, u64 rot_) {{\n    const double t = (double)s * CBM_DT;\n    (void)t;\n    const u32* mk_ = {mask} + (u64)(s - c0) * {ws}ull;",
            q.name,
            pulses.len(),
            q.name
        );
        // A small source's spike bits of this step, held by the lanes (word
        // w in register w / 32 of lane w % 32): a synapse's bit is then a
        // shuffle away instead of a load that waits for its source's index.
        let held = ws.div_ceil(32);
        let lookup = if held <= MASK_REGISTERS {
            let mut l = String::from("                u32 mw_ = 0u;\n");
            for r in 0..held {
                let _ = writeln!(
                    code,
                    "    const u32 mw{r}_ = cbm_lane() + {}u < {ws}u ? mk_[cbm_lane() + {}u] : 0u;",
                    32 * r,
                    32 * r
                );
                let _ = writeln!(
                    l,
                    "                {{ const u32 x_ = __shfl_sync(CBM_FULL, mw{r}_, (pi_ >> 5) & 31u); if ((pi_ >> 10) == {r}u) mw_ = x_; }}"
                );
            }
            l.push_str("                const int act = pi_ != 0xffffffffu && ((mw_ >> (pi_ & 31u)) & 1u);");
            l
        } else {
            "                const int act = pi_ != 0xffffffffu && ((mk_[pi_ >> 5] >> (pi_ & 31u)) & 1u);".to_string()
        };
        let _ = writeln!(
            code,
            "    for (u64 j = cbm_warp_r(rot_); j < {nt}ull; j += cbm_nwarps()) {{\n        const u64 pj_ = j;\n        (void)pj_;\n        const u32 lo_ = {off}[j], hi_ = {off}[j + 1];"
        );
        let ring = if max_pulse > 0 {
            Some(self.name(Entry::Ring { proj: qi }))
        } else {
            None
        };
        let in_registers = max_pulse <= PULSE_REGISTERS;
        // Each deposit adds to the ring slots of its pulse in synapse order
        // (slot by slot the CPU engine's order): in registers a0, a1, ...,
        // or in memory, lane l serving the slots l, l + 32, ...
        let adds = |pulse: u32| -> String {
            match &ring {
                Some(_) if in_registers => (0..pulse).map(|p| format!(" a{p} += x_;")).collect(),
                Some(ring) => format!(
                    " for (u32 p_ = cbm_lane(); p_ < {pulse}u; p_ += 32u) {ring}[(((u64)s + {d}ull + p_) % {sl}ull) * {nt}ull + j] += x_;"
                ),
                None => String::new(),
            }
        };
        if let (Some(ring), true) = (&ring, in_registers) {
            for p in 0..max_pulse {
                let _ = writeln!(
                    code,
                    "        double a{p} = {ring}[((u64)(s + {}) % {sl}ull) * {nt}ull + j];",
                    d + p
                );
            }
        }
        if teacher {
            code.push_str("        u32 narr_ = 0u;\n");
        }
        let dv_decl: Vec<String> = (0..pulses.len())
            .map(|k| format!("double dv{k} = 0.0; int df{k} = 0;"))
            .collect();
        // A round covers DELIVERY_CHUNKS chunks of 32 synapses. First every
        // lane loads the source of its synapse in each chunk and tests its
        // spike bit (independent loads, in flight together); then the
        // spiking ones are dealt out to the lanes in ascending order, 32 at
        // a time, each lane runs `on_pre` for its synapse, and the deposits
        // are added lane by lane: the CPU engine's order. A target's scan
        // is thus a few dependent loads per round, not per synapse.
        let u = DELIVERY_CHUNKS;
        let _ = writeln!(
            code,
            "        for (u32 e00_ = lo_; e00_ < hi_; e00_ += {}u) {{\n            // (chunks past the end are skipped by the whole warp)\n            u32 pre_[{u}], am_[{u}];\n            #pragma unroll\n            for (u32 u_ = 0; u_ < {u}u; ++u_) {{\n                const u32 e = e00_ + 32u * u_ + cbm_lane();\n                pre_[u_] = e < hi_ ? {cpre}[e] : 0xffffffffu;\n            }}\n            u32 nact_ = 0u;\n            #pragma unroll\n            for (u32 u_ = 0; u_ < {u}u; ++u_) {{\n                am_[u_] = 0u;\n                if (e00_ + 32u * u_ >= hi_) continue;\n                const u32 pi_ = pre_[u_];\n{lookup}\n                am_[u_] = __ballot_sync(CBM_FULL, act);\n                nact_ += __popc(am_[u_]);\n            }}",
            32 * u
        );
        if teacher {
            code.push_str("            narr_ += nact_;\n");
        }
        let _ = writeln!(
            code,
            "            for (u32 r0_ = 0; r0_ < nact_; r0_ += 32u) {{\n                // this lane's synapse: the (r0_ + lane)-th spiking one of the round\n                const u32 r_ = r0_ + cbm_lane();\n                u32 e = 0xffffffffu, before_ = 0u;\n                #pragma unroll\n                for (u32 u_ = 0; u_ < {u}u; ++u_) {{\n                    if (am_[u_] == 0u) continue;\n                    const u32 c_ = __popc(am_[u_]);\n                    if (r_ >= before_ && r_ < before_ + c_) e = e00_ + 32u * u_ + cbm_nth_set(am_[u_], r_ - before_);\n                    before_ += c_;\n                }}\n                {}\n                if (e != 0xffffffffu) {{\n                    const u32 pi_ = {cpre}[e];\n                    const u32 k = e; // (synapse variables in CSC order)\n                    (void)k;\n                    (void)pi_;",
            dv_decl.join(" ")
        );
        code.push_str(&Self::locals(q.locals, 5));
        let mut body = String::new();
        let mut dep = 0;
        self.stmts(&mut body, &q.on_pre, Ctx::Synapse { proj: qi }, 5, &mut dep);
        code.push_str(&body);
        for k in 1..pulses.len() {
            let dvn = self.name(Entry::DepVal { proj: qi, d: k });
            let dfn = self.name(Entry::DepFlag { proj: qi, d: k });
            let _ = writeln!(
                code,
                "                    {dvn}[k] = dv{k};\n                    {dfn}[k] = (u32)df{k};"
            );
        }
        code.push_str("                }\n");
        if !pulses.is_empty() {
            let adds = adds(pulses[0]);
            let _ = writeln!(
                code,
                "                // four deposits at a time: their shuffles issue together, the adds stay in order\n                u32 dm_ = __ballot_sync(CBM_FULL, df0);\n                while (dm_ != 0u) {{\n                    int b_[4], nb_ = 0;\n                    #pragma unroll\n                    for (int q_ = 0; q_ < 4; ++q_) {{\n                        b_[q_] = dm_ != 0u ? __ffs((int)dm_) - 1 : 0;\n                        if (dm_ != 0u) {{ dm_ &= dm_ - 1u; ++nb_; }}\n                    }}\n                    double xs_[4];\n                    #pragma unroll\n                    for (int q_ = 0; q_ < 4; ++q_) xs_[q_] = __shfl_sync(CBM_FULL, dv0, b_[q_]);\n                    #pragma unroll\n                    for (int q_ = 0; q_ < 4; ++q_) {{\n                        if (q_ >= nb_) break;\n                        const double x_ = xs_[q_];{adds}\n                    }}\n                }}"
            );
        }
        code.push_str("            }\n        }\n");
        // Later deposit statements: after all of the first, as in the CPU engine.
        for (k, &pulse) in pulses.iter().enumerate().skip(1) {
            let dvn = self.name(Entry::DepVal { proj: qi, d: k });
            let dfn = self.name(Entry::DepFlag { proj: qi, d: k });
            let adds = adds(pulse);
            let _ = writeln!(
                code,
                "        for (u32 e0_ = lo_; e0_ < hi_; e0_ += 32u) {{ // deposit {k}\n            const u32 e = e0_ + cbm_lane();\n            double dv = 0.0;\n            int df = 0;\n            if (e < hi_) {{\n                const u32 pi_ = {cpre}[e];\n                if ((mk_[pi_ >> 5] >> (pi_ & 31u)) & 1u) {{\n                    const u32 k = e;\n                    df = (int){dfn}[k];\n                    dv = {dvn}[k];\n                }}\n            }}\n            u32 dm_ = __ballot_sync(CBM_FULL, df);\n            while (dm_ != 0u) {{\n                const int b_ = __ffs((int)dm_) - 1;\n                dm_ &= dm_ - 1u;\n                const double x_ = __shfl_sync(CBM_FULL, dv, b_);{adds}\n            }}\n        }}"
            );
        }
        code.push_str("        if (cbm_lane() == 0u) {\n");
        if let (Some(ring), true) = (&ring, in_registers) {
            for p in 0..max_pulse {
                let _ = writeln!(
                    code,
                    "            {ring}[((u64)(s + {}) % {sl}ull) * {nt}ull + j] = a{p};",
                    d + p
                );
            }
        }
        if teacher {
            let arr = self.name(Entry::Arr { proj: qi });
            let _ = writeln!(
                code,
                "            if (narr_ > 0u) {arr}[((u64)(s + {d}) % {sl}ull) * {nt}ull + j] += narr_;"
            );
        }
        code.push_str("        }\n    }\n}\n");
        let mut reads = self.handler_reads(qi, &q.on_pre, None);
        reads.push(Res::Mask(q.source));
        let mut writes = vec![];
        if writes_any(&q.on_pre) {
            writes.push(Res::Syn(qi));
        }
        if max_pulse > 0 {
            writes.push(Res::RingLater(qi));
            if d == 0 {
                writes.push(Res::RingNow(qi));
            }
        }
        if teacher {
            writes.push(Res::ArrLater(qi));
            if d == 0 {
                writes.push(Res::ArrNow(qi));
            }
        }
        Task {
            name: format!("deliver_{}", q.name),
            code,
            reads,
            writes,
            period: None,
            defer: if d == 0 {
                Defer::No
            } else {
                Defer::Delivery { delay: d as u32 }
            },
        }
    }

    /// `on_post` (the target cell spiked now) or `on_teacher` (a teacher spike
    /// arrived now): a warp runs the handler over the cell's CSC entries.
    fn by_target_task(&mut self, qi: usize, teacher: bool) -> Task {
        let ir = self.ir;
        let q = &ir.projections[qi];
        let nt = self.pop_size(q.target);
        let handler = if teacher { &q.on_teacher } else { &q.on_post };
        self.touch_syn_vars(qi, handler);
        let what = if teacher { "on_teacher" } else { "on_post" };
        let active = if teacher {
            let ti = q.teacher.expect("on_teacher needs a teacher");
            format!("{}[jl_] == s", self.name(Entry::Tarr { proj: ti }))
        } else {
            format!("{}[jl_] == s", self.name(Entry::Lspk { pop: q.target }))
        };
        let off = self.name(Entry::CscOff { proj: qi });
        let cpre = self.name(Entry::CscPre { proj: qi });
        let mut body = String::new();
        let mut dep = 0;
        self.stmts(&mut body, handler, Ctx::Synapse { proj: qi }, 4, &mut dep);
        let code = format!(
            "// from: projection {} ({what})\n__device__ void cbm_{what}_{}(i64 s, i64 c0, u64 rot_) {{\n    const double t = (double)s * CBM_DT;\n    (void)t;\n    (void)c0;\n    const u64 grp_ = cbm_group({nt}ull);\n    for (u64 base = cbm_warp_r(rot_) * grp_; base < {nt}ull; base += cbm_nwarps() * grp_) {{\n        const u64 jl_ = base + cbm_lane();\n        const int act = cbm_lane() < grp_ && jl_ < {nt}ull && {active};\n        u32 m_ = __ballot_sync(CBM_FULL, act);\n        while (m_ != 0u) {{\n            const int b_ = __ffs((int)m_) - 1;\n            m_ &= m_ - 1u;\n            const u64 pj_ = base + (u64)b_;\n            for (u32 e = {off}[pj_] + cbm_lane(); e < {off}[pj_ + 1]; e += 32u) {{\n                const u32 k = e; // (synapse variables in CSC order)\n                const u32 pi_ = {cpre}[e];\n                (void)pi_;\n{}{body}            }}\n        }}\n    }}\n}}\n",
            q.name,
            q.name,
            Self::locals(q.locals, 4)
        );
        let mut reads = self.handler_reads(qi, handler, None);
        if teacher {
            reads.push(Res::Tarr(q.teacher.expect("teacher")));
        } else {
            reads.push(Res::Spk(q.target));
        }
        Task {
            name: format!("{what}_{}", q.name),
            code,
            reads,
            writes: vec![Res::Syn(qi)],
            period: None,
            defer: Defer::No,
        }
    }

    fn every_task(&mut self, qi: usize, k: usize) -> Task {
        let ir = self.ir;
        let q = &ir.projections[qi];
        let (period, body_stmts) = &q.every[k];
        let ns = self.pop_size(q.source);
        let c = Ctx::Synapse { proj: qi };
        let name = format!("every{k}_{}", q.name);
        let mut code = String::new();
        let _ = writeln!(
            code,
            "// from: projection {} (every {} steps)\n__device__ void cbm_{name}(i64 s, i64 c0, u64 rot_) {{\n    (void)c0;\n    if ((u64)s % {period}ull != 0ull) return;\n    const double t = (double)s * CBM_DT;\n    (void)t;",
            q.name, period
        );
        // The synapse's place on the device (see `Generated::csc_order`).
        let at = if self.csc_order[qi] {
            format!("{}[kk_]", self.name(Entry::CsrPos { proj: qi }))
        } else {
            "kk_".to_string()
        };
        let guarded = crate::engine::cpu::hoisted_guard(body_stmts);
        let reads;
        if let Some((cond, then)) = guarded {
            self.touch_syn_vars(qi, then);
            let cv = self.expr(cond, Ctx::PreCell { pop: q.source });
            let off = self.name(Entry::CsrOff { proj: qi });
            let post = self.name(Entry::Post { proj: qi });
            let mut body = String::new();
            let mut dep = 0;
            self.stmts(&mut body, then, c, 4, &mut dep);
            let _ = write!(
                code,
                "    // the guard depends on the presynaptic cell only: silent sources cost nothing\n    const u64 grp_ = cbm_group({ns}ull);\n    for (u64 base = cbm_warp_r(rot_) * grp_; base < {ns}ull; base += cbm_nwarps() * grp_) {{\n        int act = 0;\n        {{\n            const u64 pi_ = base + cbm_lane();\n            if (cbm_lane() < grp_ && pi_ < {ns}ull) act = {cv} != 0.0;\n        }}\n        u32 m_ = __ballot_sync(CBM_FULL, act);\n        while (m_ != 0u) {{\n            const int b_ = __ffs((int)m_) - 1;\n            m_ &= m_ - 1u;\n            const u64 pi_ = base + (u64)b_;\n            for (u32 kk_ = {off}[pi_] + cbm_lane(); kk_ < {off}[pi_ + 1]; kk_ += 32u) {{\n                const u32 pj_ = {post}[kk_];\n                (void)pj_;\n                const u32 k = {at};\n{}{body}            }}\n        }}\n    }}\n}}\n",
                Self::locals(q.locals, 4)
            );
            reads = self.handler_reads(qi, then, Some(cond));
        } else {
            self.touch_syn_vars(qi, body_stmts);
            let pre = self.name(Entry::Pre { proj: qi });
            let post = self.name(Entry::Post { proj: qi });
            let nsyn = self.name(Entry::NSyn { proj: qi });
            let mut body = String::new();
            let mut dep = 0;
            self.stmts(&mut body, body_stmts, c, 2, &mut dep);
            let _ = write!(
                code,
                "    for (u64 kk_ = cbm_tid_r(rot_); kk_ < {nsyn}; kk_ += cbm_nthr()) {{\n        const u32 pi_ = {pre}[kk_];\n        const u32 pj_ = {post}[kk_];\n        (void)pi_;\n        (void)pj_;\n        const u64 k = {at};\n{}{body}    }}\n}}\n",
                Self::locals(q.locals, 2)
            );
            reads = self.handler_reads(qi, body_stmts, None);
        }
        Task {
            name,
            code,
            reads,
            writes: vec![Res::Syn(qi)],
            period: Some(*period as u64),
            defer: Defer::Yes,
        }
    }

    /// Trace and weight samples of the step, into the chunk's buffers: a
    /// task per recorder, so each waits only for what it samples.
    fn record_tasks(&mut self) -> Vec<Task> {
        let ir = self.ir;
        let mut tasks = vec![];
        for (ri, r) in ir.recorders.iter().enumerate() {
            let (e, count, buf, value, read) = match &r.kind {
                RecorderKindIr::Trace {
                    population,
                    var,
                    cells,
                    every_steps,
                } => {
                    let v = self.name(Entry::CellVar {
                        pop: *population,
                        var: *var,
                    });
                    let tc = self.name(Entry::TraceCells { rec: ri });
                    (
                        *every_steps,
                        format!("{}ull", cells.len()),
                        self.name(Entry::TraceBuf { rec: ri }),
                        format!("{v}[{tc}[c]]"),
                        Res::Var(*population, *var),
                    )
                }
                RecorderKindIr::Weights {
                    projection,
                    var,
                    every_steps,
                    ..
                } => {
                    let v = self.name(Entry::SynVar {
                        proj: *projection,
                        var: *var,
                    });
                    let ids = self.name(Entry::WeightIds { rec: ri });
                    (
                        *every_steps,
                        self.name(Entry::NWeightIds { rec: ri }),
                        self.name(Entry::WeightBuf { rec: ri }),
                        format!("{v}[{ids}[c]]"),
                        Res::Syn(*projection),
                    )
                }
                _ => continue,
            };
            let name = format!("record_{}", r.name);
            let code = format!(
                "// from: recorder {}\n__device__ void cbm_{name}(i64 s, i64 c0, u64 rot_) {{\n    if ((u64)s % {e}ull != 0ull) return;\n    const u64 row_ = (u64)s / {e}ull - ((u64)c0 + {e}ull - 1ull) / {e}ull;\n    for (u64 c = cbm_tid_r(rot_); c < {count}; c += cbm_nthr()) {buf}[row_ * {count} + c] = {value};\n}}\n",
                r.name
            );
            tasks.push(Task {
                name,
                code,
                reads: vec![read],
                writes: vec![],
                period: Some(e as u64),
                defer: Defer::Yes,
            });
        }
        tasks
    }
}

/// Map an NVRTC log to the model: each `(line)` the log names is shown with
/// the generated line and the model construct it came from (the nearest
/// `// from:` comment above it).
pub fn explain_log(source: &str, log: &str) -> String {
    let lines: Vec<&str> = source.lines().collect();
    let mut out = String::new();
    for l in log.lines() {
        out.push_str(l);
        out.push('\n');
        let Some(open) = l.find('(') else { continue };
        let Some(close) = l[open..].find(')') else {
            continue;
        };
        let Ok(n) = l[open + 1..open + close].parse::<usize>() else {
            continue;
        };
        if n == 0 || n > lines.len() {
            continue;
        }
        let _ = writeln!(out, "    generated line {n}: {}", lines[n - 1].trim());
        if let Some(from) = lines[..n]
            .iter()
            .rev()
            .find_map(|x| x.trim().strip_prefix("// from: "))
        {
            let _ = writeln!(out, "    from the model: {from}");
        }
    }
    out
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
