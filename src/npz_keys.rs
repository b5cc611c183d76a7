//! The names of the arrays a run writes to its `.npz` (docs/language.md
//! section 3.12, "What a run writes"). The checker reserves them (two
//! recorders may not write one name), the recorder writes them and `cbmc
//! plot` reads them back: one spelling for all three.
//!
//! A recorder `NAME` writes `NAME` itself and `NAME` followed by suffixes;
//! `key(name, suffix)` joins them.

/// The run's metadata, UTF-8 JSON bytes.
pub const META: &str = "meta";
/// `NAME_pairs`: the cell pairs a gap junction couples, `[pairs, 2]`.
pub const GAP_PAIRS: &str = "_pairs";
/// `NAME_bin`: the bin width in seconds of `spike_counts` and `rate`.
pub const BIN: &str = "_bin";
/// `NAME_t`: spike times, trace sample times or weight snapshot times, in seconds.
pub const TIMES: &str = "_t";
/// `NAME_i`: the cell of each spike of `spike_times`.
pub const SPIKING_CELLS: &str = "_i";
/// `NAME_cells`: the cells a trace samples (its columns).
pub const TRACE_CELLS: &str = "_cells";
/// `NAME_pre` and `NAME_post`: the cells of each recorded synapse of `weights`.
pub const PRE: &str = "_pre";
pub const POST: &str = "_post";
/// `NAME_delay`: each recorded synapse's delay in seconds, for a projection
/// with delays drawn per synapse (only then written).
pub const DELAY: &str = "_delay";

/// The key of one of recorder `name`'s arrays ("" for the main one).
pub fn key(name: &str, suffix: &str) -> String {
    format!("{name}{suffix}")
}
