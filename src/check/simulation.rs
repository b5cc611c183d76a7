//! The `simulation` block: dt, duration, seed.

use super::*;

impl Checker {
    pub(super) fn simulation(&mut self, s: &ast::Settings, m: &mut Model) {
        let scope = Scope {
            context: "simulation settings",
            ..Scope::default()
        };
        self.duplicate_settings(&s.settings);
        // dt first: the other settings may be written in steps (`100 * dt`).
        for set in s.settings.iter().filter(|x| x.name.name == "dt") {
            let e = self.expr(&set.value, &scope);
            if super::linear::mentions(&e, Ref::Dt) {
                self.emit(
                    Diagnostic::error("cbm::E020", e.span, "dt cannot be given in terms of itself")
                        .label("mentions dt")
                        .help("give the step as a time, e.g. `dt = 0.1 ms`"),
                );
                continue;
            }
            if let Some(v) = self.positive_const(&e, Dim::TIME, "dt", &scope) {
                m.dt = v;
            }
        }
        self.dt = m.dt;
        let mut duration_span = None;
        for set in &s.settings {
            let e = self.expr(&set.value, &scope);
            match set.name.name.as_str() {
                "dt" => {}
                "duration" => {
                    if self.expect_dim(&e, Dim::TIME, "the duration", &scope) {
                        match self.const_eval(&e, &scope) {
                            Some(v) if v >= 0.0 && v.is_finite() => {
                                m.duration = v;
                                duration_span = Some(e.span);
                                self.duration_in_whole_steps(&e, v);
                            }
                            _ => self.emit(
                                Diagnostic::error(
                                    "cbm::E020",
                                    e.span,
                                    "the duration must be a constant time of zero or more",
                                )
                                .label("here"),
                            ),
                        }
                    }
                }
                "seed" => {
                    if self.expect_dim(&e, Dim::NONE, "the seed", &scope) {
                        match const_value(&e) {
                            // Every whole number below 2^53 is exact in a
                            // double; from it on, two seeds could be one
                            // (2^53 + 1 is read as 2^53).
                            Some(v) if (0.0..MAX_SEED).contains(&v) && v.fract() == 0.0 => {
                                m.seed = v as u64
                            }
                            _ => self.emit(
                                Diagnostic::error(
                                    "cbm::E020",
                                    e.span,
                                    "the seed must be a whole number from 0 to 2^53 - 1 (9007199254740991)",
                                )
                                .label("here"),
                            ),
                        }
                    }
                }
                other => self.emit(unknown_setting(
                    other,
                    set.name.span,
                    &["dt", "duration", "seed"],
                    "simulation",
                )),
            }
        }
        if m.dt > 0.0 && m.duration / m.dt > 1e12 {
            self.emit(
                Diagnostic::error(
                    "cbm::E020",
                    duration_span.unwrap_or(s.keyword_span),
                    format!(
                        "the run would take {:.1e} steps (duration {} at dt = {}); at most 10^12",
                        m.duration / m.dt,
                        units::format_quantity(m.duration, Dim::TIME),
                        units::format_quantity(m.dt, Dim::TIME)
                    ),
                )
                .label("too long"),
            );
        }
    }

    /// A duration that is not a whole number of steps runs for the nearest
    /// whole number (docs/language.md section 3.3): say so, since `10.7 ms`
    /// at dt = 1 ms silently becoming 11 steps surprises.
    pub(super) fn duration_in_whole_steps(&mut self, e: &TExpr, duration: f64) {
        let steps = duration / self.dt;
        let rounded = whole_steps(duration, self.dt);
        if (steps - rounded).abs() <= 1e-6 * rounded.max(1.0) {
            return;
        }
        // (A duration of zero, written so, is a run of no steps that still
        // builds and writes the network: `wiring` recorders.)
        if rounded == 0.0 {
            self.emit(
                Diagnostic::error(
                    "cbm::E020",
                    e.span,
                    format!(
                        "the duration ({}) is less than half a step (dt = {}): the run would have no steps",
                        units::format_quantity(duration, Dim::TIME),
                        units::format_quantity(self.dt, Dim::TIME)
                    ),
                )
                .label("no steps")
                .help("give at least one step, or `0 s` for a run of none"),
            );
            return;
        }
        self.emit(
            Diagnostic::warning(
                "cbm::W111",
                e.span,
                format!(
                    "the duration ({}) is not a whole number of steps (dt = {}): the run has {} steps ({})",
                    units::format_quantity(duration, Dim::TIME),
                    units::format_quantity(self.dt, Dim::TIME),
                    rounded,
                    units::format_quantity(rounded * self.dt, Dim::TIME)
                ),
            )
            .label(format!("{steps:.3} steps"))
            .help("use a multiple of dt"),
        );
    }
}

/// 2^53: every whole number below it, and so every seed, is exact in a
/// double (the language's numbers).
pub(super) const MAX_SEED: f64 = 9_007_199_254_740_992.0;
