//! cbmc: a compiler and runtime for spiking neural circuits.
//!
//! The pipeline (design.md section 1), one module per stage:
//! `syntax` (text to tree) -> `check` (names, units, lints) -> `ir` (lowering)
//! -> `network` (instantiation) -> `engine` (CPU, CUDA) -> `record` -> `analysis`.

pub mod analysis;
pub mod check;
pub mod diagnostics;
pub mod engine;
pub mod files;
pub mod ir;
pub mod network;
pub mod npz_keys;
pub mod record;
pub mod session;
pub mod syntax;
