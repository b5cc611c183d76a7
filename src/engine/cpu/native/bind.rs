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
//! table but never written.

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
/// to `pop.spikes` (ascending).
pub fn cells(
    f: &Loaded<CellFn>,
    pop: &mut PopRt,
    projs: &mut [ProjRt],
    signals: &[f64],
    clock: Clock,
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
    let n = with_table(&f.args, resolve, |table| {
        let c = Ctx {
            p: table,
            ids: std::ptr::null(),
            n: pop.size as u64,
            t: clock.t,
            s: clock.s,
            first_slot: 0,
            key: clock.key,
        };
        // SAFETY: see the module comment; `out` has room for every cell.
        unsafe { (f.f)(&c) as usize }
    });
    out.truncate(n.min(pop.size));
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

/// Run a synapse function of projection `proj`.
pub fn synapses(
    f: &Loaded<SynapseFn>,
    proj: &mut ProjRt,
    side: &SynapseSide,
    over: Over,
    clock: Clock,
) {
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
    with_table(&f.args, resolve, |table| {
        let c = Ctx {
            p: table,
            ids: ids.as_ptr(),
            n: n as u64,
            t: clock.t,
            s: clock.s,
            first_slot: first_slot as u64,
            key: clock.key,
        };
        // SAFETY: see the module comment.
        unsafe { (f.f)(&c) };
    });
}
