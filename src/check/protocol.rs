//! Checking protocols (trials, windows, probes) and shared setting helpers.

use super::expr::{const_value, Scope};
use super::model::*;
use super::units::{self, Dim};
use super::{unknown_setting, Checker};
use crate::diagnostics::Diagnostic;
use crate::syntax::ast::{self, Expr, ExprKind, Setting};

impl Checker {
    pub(super) fn duplicate_settings(&mut self, settings: &[Setting]) {
        for (i, s) in settings.iter().enumerate() {
            if settings[..i].iter().any(|x| x.name.name == s.name.name) {
                self.emit(
                    Diagnostic::error(
                        "cbm::E002",
                        s.name.span,
                        format!("setting `{}` is given more than once", s.name.name),
                    )
                    .label("again")
                    .help("keep one"),
                );
            }
        }
    }

    pub(super) fn protocol(&mut self, p: &ast::ProtocolDecl, m: &mut Model) {
        self.duplicate_settings(&p.settings);
        let scope = Scope {
            context: "a protocol",
            ..Scope::default()
        };
        let mut trial = None;
        let mut trials = None;
        let mut probe_every = None;
        let mut windows = Vec::new();
        for s in &p.settings {
            match s.name.name.as_str() {
                "trial" => {
                    let e = self.expr(&s.value, &scope);
                    trial = self.positive_const(&e, Dim::TIME, "the trial length", &scope);
                }
                "trials" => trials = self.count(&s.value, "the number of trials", 1),
                "probe_every" => probe_every = self.count(&s.value, "the probe interval", 1),
                name => {
                    let ExprKind::Call(c) = &s.value.kind else {
                        self.emit(unknown_setting(
                            name,
                            s.name.span,
                            &[
                                "trial",
                                "trials",
                                "probe_every",
                                "<signal> = window(start, end)",
                            ],
                            "a protocol",
                        ));
                        continue;
                    };
                    if c.name.name != "window" {
                        self.emit(
                            Diagnostic::error(
                                "cbm::E027",
                                c.name.span,
                                format!("unknown protocol element `{}`", c.name.name),
                            )
                            .label("not window(...)")
                            .help(
                                "signals are `name = window(start, end)`, optionally `probe = off`",
                            ),
                        );
                        // (Defined all the same: see below.)
                        windows.push((name.to_string(), 0.0, 0.0, false, s.name.span));
                        continue;
                    }
                    let mut start = None;
                    let mut end = None;
                    let mut silenced = false;
                    for (i, a) in c.args.iter().enumerate() {
                        let key = a.name.as_ref().map(|n| n.name.as_str()).unwrap_or(match i {
                            0 => "start",
                            1 => "end",
                            2 => "probe",
                            _ => "?",
                        });
                        match key {
                            "start" | "end" => {
                                let e = self.expr(&a.value, &scope);
                                if self.expect_dim(
                                    &e,
                                    Dim::TIME,
                                    &format!("the window {key}"),
                                    &scope,
                                ) {
                                    let v = const_value(&e);
                                    if key == "start" {
                                        start = v
                                    } else {
                                        end = v
                                    }
                                }
                            }
                            "probe" => match &a.value.kind {
                                ExprKind::Path(p) if p.to_string() == "off" => silenced = true,
                                ExprKind::Bool(false) => silenced = true,
                                ExprKind::Path(p) if p.to_string() == "on" => silenced = false,
                                ExprKind::Bool(true) => silenced = false,
                                _ => self.emit(
                                    Diagnostic::error(
                                        "cbm::E027",
                                        a.value.span,
                                        "`probe` is on or off (or true or false)",
                                    )
                                    .label("not on or off")
                                    .help("`probe = off` silences the window in probe trials; `on`, the default, keeps it"),
                                ),
                            },
                            other => self.emit(unknown_setting(
                                other,
                                a.value.span,
                                &["start", "end", "probe"],
                                "window(...)",
                            )),
                        }
                    }
                    match (start, end) {
                        (Some(a), Some(b)) if b > a => {
                            windows.push((name.to_string(), a, b, silenced, s.name.span))
                        }
                        (Some(_), Some(_)) => self.emit(
                            Diagnostic::error(
                                "cbm::E020",
                                s.value.span,
                                "a window must end after it starts",
                            )
                            .label("empty window"),
                        ),
                        // An error is out; the signal is still defined, so
                        // that its uses are not reported as undefined too.
                        _ => windows.push((name.to_string(), 0.0, 0.0, silenced, s.name.span)),
                    }
                }
            }
        }
        let Some(trial) = trial else {
            self.emit(
                Diagnostic::error(
                    "cbm::E026",
                    p.name.span,
                    format!("protocol `{}` needs `trial = <length>`", p.name.name),
                )
                .label("no trial length"),
            );
            return;
        };
        for (name, start, end, silenced, span) in windows {
            if end > trial + 1e-12 {
                self.emit(
                    Diagnostic::error(
                        "cbm::E020",
                        span,
                        format!(
                            "window `{name}` ends after the trial ({})",
                            units::format_quantity(trial, Dim::TIME)
                        ),
                    )
                    .label("outside the trial"),
                );
            }
            if m.signals.iter().any(|s| s.name == name) {
                self.emit(
                    Diagnostic::error(
                        "cbm::E002",
                        span,
                        format!("signal `{name}` is defined more than once"),
                    )
                    .label("second definition"),
                );
                continue;
            }
            m.signals.push(Signal {
                name,
                start,
                end,
                trial,
                trials,
                probe_every,
                silenced_in_probe: silenced,
            });
        }
    }

    /// A constant whole number of at least `min`.
    pub(super) fn count(&mut self, e: &Expr, what: &str, min: u64) -> Option<u64> {
        // Far beyond any population or fan-in a machine can hold.
        const MAX_COUNT: f64 = 1e12;
        let scope = Scope {
            context: "a count",
            ..Scope::default()
        };
        let t = self.expr(e, &scope);
        if !self.expect_dim(&t, Dim::NONE, what, &scope) {
            return None;
        }
        // A count worked out from constants (`0.2 * N_E`) may be a whole
        // number but for the rounding of its last bits (a few ulps).
        let whole = |v: f64| {
            let r = v.round();
            ((v - r).abs() <= 8.0 * f64::EPSILON * r.abs().max(1.0)).then_some(r)
        };
        match const_value(&t) {
            Some(v) if whole(v).is_some_and(|r| r >= min as f64 && r < MAX_COUNT) => {
                whole(v).map(|r| r as u64)
            }
            v => {
                let message = match v {
                    Some(v) if v >= MAX_COUNT => {
                        format!("{what} is too large: {v:e} (a count must be below 10^12)")
                    }
                    _ => format!("{what} must be a whole number of at least {min}"),
                };
                self.emit(Diagnostic::error("cbm::E020", e.span, message).label("here"));
                None
            }
        }
    }
}
