//! The models in `examples/` show, in kind, what their papers report:
//! Hodgkin and Huxley's type II f-I curve, Izhikevich's five firing
//! classes, the competition between synapses under Song, Miller and
//! Abbott's STDP, and Tsodyks and Markram's depressing and facilitating
//! synapses (whose every amplitude is also checked against the model's
//! recursion). Each bound is a property of the class of behaviour (a
//! burst is spikes a few ms apart), far from what the opposite behaviour
//! would give, not a number read off a run.

mod common;

use cbmc::session::RunResult;
use common::*;

fn example(file: &str) -> RunResult {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(file);
    run_file(&path, &[], 1).1
}

/// Interspike intervals of a one-cell population's `spike_times`
/// recorder, in ms.
fn isis_ms(r: &RunResult, recorder: &str) -> Vec<f64> {
    let (_, t) = f64s(r, &format!("{recorder}_t"));
    t.windows(2).map(|w| (w[1] - w[0]) * 1e3).collect()
}

#[test]
fn hodgkin_huxley_fires_repetitively_only_above_a_threshold_current_and_never_slowly() {
    let r = example("hodgkin_huxley.cbm");
    // Cell k is driven by k uA/cm2 (20 uA/cm2 * i / 20), for 1 s.
    let rates = totals(&r, 0);
    assert_eq!(rates.len(), 21);
    // Type II: no repetitive firing up to 6 uA/cm2 (the onset is near 6.3),
    // at most the spikes of the onset transient...
    for (k, &n) in rates.iter().enumerate().take(7) {
        assert!(n <= 3, "{k} uA/cm2: {n} spikes, expected at most a few");
    }
    // ... and above it, firing that starts at a high rate (no rates between
    // a few Hz and 40 Hz), rising with the current.
    for (k, &n) in rates.iter().enumerate().skip(7) {
        assert!(n >= 40, "{k} uA/cm2: {n} Hz, expected repetitive firing");
    }
    for k in 8..21 {
        assert!(
            rates[k] >= rates[k - 1],
            "the f-I curve falls at {k} uA/cm2: {rates:?}"
        );
    }
    // The classic figure: about 68 Hz at 10 uA/cm2.
    assert!(
        (60..=75).contains(&rates[10]),
        "10 uA/cm2: {} Hz",
        rates[10]
    );
}

#[test]
fn izhikevich_cells_show_their_five_firing_classes() {
    let r = example("izhikevich.cbm");
    let rs = isis_ms(&r, "RS_spikes");
    let ib = isis_ms(&r, "IB_spikes");
    let ch = isis_ms(&r, "CH_spikes");
    let fs = isis_ms(&r, "FS_spikes");
    let lts = isis_ms(&r, "LTS_spikes");
    for (name, isi) in [
        ("RS", &rs),
        ("IB", &ib),
        ("CH", &ch),
        ("FS", &fs),
        ("LTS", &lts),
    ] {
        assert!(isi.len() >= 10, "{name}: only {} intervals", isi.len());
    }
    let short = |isi: &[f64]| isi.iter().filter(|&&x| x < 6.0).count();
    let last = |isi: &[f64]| isi[isi.len() - 1];
    // Regular spiking: single spikes, intervals that lengthen (adaptation).
    assert_eq!(short(&rs), 0, "RS bursts: {rs:?}");
    assert!(last(&rs) > 1.5 * rs[0], "RS does not adapt: {rs:?}");
    // Intrinsically bursting: a burst at the onset, then single spikes.
    assert!(ib[0] < 6.0 && ib[1] < 6.0, "IB: no initial burst: {ib:?}");
    assert_eq!(short(&ib[2..]), 0, "IB keeps bursting: {ib:?}");
    // Chattering: bursts again and again (short intervals within, long
    // ones between).
    let long = ch.iter().filter(|&&x| x > 20.0).count();
    assert!(long >= 10, "CH: {long} pauses between bursts: {ch:?}");
    assert!(
        short(&ch) >= 2 * long,
        "CH: too few spikes within bursts: {ch:?}"
    );
    // Fast spiking: over 100 Hz, no pauses, little adaptation once going.
    assert!(
        fs.len() + 1 > 100,
        "FS fires {} spikes in 1 s",
        fs.len() + 1
    );
    assert!(fs.iter().all(|&x| x < 10.0), "FS pauses: {fs:?}");
    assert!(last(&fs) < 1.1 * fs[3], "FS adapts: {fs:?}");
    // Low-threshold spiking: fast, with adaptation, and no pauses.
    assert!(lts.len() > 2 * rs.len(), "LTS is not faster than RS");
    assert!(last(&lts) > 2.0 * lts[0], "LTS does not adapt: {lts:?}");
    assert!(lts.iter().all(|&x| x < 20.0), "LTS pauses: {lts:?}");
}

#[test]
fn song_stdp_makes_the_synapses_compete() {
    let r = example("song2000_stdp.cbm");
    let (shape, w) = f64s(&r, "w");
    assert_eq!(shape, vec![10, 1000], "10 snapshots of 1000 weights");
    let share = |snapshot: &[f64], keep: &dyn Fn(f64) -> bool| {
        snapshot.iter().filter(|&&x| keep(x)).count() as f64 / snapshot.len() as f64
    };
    let first = &w[..1000];
    let last = &w[9000..];
    let ends = |x: f64| !(0.1..0.9).contains(&x);
    let middle = |x: f64| (0.4..0.6).contains(&x);
    // Drawn uniformly, 20% lie within 0.1 of a bound and 20% in the middle
    // fifth (give or take 1.3%: 1000 draws).
    assert!((0.15..0.25).contains(&share(first, &ends)));
    // After 90 s of STDP, the weights have been pushed to the bounds.
    assert!(
        share(last, &ends) > 0.3,
        "{:.3} near a bound",
        share(last, &ends)
    );
    assert!(
        share(last, &middle) < 0.15,
        "{:.3} in the middle",
        share(last, &middle)
    );
    assert!(last.iter().any(|&x| x < 0.01) && last.iter().any(|&x| x > 0.99));
    // And the cell fires less than at the start.
    let (_, counts) = u16s(&r, "out");
    let tail: f64 = counts[90..].iter().map(|&c| f64::from(c)).sum::<f64>() / 10.0;
    assert!(
        tail < 0.75 * f64::from(counts[0]),
        "{} Hz at first, {tail} Hz at the end",
        counts[0]
    );
}

/// The Tsodyks-Markram synapse: each recorded postsynaptic potential is
/// the model's recursion worked out here (u relaxes to U, x to 1, between
/// spikes; at a spike u += U (1 - u), then u x of the resources go), and
/// in kind: the D1 synapse depresses along the 20 Hz train and recovers in
/// the pause, the F1 synapse facilitates.
#[test]
fn tsodyks_markram_synapses_depress_and_facilitate() {
    let r = example("tsodyks_markram.cbm");
    let (shape, psp) = f64s(&r, "psp");
    assert_eq!(shape, vec![1200, 2]);
    let spikes_ms = [
        100.0, 150.0, 200.0, 250.0, 300.0, 350.0, 400.0, 450.0, 1000.0,
    ];
    // (U, tau_d, tau_f) of the two projections, cells 0 and 1.
    for (cell, (big_u, tau_d, tau_f)) in [(0.25, 706.0, 21.0), (0.16, 45.0, 376.0)]
        .into_iter()
        .enumerate()
    {
        let (mut u, mut x, mut last) = (big_u, 1.0_f64, -10_000.0);
        let mut amplitudes = vec![];
        for &t in &spikes_ms {
            let gap: f64 = t - last;
            u = big_u + (u - big_u) * (-gap / tau_f).exp();
            x = 1.0 + (x - 1.0) * (-gap / tau_d).exp();
            u += big_u * (1.0 - u);
            let want = 1e-3 * u * x; // J = 1 mV
            x -= u * x;
            last = t;
            // Delivered one step later; the 1 ms sample after it holds it.
            let got = psp[(t as usize + 1) * 2 + cell];
            assert!(
                ((got - want) / want).abs() < 1e-9,
                "cell {cell}, spike at {t} ms: psp {got} V, the recursion gives {want} V"
            );
            amplitudes.push(got);
        }
        let train = &amplitudes[..8];
        if cell == 0 {
            assert!(train.windows(2).all(|w| w[1] < w[0]), "D1: {train:?}");
            assert!(train[7] < 0.25 * train[0], "D1: {train:?}");
            assert!(
                amplitudes[8] > 2.0 * train[7],
                "D1 recovery: {amplitudes:?}"
            );
        } else {
            assert!(train.windows(2).all(|w| w[1] > w[0]), "F1: {train:?}");
            assert!(train[7] > 1.4 * train[0], "F1: {train:?}");
        }
    }
}
