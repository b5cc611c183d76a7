//! Checking spike sources: `poisson`, `bernoulli` and `spike_times`, and
//! the rates they fire at (one for all cells, or each cell's own).

use super::expr::{const_value, eval, Scope};
use super::model::*;
use super::network::list_items;
use super::units::{self, Dim};
use super::Checker;
use crate::diagnostics::Diagnostic;
use crate::syntax::ast::{self, Expr, Span};

/// What a source's values of each cell must be: a rate (poisson), at
/// least 0; a probability per step (bernoulli), within [0, 1].
#[derive(Clone, Copy, PartialEq)]
enum Bound {
    Rate,
    Probability,
}

/// The most cells at which a rate that uses `i` is worked out when
/// checked (evenly spread, the first and the last among them).
const CELLS_CHECKED: usize = 100_001;

impl Checker {
    pub(super) fn source(
        &mut self,
        call: &ast::Call,
        size: usize,
        m: &Model,
    ) -> Option<SourceKind> {
        let scope = Scope {
            signals: &m.signals,
            allow_time: true,
            context: super::expr::SOURCE_SETTING,
            ..Scope::default()
        };
        // A rate may differ between cells: `i`, `n_cells`, a distribution.
        let rate_scope = Scope {
            cells: Some(size),
            context: super::expr::SOURCE_RATE,
            ..scope.clone()
        };
        let arg = |n: &str, pos: usize| -> Option<&Expr> {
            call.args
                .iter()
                .find(|a| a.name.as_ref().is_some_and(|x| x.name == n))
                .map(|a| &a.value)
                .or_else(|| {
                    call.args
                        .get(pos)
                        .filter(|a| a.name.is_none())
                        .map(|a| &a.value)
                })
        };
        let known: &[&str] = match call.name.name.as_str() {
            "poisson" => &["rate"],
            "bernoulli" => &["p", "rate", "refractory"],
            _ => &["times", "cells"],
        };
        self.unknown_arguments(&call.args, known, &format!("{}(...)", call.name.name));
        match call.name.name.as_str() {
            "poisson" => {
                let Some(r) = arg("rate", 0) else {
                    self.emit(
                        Diagnostic::error(
                            "cbm::E026",
                            call.span,
                            "poisson(...) needs `rate = <frequency>`",
                        )
                        .label("no rate"),
                    );
                    return None;
                };
                let rate = self.source_rate(r, Dim::RATE, "the rate", &rate_scope)?;
                if let Init::Expr(rate) = &rate {
                    if let Some(v) = const_value(rate).filter(|v| !(*v >= 0.0 && v.is_finite())) {
                        let message = if v.is_nan() {
                            "the rate is not a number (0/0?)".to_string()
                        } else if v.is_infinite() {
                            "the rate is infinite".to_string()
                        } else {
                            format!(
                                "a rate cannot be negative: {}",
                                units::format_quantity(v, Dim::RATE)
                            )
                        };
                        self.emit(
                            Diagnostic::error("cbm::E020", rate.span, message).label("not a rate"),
                        );
                        return None;
                    }
                    if let Some(v) = const_value(rate) {
                        self.poisson_saturation(v, rate.span, "this source delivers");
                    }
                }
                if !self.per_cell_values_in_range(&rate, Bound::Rate, size) {
                    return None;
                }
                Some(SourceKind::Poisson { rate })
            }
            "bernoulli" => {
                let p = match (arg("p", usize::MAX), arg("rate", usize::MAX)) {
                    (Some(p), None) => self.source_rate(
                        p,
                        Dim::NONE,
                        "the spike probability per step",
                        &rate_scope,
                    )?,
                    (None, Some(r)) => {
                        let r = self.source_rate(r, Dim::RATE, "the rate", &rate_scope)?;
                        // p = rate * dt (a distribution's every argument).
                        let dt = self.dt;
                        r.map(&|e: TExpr| {
                            let span = e.span;
                            let dt = TExpr {
                                kind: TKind::Const(dt),
                                ty: Ty::Num(Dim::TIME),
                                span,
                            };
                            TExpr {
                                kind: TKind::Binary(ast::BinOp::Mul, Box::new(e), Box::new(dt)),
                                ty: Ty::Num(Dim::NONE),
                                span,
                            }
                        })
                    }
                    _ => {
                        self.emit(Diagnostic::error("cbm::E026", call.span, "bernoulli(...) needs exactly one of `p = <probability per step>` or `rate = <frequency>`").label("here"));
                        return None;
                    }
                };
                let given_as_rate = arg("rate", usize::MAX).is_some();
                if let Some((v, span)) = match &p {
                    Init::Expr(e) => const_value(e).map(|v| (v, e.span)),
                    _ => None,
                } {
                    if !(0.0..=1.0).contains(&v) {
                        let d = Diagnostic::error(
                            "cbm::E022",
                            span,
                            format!(
                                "spike probability per step is {}, outside [0, 1]",
                                units::trim_float(v)
                            ),
                        );
                        self.emit(if v > 1.0 && given_as_rate {
                            d.label("rate x dt > 1")
                                .help("a Bernoulli source fires at most once per step: lower the rate or use a smaller dt")
                        } else if v > 1.0 {
                            d.label("a probability above 1").help(
                                "`p` is the probability of a spike in each step, from 0 to 1",
                            )
                        } else {
                            d.label("negative")
                        });
                        return None;
                    }
                }
                if !self.per_cell_values_in_range(&p, Bound::Probability, size) {
                    return None;
                }
                let refractory_steps = match arg("refractory", usize::MAX) {
                    Some(r) => {
                        let r = self.expr(r, &scope);
                        self.steps_of(&r, "the refractory period", &scope, 0)?
                    }
                    None => 0,
                };
                Some(SourceKind::Bernoulli {
                    p,
                    refractory_steps,
                })
            }
            _ => {
                let Some(times) = arg("times", 0) else {
                    self.emit(
                        Diagnostic::error(
                            "cbm::E026",
                            call.span,
                            "spike_times(...) needs `times = [t1, t2, ...]`",
                        )
                        .label("no times"),
                    );
                    return None;
                };
                let mut steps = Vec::new();
                for e in list_items(times) {
                    let t = self.expr(e, &scope);
                    if let Some(s) = self.steps_of(&t, "a spike time", &scope, 0) {
                        steps.push(s as u64);
                    }
                }
                steps.sort_unstable();
                let cells = match arg("cells", 1) {
                    None => None,
                    Some(c) => {
                        let mut v = Vec::new();
                        for e in list_items(c) {
                            if let Some(i) = self.count(e, "a cell index", 0) {
                                if i as usize >= size {
                                    self.emit(
                                        Diagnostic::error(
                                            "cbm::E020",
                                            e.span,
                                            format!(
                                                "cell {i} is outside the population (size {size})"
                                            ),
                                        )
                                        .label("out of range"),
                                    );
                                } else {
                                    v.push(i as usize);
                                }
                            }
                        }
                        Some(v)
                    }
                };
                Some(SourceKind::SpikeTimes { steps, cells })
            }
        }
    }

    /// A spike source's rate (or probability per step): an expression of
    /// time, signals, `i` and `n_cells`, or a distribution drawn once per
    /// cell from constants.
    fn source_rate(&mut self, e: &Expr, dim: Dim, what: &str, scope: &Scope) -> Option<Init> {
        let errors = self.diagnostics.len();
        let init = self.init(e, scope, true)?;
        self.check_init_dim(&init, dim, what, scope);
        let varying = |r: Ref| matches!(r, Ref::CellIndex | Ref::Time | Ref::Signal(_));
        let drawn = !matches!(init, Init::Expr(_));
        if let Some((r, span)) = init
            .exprs()
            .iter()
            .filter(|_| drawn)
            .find_map(|x| x.find_ref(&varying))
        {
            let name = match r {
                Ref::CellIndex => "`i`".to_string(),
                Ref::Time => "`t`".to_string(),
                _ => "a protocol signal".to_string(),
            };
            self.emit(
                Diagnostic::error(
                    "cbm::E028",
                    span,
                    format!("a distribution's arguments must be constants, not {name}"),
                )
                .label("not a constant")
                .help("a distribution draws each cell's rate once, from constants (`rate = normal(10 Hz, 2 Hz, low = 0 Hz)`); a rate that changes in time or along the population is an expression: `rate = 5 Hz + 10 Hz * i / n_cells + 20 Hz * cs`"),
            );
            return None;
        }
        // (`init` checked the distribution's values: they are literals.)
        (!self.diagnostics[errors..].iter().any(|d| d.is_error())).then_some(init)
    }

    /// A source cell spikes at most once per step: a Poisson source of rate
    /// R fires with probability 1 - exp(-R dt) per step, which falls short
    /// of R dt as R dt grows (8 kHz at dt = 0.1 ms delivers 5.5 kHz). Said
    /// where the shortfall passes 2.5% (R dt > 0.05).
    fn poisson_saturation(&mut self, rate: f64, span: Span, who_delivers: &str) {
        let x = rate * self.dt;
        if x <= 0.05 {
            return;
        }
        let delivered = -(-x).exp_m1() / self.dt;
        self.emit(
            Diagnostic::warning(
                "cbm::W114",
                span,
                format!(
                    "each cell spikes at most once per step, so {who_delivers} {delivered:.0} Hz rather than {rate:.0} Hz ({:.0}% less)",
                    100.0 * (1.0 - delivered / rate)
                ),
            )
            .label(format!("rate x dt = {}", units::trim_float(x)))
            .help("use a smaller dt, or several cells each with a share of the rate (e.g. 20 cells at rate / 20 into each target)"),
        );
    }

    /// A rate (or probability) of each cell's own, in range: an expression
    /// of `i` worked out along the population (a negative rate, a
    /// probability outside [0, 1] or a value that is not a number is the
    /// error a constant one is: E020, E022); a distribution by its bounds
    /// (the same errors), and a normal one without a bound by the share of
    /// cells that draw past it (W120, above 0.1%: those cells act as if
    /// at the bound). False on an error.
    fn per_cell_values_in_range(&mut self, init: &Init, bound: Bound, size: usize) -> bool {
        match init {
            Init::Expr(e) => self.cell_index_values_in_range(e, bound, size),
            Init::Uniform { low, high } => {
                let low = const_value(low).map(|v| (v, low.span));
                let high = const_value(high).map(|v| (v, high.span));
                self.bounds_in_range(low, high, bound)
            }
            Init::Normal {
                mean,
                sd,
                sd_relative,
                low,
                high,
            } => {
                let low_v = low.as_ref().and_then(|l| Some((const_value(l)?, l.span)));
                let high_v = high.as_ref().and_then(|h| Some((const_value(h)?, h.span)));
                if !self.bounds_in_range(low_v, high_v, bound) {
                    return false;
                }
                let (Some(m), Some(mut sd_v)) = (const_value(mean), const_value(sd)) else {
                    return true;
                };
                if *sd_relative {
                    sd_v *= m.abs();
                }
                let share_below = |x: f64| normal_cdf((x - m) / sd_v);
                if low.is_none() {
                    let share = share_below(0.0);
                    self.drawn_past_a_bound(share, mean.span, bound, "below 0");
                }
                if high.is_none() && bound == Bound::Probability {
                    let share = 1.0 - share_below(1.0);
                    self.drawn_past_a_bound(share, mean.span, bound, "above 1");
                }
                true
            }
        }
    }

    /// A uniform or bounded normal distribution's bounds (with the span of
    /// each) in range, and a Poisson source's highest rate not saturated.
    fn bounds_in_range(
        &mut self,
        low: Option<(f64, Span)>,
        high: Option<(f64, Span)>,
        bound: Bound,
    ) -> bool {
        if let Some((v, span)) = low.filter(|(v, _)| *v < 0.0) {
            self.out_of_range(v, span, bound, "at the distribution's lower bound");
            return false;
        }
        if let Some((v, span)) = high.filter(|(v, _)| bound == Bound::Probability && *v > 1.0) {
            self.out_of_range(v, span, bound, "at the distribution's upper bound");
            return false;
        }
        if let (Some((v, span)), Bound::Rate) = (high, bound) {
            self.poisson_saturation(v, span, "a cell at the upper bound delivers");
        }
        true
    }

    /// An expression of `i` (not of time) worked out along the population.
    fn cell_index_values_in_range(&mut self, e: &TExpr, bound: Bound, size: usize) -> bool {
        let uses_index = e.find_ref(&|r| r == Ref::CellIndex).is_some();
        let changes = e.find_ref(&|r| matches!(r, Ref::Time | Ref::Signal(_)));
        if !uses_index || changes.is_some() || size == 0 {
            return true;
        }
        let dt = self.dt;
        let checked = size.min(CELLS_CHECKED);
        let mut lowest: Option<(f64, usize)> = None;
        let mut highest: Option<(f64, usize)> = None;
        for k in 0..checked {
            // Evenly spread, the first and the last cell among them.
            let cell = if checked == 1 {
                0
            } else {
                k * (size - 1) / (checked - 1)
            };
            let value = eval(e, &|r| match r {
                Ref::CellIndex => Some(cell as f64),
                Ref::Dt => Some(dt),
                _ => None,
            });
            let Some(v) = value else {
                return true;
            };
            if v.is_nan() {
                let what = match bound {
                    Bound::Rate => "rate",
                    Bound::Probability => "spike probability per step",
                };
                self.emit(
                    Diagnostic::error(
                        if bound == Bound::Rate {
                            "cbm::E020"
                        } else {
                            "cbm::E022"
                        },
                        e.span,
                        format!("the {what} of cell {cell} is not a number (0/0?)"),
                    )
                    .label("not a number for some cells"),
                );
                return false;
            }
            if lowest.is_none_or(|(x, _)| v < x) {
                lowest = Some((v, cell));
            }
            if highest.is_none_or(|(x, _)| v > x) {
                highest = Some((v, cell));
            }
        }
        let (Some((low, low_cell)), Some((high, high_cell))) = (lowest, highest) else {
            return true;
        };
        if low < 0.0 {
            self.out_of_range(low, e.span, bound, &format!("for cell {low_cell}"));
            return false;
        }
        match bound {
            Bound::Probability if high > 1.0 => {
                self.out_of_range(high, e.span, bound, &format!("for cell {high_cell}"));
                false
            }
            Bound::Rate if high.is_infinite() => {
                self.out_of_range(high, e.span, bound, &format!("for cell {high_cell}"));
                false
            }
            Bound::Rate => {
                self.poisson_saturation(high, e.span, &format!("cell {high_cell} delivers"));
                true
            }
            Bound::Probability => true,
        }
    }

    /// E020 (a rate) or E022 (a probability) for value `v` `whose` ("for
    /// cell 3", "at the distribution's lower bound").
    fn out_of_range(&mut self, v: f64, span: Span, bound: Bound, whose: &str) {
        let d = match bound {
            Bound::Rate if v.is_infinite() => {
                Diagnostic::error("cbm::E020", span, format!("the rate is infinite {whose}"))
                    .label("not a rate")
            }
            Bound::Rate => Diagnostic::error(
                "cbm::E020",
                span,
                format!(
                    "a rate cannot be negative: {} {whose}",
                    units::format_quantity(v, Dim::RATE)
                ),
            )
            .label("negative for some cells")
            .help("give every cell a rate of 0 Hz or more; to leave some cells silent, write `max(0 Hz, ...)`"),
            Bound::Probability => Diagnostic::error(
                "cbm::E022",
                span,
                format!(
                    "spike probability per step is {} {whose}, outside [0, 1]",
                    units::trim_float(v)
                ),
            )
            .label(if v > 1.0 { "above 1 for some cells" } else { "negative for some cells" })
            .help(if v > 1.0 {
                "a Bernoulli source fires at most once per step: lower the rate or use a smaller dt"
            } else {
                "give every cell a probability of 0 or more"
            }),
        };
        self.emit(d);
    }

    /// W120: a normal distribution without a bound draws past it for
    /// `share` of the cells (said where above 0.1%).
    fn drawn_past_a_bound(&mut self, share: f64, span: Span, bound: Bound, past: &str) {
        if share.is_nan() || share <= 1e-3 {
            return;
        }
        let (what, fix) = match (bound, past) {
            (Bound::Rate, _) => ("rate", "add `low = 0 Hz`"),
            (Bound::Probability, "below 0") => ("probability", "add `low = 0`"),
            _ => ("probability", "add `high = 1`"),
        };
        let counts_as = if past == "below 0" { "0" } else { "1" };
        self.emit(
            Diagnostic::warning(
                "cbm::W120",
                span,
                format!(
                    "{:.1}% of the cells draw a {what} {past}, which counts as {counts_as}",
                    100.0 * share
                ),
            )
            .label("a normal distribution without that bound")
            .help(format!("{fix}, or draw with a smaller standard deviation")),
        );
    }
}

/// The standard normal distribution function (Abramowitz and Stegun
/// 7.1.26, within 1.5e-7: enough to say what share of cells a bound cuts).
fn normal_cdf(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.3275911 * x);
    let poly = t
        * (0.254829592
            + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    let erfc = poly * (-x * x).exp();
    if z >= 0.0 {
        1.0 - erfc / 2.0
    } else {
        erfc / 2.0
    }
}
