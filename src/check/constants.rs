//! The model's constants: `let N_E = 4000`, `let J = 0.2 mV` at the top
//! level of a file, worked out first, in file order, and read by every
//! value after them as a number with its unit (`--set J=0.3mV` replaces
//! one, `overrides.rs`).

use super::expr::{const_value, Scope};
use super::model::Ref;
use super::units::Dim;
use super::Checker;
use crate::diagnostics::Diagnostic;
use crate::syntax::ast::{Decl, Item, Span};

/// A constant's value in SI units, its dimension and where it is defined.
#[derive(Clone, Debug)]
pub struct Constant {
    pub name: String,
    pub value: f64,
    pub dim: Dim,
    pub span: Span,
}

impl Checker {
    /// Work the constants out in file order: each may use numbers, units,
    /// `pi` and the constants before it, not `dt` or `t` (worked out before
    /// the simulation block) nor anything that varies.
    pub(super) fn constants(&mut self, items: &[Item]) {
        // Each constant's value may not use the ones after it: named in
        // the message if it tries.
        let all: Vec<Decl> = items
            .iter()
            .filter_map(|i| match i {
                Item::Constant(c) => Some(Decl {
                    name: c.name.clone(),
                    unit: None,
                    value: Some(c.value.clone()),
                    span: c.span,
                    replaced: None,
                }),
                _ => None,
            })
            .collect();
        let constants = items.iter().filter_map(|i| match i {
            Item::Constant(c) => Some(c),
            _ => None,
        });
        for (k, c) in constants.enumerate() {
            let scope = Scope {
                context: "a model constant",
                declared_later: &all[k + 1..],
                ..Scope::default()
            };
            let name = c.name.name.as_str();
            let taken = if super::units::lookup(name).is_some() {
                Some("a unit")
            } else if matches!(name, "t" | "dt" | "pi" | "i" | "n_cells" | "delay") {
                Some("a name the language gives a meaning")
            } else {
                None
            };
            if let Some(what) = taken {
                self.emit(
                    Diagnostic::error(
                        "cbm::E002",
                        c.name.span,
                        format!("`{name}` is {what}: a constant cannot take its name"),
                    )
                    .label("already a name")
                    .help(format!(
                        "give the constant another name, e.g. `{name}_value`"
                    )),
                );
                continue;
            }
            if self.constants.iter().any(|k| k.name == c.name.name) {
                self.emit(
                    Diagnostic::error(
                        "cbm::E002",
                        c.name.span,
                        format!("constant `{}` is defined more than once", c.name.name),
                    )
                    .label("second definition")
                    .help(format!(
                        "keep one; to change a constant's value for a run, use `--set {}=...`",
                        c.name.name
                    )),
                );
                continue;
            }
            let e = self.expr(&c.value, &scope);
            if let Some((_, span)) = e.find_ref(&|r| matches!(r, Ref::Dt | Ref::Time)) {
                self.emit(
                    Diagnostic::error(
                        "cbm::E028",
                        span,
                        "a model constant cannot use `dt` or `t`: constants are worked out before the simulation block",
                    )
                    .label("not known yet")
                    .help("write the value out, or use `dt` where the constant is used"),
                );
                continue;
            }
            let (Some(value), Some(dim)) = (const_value(&e), e.ty.dim()) else {
                if e.ty != super::model::Ty::Error {
                    self.emit(
                        Diagnostic::error(
                            "cbm::E020",
                            c.value.span,
                            format!("constant `{}` must be a number or a quantity", c.name.name),
                        )
                        .label("not a constant value")
                        .help("a constant is worked out once: numbers, units, `pi`, functions of them and constants defined before it"),
                    );
                }
                continue;
            };
            self.constants.push(Constant {
                name: c.name.name.clone(),
                value,
                dim,
                span: c.name.span,
            });
        }
    }

    /// The constant named `name`, if the model defines one.
    pub(super) fn constant(&self, name: &str) -> Option<&Constant> {
        self.constants.iter().find(|c| c.name == name)
    }
}
