//! The table of buffers (`cbm_p`) the kernels read: one `Entry` per slot.

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
    /// i64[n]: step of the last spike, -1 before the first (i64[2 n] or
    /// [3 n], a copy per step parity or per step modulo 3, where
    /// `Generated::parity_rows` says so).
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
    /// f64[n]: ln(1 - p) of each cell of a source whose cells spike with
    /// probabilities of their own, constant in time (`device_log_q`).
    SrcLogQ {
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
    /// The by-target index by words of 32 sources, for deliveries that find
    /// their spiking synapses through it (see `synapse_tasks::words_finder`).
    /// u64[targets * mask words]: per target and word, the bits of the
    /// sources that reach the target (low half) and the index in `CscRuns`
    /// of the first of them (high half). u32: per target, the first CSC
    /// entry of each source that reaches it (the entries of a source that
    /// reaches it more than once are consecutive), then the target's end.
    CscWords {
        proj: usize,
    },
    CscRuns {
        proj: usize,
    },
    /// u32 per CSC entry: its synapse's delay beyond the projection's
    /// shortest, in steps (projections with delays drawn per synapse).
    CscDelay {
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
    /// u32[n + 1 + cells]: the columns of a trace recorder's buffer that
    /// each cell of its population fills (offsets, then columns), for the
    /// cells' own threads to record (`Variant::fuse`).
    TraceAt {
        rec: usize,
    },
    /// u32[targets]: the last step whose delivery the target's deposits
    /// are in (`Variant::fuse`; all ones before the first step).
    Flag {
        proj: usize,
    },
    /// u32[n]: the last step whose arrivals and gap currents the cell's
    /// thread has done (`Variant::fuse`; all ones before the first step).
    CellFlag {
        pop: usize,
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
    pub(super) fn is_read_only(&self) -> bool {
        matches!(
            self,
            Entry::CsrOff { .. }
                | Entry::Pre { .. }
                | Entry::Post { .. }
                | Entry::CsrPos { .. }
                | Entry::CscOff { .. }
                | Entry::CscPre { .. }
                | Entry::CscDelay { .. }
                | Entry::CscWords { .. }
                | Entry::CscRuns { .. }
                | Entry::GapOff { .. }
                | Entry::GapList { .. }
                | Entry::SrcTimes { .. }
                | Entry::SrcCells { .. }
                | Entry::SrcLogQ { .. }
                | Entry::TraceCells { .. }
                | Entry::TraceAt { .. }
                | Entry::WeightIds { .. }
        )
    }
    pub(super) fn c_type(&self) -> &'static str {
        match self {
            Entry::CellVar { .. }
            | Entry::SynVar { .. }
            | Entry::Ring { .. }
            | Entry::DepVal { .. }
            | Entry::TraceBuf { .. }
            | Entry::WeightBuf { .. }
            | Entry::SrcLogQ { .. } => "double",
            Entry::Lspk { .. } | Entry::Tarr { .. } => "i64",
            Entry::SrcNext { .. }
            | Entry::SrcTimes { .. }
            | Entry::CscWords { .. }
            | Entry::Err => "u64",
            _ => "u32",
        }
    }
}
