//! Front end, first stage: text to a syntax tree with spans.

pub mod ast;
pub mod parser;

pub use parser::{parse, parse_expr};
