//! What the CUDA engine's buffers hold before the first step: one entry
//! of the generated table (`codegen::Entry`) at a time, from the same
//! `Network` as the CPU engine, in the device's layout (synapse variables
//! of by-target projections in CSC order, traces and weights in rows of a
//! chunk).

use super::codegen::{mask_words, Entry, Generated};
use crate::engine::spike_gaps::{device_log_q, SpikeGaps};
use crate::ir::{Ir, PopulationKindIr, RecorderKindIr, SourceIr};
use crate::network::rng::Rng;
use crate::network::Network;

pub(super) fn bytes_of<T: Copy>(v: &[T]) -> &[u8] {
    // SAFETY: plain numeric types without padding, read as bytes.
    unsafe { std::slice::from_raw_parts(v.as_ptr() as *const u8, std::mem::size_of_val(v)) }
}

/// Initial contents of one buffer.
pub(super) enum Init {
    F64(Vec<f64>),
    U32(Vec<u32>),
    U64(Vec<u64>),
    I64(Vec<i64>),
    /// Zeros of this many bytes.
    Zero(usize),
}

impl Init {
    pub(super) fn len_bytes(&self) -> usize {
        match self {
            Init::F64(v) => v.len() * 8,
            Init::U32(v) => v.len() * 4,
            Init::U64(v) => v.len() * 8,
            Init::I64(v) => v.len() * 8,
            Init::Zero(n) => *n,
        }
    }
    pub(super) fn bytes(&self) -> Option<&[u8]> {
        match self {
            Init::F64(v) => Some(bytes_of(v)),
            Init::U32(v) => Some(bytes_of(v)),
            Init::U64(v) => Some(bytes_of(v)),
            Init::I64(v) => Some(bytes_of(v)),
            Init::Zero(_) => None,
        }
    }
}

/// Rows of samples a recorder with period `every` needs for a chunk.
pub(super) fn sample_rows(chunk: u32, every: u32) -> usize {
    (chunk / every.max(1)) as usize + 2
}

/// The synapses each `weights` recorder samples (empty for others).
pub(super) fn weight_ids(ir: &Ir, net: &Network) -> Vec<Vec<usize>> {
    ir.recorders
        .iter()
        .map(|r| match &r.kind {
            RecorderKindIr::Weights {
                projection,
                max_synapses,
                ..
            } => crate::record::sampled_synapses(net.projections[*projection].len(), *max_synapses),
            _ => vec![],
        })
        .collect()
}

/// The source cell of each entry of projection `q`'s by-target index
/// (`ids`: the synapse of each entry).
fn csc_sources(net: &Network, q: usize, ids: &[u32]) -> Vec<u32> {
    let pre = &net.projections[q].pre;
    ids.iter().map(|&k| pre[k as usize]).collect()
}

/// The network, laid out for the device.
pub(super) struct Contents<'a> {
    ir: &'a Ir,
    net: &'a Network,
    weight_ids: &'a [Vec<usize>],
    chunk: u32,
    rng: Rng,
    /// The by-target (CSC) index of each projection whose kernels use one
    /// (`csc_order`): offsets and the synapse id of each entry. Their
    /// synapse variables live on the device in that order.
    csc: Vec<Option<(Vec<u32>, Vec<u32>)>>,
    /// Where each synapse (network order) of such a projection lives on
    /// the device.
    device_pos: Vec<Option<Vec<u32>>>,
    /// The source words and runs of each projection whose delivery may
    /// read them (`Entry::CscWords`, `Entry::CscRuns`).
    words: Vec<Option<(Vec<u64>, Vec<u32>)>>,
    /// Buffers kept in rows, with their rows (`Generated::parity_rows`).
    parity_rows: Vec<(Entry, usize)>,
}

impl<'a> Contents<'a> {
    pub(super) fn new(
        ir: &'a Ir,
        net: &'a Network,
        generated: &Generated,
        weight_ids: &'a [Vec<usize>],
        chunk: u32,
    ) -> Result<Self, String> {
        let csc: Vec<Option<(Vec<u32>, Vec<u32>)>> = (0..ir.projections.len())
            .map(|q| {
                generated.csc_order[q].then(|| {
                    net.projections[q].by_target(ir.populations[ir.projections[q].target].size)
                })
            })
            .collect();
        let device_pos = csc
            .iter()
            .map(|c| {
                c.as_ref().map(|(_, ids)| {
                    let mut pos = vec![0u32; ids.len()];
                    for (e, &k) in ids.iter().enumerate() {
                        pos[k as usize] = e as u32;
                    }
                    pos
                })
            })
            .collect();
        let words = csc
            .iter()
            .enumerate()
            .map(|(q, c)| {
                let (off, ids) = c.as_ref()?;
                generated.slot(Entry::CscWords { proj: q })?;
                let pre = csc_sources(net, q, ids);
                let nw = mask_words(ir.populations[ir.projections[q].source].size);
                Some(super::source_words::source_words(off, &pre, nw))
            })
            .collect::<Vec<_>>();
        Ok(Contents {
            ir,
            net,
            weight_ids,
            chunk,
            rng: Rng::new(ir.seed),
            csc,
            device_pos,
            parity_rows: generated.parity_rows.clone(),
            words: words
                .into_iter()
                .map(|w| w.transpose())
                .collect::<Result<_, _>>()?,
        })
    }

    /// Copies of a buffer: more than one where it is kept in rows.
    fn rows_of(&self, e: &Entry) -> usize {
        self.parity_rows
            .iter()
            .find(|(x, _)| x == e)
            .map_or(1, |&(_, rows)| rows)
    }

    fn csc_ids(&self, q: usize) -> Option<&Vec<u32>> {
        self.csc[q].as_ref().map(|c| &c.1)
    }

    /// The synapse id at each device position, per projection stored in
    /// CSC order (to put downloaded values back in network order).
    pub(super) fn into_device_order(self) -> Vec<Option<Vec<u32>>> {
        self.csc
            .into_iter()
            .map(|c| c.map(|(_, ids)| ids))
            .collect()
    }

    /// The geometric gaps of source `pop` (the CPU engine's: the first
    /// gap of each cell is drawn here, the others on the device).
    fn spike_gaps(&self, pop: usize, s: &SourceIr) -> SpikeGaps {
        let n = self.ir.populations[pop].size;
        SpikeGaps::of_source(s, self.ir.dt, &self.net.populations[pop].vars, n)
            .unwrap_or_else(|| SpikeGaps::new(0.0))
    }

    /// A buffer's initial contents, or the value of a scalar entry (a
    /// count the kernels read from the table itself).
    pub(super) fn of(&self, e: &Entry) -> Result<(Init, Option<u64>), String> {
        Ok(match *e {
            Entry::CellVar { pop, var } => {
                (Init::F64(self.net.populations[pop].vars[var].clone()), None)
            }
            Entry::Refr { pop } => (Init::Zero(4 * self.ir.populations[pop].size), None),
            Entry::Lspk { pop } => {
                let n = self.ir.populations[pop].size * self.rows_of(e);
                (Init::I64(vec![-1; n]), None)
            }
            Entry::Mask { pop } => (
                Init::Zero(4 * mask_words(self.ir.populations[pop].size) * self.chunk as usize),
                None,
            ),
            Entry::SrcNext { pop } => {
                let PopulationKindIr::Source(s) = &self.ir.populations[pop].kind else {
                    return Err("internal error: source state of a neuron population".into());
                };
                let gaps = self.spike_gaps(pop, s);
                let next = (0..self.ir.populations[pop].size)
                    .map(|i| gaps.draw(&self.rng, pop, i, 0))
                    .collect();
                (Init::U64(next), None)
            }
            Entry::SrcLogQ { pop } => {
                let PopulationKindIr::Source(s) = &self.ir.populations[pop].kind else {
                    return Err("internal error: source state of a neuron population".into());
                };
                let gaps = self.spike_gaps(pop, s);
                let log_q = (0..self.ir.populations[pop].size)
                    .map(|i| device_log_q(gaps.probability_of(i)))
                    .collect();
                (Init::F64(log_q), None)
            }
            Entry::SrcCount { pop } => (Init::Zero(4 * self.ir.populations[pop].size), None),
            Entry::SrcTimes { pop } => match &self.ir.populations[pop].kind {
                PopulationKindIr::Source(SourceIr::SpikeTimes { steps, .. }) => {
                    (Init::U64(steps.clone()), None)
                }
                _ => (Init::Zero(0), None),
            },
            Entry::SrcCells { pop } => {
                let n = self.ir.populations[pop].size;
                let mut fl = vec![0u32; n];
                if let PopulationKindIr::Source(SourceIr::SpikeTimes { cells: Some(c), .. }) =
                    &self.ir.populations[pop].kind
                {
                    for &i in c {
                        if i < n {
                            fl[i] = 1;
                        }
                    }
                }
                (Init::U32(fl), None)
            }
            Entry::NTimes { pop } => match &self.ir.populations[pop].kind {
                PopulationKindIr::Source(SourceIr::SpikeTimes { steps, .. }) => {
                    (Init::Zero(0), Some(steps.len() as u64))
                }
                _ => (Init::Zero(0), Some(0)),
            },
            Entry::SynVar { proj, var } => {
                let v = &self.net.projections[proj].vars[var];
                match self.csc_ids(proj) {
                    Some(ids) => (
                        Init::F64(ids.iter().map(|&k| v[k as usize]).collect()),
                        None,
                    ),
                    None => (Init::F64(v.clone()), None),
                }
            }
            Entry::CsrPos { proj } => match &self.device_pos[proj] {
                Some(pos) => (Init::U32(pos.clone()), None),
                None => {
                    return Err("internal error: positions of a projection in network order".into())
                }
            },
            Entry::CsrOff { proj } => (Init::U32(self.net.projections[proj].offsets.clone()), None),
            Entry::Pre { proj } => (Init::U32(self.net.projections[proj].pre.clone()), None),
            Entry::Post { proj } => (Init::U32(self.net.projections[proj].post.clone()), None),
            Entry::CscOff { proj } | Entry::CscPre { proj } | Entry::CscDelay { proj } => {
                let q = &self.net.projections[proj];
                let Some((off, ids)) = &self.csc[proj] else {
                    return Err("internal error: no by-target index".into());
                };
                let v = match e {
                    Entry::CscOff { .. } => off.clone(),
                    Entry::CscPre { .. } => csc_sources(self.net, proj, ids),
                    _ => ids
                        .iter()
                        .map(|&k| q.delay_extra.get(k as usize).copied().unwrap_or(0))
                        .collect(),
                };
                (Init::U32(v), None)
            }
            Entry::CscWords { proj } | Entry::CscRuns { proj } => {
                let Some((words, runs)) = &self.words[proj] else {
                    return Err("internal error: no source words".into());
                };
                match e {
                    Entry::CscWords { .. } => (Init::U64(words.clone()), None),
                    _ => (Init::U32(runs.clone()), None),
                }
            }
            Entry::NSyn { proj } => (Init::Zero(0), Some(self.net.projections[proj].len() as u64)),
            Entry::Ring { proj } => {
                let q = &self.ir.projections[proj];
                let n = q.ring_slots() * self.ir.populations[q.target].size;
                (Init::Zero(8 * n), None)
            }
            Entry::Arr { proj } => {
                let q = &self.ir.projections[proj];
                let n = q.ring_slots() * self.ir.populations[q.target].size;
                (Init::Zero(4 * n), None)
            }
            Entry::Tarr { proj } => {
                let n = self.ir.populations[self.ir.projections[proj].target].size;
                (Init::I64(vec![-1; n * self.rows_of(e)]), None)
            }
            // No arrivals yet: "step -1" (all ones) is done.
            Entry::CellFlag { pop } => (
                Init::U32(vec![u32::MAX; self.ir.populations[pop].size]),
                None,
            ),
            // No delivery yet: "step -1" (all ones) is done.
            Entry::Flag { proj } => {
                let n = self.ir.populations[self.ir.projections[proj].target].size;
                (Init::U32(vec![u32::MAX; n]), None)
            }
            Entry::DepVal { proj, .. } => (Init::Zero(8 * self.net.projections[proj].len()), None),
            Entry::DepFlag { proj, .. } => (Init::Zero(4 * self.net.projections[proj].len()), None),
            Entry::GapOff { gap } | Entry::GapList { gap } => {
                let n = self.ir.populations[self.ir.gaps[gap].population].size;
                let mut lists: Vec<Vec<u32>> = vec![vec![]; n];
                for &(i, j) in &self.net.gaps[gap].pairs {
                    lists[i as usize].push(j);
                    lists[j as usize].push(i | 1 << 31);
                }
                if matches!(e, Entry::GapOff { .. }) {
                    let mut off = vec![0u32; n + 1];
                    for c in 0..n {
                        off[c + 1] = off[c] + lists[c].len() as u32;
                    }
                    (Init::U32(off), None)
                } else {
                    (Init::U32(lists.concat()), None)
                }
            }
            Entry::TraceCells { rec } => match &self.ir.recorders[rec].kind {
                RecorderKindIr::Trace { cells, .. } => {
                    (Init::U32(cells.iter().map(|&c| c as u32).collect()), None)
                }
                _ => (Init::Zero(0), None),
            },
            Entry::TraceAt { rec } => match &self.ir.recorders[rec].kind {
                RecorderKindIr::Trace {
                    population, cells, ..
                } => (
                    Init::U32(trace_columns(self.ir.populations[*population].size, cells)),
                    None,
                ),
                _ => (Init::Zero(0), None),
            },
            Entry::TraceBuf { rec } => match &self.ir.recorders[rec].kind {
                RecorderKindIr::Trace {
                    cells, every_steps, ..
                } => (
                    Init::Zero(8 * cells.len() * sample_rows(self.chunk, *every_steps)),
                    None,
                ),
                _ => (Init::Zero(0), None),
            },
            Entry::WeightIds { rec } => {
                let RecorderKindIr::Weights { projection, .. } = &self.ir.recorders[rec].kind
                else {
                    return Err("internal error: weight ids of another recorder".into());
                };
                let at = |k: usize| match &self.device_pos[*projection] {
                    Some(pos) => pos[k],
                    None => k as u32,
                };
                (
                    Init::U32(self.weight_ids[rec].iter().map(|&k| at(k)).collect()),
                    None,
                )
            }
            Entry::WeightBuf { rec } => match &self.ir.recorders[rec].kind {
                RecorderKindIr::Weights { every_steps, .. } => (
                    Init::Zero(
                        8 * self.weight_ids[rec].len() * sample_rows(self.chunk, *every_steps),
                    ),
                    None,
                ),
                _ => (Init::Zero(0), None),
            },
            Entry::NWeightIds { rec } => (Init::Zero(0), Some(self.weight_ids[rec].len() as u64)),
            Entry::Err => (Init::U64(vec![u64::MAX, u64::MAX]), None),
        })
    }
}

/// The columns of a trace recorder's buffer that each of the population's
/// `n` cells fills: `n + 1` offsets, then the columns (a cell may be
/// recorded in several).
fn trace_columns(n: usize, cells: &[usize]) -> Vec<u32> {
    let mut count = vec![0u32; n + 1];
    for &c in cells {
        count[c + 1] += 1;
    }
    for c in 0..n {
        count[c + 1] += count[c];
    }
    let mut cols = vec![0u32; cells.len()];
    let mut next = count.clone();
    for (col, &c) in cells.iter().enumerate() {
        cols[next[c] as usize] = col as u32;
        next[c] += 1;
    }
    count.extend(cols);
    count
}

#[cfg(test)]
mod trace_column_tests {
    #[test]
    fn each_cell_finds_its_columns_in_order() {
        // cells [2, 0, 2] of 3: cell 0 fills column 1, cell 2 columns 0 and 2.
        let t = super::trace_columns(3, &[2, 0, 2]);
        assert_eq!(t, vec![0, 1, 1, 3, 1, 0, 2]);
    }
}
