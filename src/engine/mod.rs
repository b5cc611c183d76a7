//! Engines: run an instantiated network step by step.
//!
//! Both engines implement `Engine` over the same IR and the same `Network`.

pub mod c_expr;
pub mod cache;
pub mod cpu;
pub mod cuda;
pub mod spike_gaps;
pub mod templates;

/// Read access to a running engine's state, for recorders.
pub trait StateView {
    /// Cells of `population` that spiked in the last step, ascending.
    fn spikes(&self, population: usize) -> &[u32];
    /// Values of a cell variable, one per cell.
    fn var(&self, population: usize, var: usize) -> &[f64];
    /// Values of a per-synapse variable, in the network's CSR order.
    fn synapse_var(&self, projection: usize, var: usize) -> &[f64];
    /// Each cell's spikes since the start, where the engine counts them
    /// anyway (the CPU engine's constant-rate sources): the recorder takes
    /// these instead of counting every spike again.
    fn spike_totals(&self, _population: usize) -> Option<&[u32]> {
        None
    }
}

/// A value that went NaN or infinite: the run stops and says where.
#[derive(Clone, Debug)]
pub struct NumericalError {
    pub population: String,
    pub variable: String,
    pub cell: usize,
    pub step: u64,
    pub value: f64,
}

impl std::fmt::Display for NumericalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}.{}` of cell {} became {} at step {}; the run stopped there",
            self.population, self.variable, self.cell, self.value, self.step
        )
    }
}

pub trait Engine: StateView {
    /// Advance one step.
    fn step(&mut self) -> Result<(), NumericalError>;
    /// Steps completed so far.
    fn steps_done(&self) -> u64;
    /// Short description for metadata ("cpu, 2 threads").
    fn describe(&self) -> String;
    /// Work to do before the next `step`: the CUDA engine runs a chunk of
    /// steps on the device here when the previous chunk is used up.
    fn prepare(&mut self) -> Result<(), String> {
        Ok(())
    }
    /// Bytes of synapse data the engine keeps besides the network's arrays
    /// (the CPU engine's narrow index copies and counting masks).
    fn extra_synapse_bytes(&self) -> usize {
        0
    }
}
