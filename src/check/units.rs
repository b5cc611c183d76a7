//! Physical dimensions and units.
//!
//! A dimension is a vector of integer exponents over the SI base quantities a
//! neural model needs (length, mass, time, electric current). Values are stored
//! in SI base units after parsing, so `-60 mV` is -0.06 and `4.15 ms` is 0.00415.

use std::fmt;
use std::ops::{Div, Mul};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Dim {
    /// Exponents of metre, kilogram, second, ampere, mole.
    pub exp: [i8; 5],
}

impl Dim {
    pub const NONE: Dim = Dim {
        exp: [0, 0, 0, 0, 0],
    };
    pub const TIME: Dim = Dim {
        exp: [0, 0, 1, 0, 0],
    };
    pub const RATE: Dim = Dim {
        exp: [0, 0, -1, 0, 0],
    };
    pub const CURRENT: Dim = Dim {
        exp: [0, 0, 0, 1, 0],
    };
    pub const VOLTAGE: Dim = Dim {
        exp: [2, 1, -3, -1, 0],
    };
    pub const CONDUCTANCE: Dim = Dim {
        exp: [-2, -1, 3, 2, 0],
    };
    pub const CAPACITANCE: Dim = Dim {
        exp: [-2, -1, 4, 2, 0],
    };
    pub const RESISTANCE: Dim = Dim {
        exp: [2, 1, -3, -2, 0],
    };
    pub const LENGTH: Dim = Dim {
        exp: [1, 0, 0, 0, 0],
    };
    pub const CHARGE: Dim = Dim {
        exp: [0, 0, 1, 1, 0],
    };
    pub const AMOUNT: Dim = Dim {
        exp: [0, 0, 0, 0, 1],
    };
    /// Amount of substance per volume (`mM`: a millimole per litre).
    pub const CONCENTRATION: Dim = Dim {
        exp: [-3, 0, 0, 0, 1],
    };

    pub fn is_none(self) -> bool {
        self == Dim::NONE
    }
    pub fn powi(self, p: i32) -> Dim {
        let mut exp = self.exp;
        for e in exp.iter_mut() {
            *e = (*e as i64).saturating_mul(p as i64).clamp(-100, 100) as i8;
        }
        Dim { exp }
    }
    /// The square root, when every exponent is even.
    pub fn sqrt(self) -> Option<Dim> {
        if self.exp.iter().all(|e| e % 2 == 0) {
            let mut exp = self.exp;
            for e in exp.iter_mut() {
                *e /= 2;
            }
            Some(Dim { exp })
        } else {
            None
        }
    }
    /// A name a neuroscientist would use for this dimension, with a unit:
    /// a named one (`conductance (e.g. nS)`), else a product or quotient
    /// of two (`conductance/time (e.g. nS/ms)`), else SI base units.
    pub fn describe(self) -> String {
        for (dim, name) in NAMED_DIMS {
            if *dim == self {
                return name.to_string();
            }
        }
        if let Some((name, unit)) = self.composite() {
            return format!("{name} (e.g. {unit})");
        }
        format!("{} ({self} in SI base units)", self.in_neural_units())
    }

    /// This dimension as powers of mV, ms, nA, um and mol (`1/(mV^2*ms)`),
    /// units a model is written in, where its SI base units
    /// (`m^-4 kg^-2 s^5 A^2`) say little. Volt, second, ampere, metre and
    /// mole span the five base dimensions: kg = V s^3 A / m^2.
    pub fn in_neural_units(self) -> String {
        let [m, kg, s, a, mol] = self.exp.map(i32::from);
        let powers = [
            ("mV", kg),
            ("ms", s + 3 * kg),
            ("nA", a + kg),
            ("um", m - 2 * kg),
            ("mol", mol),
        ];
        let part = |(u, p): (&str, i32)| {
            if p == 1 {
                u.to_string()
            } else {
                format!("{u}^{p}")
            }
        };
        let up: Vec<String> = powers
            .iter()
            .filter(|(_, p)| *p > 0)
            .map(|&x| part(x))
            .collect();
        let down: Vec<String> = powers
            .iter()
            .filter(|(_, p)| *p < 0)
            .map(|&(u, p)| part((u, -p)))
            .collect();
        let num = if up.is_empty() {
            "1".to_string()
        } else {
            up.join("*")
        };
        match down.len() {
            0 => num,
            1 => format!("{num}/{}", down[0]),
            _ => format!("{num}/({})", down.join("*")),
        }
    }

    /// This dimension as one basic dimension divided by, or times, another
    /// (`conductance/time`, `1/voltage`, `current*time`), with a unit.
    fn composite(self) -> Option<(String, String)> {
        for (a, an, au) in BASIC_DIMS {
            if Dim::NONE / *a == self {
                return Some((format!("1/{an}"), format!("1/{au}")));
            }
        }
        for (a, an, au) in BASIC_DIMS {
            for (b, bn, bu) in BASIC_DIMS {
                if *a / *b == self && a != b {
                    return Some((format!("{an}/{bn}"), format!("{au}/{bu}")));
                }
            }
        }
        for (i, (a, an, au)) in BASIC_DIMS.iter().enumerate() {
            for (b, bn, bu) in &BASIC_DIMS[i..] {
                let (name, unit) = if a == b {
                    (format!("{an}^2"), format!("{au}^2"))
                } else {
                    (format!("{an}*{bn}"), format!("{au}*{bu}"))
                };
                if *a * *b == self {
                    return Some((name, unit));
                }
                if Dim::NONE / (*a * *b) == self {
                    let paren = |s: String| if a == b { s } else { format!("({s})") };
                    return Some((format!("1/{}", paren(name)), format!("1/{}", paren(unit))));
                }
            }
        }
        None
    }

    /// A conventional unit to write a value of this dimension in.
    pub fn preferred_unit(self) -> Option<&'static str> {
        PREFERRED.iter().find(|(d, _)| *d == self).map(|(_, u)| *u)
    }

    /// A conventional unit for values of this dimension, single (`mV`) or
    /// compound (`mV/ms`), and its size in SI units (`mV/ms` is 1 V/s).
    pub fn display_unit(self) -> Option<(&'static str, f64)> {
        if let Some(name) = self.preferred_unit() {
            return lookup(name).map(|u| (name, u.scale));
        }
        COMPOUND_PREFERRED
            .iter()
            .find(|(d, _, _)| *d == self)
            .map(|(_, name, scale)| (*name, *scale))
    }
}

/// Conventional compound units, for values (traces, messages) whose
/// dimension has no single unit: (dimension, unit, its size in SI).
const COMPOUND_PREFERRED: &[(Dim, &str, f64)] = &[
    (
        Dim {
            exp: [2, 1, -4, -1, 0],
        },
        "mV/ms",
        1.0,
    ),
    (
        Dim {
            exp: [4, 2, -6, -2, 0],
        },
        "mV^2",
        1e-6,
    ),
    (
        Dim {
            exp: [4, 2, -7, -2, 0],
        },
        "mV^2/ms",
        1e-3,
    ),
    (
        Dim {
            exp: [-2, -1, 2, 1, 0],
        },
        "1/(mV*ms)",
        1e6,
    ),
    (
        Dim {
            exp: [-2, 0, 0, 1, 0],
        },
        "uA/cm2",
        1e-2,
    ),
    (
        Dim {
            exp: [-4, -1, 3, 2, 0],
        },
        "mS/cm2",
        10.0,
    ),
    (
        Dim {
            exp: [-4, -1, 4, 2, 0],
        },
        "uF/cm2",
        1e-2,
    ),
    (
        Dim {
            exp: [0, 0, -2, 0, 0],
        },
        "1/ms^2",
        1e6,
    ),
];

/// Dimensions to describe others by (`composite`), with a usual unit each.
const BASIC_DIMS: &[(Dim, &str, &str)] = &[
    (Dim::TIME, "time", "ms"),
    (Dim::VOLTAGE, "voltage", "mV"),
    (Dim::CONDUCTANCE, "conductance", "nS"),
    (Dim::CURRENT, "current", "nA"),
    (Dim::CAPACITANCE, "capacitance", "pF"),
    (Dim::RESISTANCE, "resistance", "Mohm"),
    (Dim::CHARGE, "charge", "pC"),
    (Dim::LENGTH, "length", "um"),
    (Dim::CONCENTRATION, "concentration", "mM"),
];

const NAMED_DIMS: &[(Dim, &str)] = &[
    (Dim::NONE, "dimensionless"),
    (Dim::TIME, "time (e.g. ms)"),
    (
        Dim::RATE,
        "1/time (e.g. Hz, 1/ms; also conductance per capacitance)",
    ),
    (Dim::VOLTAGE, "voltage (e.g. mV)"),
    (Dim::CURRENT, "current (e.g. nA)"),
    (Dim::CONDUCTANCE, "conductance (e.g. nS)"),
    (Dim::CAPACITANCE, "capacitance (e.g. pF)"),
    (Dim::RESISTANCE, "resistance (e.g. Mohm)"),
    (Dim::CHARGE, "charge"),
    (Dim::LENGTH, "length (e.g. um)"),
    (Dim::CONCENTRATION, "concentration (e.g. mM)"),
    (Dim::AMOUNT, "amount of substance (e.g. mol)"),
    (
        Dim {
            exp: [2, 1, -4, -1, 0],
        },
        "voltage/time (e.g. mV/ms; also current per capacitance)",
    ),
    (
        Dim {
            exp: [4, 2, -6, -2, 0],
        },
        "voltage squared (e.g. mV^2)",
    ),
    (
        Dim {
            exp: [4, 2, -7, -2, 0],
        },
        "voltage squared per time (e.g. mV^2/ms)",
    ),
    // The quadratic (Izhikevich) model's k in k*(V - Vr)*(V - Vt).
    (
        Dim {
            exp: [-2, -1, 2, 1, 0],
        },
        "1/(voltage*time) (e.g. 1/(mV*ms))",
    ),
    // Hodgkin-Huxley models written per membrane area.
    (
        Dim {
            exp: [-2, 0, 0, 1, 0],
        },
        "current per area (e.g. uA/cm2)",
    ),
    (
        Dim {
            exp: [-4, -1, 3, 2, 0],
        },
        "conductance per area (e.g. mS/cm2)",
    ),
    (
        Dim {
            exp: [-4, -1, 4, 2, 0],
        },
        "capacitance per area (e.g. uF/cm2)",
    ),
];

const PREFERRED: &[(Dim, &str)] = &[
    (Dim::TIME, "ms"),
    (Dim::RATE, "Hz"),
    (Dim::VOLTAGE, "mV"),
    (Dim::CURRENT, "nA"),
    (Dim::CONDUCTANCE, "nS"),
    (Dim::CAPACITANCE, "pF"),
    (Dim::RESISTANCE, "Mohm"),
    (Dim::LENGTH, "um"),
    (Dim::CONCENTRATION, "mM"),
];

impl Mul for Dim {
    type Output = Dim;
    fn mul(self, o: Dim) -> Dim {
        let mut exp = self.exp;
        for (e, o) in exp.iter_mut().zip(o.exp) {
            *e = e.saturating_add(o);
        }
        Dim { exp }
    }
}

impl Div for Dim {
    type Output = Dim;
    fn div(self, o: Dim) -> Dim {
        let mut exp = self.exp;
        for (e, o) in exp.iter_mut().zip(o.exp) {
            *e = e.saturating_sub(o);
        }
        Dim { exp }
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_none() {
            return f.write_str("1");
        }
        let names = ["m", "kg", "s", "A", "mol"];
        let mut parts = Vec::new();
        for (n, e) in names.iter().zip(self.exp) {
            match e {
                0 => {}
                1 => parts.push(n.to_string()),
                e => parts.push(format!("{n}^{e}")),
            }
        }
        f.write_str(&parts.join(" "))
    }
}

/// A named unit: its size in SI base units and its dimension.
#[derive(Clone, Copy, Debug)]
pub struct Unit {
    pub scale: f64,
    pub dim: Dim,
}

const PREFIXES: &[(&str, f64)] = &[
    ("G", 1e9),
    ("M", 1e6),
    ("k", 1e3),
    ("m", 1e-3),
    ("u", 1e-6),
    ("µ", 1e-6),
    ("n", 1e-9),
    ("p", 1e-12),
    ("f", 1e-15),
];

const BASE_UNITS: &[(&str, Dim)] = &[
    ("s", Dim::TIME),
    ("V", Dim::VOLTAGE),
    ("A", Dim::CURRENT),
    ("S", Dim::CONDUCTANCE),
    ("F", Dim::CAPACITANCE),
    ("ohm", Dim::RESISTANCE),
    ("Ohm", Dim::RESISTANCE),
    ("Hz", Dim::RATE),
    ("m", Dim::LENGTH),
    ("C", Dim::CHARGE),
    ("mol", Dim::AMOUNT),
];

/// Look a unit name up: a base unit, optionally with an SI prefix (`mV`, `nS`,
/// `kHz`, `Mohm`, `um`). Returns None for anything else.
pub fn lookup(name: &str) -> Option<Unit> {
    for (base, dim) in BASE_UNITS {
        if name == *base {
            return Some(Unit {
                scale: 1.0,
                dim: *dim,
            });
        }
    }
    for (prefix, scale) in PREFIXES {
        if let Some(rest) = name.strip_prefix(prefix) {
            for (base, dim) in BASE_UNITS {
                if rest == *base {
                    return Some(Unit {
                        scale: *scale,
                        dim: *dim,
                    });
                }
            }
        }
    }
    // Molar: a mole per litre, 1000 mol/m^3 in SI, with the small prefixes
    // (`mM`, `uM`, `nM`; `MM` is not mega-molar).
    if let Some(prefix) = name.strip_suffix('M') {
        let scale = match prefix {
            "" => Some(1.0),
            "G" | "M" | "k" => None,
            _ => PREFIXES.iter().find(|(p, _)| *p == prefix).map(|(_, s)| *s),
        };
        if let Some(scale) = scale {
            return Some(Unit {
                scale: scale * 1e3,
                dim: Dim::CONCENTRATION,
            });
        }
    }
    match name {
        "cm" => Some(Unit {
            scale: 1e-2,
            dim: Dim::LENGTH,
        }),
        "min" => Some(Unit {
            scale: 60.0,
            dim: Dim::TIME,
        }),
        "cm2" => Some(Unit {
            scale: 1e-4,
            dim: Dim::LENGTH.powi(2),
        }),
        "mm2" => Some(Unit {
            scale: 1e-6,
            dim: Dim::LENGTH.powi(2),
        }),
        "um2" => Some(Unit {
            scale: 1e-12,
            dim: Dim::LENGTH.powi(2),
        }),
        _ => None,
    }
}

/// Format a value given in SI base units in the conventional unit of its
/// dimension, for messages: `0.2 s` of dimension time becomes `200 ms`
/// (and a time of a second or more stays in seconds).
pub fn format_quantity(value: f64, dim: Dim) -> String {
    // Times of a second or more in seconds: a 30 s trial, not 30000 ms.
    if dim == Dim::TIME && value.abs() >= 1.0 {
        return format!("{} s", trim_float(value));
    }
    match dim.display_unit() {
        Some((name, scale)) => format!("{} {name}", trim_float(value / scale)),
        None if dim.is_none() => trim_float(value),
        None => format!("{} {dim}", trim_float(value)),
    }
}

pub fn trim_float(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-0" {
        "0".to_string()
    } else if v != 0.0 && (v.abs() < 1e-4 || v.abs() >= 1e7) {
        format!("{v:e}")
    } else {
        s.to_string()
    }
}

/// Candidate units to suggest when a bare number is used where a quantity was
/// expected, in order of how often neural models use them.
pub const SUGGESTIONS: &[&str] = &["ms", "mV", "Hz", "nS", "pF", "nA", "1/ms", "mV/ms"];

/// Parse a suggestion like `1/ms` or `mV/ms` into a unit.
pub fn suggestion_unit(s: &str) -> Option<Unit> {
    let mut scale = 1.0;
    let mut dim = Dim::NONE;
    for (i, part) in s.split('/').enumerate() {
        let u = if part == "1" {
            Unit {
                scale: 1.0,
                dim: Dim::NONE,
            }
        } else {
            lookup(part)?
        };
        if i == 0 {
            scale *= u.scale;
            dim = dim * u.dim;
        } else {
            scale /= u.scale;
            dim = dim / u.dim;
        }
    }
    Some(Unit { scale, dim })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volts_times_siemens_is_amperes() {
        assert_eq!(Dim::VOLTAGE * Dim::CONDUCTANCE, Dim::CURRENT);
        assert_eq!(Dim::CAPACITANCE / Dim::CONDUCTANCE, Dim::TIME);
        assert_eq!(Dim::CURRENT / Dim::CAPACITANCE, Dim::VOLTAGE / Dim::TIME);
    }

    #[test]
    fn prefixes_scale() {
        let mv = lookup("mV").unwrap();
        assert_eq!(mv.dim, Dim::VOLTAGE);
        assert!((mv.scale - 1e-3).abs() < 1e-18);
        assert_eq!(lookup("ms").unwrap().dim, Dim::TIME);
        assert_eq!(lookup("kHz").unwrap().dim, Dim::RATE);
        assert!(lookup("mx").is_none());
        assert_eq!(format_quantity(0.2, Dim::TIME), "200 ms");
        assert_eq!(format_quantity(30.0, Dim::TIME), "30 s");
        assert_eq!(format_quantity(-1.5, Dim::TIME), "-1.5 s");
        assert_eq!(format_quantity(2.0, Dim::VOLTAGE / Dim::TIME), "2 mV/ms");
    }

    /// Concentrations: molar with the small prefixes, in SI mol/m^3
    /// (1 mM is 1 mol/m^3); `MM` and `kM` are not units.
    #[test]
    fn molar_concentrations() {
        let mm = lookup("mM").unwrap();
        assert_eq!(mm.dim, Dim::CONCENTRATION);
        assert!((mm.scale - 1.0).abs() < 1e-15);
        assert!((lookup("uM").unwrap().scale - 1e-3).abs() < 1e-18);
        assert!((lookup("nM").unwrap().scale - 1e-6).abs() < 1e-21);
        assert_eq!(lookup("M").unwrap().scale, 1e3);
        assert_eq!(lookup("mol").unwrap().dim, Dim::AMOUNT);
        assert!(lookup("MM").is_none() && lookup("kM").is_none());
        assert_eq!(Dim::AMOUNT / Dim::LENGTH.powi(3), Dim::CONCENTRATION);
        assert_eq!(format_quantity(2e-3, Dim::CONCENTRATION), "0.002 mM");
        assert_eq!(Dim::CONCENTRATION.describe(), "concentration (e.g. mM)");
    }

    #[test]
    fn unnamed_dimensions_are_described_by_named_ones() {
        assert_eq!(
            (Dim::CONDUCTANCE / Dim::TIME).describe(),
            "conductance/time (e.g. nS/ms)"
        );
        assert_eq!(
            (Dim::NONE / Dim::VOLTAGE).describe(),
            "1/voltage (e.g. 1/mV)"
        );
        assert_eq!(
            (Dim::NONE / (Dim::TIME * Dim::TIME)).describe(),
            "1/time^2 (e.g. 1/ms^2)"
        );
        assert_eq!(
            (Dim::CURRENT * Dim::TIME * Dim::TIME * Dim::VOLTAGE).describe(),
            "mV*ms^2*nA (m^2 kg s^-1 in SI base units)"
        );
        // A user's plasticity constant, 1/(mV^2*ms), not m^-4 kg^-2 s^5 A^2.
        let a_ltp = Dim::NONE / (Dim::VOLTAGE * Dim::VOLTAGE * Dim::TIME);
        assert_eq!(a_ltp.in_neural_units(), "1/(mV^2*ms)");
        assert!(
            a_ltp.describe().starts_with("1/(mV^2*ms) ("),
            "{}",
            a_ltp.describe()
        );
        // Every description that offers a unit offers one that exists.
        for d in [Dim::CONDUCTANCE / Dim::TIME, Dim::NONE / Dim::VOLTAGE] {
            let text = d.describe();
            let unit = text.split("e.g. ").nth(1).unwrap().trim_end_matches(')');
            for part in unit
                .split(['/', '*', '(', ')'])
                .filter(|p| !p.is_empty() && *p != "1")
            {
                assert!(
                    lookup(part.split('^').next().unwrap()).is_some(),
                    "{part} in {text}"
                );
            }
        }
    }
}
