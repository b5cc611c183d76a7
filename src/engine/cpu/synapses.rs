//! A projection's synapse programs on the CPU engine: delivering a source's
//! spikes (native code, counting, the interpreter's fast deposit or its
//! `on_pre` program) and running periodic rules in the interpreter.

use super::env::{SourceCellEnv, SynapseEnv};
use super::native::{
    self,
    bind::{Over, SynapseSide},
};
use super::vm::{self, Program, Reg};
use super::ProjRt;
use crate::ir::{Expr, Stmt};

/// `target += v1 * v2 * ... * c` (left to right, as written), computed
/// straight from the synapse arrays without the interpreter.
pub(super) struct FastDeposit {
    factors: Vec<Factor>,
    pulse: u32,
}

#[derive(Clone, Copy)]
enum Factor {
    Var(usize),
    Const(f64),
}

pub(super) fn fast_deposit(on_pre: &[Stmt]) -> Option<FastDeposit> {
    let [Stmt::Deposit { value, pulse_steps }] = on_pre else {
        return None;
    };
    if let Expr::Const(c) = value {
        return Some(FastDeposit {
            factors: vec![Factor::Const(*c)],
            pulse: *pulse_steps,
        });
    }
    fn spine(e: &Expr, out: &mut Vec<Factor>) -> bool {
        match e {
            Expr::Var(v) => {
                out.push(Factor::Var(*v));
                true
            }
            Expr::Const(c) => {
                out.push(Factor::Const(*c));
                true
            }
            Expr::Binary(crate::ir::BinOp::Mul, a, b)
                if matches!(**b, Expr::Var(_) | Expr::Const(_)) =>
            {
                spine(a, out) && spine(b, out)
            }
            _ => false,
        }
    }
    let mut factors = Vec::new();
    spine(value, &mut factors).then_some(FastDeposit {
        factors,
        pulse: *pulse_steps,
    })
}

pub(super) enum Periodic {
    /// Runs the body over all synapses.
    All(Program),
    /// `if <pre-only condition> { body }`: the condition once per source.
    Guarded {
        cond: Program,
        cond_reg: Reg,
        body: Program,
    },
}

/// One projection's share of a source's spikes: teacher arrivals, then the
/// `on_pre` code (or its fast path) over all synapses of all spiking cells,
/// cells ascending and each cell's synapses in storage order.
pub(super) fn deliver(
    proj: &mut ProjRt,
    q: &crate::ir::ProjectionIr,
    side: &SynapseSide,
    code: Option<&native::Loaded<native::SynapseFn>>,
    spikes: &[u32],
    clock: native::bind::Clock,
    pool: Option<&rayon::ThreadPool>,
) {
    let n = proj.n_target;
    let (s, t) = (clock.s, clock.t);
    let first_slot = ((s + q.delay_steps as u64) % proj.slots as u64) as usize;
    // The synapses of the spiking cells, cells ascending, each cell's
    // synapses in storage order: contiguous ranges of the CSR arrays.
    let offsets = &proj.net.offsets;
    let ranges = spikes
        .iter()
        .map(|&i| offsets[i as usize] as usize..offsets[i as usize + 1] as usize);
    // Delays drawn per synapse: each synapse's slot is its own.
    let extra = &proj.net.delay_extra;
    let slot_of = |k: usize| match extra.get(k) {
        Some(&x) => (first_slot + x as usize) % proj.slots,
        None => first_slot,
    };
    if let Some(arr) = proj.arrivals.as_mut() {
        for r in ranges.clone() {
            for (k, &j) in r.clone().zip(&proj.net.post[r]) {
                arr[slot_of(k) * n + j as usize] += 1;
            }
        }
    }
    if let Some(counting) = proj.counting.as_mut().filter(|c| c.worth_it(spikes.len())) {
        counting.add_all(spikes);
        counting.finish(&mut proj.ring[first_slot * n..(first_slot + 1) * n]);
        return;
    }
    if let Some(f) = code {
        native::bind::synapses(f, proj, side, Over::Spikes(spikes, first_slot), clock, pool);
        return;
    }
    let mut ids = std::mem::take(&mut proj.ids);
    ids.clear();
    if let Some(fd) = &proj.fast_deposit {
        let vars = &proj.net.vars;
        let cols: Vec<&[f64]> = fd
            .factors
            .iter()
            .filter_map(|f| {
                if let Factor::Var(x) = f {
                    Some(vars[*x].as_slice())
                } else {
                    None
                }
            })
            .collect();
        let post = &proj.net.post;
        for p in 0..fd.pulse as usize {
            let base = ((first_slot + p) % proj.slots) * n;
            let ring = &mut proj.ring[base..base + n];
            for r in ranges.clone() {
                let targets = &post[r.clone()];
                match (fd.factors.as_slice(), cols.as_slice()) {
                    ([Factor::Var(_), Factor::Var(_)], [a, b]) => {
                        for ((&j, &x), &y) in targets.iter().zip(&a[r.clone()]).zip(&b[r]) {
                            ring[j as usize] += x * y;
                        }
                    }
                    ([Factor::Const(c)], []) => {
                        for &j in targets {
                            ring[j as usize] += c;
                        }
                    }
                    ([Factor::Var(_), Factor::Const(c)], [a]) => {
                        for (&j, &x) in targets.iter().zip(&a[r]) {
                            ring[j as usize] += x * c;
                        }
                    }
                    (factors, _) => {
                        for (&j, k) in targets.iter().zip(r) {
                            let mut v = 1.0;
                            for (i, f) in factors.iter().enumerate() {
                                let x = match *f {
                                    Factor::Var(x) => vars[x][k],
                                    Factor::Const(c) => c,
                                };
                                v = if i == 0 { x } else { v * x };
                            }
                            ring[j as usize] += v;
                        }
                    }
                }
            }
        }
    } else if !proj.on_pre.is_empty() {
        for r in ranges {
            ids.extend(r.start as u32..r.end as u32);
        }
        // With several deposit statements, all of the step's synapses form
        // one batch: the first statement's deposits are added (synapses in
        // order), then the second's, as the CUDA engine adds them
        // (docs/language.md 4.2). Batches would interleave the statements
        // batch by batch, and sums would depend on the batch size.
        let batch = if proj.on_pre_deposits_several {
            ids.len().max(1)
        } else {
            CHUNK
        };
        for chunk in ids.chunks(batch) {
            let deposit = Some((&mut proj.ring, proj.slots, n, first_slot));
            let mut env = SynapseEnv::batch(chunk, &mut proj.net, &proj.bounds, side, t, deposit);
            vm::run(&proj.on_pre, &mut env, &mut proj.regs);
        }
    }
    proj.ids = ids;
}

/// Synapses per interpreter batch: large enough to amortise dispatch, small
/// enough that the registers stay in cache.
const CHUNK: usize = 512;

/// Run periodic rule `k` of a projection.
pub(super) fn periodic_rule(proj: &mut ProjRt, k: usize, side: &SynapseSide, t: f64) {
    let mut ids = std::mem::take(&mut proj.ids);
    // The synapses the rule visits: all of them, or those of the
    // presynaptic cells whose guard holds.
    ids.clear();
    let body = match &proj.every[k].1 {
        Periodic::All(body) => {
            ids.extend(0..proj.net.len() as u32);
            body
        }
        Periodic::Guarded {
            cond,
            cond_reg,
            body,
        } => {
            let mut env = SourceCellEnv {
                pop: side.pre,
                time: t,
                signals: side.signals,
            };
            vm::run(cond, &mut env, &mut proj.regs);
            let cond = proj.regs.reg(*cond_reg);
            for (i, c) in cond.iter().enumerate() {
                if *c != 0.0 {
                    ids.extend(proj.net.offsets[i]..proj.net.offsets[i + 1]);
                }
            }
            body
        }
    };
    for chunk in ids.chunks(CHUNK) {
        let mut env = SynapseEnv::batch(chunk, &mut proj.net, &proj.bounds, side, t, None);
        vm::run(body, &mut env, &mut proj.regs);
    }
    proj.ids = ids;
}

/// A periodic rule `if <condition on the presynaptic cell alone> { body }`:
/// (condition, body). Engines test the condition once per source cell, so
/// silent sources cost nothing.
pub(crate) fn hoisted_guard(rule: &[Stmt]) -> Option<(&Expr, &[Stmt])> {
    match rule {
        [Stmt::If {
            cond,
            then,
            otherwise,
        }] if otherwise.is_empty() && cond.reads_only(&|e| matches!(e, Expr::Pre(_))) => {
            Some((cond, then))
        }
        _ => None,
    }
}

/// Compile a periodic rule for the interpreter.
pub(super) fn periodic(rule: &[Stmt], locals: usize) -> Periodic {
    match hoisted_guard(rule) {
        Some((cond, then)) => {
            let (cond, cond_reg) = vm::compile_expr(cond, 0);
            Periodic::Guarded {
                cond,
                cond_reg,
                body: vm::compile(then, locals),
            }
        }
        None => Periodic::All(vm::compile(rule, locals)),
    }
}
