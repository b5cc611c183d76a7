//! Calling generated functions: each [`Arg`] of a function is bound to the
//! engine buffer it names, in order, and the table goes to C as `ctx.p`.
//!
//! Safety rests on two facts the code generator guarantees: a function
//! reads and writes only the buffers of its own arguments, within the sizes
//! the IR gives (cells < population size; synapse ids, pre and post cells
//! taken from the network, whose indices were checked when it was built);
//! and it writes only cell state of its own population (cell functions) or
//! the synapse variables and ring of its own projection (synapse
//! functions), and a cell function also adds and clears the ring slots
//! arriving at its population (`Arg::Arriving`). Buffers it only reads are passed as `*mut` for a uniform
//! table but never written. The parts of one call that run on several
//! threads (`synapses` with a pool) write disjoint parts of those buffers:
//! the ring cells and synapses of their own targets (`on_pre`), the
//! synapses of their own sources (periodic rules, whose per-target values
//! one call on this thread writes first).

use super::{Arg, CellFn, Ctx, Loaded, SynapseFn};
use crate::engine::cpu::{NarrowIndex, PopRt, ProjRt};
use std::ffi::c_void;

/// Step, time and key: what every call shares.
#[derive(Clone, Copy)]
pub struct Clock {
    pub t: f64,
    pub s: u64,
    pub key: [u32; 2],
}

/// Call `call` with the table of `args` resolved by `resolve`: on the stack
/// for the usual handful (a call per population and projection per step
/// should not allocate).
fn with_table<R>(
    args: &[Arg],
    mut resolve: impl FnMut(Arg) -> *mut c_void,
    call: impl FnOnce(*const *mut c_void) -> R,
) -> R {
    const SMALL: usize = 24;
    if args.len() <= SMALL {
        let mut table = [std::ptr::null_mut(); SMALL];
        for (slot, a) in table.iter_mut().zip(args) {
            *slot = resolve(*a);
        }
        call(table.as_ptr())
    } else {
        let table: Vec<*mut c_void> = args.iter().map(|a| resolve(*a)).collect();
        call(table.as_ptr())
    }
}

fn read(x: &[f64]) -> *mut c_void {
    x.as_ptr() as *mut c_void
}

/// Run a population's cell function; the cells that spiked are appended
/// to `pop.spikes` (ascending). With `pool`, a large population runs as one
/// call per run of its cells (`pop.cell_parts`) on the pool's threads: cell
/// code reads and writes only its own cell (and its arriving ring cells),
/// and each part lists its spikes in its own stretch of the list.
pub fn cells(
    f: &Loaded<CellFn>,
    pop: &mut PopRt,
    projs: &mut [ProjRt],
    signals: &[f64],
    clock: Clock,
    pool: Option<&rayon::ThreadPool>,
) {
    let mut out = std::mem::take(&mut pop.spikes);
    out.clear();
    out.resize(pop.size, 0);
    let spikes_out = out.as_mut_ptr() as *mut c_void;
    let resolve = |a: Arg| match a {
        Arg::CellVar { var, .. } => pop.vars[var].as_mut_ptr() as *mut c_void,
        Arg::Arriving { proj } => {
            let p = &mut projs[proj];
            let slot = (clock.s % p.slots as u64) as usize;
            p.ring[slot * p.n_target..].as_mut_ptr() as *mut c_void
        }
        Arg::Refr => pop.refr.as_mut_ptr() as *mut c_void,
        Arg::SpikesOut => spikes_out,
        Arg::Signals => read(signals),
        // Cell code sees no other buffer (the generator never asks).
        _ => std::ptr::null_mut(),
    };
    let parts = pool.filter(|_| pop.cell_parts.len() > 2);
    let bounds = pop.cell_parts.as_slice();
    let size = pop.size;
    let n = with_table(&f.args, resolve, |table| {
        let shared = Shared {
            table,
            ids: std::ptr::null(),
        };
        let Some(pool) = parts else {
            return shared.cells(f.f, size, clock, (0, size as u32));
        };
        // Spikes per part, each listed from its first cell on.
        let counts: Vec<usize> = pool.install(|| {
            use rayon::prelude::*;
            (bounds.par_windows(2))
                .map(|w| shared.cells(f.f, size, clock, (w[0], w[1])))
                .collect()
        });
        // Close the gaps between the parts' lists, in order.
        let mut n = 0;
        for (w, &count) in bounds.windows(2).zip(&counts) {
            let from = w[0] as usize;
            out.copy_within(from..from + count, n);
            n += count;
        }
        n
    });
    out.truncate(n);
    pop.spikes = out;
}

/// What a synapse function of one projection sees.
pub struct SynapseSide<'a> {
    pub source: usize,
    pub pre: &'a PopRt,
    pub post: &'a PopRt,
    pub teacher: Option<&'a [f64]>,
    pub signals: &'a [f64],
}

impl<'a> SynapseSide<'a> {
    /// What projection `q`'s synapse code sees: its source and target
    /// populations, the teacher arrival times of its teacher if it has one.
    pub fn of(
        q: &crate::ir::ProjectionIr,
        pops: &'a [PopRt],
        teacher_times: &'a [Vec<f64>],
        signals: &'a [f64],
    ) -> Self {
        SynapseSide {
            source: q.source,
            pre: &pops[q.source],
            post: &pops[q.target],
            teacher: q.teacher.map(|ti| teacher_times[ti].as_slice()),
            signals,
        }
    }
}

/// The synapses a call visits.
pub enum Over<'a> {
    /// These synapse ids (on_post, on_teacher).
    Synapses(&'a [u32]),
    /// The synapses of these spiking source cells (on_pre), depositing from
    /// ring slot `first_slot` on.
    Spikes(&'a [u32], usize),
    /// Every synapse of the projection (periodic rules; a guarded rule
    /// finds its own through the offsets).
    All,
}

/// The context's pointers, shared by the parts of one call running on
/// several threads. Each part writes only what belongs to its own target
/// or source cells (see [`synapses`]), so sharing them is sound.
#[derive(Clone, Copy)]
struct Shared {
    table: *const *mut c_void,
    ids: *const u32,
}

// SAFETY: the parts of a call write disjoint memory (see `synapses`); the
// buffers outlive the call.
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

impl Shared {
    /// Call cell function `f` of a population of `size` cells for the cells
    /// `cells.0..cells.1`: how many of them spiked.
    fn cells(self, f: CellFn, size: usize, clock: Clock, cells: (u32, u32)) -> usize {
        let c = Ctx {
            p: self.table,
            ids: self.ids,
            n: size as u64,
            t: clock.t,
            s: clock.s,
            first_slot: 0,
            key: clock.key,
            target_lo: cells.0 as u64,
            target_hi: cells.1 as u64,
            source_lo: 0,
            source_hi: 0,
        };
        // SAFETY: see the module comment; the spike list has room for every
        // cell, and a part lists at most its own cells from its first on.
        (unsafe { f(&c) } as usize).min((cells.1 - cells.0) as usize)
    }

    /// Call `f` for the part of the work given by `targets` and `sources`
    /// (see `Ctx`).
    fn call(
        self,
        f: SynapseFn,
        over: (usize, usize),
        clock: Clock,
        targets: (u32, u32),
        sources: (u32, u32),
    ) -> u64 {
        let (n, first_slot) = over;
        let c = Ctx {
            p: self.table,
            ids: self.ids,
            n: n as u64,
            t: clock.t,
            s: clock.s,
            first_slot: first_slot as u64,
            key: clock.key,
            target_lo: targets.0 as u64,
            target_hi: targets.1 as u64,
            source_lo: sources.0 as u64,
            source_hi: sources.1 as u64,
        };
        // SAFETY: see the module comment and `synapses`.
        unsafe { f(&c) }
    }
}

/// Run a synapse function of projection `proj`. With `pool`, a busy
/// projection's work is split between the pool's threads as `parts.rs`
/// explains, one call per part: `on_pre` by its targets
/// (`proj.target_parts`), a periodic rule by its sources
/// (`proj.source_parts`) after one call that computes the per-target
/// values. Parts write disjoint memory, and the results are those of one
/// call, bit for bit. Returns the work done (see `SynapseFn`).
pub fn synapses(
    f: &Loaded<SynapseFn>,
    proj: &mut ProjRt,
    side: &SynapseSide,
    over: Over,
    clock: Clock,
    pool: Option<&rayon::ThreadPool>,
) -> u64 {
    if proj.scratch.len() < f.scratch {
        proj.scratch.resize(f.scratch, 0.0);
    }
    let net = &mut proj.net;
    let (ids, n, first_slot): (&[u32], usize, usize) = match over {
        Over::Synapses(ids) => (ids, ids.len(), 0),
        Over::Spikes(cells, first) => (cells, cells.len(), first),
        Over::All => (&[], net.len(), 0),
    };
    let ring = proj.ring.as_mut_ptr() as *mut c_void;
    let scratch = proj.scratch.as_mut_ptr() as *mut c_void;
    let cells = |pop: usize| {
        if pop == side.source {
            side.pre
        } else {
            side.post
        }
    };
    let resolve = |a: Arg| match a {
        Arg::CellVar { pop, var } => read(&cells(pop).vars[var]),
        Arg::LastSpike { pop } => read(&cells(pop).last_spike),
        Arg::Spiked { pop } => cells(pop).spiked.as_ptr() as *mut c_void,
        Arg::Signals => read(side.signals),
        Arg::SynVar { var } => net.vars[var].as_mut_ptr() as *mut c_void,
        Arg::Pre => net.pre.as_ptr() as *mut c_void,
        Arg::Post => match &proj.post_narrow {
            NarrowIndex::U8(x) => x.as_ptr() as *mut c_void,
            NarrowIndex::U16(x) => x.as_ptr() as *mut c_void,
            NarrowIndex::None => net.post.as_ptr() as *mut c_void,
        },
        Arg::Offsets => net.offsets.as_ptr() as *mut c_void,
        Arg::TeacherTimes => side.teacher.map_or(std::ptr::null_mut(), read),
        Arg::Ring => ring,
        Arg::DelayExtra => net.delay_extra.as_ptr() as *mut c_void,
        Arg::Scratch => scratch,
        // Synapse code sees no other buffer (the generator never asks).
        Arg::Refr | Arg::SpikesOut | Arg::Arriving { .. } => std::ptr::null_mut(),
    };
    let n_target = proj.n_target as u32;
    let n_source = (net.offsets.len() - 1) as u32;
    let whole = ((0, n_target), (0, n_source));
    let parts = |bounds: &[u32]| bounds.len() > 2;
    enum Plan<'p> {
        Whole,
        ByTarget(&'p rayon::ThreadPool, &'p [u32]),
        BySource(&'p rayon::ThreadPool, &'p [u32]),
    }
    let plan = match (pool, &over) {
        (Some(pool), Over::Spikes(..)) if parts(&proj.target_parts) => {
            Plan::ByTarget(pool, &proj.target_parts)
        }
        (Some(pool), Over::All) if parts(&proj.source_parts) => {
            Plan::BySource(pool, &proj.source_parts)
        }
        _ => Plan::Whole,
    };
    with_table(&f.args, resolve, |table| {
        let shared = Shared {
            table,
            ids: ids.as_ptr(),
        };
        let over = (n, first_slot);
        use rayon::prelude::*;
        match plan {
            Plan::Whole => shared.call(f.f, over, clock, whole.0, whole.1),
            Plan::ByTarget(pool, bounds) => pool.install(|| {
                bounds
                    .par_windows(2)
                    .map(|w| shared.call(f.f, over, clock, (w[0], w[1]), whole.1))
                    .sum()
            }),
            Plan::BySource(pool, bounds) => {
                // The per-target values first (no sources), then the
                // synapses (no targets' values).
                if f.scratch > 0 {
                    shared.call(f.f, over, clock, whole.0, (0, 0));
                }
                pool.install(|| {
                    bounds
                        .par_windows(2)
                        .map(|w| shared.call(f.f, over, clock, (0, 0), (w[0], w[1])))
                        .sum()
                })
            }
        }
    })
}
