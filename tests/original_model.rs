//! `models/project_1hz_original.cbm`: the earlier program reproduced
//! (seed-circuit.md section 7). It checks with exactly the expected warnings,
//! behaves as section 7 says (BC never fire, PF at p/(1+5p) per step), and
//! step for step matches a direct implementation of section 7 written here in
//! the program's own terms (mV numbers, per-step factors, pulse buffers).

mod common;
use cbmc::engine::cpu::CpuEngine;
use cbmc::engine::{Engine, StateView};
use cbmc::ir::{Ir, PopulationKindIr};
use common::*;
use std::path::PathBuf;

fn model() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/project_1hz_original.cbm")
}

#[test]
fn checks_with_the_expected_warnings_only() {
    let checked = cbmc::check::check_file(&model(), &[]).expect("readable");
    let found: Vec<(String, String)> = checked
        .diagnostics
        .iter()
        .map(|d| (d.code.to_string(), d.message.clone()))
        .collect();
    assert!(!checked.has_errors(), "errors: {found:#?}");
    // Resting thresholds below the leak reversal: PKJ -60.62 < -60 mV and
    // DCN -72 < -65 mV fire at step 0. Nothing else.
    let codes: Vec<&str> = found.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(codes, ["cbm::W106", "cbm::W106"], "{found:#?}");
    assert!(
        found[0].1.contains("`PKJ`") && found[1].1.contains("`DCN`"),
        "{found:#?}"
    );
}

#[test]
fn basket_cells_never_fire_and_pf_fire_at_p_over_1_plus_5p() {
    let (p, r) = run_file(&model(), &[("duration", "2 s")], 1);
    let pop = |name: &str| {
        p.ir.populations
            .iter()
            .position(|q| q.name == name)
            .unwrap()
    };
    assert!(
        totals(&r, pop("BC")).iter().all(|&c| c == 0),
        "a basket cell fired"
    );
    // 4096 PF x 2000 steps: the rate per step is p/(1+5p) within 4 standard errors.
    let pf = totals(&r, pop("PF"));
    let steps = 2000.0;
    let per_step: Vec<f64> = pf.iter().map(|&c| c as f64 / steps).collect();
    let n = per_step.len() as f64;
    let mean = per_step.iter().sum::<f64>() / n;
    let var = per_step.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let expected = 0.03 / (1.0 + 5.0 * 0.03);
    assert!(
        (mean - expected).abs() < 4.0 * (var / n).sqrt(),
        "PF rate per step {mean}, expected {expected}"
    );
    // The loop is not silent: PKJ, DCN and IO all fire (W106 for PKJ, DCN).
    for name in ["PKJ", "DCN", "IO"] {
        assert!(
            totals(&r, pop(name)).iter().sum::<u64>() > 0,
            "{name} silent"
        );
    }
}

struct Cell {
    v: Vec<f64>,
    theta: Vec<f64>,
    refr: Vec<u32>,
}

impl Cell {
    fn new(n: usize, el: f64, rest: f64) -> Self {
        Cell {
            v: vec![el; n],
            theta: vec![rest; n],
            refr: vec![0; n],
        }
    }
    /// One call of the program's lif_step: `drive[i]` is the synaptic term
    /// (already with its doubled driving force). Returns the cells that spiked.
    #[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
    fn step(
        &mut self,
        gl: f64,
        el: f64,
        rest: f64,
        tau_ms: f64,
        max: f64,
        reset: f64,
        refr: u32,
        drive: &[f64],
    ) -> Vec<u32> {
        let k = 1.0 - (-1e-3 / tau_ms).exp(); // dt in s over tau in ms (7.1)
        let mut out = vec![];
        for i in 0..self.v.len() {
            self.theta[i] += (rest - self.theta[i]) * k;
            if self.refr[i] > 0 {
                self.refr[i] -= 1; // V frozen, no spike test
                continue;
            }
            self.v[i] += gl * (el - self.v[i]) + drive[i];
            if self.v[i] >= self.theta[i] {
                self.theta[i] = max;
                self.v[i] = reset;
                self.refr[i] = refr;
                out.push(i as u32);
            }
        }
        out
    }
}

/// Rectangular pulses: `buf[step % 8][cell]`.
struct Pulses(Vec<Vec<f64>>);

impl Pulses {
    fn new(n: usize) -> Self {
        Pulses(vec![vec![0.0; n]; 8])
    }
    fn add(&mut self, from: u64, steps: u64, cell: usize, h: f64) {
        for s in from..from + steps {
            self.0[(s % 8) as usize][cell] += h;
        }
    }
    fn take(&mut self, s: u64) -> Vec<f64> {
        let n = self.0[0].len();
        std::mem::replace(&mut self.0[(s % 8) as usize], vec![0.0; n])
    }
}

fn idx(ir: &Ir, pop: &str) -> usize {
    ir.populations.iter().position(|p| p.name == pop).unwrap()
}

fn var(ir: &Ir, pop: &str, name: &str) -> usize {
    let PopulationKindIr::Neuron(n) = &ir.populations[idx(ir, pop)].kind else {
        panic!()
    };
    n.vars.iter().position(|v| v.name == name).unwrap()
}

#[test]
fn matches_a_direct_implementation_of_section_7() {
    let p = cbmc::session::prepare(&model(), &[("duration".into(), "2 s".into())])
        .ok()
        .expect("valid model");
    let ir = &p.ir;
    let net = cbmc::network::build(ir).unwrap();
    let proj = |name: &str| ir.projections.iter().position(|q| q.name == name).unwrap();
    let svar = |q: usize, name: &str| {
        let i = ir.projections[q]
            .vars
            .iter()
            .position(|v| v.name == name)
            .unwrap();
        net.projections[q].vars[i].clone()
    };
    let (pf_pkj, pf_bc, bc_pkj) = (proj("pf_pkj"), proj("pf_bc"), proj("bc_pkj"));
    let (pkj_dcn, dcn_io) = (proj("pkj_dcn"), proj("dcn_io"));
    let (mut w, scale) = (svar(pf_pkj, "w"), svar(pf_pkj, "scale"));
    let (g_pf_bc, g_bc_pkj) = (svar(pf_bc, "g"), svar(bc_pkj, "g"));
    let syn = |q: usize, i: u32| {
        let n = &net.projections[q];
        n.offsets[i as usize] as usize..n.offsets[i as usize + 1] as usize
    };
    let post = |q: usize, k: usize| net.projections[q].post[k] as usize;
    let gaps = net.gaps[0].pairs.clone();

    let mut engine = CpuEngine::new(ir, net.clone(), 1);
    let (n_io, n_pkj, n_bc, n_dcn) = (16, 128, 512, 8);
    let mut io = Cell::new(n_io, -60.0, -57.4);
    let mut pkj = Cell::new(n_pkj, -60.0, -60.62);
    let mut bc = Cell::new(n_bc, -70.0, -65.0);
    let mut dcn = Cell::new(n_dcn, -65.0, -72.0);
    let (mut in_dcn_io, mut in_cf) = (Pulses::new(n_io), Pulses::new(n_pkj));
    let (mut in_pf_pkj, mut in_bc_pkj) = (Pulses::new(n_pkj), Pulses::new(n_pkj));
    let (mut in_pf_bc, mut in_mf, mut in_pkj) =
        (Pulses::new(n_bc), Pulses::new(n_dcn), Pulses::new(n_dcn));
    let mut t_pf = vec![-1e9; 4096]; // sampled last PF spike, ms
    let mut spikes_seen = 0;

    for s in 0..ir.steps {
        engine.step().unwrap();
        let t = s as f64; // ms
                          // 7.9: DCN->IO and gap currents -> IO update (CF pulses enqueued).
        let g = in_dcn_io.take(s);
        let mut drive: Vec<f64> = (0..n_io)
            .map(|i| 0.8 / 3.1 * (g[i] * (-80.0 - io.v[i])) * (-80.0 - io.v[i]))
            .collect();
        for &(i, j) in &gaps {
            let c = 0.025 * (io.v[j as usize] - io.v[i as usize]);
            drive[i as usize] += c;
            drive[j as usize] -= c;
        }
        let io_spk = io.step(0.0385, -60.0, -57.4, 200.0, 10.0, -70.0, 0, &drive);
        for &i in &io_spk {
            for j in 8 * i as usize..8 * i as usize + 8 {
                in_cf.add(s, 2, j, 0.01);
            }
        }
        // PF and MF spikes (the engine's draws) -> 1-step pulses.
        let pf_spk = engine.spikes(idx(ir, "PF")).to_vec();
        for &i in &pf_spk {
            for k in syn(pf_pkj, i) {
                in_pf_pkj.add(s, 1, post(pf_pkj, k), w[k] * scale[k]);
            }
            for k in syn(pf_bc, i) {
                in_pf_bc.add(s, 1, post(pf_bc, k), g_pf_bc[k]);
            }
        }
        for &i in engine.spikes(idx(ir, "MF")) {
            in_mf.add(s, 1, i as usize, 2.35);
        }
        // BC: += I_PF*(0 - V).
        let g = in_pf_bc.take(s);
        let drive: Vec<f64> = (0..n_bc).map(|i| (g[i] * -bc.v[i]) * -bc.v[i]).collect();
        let bc_spk = bc.step(0.13, -70.0, -65.0, 10.0, 0.0, -70.0, 1, &drive);
        for &i in &bc_spk {
            for k in syn(bc_pkj, i) {
                in_bc_pkj.add(s, 1, post(bc_pkj, k), g_bc_pkj[k]);
            }
        }
        // PKJ: += I_PF*(0 - V) + I_BC*(-80 - V) + I_CF*(-80 - V), I_CF = g*(0 - V).
        let (gp, gb, gc) = (in_pf_pkj.take(s), in_bc_pkj.take(s), in_cf.take(s));
        let drive: Vec<f64> = (0..n_pkj)
            .map(|i| {
                let v = pkj.v[i];
                (gp[i] * -v) * -v + (gb[i] * (-80.0 - v)) * (-80.0 - v) + (gc[i] * -v) * (-80.0 - v)
            })
            .collect();
        let pkj_spk = pkj.step(
            0.2 / (6.0 - 0.001),
            -60.0,
            -60.62,
            6.0,
            -48.0,
            -72.0,
            2,
            &drive,
        );
        for &i in &pkj_spk {
            for k in syn(pkj_dcn, i) {
                in_pkj.add(s, 2, post(pkj_dcn, k), 0.3);
            }
        }
        // DCN: += 2*I_MF*(0 - V) + I_PKJ*(-80 - V); spikes reach the IO next step.
        let (gm, gk) = (in_mf.take(s), in_pkj.take(s));
        let drive: Vec<f64> = (0..n_dcn)
            .map(|i| {
                let v = dcn.v[i];
                2.0 * (gm[i] * -v) * -v + (gk[i] * (-80.0 - v)) * (-80.0 - v)
            })
            .collect();
        let dcn_spk = dcn.step(
            0.1 / (6.0 - 0.001),
            -65.0,
            -72.0,
            5.0,
            -40.0,
            -62.0,
            10,
            &drive,
        );
        for &i in &dcn_spk {
            for k in syn(dcn_io, i) {
                in_dcn_io.add(s + 1, 3, post(dcn_io, k), 0.005);
            }
        }
        // 7.8: plasticity on every 10th step, seeing only this step's spikes.
        if s % 10 == 0 {
            for &i in &pf_spk {
                t_pf[i as usize] = t;
            }
            let mut cf_now = vec![false; n_pkj];
            for &i in &io_spk {
                cf_now[8 * i as usize..8 * i as usize + 8].fill(true);
            }
            let mut pkj_now = vec![false; n_pkj];
            for &j in &pkj_spk {
                pkj_now[j as usize] = true;
            }
            for i in 0..4096u32 {
                let since = t - t_pf[i as usize];
                for k in syn(pf_pkj, i) {
                    let j = post(pf_pkj, k);
                    if cf_now[j] && since > 0.0 && since <= 100.0 {
                        w[k] -= 0.00275;
                    } else if !cf_now[j] && pkj_now[j] && since > 0.0 && since <= 900.0 {
                        w[k] += 0.00030556;
                    }
                    w[k] = w[k].clamp(0.2, 3.0);
                }
            }
        }
        // Same spikes, same voltages (the engine works in volts).
        for (name, spk, cell) in [
            ("IO", &io_spk, &io),
            ("BC", &bc_spk, &bc),
            ("PKJ", &pkj_spk, &pkj),
            ("DCN", &dcn_spk, &dcn),
        ] {
            let pi = idx(ir, name);
            assert_eq!(
                engine.spikes(pi),
                spk.as_slice(),
                "{name} spikes differ at step {s}"
            );
            spikes_seen += spk.len();
            let v = engine.var(pi, var(ir, name, "V"));
            let th = engine.var(pi, var(ir, name, "theta"));
            for i in 0..cell.v.len() {
                let (a, b) = (v[i] * 1e3, cell.v[i]);
                assert!(
                    (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                    "{name}[{i}].V at step {s}: {a} vs {b}"
                );
                let (a, b) = (th[i] * 1e3, cell.theta[i]);
                assert!(
                    (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                    "{name}[{i}].theta at step {s}: {a} vs {b}"
                );
            }
        }
    }
    let wi = ir.projections[pf_pkj]
        .vars
        .iter()
        .position(|v| v.name == "w")
        .unwrap();
    let w_engine = engine.synapse_var(pf_pkj, wi);
    let changed = w.iter().filter(|&&x| x != 1.0).count();
    assert!(changed > 0 && spikes_seen > 0, "nothing happened");
    for (k, (a, b)) in w_engine.iter().zip(&w).enumerate() {
        assert!(
            (a - b).abs() < 1e-12,
            "weight {k}: engine {a}, reference {b}"
        );
    }
}
