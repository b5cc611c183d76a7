//! The step's tasks packed into phases (grid barriers between them).
//!
//! Tasks come in the CPU engine's order. A task joins the earliest phase
//! after every earlier task it conflicts with (one writes what the other
//! reads or writes), so independent work shares a phase.
//!
//! Two things make a step cheaper than one phase per dependency level:
//!
//! - **Deferral.** A task near the end of the step (a delivery with a delay
//!   of at least one step, a periodic rule, a recorder) may run at the start
//!   of the *next* step instead, with its own step number, provided no task
//!   after it in the step touches what it touches. It then shares the first
//!   phases with the next step's cell updates instead of needing a phase of
//!   its own. The kernel runs the deferred tasks of a chunk's last step
//!   after the chunk (the *tail*), so every launch ends with whole steps.
//! - **Skipping.** A phase whose tasks all act only every so many steps
//!   (rules, recorders) is skipped, barrier and all, in the other steps.
//!
//! The deferred tasks are chosen to make the step's expected number of
//! phases smallest (all valid choices are tried when there are few).
//!
//! With **flags** (the fused step, `Variant::fuse`: persistent kernel
//! only), three kinds of conflict are ordered within a phase instead of
//! by a barrier:
//!
//! - per target: a delivery with a delay of one step, deferred, and its
//!   targets' cell update; the delivery's warp sets a target's flag after
//!   the target's deposits and the target's thread waits for it
//!   (`cbm_signal` and `cbm_await` in kernels/templates/prelude.cu);
//! - per cell (`CellFlags`): a population's arrivals and gap currents, and
//!   its step; the step of a cell waits for its own and its gap partners';
//! - per synapse: the same delivery and a periodic rule of its projection,
//!   deferred too, which writes the synapses the delivery reads; each
//!   synapse of the rule waits for its target's flag (`Task::target_flags`).
//!
//! A wait only waits for work in an earlier slot of its phase, every warp
//! runs its slots in order, and every warp is resident: so waits end.
//!
//! **Sources drawn a step early** (`Task::early`) come last in the task
//! list and run for the step after: their spikes depend on nothing but
//! their own state and the time, so the deliveries of a step's spikes find
//! them drawn at the step's start and may share the phase of the cells
//! they feed, with neither a flag nor deferral. The kernel draws a
//! launch's first step before it (`cbm_prologue`).

use std::fmt::Write;

/// What a task reads or writes, for deciding which tasks may share a phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Res {
    Var(usize, usize),
    /// The cells' last spike steps.
    Spk(usize),
    /// The current step's row of spike bits (one row per step: the row a
    /// deferred task reads, the step before's, is no longer written).
    Mask(usize),
    /// The step's copy of the cells' last spike steps, where they are kept
    /// per step parity (so, as for `Mask`, a deferred reader's copy is no
    /// longer written).
    SpkRow(usize),
    /// The same for a teacher projection's last arrival steps.
    TarrRow(usize),
    Refr(usize),
    Src(usize),
    /// The ring slot of the current step (cells take it) ...
    RingNow(usize),
    /// ... and the slots of later steps (deliveries add to them).
    RingLater(usize),
    ArrNow(usize),
    ArrLater(usize),
    Tarr(usize),
    Syn(usize),
}

/// May a task run at the start of the next step instead?
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Defer {
    No,
    Yes,
    /// A delivery whose deposits land this many steps later (at least 1).
    /// Run a step later, a delay of 1 writes the slot the cells of that
    /// step take: its later-slot writes also count as current-slot writes.
    Delivery {
        delay: u32,
    },
}

#[derive(Clone)]
pub(super) struct Task {
    pub name: String,
    pub code: String,
    pub reads: Vec<Res>,
    pub writes: Vec<Res>,
    /// The task does something only at steps that are multiples of this.
    pub period: Option<u64>,
    pub defer: Defer,
    pub cell_flags: CellFlags,
    /// A periodic rule of this projection whose every synapse waits for
    /// its target's per-target flag (the delivery's, of the rule's step)
    /// before it touches the synapse (`Flag::Synapses`).
    pub target_flags: Option<usize>,
    /// The most warps the task keeps busy (a warp a target, or a warp per
    /// 32 cells or synapses; `ALL_WARPS`: as many as the grid has), so
    /// that the tasks of a phase get warps of their own (`emit`).
    pub warps: u64,
    /// A spike source drawn a step early (`Variant::early_sources`): at
    /// step `s` it runs for step `s + 1` (last in the task list, but in
    /// the first phase, beside the whole step: what it writes is the next
    /// step's rows and its own state, which no other task touches), and
    /// before a launch's first step for that step (`cbm_prologue`).
    pub early: bool,
}

/// `Task::warps` of a task whose threads cover the whole grid.
pub(super) const ALL_WARPS: u64 = u64::MAX;

/// The warps of a task with a thread per item.
pub(super) fn warps_for(items: usize) -> u64 {
    (items as u64).div_ceil(32).max(1)
}

/// Per-cell flags between a population's arrivals task (with its gap
/// currents) and its step task, so that both may share a phase (with
/// `flags`): the arrivals set cell `i`'s flag when done with it; the step
/// of cell `i` waits for the flags of `i` and of its gap partners (the
/// cells whose currents read its voltage).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum CellFlags {
    #[default]
    None,
    /// Sets the flags of the cells of this population.
    Signals(usize),
    /// Waits for them.
    Awaits(usize),
}

impl Task {
    fn conflicts(&self, other: &Task) -> bool {
        conflict(&self.reads, &self.writes, &other.reads, &other.writes)
    }

    /// Its reads as seen from the next step, where a deferred task runs.
    fn deferred_reads(&self) -> Vec<Res> {
        let mut out = self.reads.clone();
        out.retain(|r| !matches!(r, Res::Mask(_) | Res::SpkRow(_) | Res::TarrRow(_)));
        out
    }

    /// Its writes as seen from the next step.
    fn deferred_writes(&self) -> Vec<Res> {
        let mut out = self.writes.clone();
        if self.defer == (Defer::Delivery { delay: 1 }) {
            for w in &self.writes {
                match *w {
                    Res::RingLater(q) => out.push(Res::RingNow(q)),
                    Res::ArrLater(q) => out.push(Res::ArrNow(q)),
                    _ => {}
                }
            }
        }
        out
    }
}

/// What flags may order within a phase instead of a barrier (`flags`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flag {
    /// Per target: a delivery of this projection with a delay of one step,
    /// deferred, and the slot its targets' cells take.
    Target(usize),
    /// Per cell: this population's arrivals and its step (`CellFlags`).
    Cell(usize),
    /// Per target, for a rule: a delivery of this projection with a delay
    /// of one step, deferred, and a rule of the projection, deferred, whose
    /// synapses wait for their targets' flags (`Task::target_flags`).
    Synapses(usize),
}

impl Flag {
    /// Which flag could order item `n` after the earlier item `m` of a
    /// phase, if any.
    fn between(tasks: &[Task], m: Slot, n: Slot) -> Option<Flag> {
        let (a, b) = (&tasks[m.task], &tasks[n.task]);
        if m.deferred && a.defer == (Defer::Delivery { delay: 1 }) {
            let q = a.writes.iter().find_map(|w| match *w {
                Res::RingLater(q) | Res::ArrLater(q) => Some(q),
                _ => None,
            })?;
            return Some(if n.deferred && b.target_flags == Some(q) {
                Flag::Synapses(q)
            } else {
                Flag::Target(q)
            });
        }
        match (a.cell_flags, b.cell_flags) {
            (CellFlags::Signals(x), CellFlags::Awaits(y))
                if x == y && !m.deferred && !n.deferred =>
            {
                Some(Flag::Cell(x))
            }
            _ => None,
        }
    }

    /// Does it order the uses of `r`?
    fn covers(self, r: &Res) -> bool {
        match (self, *r) {
            (Flag::Target(q), Res::RingNow(p) | Res::ArrNow(p)) => p == q,
            (Flag::Cell(x), Res::Var(p, _)) => p == x,
            (Flag::Synapses(q), Res::Syn(p)) => p == q,
            _ => false,
        }
    }
}

fn conflict(ra: &[Res], wa: &[Res], rb: &[Res], wb: &[Res]) -> bool {
    conflict_but(ra, wa, rb, wb, None)
}

/// `conflict`, leaving out what `flag` orders.
fn conflict_but(ra: &[Res], wa: &[Res], rb: &[Res], wb: &[Res], flag: Option<Flag>) -> bool {
    let free = |x: &Res| !flag.is_some_and(|f| f.covers(x));
    let hit = |a: &[Res], b: &[Res]| a.iter().any(|x| free(x) && b.contains(x));
    hit(wa, wb) || hit(wa, rb) || hit(ra, wb)
}

/// One task's place in a phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Slot {
    pub task: usize,
    /// Runs the previous step's instance of the task (deferred).
    pub deferred: bool,
    /// Waits within its phase for flags that an earlier slot sets (a fused
    /// step's cell update, a rule ordered by flags).
    pub waits: bool,
}

/// The phases of a step, in order.
#[derive(Clone, Debug)]
pub(super) struct Schedule {
    pub phases: Vec<Vec<Slot>>,
    /// Projections whose deliveries set per-target flags that their
    /// targets' cell updates wait for (ascending).
    pub flagged: Vec<usize>,
    /// Populations whose step waits for per-cell flags of their arrivals
    /// (`CellFlags`; ascending).
    pub cell_flagged: Vec<usize>,
    /// Projections whose rule shares its delivery's phase, each synapse
    /// waiting for its target's flag (`Flag::Synapses`; ascending).
    pub rule_flagged: Vec<usize>,
}

/// Pack `tasks` (in the CPU engine's order) into phases, deferring what
/// helps: every valid choice of deferred tasks is tried when there are not
/// too many, else they are chosen greedily from the end of the step.
/// `flags`: per-target flags may order a delivery and its targets' cell
/// update within a phase (see the module's comment).
pub(super) fn schedule(tasks: &[Task], flags: bool) -> Schedule {
    let mut search = Search {
        tasks,
        flags,
        deferred: vec![false; tasks.len()],
        best: None,
        left: 1 << 12,
    };
    search.walk(tasks.len());
    match search.best {
        Some((_, best)) if search.left > 0 => best,
        _ => greedy(tasks, flags),
    }
}

/// May task `t` be deferred, given the choices for the tasks after it?
/// Running later than every task after it that is not deferred too must
/// change nothing.
fn may_defer(tasks: &[Task], deferred: &[bool], t: usize) -> bool {
    tasks[t].defer != Defer::No
        && (t + 1..tasks.len()).all(|u| deferred[u] || !tasks[t].conflicts(&tasks[u]))
}

/// Exhaustive search over the valid sets of deferred tasks, from the end.
struct Search<'a> {
    tasks: &'a [Task],
    flags: bool,
    deferred: Vec<bool>,
    /// Cost, number deferred (fewer wins a tie), schedule.
    best: Option<((f64, usize), Schedule)>,
    /// Sets still to try before giving up.
    left: usize,
}

impl Search<'_> {
    /// Decide tasks `0..t` (those from `t` on are decided).
    fn walk(&mut self, t: usize) {
        if self.left == 0 {
            return;
        }
        if t == 0 {
            self.left -= 1;
            let s = pack(self.tasks, &self.deferred, self.flags);
            let key = (
                cost(self.tasks, &s),
                self.deferred.iter().filter(|&&d| d).count(),
            );
            let better = match &self.best {
                None => true,
                Some((k, _)) => key.0 < k.0 - 1e-9 || (key.0 <= k.0 + 1e-9 && key.1 < k.1),
            };
            if better {
                self.best = Some((key, s));
            }
            return;
        }
        let t = t - 1;
        self.walk(t);
        if may_defer(self.tasks, &self.deferred, t) {
            self.deferred[t] = true;
            self.walk(t);
            self.deferred[t] = false;
        }
    }
}

/// For many deferrable tasks: from the end of the step, defer each one
/// that does not make the step's expected number of phases larger.
fn greedy(tasks: &[Task], flags: bool) -> Schedule {
    let n = tasks.len();
    let mut deferred = vec![false; n];
    let mut best = pack(tasks, &deferred, flags);
    let mut best_cost = cost(tasks, &best);
    for t in (0..n).rev() {
        if !may_defer(tasks, &deferred, t) {
            continue;
        }
        deferred[t] = true;
        let trial = pack(tasks, &deferred, flags);
        let c = cost(tasks, &trial);
        // Ties are taken: deferring one task often pays only once the
        // task before it is deferred too.
        if c <= best_cost + 1e-9 {
            best = trial;
            best_cost = c;
        } else {
            deferred[t] = false;
        }
    }
    best
}

/// Greedy phases for the order "deferred tasks of the step before, then
/// the others", each after every earlier item it conflicts with (or, for
/// what flags order, in the same phase or after).
fn pack(tasks: &[Task], deferred: &[bool], flags: bool) -> Schedule {
    let mut order: Vec<Slot> = (0..tasks.len())
        .filter(|&t| deferred[t])
        .chain((0..tasks.len()).filter(|&t| !deferred[t]))
        .map(|task| Slot {
            task,
            deferred: deferred[task],
            waits: false,
        })
        .collect();
    let (reads, writes): (Vec<Vec<Res>>, Vec<Vec<Res>>) = order
        .iter()
        .map(|s| {
            let t = &tasks[s.task];
            if s.deferred {
                (t.deferred_reads(), t.deferred_writes())
            } else {
                (t.reads.clone(), t.writes.clone())
            }
        })
        .unzip();
    let mut phase_of: Vec<usize> = Vec::with_capacity(order.len());
    let mut used: Vec<Flag> = vec![];
    for n in 0..order.len() {
        let mut p = 0;
        // Conflicts that flags order: the earlier item and the flag.
        let mut waived = vec![];
        for m in 0..n {
            if !conflict(&reads[n], &writes[n], &reads[m], &writes[m]) {
                continue;
            }
            let flag = flags
                .then(|| Flag::between(tasks, order[m], order[n]))
                .flatten()
                .filter(|&f| !conflict_but(&reads[n], &writes[n], &reads[m], &writes[m], Some(f)));
            match flag {
                // In the same phase or later: the flagged item's slot comes
                // first (deferred items first, then the step's order).
                Some(f) => {
                    p = p.max(phase_of[m]);
                    waived.push((m, f));
                }
                None => p = p.max(phase_of[m] + 1),
            }
        }
        // Flags only where the pair shares a phase (else a barrier
        // orders them, and waits would cost for nothing).
        let in_phase: Vec<Flag> = waived
            .iter()
            .filter(|(m, _)| phase_of[*m] == p)
            .map(|(_, f)| *f)
            .collect();
        order[n].waits = !in_phase.is_empty();
        used.extend(in_phase);
        phase_of.push(p);
    }
    let n_phases = phase_of.iter().map(|p| p + 1).max().unwrap_or(0);
    let mut phases: Vec<Vec<Slot>> = vec![vec![]; n_phases];
    for (s, p) in order.iter().zip(&phase_of) {
        phases[*p].push(*s);
    }
    // A rule that waits for its delivery's flags goes last in its phase, so
    // that its waits hold up no other task of the warps it shares. Nothing
    // waits for a rule, and what shares a phase with it without a flag
    // touches nothing it touches: its place changes no result.
    for slots in &mut phases {
        slots.sort_by_key(|s| tasks[s.task].target_flags.is_some());
    }
    let ids = |kind: fn(Flag) -> Option<usize>| {
        let mut v: Vec<usize> = used.iter().filter_map(|&f| kind(f)).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let flagged = ids(|f| match f {
        Flag::Target(q) | Flag::Synapses(q) => Some(q),
        Flag::Cell(_) => None,
    });
    let cell_flagged = ids(|f| match f {
        Flag::Cell(x) => Some(x),
        Flag::Target(_) | Flag::Synapses(_) => None,
    });
    let rule_flagged = ids(|f| match f {
        Flag::Synapses(q) => Some(q),
        Flag::Target(_) | Flag::Cell(_) => None,
    });
    Schedule {
        phases,
        flagged,
        cell_flagged,
        rule_flagged,
    }
}

/// Expected phases per step: a phase of periodic tasks only runs in the
/// steps in which one of them acts.
fn cost(tasks: &[Task], s: &Schedule) -> f64 {
    s.phases
        .iter()
        .map(|slots| {
            slots
                .iter()
                .map(|x| tasks[x.task].period.map_or(1.0, |p| 1.0 / p as f64))
                .sum::<f64>()
                .min(1.0)
        })
        .sum()
}

/// The first thread of each task of a phase (its `rot_`), as C
/// expressions in `cbm_phase`: the tasks packed one after another into the
/// grid's warps, each given as many as it keeps busy (`Task::warps`), so
/// that no two share a warp while the grid has enough. Tasks that wait for
/// flags (`Slot::waits`: a fused step's cell updates) are packed down from the last warp,
/// the others up from the first: where the grid is too small, a task that
/// waits then shares its warps with the last of the others, not with a
/// delivery it waits for. With `CBM_EVEN_SHARES` (`CBM_ROT`'s first
/// argument), the grid in equal shares in the order of the tasks, as
/// before the fifteenth session.
fn rotations(slots: &[Slot], tasks: &[Task]) -> Vec<String> {
    slots
        .iter()
        .enumerate()
        .map(|(x, slot)| {
            let t = &tasks[slot.task];
            let pack = if slot.waits {
                "cbm_pack_down(&down_"
            } else {
                "cbm_pack_up(&up_"
            };
            let warps = if t.warps == ALL_WARPS {
                "nw_".to_string()
            } else {
                format!("{}ull", t.warps)
            };
            format!("CBM_ROT({x}ull * share_, {pack}, {warps}, nw_))")
        })
        .collect()
}

/// The start of a phase's code in `cbm_phase` (or of `cbm_prologue`),
/// each line after `pad`: the first thread of each of its tasks, `r<x>_`
/// (`rotations`).
fn phase_rotations(slots: &[Slot], tasks: &[Task], pad: &str) -> String {
    let mut out = format!(
        "#ifdef CBM_EVEN_SHARES\n{pad}const u64 share_ = (cbm_nthr() / {}ull) & ~31ull;\n#else\n{pad}const u64 nw_ = cbm_nwarps();\n{pad}u64 up_ = 0, down_ = 0;\n{pad}(void)up_;\n{pad}(void)down_;\n#endif\n",
        slots.len().max(1)
    );
    // The tasks of a phase are independent but for flags: each starts at
    // warps of its own (`rotations`), so that they run side by side
    // instead of one after another in the same warps.
    for (x, r) in rotations(slots, tasks).iter().enumerate() {
        let _ = writeln!(out, "{pad}const u64 r{x}_ = {r};");
    }
    out
}

impl Schedule {
    /// The phases a step runs on average (periodic ones only in their steps).
    pub(super) fn expected_phases(&self, tasks: &[Task]) -> f64 {
        cost(tasks, self)
    }

    /// `cbm_phase(k, s, c0, parts)`: the tasks of phase `k`; bit 0 of
    /// `parts` runs the deferred tasks of step `s - 1`, bit 1 the others
    /// of step `s`, bit 2 the sources drawn early, for step `s + 1`. And
    /// `cbm_phase_active(k, s, parts)`: whether any of them acts, so that
    /// the kernel can skip the phase and its barrier. And `cbm_prologue`.
    pub(super) fn emit(&self, tasks: &[Task]) -> String {
        let mut run = String::from(
            "__device__ void cbm_phase(int k, i64 s, i64 c0, int parts) {\n    switch (k) {\n",
        );
        let mut active = String::from(
            "__device__ int cbm_phase_active(int k, i64 s, int parts) {\n    switch (k) {\n",
        );
        // Task timers (CBMC_CUDA_PROFILE=1): numbered in the order of
        // `names`, each with its phase.
        let mut timed_phase = vec![];
        for (p, slots) in self.phases.iter().enumerate() {
            let _ = writeln!(run, "    case {p}: {{");
            run.push_str(&phase_rotations(slots, tasks, "        "));
            // Per bit of `parts` (1, 2, 4): whether a task always acts, and
            // the periods of those that do not.
            let mut parts: [(bool, Vec<String>); 3] = Default::default();
            for (x, slot) in slots.iter().enumerate() {
                let t = &tasks[slot.task];
                let (bit, step) = if slot.deferred {
                    (1, "s - 1")
                } else if t.early {
                    (4, "s + 1")
                } else {
                    (2, "s")
                };
                run.push_str(&format!(
                    "        if (parts & {bit}) CBM_TIMED({}, cbm_{}({step}, c0, r{x}_));{}\n",
                    timed_phase.len(),
                    t.name,
                    if slot.deferred {
                        " // deferred: the step before"
                    } else if t.early {
                        " // drawn early: the step after"
                    } else {
                        ""
                    }
                ));
                timed_phase.push(p.to_string());
                let part = &mut parts[bit >> 1];
                match t.period {
                    Some(per) if per > 1 => {
                        part.1.push(format!("(u64)({step}) % {per}ull == 0ull"))
                    }
                    _ => part.0 = true,
                }
            }
            // Per bit of `parts`: always, or at the steps of some period.
            let mut conds = vec![];
            for bit in [2, 1, 4] {
                let (always, periods) = &mut parts[bit >> 1];
                periods.dedup();
                if *always {
                    conds.push(format!("(parts & {bit})"));
                } else if !periods.is_empty() {
                    conds.push(format!("((parts & {bit}) && ({}))", periods.join(" || ")));
                }
            }
            run.push_str("        break;\n    }\n");
            active.push_str(&format!(
                "    case {p}: return {};\n",
                if conds.is_empty() {
                    "0".to_string()
                } else {
                    conds.join(" || ")
                }
            ));
        }
        run.push_str("    default: break;\n    }\n    (void)s;\n    (void)c0;\n}\n\n");
        active.push_str("    default: return 0;\n    }\n    (void)s;\n    (void)parts;\n}\n\n");
        task_timers(&timed_phase) + &active + &run + &self.prologue(tasks)
    }

    /// `cbm_prologue(s, c0)`: the sources drawn a step early
    /// (`Task::early`), drawing step `s` itself, for a launch's first step
    /// (whose step before ran in the launch before, or not at all); 1 if
    /// there are any, for the grid barrier after them.
    fn prologue(&self, tasks: &[Task]) -> String {
        let slots: Vec<Slot> = self
            .phases
            .iter()
            .flatten()
            .filter(|s| tasks[s.task].early)
            .copied()
            .collect();
        let mut out = String::from("__device__ int cbm_prologue(i64 s, i64 c0) {\n");
        if !slots.is_empty() {
            out.push_str(&phase_rotations(&slots, tasks, "    "));
            for (x, slot) in slots.iter().enumerate() {
                let _ = writeln!(out, "    cbm_{}(s, c0, r{x}_);", tasks[slot.task].name);
            }
        }
        let _ = write!(
            out,
            "    (void)s;\n    (void)c0;\n    return {};\n}}\n\n",
            u8::from(!slots.is_empty())
        );
        out
    }

    /// Task names per phase; deferred ones marked.
    pub(super) fn names(&self, tasks: &[Task]) -> Vec<Vec<String>> {
        self.phases
            .iter()
            .map(|slots| {
                slots
                    .iter()
                    .map(|s| {
                        let n = tasks[s.task].name.clone();
                        if s.deferred {
                            format!("{n} (step before)")
                        } else if tasks[s.task].early {
                            format!("{n} (step after)")
                        } else {
                            n
                        }
                    })
                    .collect()
            })
            .collect()
    }
}

/// The per-task timers of a profiled kernel (`CBM_PROFILE`), for the tasks
/// numbered as in [`Schedule::names`], given their phases: each warp's time
/// in a task, the slowest warp's kept per step (by the step's parity, so
/// that block 0 can add it up and clear it after the phase's barrier while
/// other blocks go on). Without `CBM_PROFILE`, `CBM_TIMED` is the call.
fn task_timers(phase_of: &[String]) -> String {
    let n = phase_of.len().max(1);
    format!(
        "#ifdef CBM_PROFILE\n\
         #define CBM_TASKS {n}\n\
         __device__ const int cbm_task_phase[CBM_TASKS] = {{{}}};\n\
         // [2 * task + step parity]: the slowest warp's ns in this step, plus 1\n\
         // (0: the task did not run; the clock may not tick within a task)\n\
         __device__ u64 cbm_task_max[2 * CBM_TASKS];\n\
         // [task]: those summed over steps; [CBM_TASKS + task]: how many steps\n\
         __device__ u64 cbm_task_prof[2 * CBM_TASKS];\n\
         #define CBM_TIMED(id, call) do {{ \\\n    \
         const u64 t0_ = cbm_clock_ns(); \\\n    \
         call; \\\n    \
         if (cbm_lane() == 0u) atomicMax(&cbm_task_max[2 * (id) + (s & 1)], cbm_clock_ns() - t0_ + 1ull); \\\n\
         }} while (0)\n\
         #else\n\
         #define CBM_TIMED(id, call) call\n\
         #endif\n\n",
        if phase_of.is_empty() { "0".to_string() } else { phase_of.join(", ") }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(name: &str, reads: &[Res], writes: &[Res], period: Option<u64>, defer: Defer) -> Task {
        Task {
            name: name.into(),
            code: String::new(),
            reads: reads.to_vec(),
            writes: writes.to_vec(),
            period,
            defer,
            cell_flags: CellFlags::None,
            target_flags: None,
            early: false,
            warps: 1,
        }
    }

    /// A delivery of population 0's spikes onto itself, a step later.
    fn one_step_delivery() -> Task {
        task(
            "deliver",
            &[Res::Mask(0)],
            &[Res::RingLater(0)],
            None,
            Defer::Delivery { delay: 1 },
        )
    }

    fn cells() -> Task {
        let w = [Res::Var(0, 0), Res::Spk(0), Res::Mask(0), Res::RingNow(0)];
        task("cells", &w, &w, None, Defer::No)
    }

    /// cells -> delivery (delay 2) -> recorder of the cells: the delivery
    /// moves into the next step's first phase, beside the cells; the
    /// recorder cannot (the next step's cells overwrite what it reads).
    #[test]
    fn a_late_delivery_joins_the_next_steps_first_phase() {
        let deliver = task(
            "deliver",
            &[Res::Mask(0), Res::Syn(0)],
            &[Res::RingLater(0)],
            None,
            Defer::Delivery { delay: 2 },
        );
        let tasks = [cells(), deliver];
        let s = schedule(&tasks, false);
        assert_eq!(s.phases.len(), 1, "{s:?}");
        assert!(s.phases[0].contains(&Slot {
            task: 1,
            deferred: true,
            waits: false
        }));
        let rec = task("rec", &[Res::Var(0, 0)], &[], None, Defer::Yes);
        let tasks = [tasks[0].clone(), tasks[1].clone(), rec];
        let s = schedule(&tasks, false);
        assert_eq!(s.phases.len(), 2, "{s:?}");
        assert!(s.phases[1].contains(&Slot {
            task: 2,
            deferred: false,
            waits: false
        }));
    }

    /// A delay of one step writes the slot the next step's cells take:
    /// deferred, it would have to come first, which costs as much.
    #[test]
    fn a_delay_of_one_step_conflicts_with_the_next_steps_cells() {
        let tasks = [cells(), one_step_delivery()];
        let d = pack(&tasks, &[false, true], false);
        let cells_phase = d
            .phases
            .iter()
            .position(|p| p.iter().any(|x| x.task == 0))
            .unwrap();
        let deliver_phase = d
            .phases
            .iter()
            .position(|p| p.iter().any(|x| x.task == 1))
            .unwrap();
        assert!(deliver_phase < cells_phase, "{d:?}");
    }

    /// With per-target flags, a delivery with a delay of one step shares
    /// the next step's phase with its targets' cell update, its slot
    /// first; without them it needs a phase of its own.
    #[test]
    fn flags_let_a_one_step_delivery_share_its_targets_phase() {
        let tasks = [cells(), one_step_delivery()];
        let plain = schedule(&tasks, false);
        assert_eq!(plain.phases.len(), 2, "{plain:?}");
        assert!(plain.flagged.is_empty());
        let flagged = schedule(&tasks, true);
        assert_eq!(flagged.phases.len(), 1, "{flagged:?}");
        assert_eq!(
            flagged.phases[0],
            vec![
                Slot {
                    task: 1,
                    deferred: true,
                    waits: false
                },
                Slot {
                    task: 0,
                    deferred: false,
                    waits: true
                }
            ]
        );
        assert_eq!(flagged.flagged, vec![0]);
        // A delivery that also reads what the cells write (its `on_pre`
        // reads a target's variable) still waits for a barrier.
        let mut reader = tasks[1].clone();
        reader.reads.push(Res::Var(0, 0));
        let s = schedule(&[cells(), reader], true);
        assert_eq!(s.phases.len(), 2, "{s:?}");
    }

    /// A population's step shares its arrivals' phase where per-cell flags
    /// order them, and only with `flags`.
    #[test]
    fn cell_flags_let_a_step_share_its_arrivals_phase() {
        let v = [Res::Var(0, 0), Res::Var(0, 1)];
        let mut arrivals = task("arrivals", &v, &v, None, Defer::No);
        let mut step = task("step", &v, &[Res::Var(0, 0), Res::Spk(0)], None, Defer::No);
        arrivals.cell_flags = CellFlags::Signals(0);
        step.cell_flags = CellFlags::Awaits(0);
        let tasks = [arrivals, step];
        assert_eq!(schedule(&tasks, false).phases.len(), 2);
        let s = schedule(&tasks, true);
        assert_eq!(s.phases.len(), 1, "{s:?}");
        assert_eq!(s.cell_flagged, vec![0]);
        // A conflict through anything but the population's variables
        // still needs a barrier.
        let mut other = tasks.clone();
        other[0].writes.push(Res::Syn(3));
        other[1].reads.push(Res::Syn(3));
        assert_eq!(schedule(&other, true).phases.len(), 2);
    }

    /// A deferred reader of a copy kept per step parity does not wait for
    /// the next step's writer of the current copy.
    #[test]
    fn a_copy_per_step_parity_lets_a_reader_be_deferred() {
        let w = [Res::Spk(0), Res::SpkRow(0), Res::Var(0, 0)];
        let cells = task("cells", &w, &w, None, Defer::No);
        let rule = task(
            "rule",
            &[Res::SpkRow(0), Res::Syn(0)],
            &[Res::Syn(0)],
            Some(5),
            Defer::Yes,
        );
        let s = schedule(&[cells.clone(), rule], false);
        assert_eq!(s.phases.len(), 1, "{s:?}");
        let old = task(
            "rule",
            &[Res::Spk(0), Res::Syn(0)],
            &[Res::Syn(0)],
            Some(5),
            Defer::Yes,
        );
        let s = schedule(&[cells, old], false);
        assert_eq!(s.phases.len(), 2, "{s:?}");
    }

    /// A task followed by one that writes what it reads stays in its step.
    #[test]
    fn a_task_is_not_deferred_past_a_later_writer() {
        let rule = task("rule", &[Res::Syn(0)], &[Res::Syn(0)], Some(5), Defer::Yes);
        let bump = task("bump", &[], &[Res::Syn(0)], None, Defer::No);
        let s = schedule(&[rule, bump], false);
        assert!(s.phases.iter().flatten().all(|x| !x.deferred), "{s:?}");
    }

    /// A source drawn a step early (last in the list, writing only its own
    /// state) lets a one-step delivery of its spikes run undeferred and
    /// unflagged beside the cells it feeds; the kernel draws a launch's
    /// first step in `cbm_prologue`.
    #[test]
    fn a_source_drawn_early_frees_its_deliveries_from_flags() {
        let target = task(
            "cells",
            &[Res::Var(1, 0), Res::RingNow(0)],
            &[Res::Var(1, 0), Res::Spk(1), Res::Mask(1), Res::RingNow(0)],
            None,
            Defer::No,
        );
        let mut source = task(
            "src",
            &[],
            &[Res::Spk(0), Res::Mask(0), Res::Src(0)],
            None,
            Defer::No,
        );
        let usual = [source.clone(), one_step_delivery(), target.clone()];
        let s = schedule(&usual, true);
        assert_eq!(s.flagged, vec![0], "{s:?}");
        source.writes = vec![Res::Src(0)];
        source.early = true;
        let tasks = [one_step_delivery(), target, source];
        let s = schedule(&tasks, true);
        assert_eq!(s.phases.len(), 1, "{s:?}");
        assert!(s.flagged.is_empty(), "{s:?}");
        assert!(s.phases[0].iter().all(|x| !x.deferred && !x.waits), "{s:?}");
        let code = s.emit(&tasks);
        assert!(
            code.contains("if (parts & 4) CBM_TIMED(2, cbm_src(s + 1, c0, r2_));"),
            "{code}"
        );
        assert!(
            code.contains("case 0: return (parts & 2) || (parts & 4);"),
            "{code}"
        );
        assert!(
            code.contains("cbm_src(s, c0, r0_);\n    (void)s;"),
            "{code}"
        );
        assert!(code.contains("return 1;\n}"), "{code}");
        let none = schedule(&usual, true).emit(&usual);
        assert!(
            none.contains("int cbm_prologue(i64 s, i64 c0) {\n    (void)s;"),
            "{none}"
        );
    }

    /// A phase of periodic tasks is skipped in the other steps.
    #[test]
    fn periodic_phases_are_guarded_by_their_period() {
        let cells = task("cells", &[], &[Res::Syn(0)], None, Defer::No);
        let rule = task("rule", &[Res::Syn(0)], &[Res::Syn(0)], Some(5), Defer::No);
        let tasks = [cells, rule];
        let s = schedule(&tasks, false);
        let code = s.emit(&tasks);
        assert!(
            code.contains("case 1: return ((parts & 2) && ((u64)(s) % 5ull == 0ull));"),
            "{code}"
        );
        assert!(code.contains("case 0: return (parts & 2);"), "{code}");
    }
}
