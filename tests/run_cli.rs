//! `cbmc run` end to end: determinism, and bad input that must fail cleanly
//! without leaving half-written files.

mod common;
use common::*;
use std::process::Command;

fn cbmc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cbmc"))
}

const SMALL: &str = r#"
model small
simulation { dt = 1 ms  duration = 2 s  seed = 3 }
neuron Cell {
    parameters { gL = 0.1 /ms; EL = -65 mV; theta = -55 mV; tau_g = 5 ms; noise = 2 mV }
    state { V = EL; g: 1/ms = 0 /ms }
    equations {
        dV/dt = gL*(EL - V) + g*(0 mV - V) [euler]
        dg/dt = -g / tau_g [exact]
    }
    update { V += noise * randn() }
    spike when V >= theta
    reset { V = EL }
    refractory 2 ms holding V
}
synapse Plastic {
    state { w = uniform(0.5, 1.5) }
    on_pre { target += w * 0.002 /ms }
    on_post { w += 0.01 }
    every 10 ms { if t - pre.last_spike < 10 ms { w -= 0.001 } }
    bounds w in [0, 2]
}
population In[200] = poisson(rate = 20 Hz)
population Out[50] = Cell()
projection p: In -> Out.g { synapse = Plastic()  connect = probability(0.2)  delay = 2 ms }
record Out_spikes = spike_counts(Out, bin = 50 ms)
record w = weights(p.w, every = 100 ms)
record v = trace(Out.V, cells = [0, 1])
"#;

/// `cbmc run MODEL --quiet -o OUT`, for more arguments to be added.
fn run_quietly(model: &std::path::Path, out: &std::path::Path) -> Command {
    let mut c = cbmc();
    c.arg("run").arg(model).arg("--quiet").arg("-o").arg(out);
    c
}

fn small_model(dir: &str) -> std::path::PathBuf {
    let d = temp_dir(dir);
    let path = d.join("small.cbm");
    std::fs::write(&path, SMALL).unwrap();
    path
}

fn arrays_bytes(r: &cbmc::session::RunResult) -> Vec<(String, Vec<u8>)> {
    use cbmc::record::NpzArray::*;
    r.recording
        .arrays()
        .into_iter()
        .map(|(k, a)| {
            let bytes = match a {
                F64 { data, .. } => data.iter().flat_map(|x| x.to_le_bytes()).collect(),
                U32 { data, .. } => data.iter().flat_map(|x| x.to_le_bytes()).collect(),
                U16 { data, .. } => data.iter().flat_map(|x| x.to_le_bytes()).collect(),
                U8 { data, .. } => data.into_owned(),
            };
            (k, bytes)
        })
        .collect()
}

#[test]
fn same_seed_gives_identical_arrays_and_threads_do_not_matter() {
    let path = small_model("determinism");
    let (_, a) = run_file(&path, &[], 1);
    let (_, b) = run_file(&path, &[], 1);
    let (_, c) = run_file(&path, &[], 2);
    let spikes: u64 = a.recording.totals[1].iter().sum();
    assert!(spikes > 10, "the test model should spike ({spikes})");
    assert_eq!(
        arrays_bytes(&a),
        arrays_bytes(&b),
        "two runs with one seed differ"
    );
    assert_eq!(arrays_bytes(&a), arrays_bytes(&c), "1 and 2 threads differ");
    let (_, d) = run_file(&path, &[("seed", "4")], 1);
    assert_ne!(
        arrays_bytes(&a),
        arrays_bytes(&d),
        "another seed should change the run"
    );
}

#[test]
fn run_writes_npz_with_keys_and_metadata() {
    let path = small_model("run_ok");
    let out = path.parent().unwrap().join("out");
    let o = run_quietly(&path, &out)
        .args(["--duration", "500ms"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("Out") && stdout.contains("mean Hz"),
        "summary table missing: {stdout}"
    );
    let npz = out.join("small.npz");
    let bytes = std::fs::read(&npz).unwrap();
    assert_eq!(&bytes[..2], b"PK", "an npz is a zip file");
    for key in ["Out_spikes.npy", "w.npy", "w_t.npy", "v.npy", "meta.npy"] {
        assert!(
            bytes.windows(key.len()).any(|w| w == key.as_bytes()),
            "missing {key}"
        );
    }
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("small.meta.json")).unwrap())
            .unwrap();
    assert_eq!(meta["seed"], 3);
    assert_eq!(meta["steps_done"], 500);
    assert_eq!(meta["partial"], false);
    assert!(meta["model_hash"].as_str().unwrap().len() == 16);
    assert_eq!(partial_files(&out), Vec::<String>::new());
}

/// Temporary `.partial` files left in `dir`.
fn partial_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect()
}

fn assert_fails_cleanly(args: &[&str], out: &std::path::Path, needle: &str) {
    let o = cbmc().args(args).output().unwrap();
    assert!(!o.status.success(), "{args:?} should fail");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(needle),
        "{args:?}: stderr lacks `{needle}`:\n{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    if out.exists() {
        let files: Vec<_> = std::fs::read_dir(out)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .collect();
        assert!(files.is_empty(), "{args:?} left files behind: {files:?}");
    }
}

#[test]
fn bad_input_fails_with_a_clear_message() {
    let path = small_model("bad_input");
    let p = path.to_str().unwrap();
    let out = path.parent().unwrap().join("out");
    let o = out.to_str().unwrap();
    // (arguments after `run MODEL --quiet -o OUT`, what the message must say)
    let cases: &[(&[&str], &str)] = &[
        (&["--set", "Out.nonsense=3"], "unknown setting"),
        (&["--set", "Nowhere.x=3"], "no such setting"),
        (&["--set", "Out.gL=0.1 mV"], "wrong dimension"),
        // An error that the value set causes is told so under it.
        (
            &["--set", "Out.gL=0.1 mV"],
            "values from the command line (Out.gL=0.1 mV)",
        ),
        (&["--set", "duration=5"], "needs a unit"),
        (&["--set", "novalue"], "NAME=VALUE"),
        // A bare duration: most likely seconds, so the hint offers both.
        (&["--duration", "2"], "--duration 2s"),
        // A negative duration reaches the checker (not clap's "unexpected argument").
        (&["--duration", "-1s"], "zero or more"),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["run", p, "--quiet", "-o", o];
        args.extend_from_slice(extra);
        assert_fails_cleanly(&args, &out, needle);
    }
    assert_fails_cleanly(
        &["run", "does/not/exist.cbm", "--quiet", "-o", o],
        &out,
        "cannot read model file",
    );
    // An output folder that cannot be created (a file is in the way).
    let blocker = path.parent().unwrap().join("blocker");
    std::fs::write(&blocker, "x").unwrap();
    let inside = blocker.join("out");
    assert_fails_cleanly(
        &["run", p, "--quiet", "-o", inside.to_str().unwrap()],
        &inside,
        "output folder",
    );
    // The output folder is a file.
    let res = cbmc()
        .args(["run", p, "--quiet", "-o", blocker.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&res.stderr).contains("is a file, not a folder"));
    assert_eq!(
        std::fs::read_to_string(&blocker).unwrap(),
        "x",
        "the file is untouched"
    );
    // `cbmc plot` given the model instead of its run.
    let res = cbmc().args(["plot", p]).output().unwrap();
    assert!(!res.status.success());
    assert!(String::from_utf8_lossy(&res.stderr).contains("is a model"));
}

#[test]
fn check_exit_codes_and_json() {
    let path = small_model("check_cli");
    let o = cbmc()
        .args(["check", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bad = path.parent().unwrap().join("bad.cbm");
    std::fs::write(&bad, SMALL.replace("tau_g = 5 ms", "tau_g = 5")).unwrap();
    let o = cbmc()
        .args(["check", "--format", "json", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let first = &v[0];
    assert_eq!(first["severity"], "error");
    assert!(first["code"].as_str().unwrap().starts_with("cbm::E"));
    assert!(first["line"].as_u64().unwrap() > 0);
    // Warnings pass unless denied.
    let warn = path.parent().unwrap().join("warn.cbm");
    std::fs::write(
        &warn,
        SMALL
            .replace("record v = trace(Out.V, cells = [0, 1])", "")
            .replace("record Out_spikes = spike_counts(Out, bin = 50 ms)", ""),
    )
    .unwrap();
    let o = cbmc()
        .args(["check", warn.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success());
    let o = cbmc()
        .args(["check", "--deny-warnings", warn.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn numerical_blow_up_stops_with_a_message_and_keeps_the_recording() {
    let d = temp_dir("blowup");
    let path = d.join("blowup.cbm");
    std::fs::write(
        &path,
        r#"
simulation { dt = 1 ms  duration = 5 s }
neuron Unstable {
    parameters { rate = 1 /ms }
    state { V = 1 mV }
    equations { dV/dt = rate * V [euler] }
}
population P[3] = Unstable()
record v = trace(P.V, cells = [0])
"#,
    )
    .unwrap();
    let out = d.join("out");
    let o = run_quietly(&path, &out).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("`P.V` of cell 0 became inf at step"), "{err}");
    assert!(err.contains("hint: a value that runs away"), "{err}");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("blowup.meta.json")).unwrap())
            .unwrap();
    assert_eq!(meta["partial"], true);
    assert!(meta["error"].as_str().unwrap().contains("P.V"));
    let steps = meta["steps_done"].as_u64().unwrap();
    assert!(
        steps > 900 && steps < 1100,
        "V doubles each step: inf near step 1024, stopped after {steps}"
    );
    assert!(out.join("blowup.npz").exists());
}

#[cfg(unix)]
#[test]
fn interrupt_writes_a_partial_recording() {
    let d = temp_dir("interrupt");
    let path = d.join("long.cbm");
    std::fs::write(
        &path,
        SMALL.replace("duration = 2 s", "duration = 100000 s"),
    )
    .unwrap();
    let out = d.join("out");
    let mut child = run_quietly(&path, &out).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let pid = child.id().to_string();
    let status = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(status.success());
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(130), "an interrupted run exits 130");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("long.meta.json")).unwrap())
            .unwrap();
    assert_eq!(meta["partial"], true);
    assert!(meta["steps_done"].as_u64().unwrap() > 0);
    assert!(out.join("long.npz").exists());
}

#[test]
fn per_synapse_delays_run_and_an_unbounded_draw_is_refused_by_check_and_run() {
    let d = temp_dir("syn_delays");
    let path = d.join("m.cbm");
    std::fs::write(
        &path,
        SMALL.replace("delay = 2 ms", "delay = uniform(1 ms, 3 ms)"),
    )
    .unwrap();
    let out = d.join("out");
    let o = run_quietly(&path, &out).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.join("m.npz").exists());
    // A normal draw needs both bounds: `cbmc check` refuses what `cbmc run`
    // cannot run, and the run writes nothing.
    std::fs::write(
        &path,
        SMALL.replace("delay = 2 ms", "delay = normal(2 ms, 1 ms, low = 1 ms)"),
    )
    .unwrap();
    let o = cbmc()
        .args(["check", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("E034") && err.contains("needs `low` and `high`"),
        "{err}"
    );
    let out = d.join("out2");
    let o = run_quietly(&path, &out).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("needs `low` and `high`"), "{err}");
    assert!(!out.join("m.npz").exists());
}

#[test]
fn a_model_too_large_for_memory_is_refused_before_building() {
    let d = temp_dir("too_large");
    let path = d.join("huge.cbm");
    std::fs::write(
        &path,
        r#"
simulation { dt = 1 ms  duration = 10 ms }
neuron Sink { inputs { g: 1 } state { V = 0 mV } update { V += g * 1 mV } }
synapse S { state { w = 1 } on_pre { target += w } }
population A[1000000] = poisson(rate = 1 Hz)
population B[1000000] = Sink()
projection p: A -> B.g { synapse = S()  connect = all_to_all() }
record b = spike_counts(B, bin = 10 ms)
record a = spike_counts(A, bin = 10 ms)
"#,
    )
    .unwrap();
    let out = d.join("out");
    let run = |path: &std::path::Path, needle: &str| {
        let args = [
            "run",
            path.to_str().unwrap(),
            "--quiet",
            "-o",
            out.to_str().unwrap(),
        ];
        assert_fails_cleanly(&args, &out, needle);
    };
    run(&path, "of memory");
    // Recordings count too: a million cells' spike counts in 1 ms bins for
    // 10,000 s would need 40 TB (the run used to abort when it ran out).
    let path = d.join("huge_recording.cbm");
    std::fs::write(
        &path,
        r#"
simulation { dt = 1 ms  duration = 10000 s }
population A[1000000] = poisson(rate = 1 Hz)
record a = spike_counts(A, bin = 1 ms)
"#,
    )
    .unwrap();
    run(&path, "for the recordings");
}

/// Runs `model` with 1, 2 and 3 threads: the recordings must be identical,
/// and the traces named must move.
fn same_with_any_threads(name: &str, model: &str, traces: &[&str]) {
    let d = temp_dir(name);
    let path = d.join(format!("{name}.cbm"));
    std::fs::write(&path, model).unwrap();
    let (_, one) = run_file(&path, &[], 1);
    for threads in [2, 3] {
        let (_, more) = run_file(&path, &[], threads);
        assert_eq!(arrays_bytes(&one), arrays_bytes(&more), "{threads} threads");
    }
    for trace in traces {
        let (_, v) = f64s(&one, trace);
        assert!(v.iter().any(|x| *x != 0.0), "{trace} stays 0");
    }
}

/// Large enough that projections really run on several threads: each has
/// ~150,000 synapse events a step (500 spikes x 300) and 300,000 synapses,
/// above the engine's 100,000 (`SPLIT_MIN_WORK`), so `on_pre` runs in
/// parts by target and the periodic rules in parts by source, one
/// projection after the other. Every kind of synapse code a part runs:
/// per-target values (`pa`), a rule guarded on the source (`pb`), delays
/// drawn per synapse and a pulse (`pc`), `on_pre` changing a weight.
#[test]
fn parallel_delivery_and_plasticity_match_one_thread() {
    same_with_any_threads(
        "parallel",
        r#"
simulation { dt = 1 ms  duration = 40 ms  seed = 9 }
neuron Sink {
    parameters { tau = 5 ms }
    state { g: 1/ms = 0 /ms; V = 0 mV }
    equations { dg/dt = -g / tau [exact] }
    update { V += g * 1 mV * dt }
    spike when V > 0.3 mV
    reset { V = 0 mV }
}
synapse Plastic {
    state { w = uniform(0.5, 1.5) }
    on_pre { target += w * 0.001 /ms }
    every 2 ms { if t - post.last_spike > 1 ms { w *= 0.999 } }
    bounds w in [0, 2]
}
synapse Guarded {
    state { w = uniform(0.5, 1.5) }
    on_pre { target += w * 0.001 /ms  w += 0.0001 }
    every 3 ms { if t - pre.last_spike < 2 ms { w -= 0.001 } }
    bounds w in [0, 2]
}
synapse Pulsed {
    state { w = uniform(0.5, 1.5) }
    on_pre { target += w * 0.0003 /ms for 2 ms }
}
population Src[1000] = poisson(rate = 500 Hz)
population A[500] = Sink()
population B[500] = Sink()
population C[400] = Sink()
projection pa: Src -> A.g { synapse = Plastic()  connect = fixed_outdegree(300, replace = true) }
projection pb: Src -> B.g { synapse = Guarded()  connect = fixed_outdegree(300, replace = true) }
projection pc: Src -> C.g { synapse = Pulsed()  connect = fixed_outdegree(300)  delay = uniform(1 ms, 4 ms) }
record va = trace(A.V, cells = 500)
record vb = trace(B.V, cells = 500)
record vc = trace(C.V, cells = 400)
record sa = spike_times(A)
record wa = weights(pa.w, every = 5 ms, max = 500)
record wb = weights(pb.w, every = 5 ms, max = 500)
"#,
        &["va", "vb", "vc"],
    );
}

/// Splits beside what does not split (a review's model): a projection with
/// a teacher (`on_teacher`, `on_post`, a rule reading `post.last_teacher`)
/// whose teacher has drawn delays and pulses, and three busy projections
/// from one source side by side, one counting, one interpreted (two
/// deposits), one split by targets within its share of the threads.
#[test]
fn splits_beside_teachers_counting_and_the_interpreter_match_one_thread() {
    same_with_any_threads(
        "parallel_teach",
        r#"
simulation { dt = 1 ms  duration = 30 ms  seed = 7 }
neuron Sink {
    parameters { tau = 5 ms }
    state { g: 1/ms = 0 /ms; h: 1/ms = 0 /ms; V = 0 mV }
    equations { dg/dt = -g / tau [exact]  dh/dt = -h / tau [exact] }
    update { V += (g + h) * 1 mV * dt }
    spike when V > 2 mV
    reset { V = 0 mV }
}
synapse Pf {
    state { w = uniform(0.5, 1.5) }
    on_pre { target += w * 0.001 /ms  w += 0.00001 }
    on_teacher { if t - pre.last_spike < 3 ms { w -= 0.001 } else { w += 0.0001 } }
    on_post { w += 0.00001 }
    every 2 ms { if t - post.last_teacher < 2 ms { w *= 0.999 } }
}
synapse Cf {
    state { w = uniform(0.5, 1.5) }
    on_pre { target += w * 0.002 /ms for 2 ms }
}
synapse Const { on_pre { target += 0.001 /ms } }
synapse Two {
    state { w = uniform(0.5, 1.5) }
    on_pre { target += w * 0.001 /ms  target += 0.0002 /ms for 2 ms }
}
population PF[20000] = poisson(rate = 500 Hz)
population CF[5000] = poisson(rate = 600 Hz)
population P[400] = Sink()
population Q[400] = Sink()
projection cf_p: CF -> P.h { synapse = Cf()  connect = fixed_outdegree(40, replace = true)  delay = uniform(1 ms, 3 ms) }
projection pf_p: PF -> P.g { synapse = Pf()  connect = fixed_indegree(300, replace = true)  teacher = cf_p }
projection pf_q1: PF -> Q.g { synapse = Const()  connect = fixed_outdegree(20) }
projection pf_q2: PF -> Q.h { synapse = Two()  connect = fixed_outdegree(20) }
projection pf_q3: PF -> Q.g { synapse = Cf()  connect = fixed_outdegree(20) }
record vp = trace(P.V, cells = [0, 1, 2, 399])
record vq = trace(Q.V, cells = 400)
record hq = trace(Q.h, cells = 400)
record sp = spike_times(P)
record w = weights(pf_p.w, every = 5 ms, max = 200000)
record wc = weights(cf_p.w, every = 5 ms, max = 200000)
"#,
        &["vp", "vq", "hq"],
    );
}

/// A population of at least 200,000 cells (`parts.rs`) updates in runs of
/// cells, one per thread, each listing its spikes in its own stretch: the
/// same spikes, traces and arrivals as one thread (cells on either side of
/// the runs' bounds for 2 and 3 threads are traced).
#[test]
fn a_large_population_updates_on_several_threads_as_on_one() {
    same_with_any_threads(
        "parallel_cells",
        r#"
simulation { dt = 1 ms  duration = 30 ms  seed = 3 }
neuron Noisy {
    parameters { tau = 10 ms  sigma = 6 mV }
    state { V = uniform(-70 mV, -50 mV); I: mV = 0 mV }
    equations { dV/dt = (-65 mV - V) / tau [exact] }
    update { V += sigma * randn() * sqrt(dt / tau) + I }
    spike when V > -52 mV
    reset { V = -65 mV }
    refractory 2 ms
}
synapse Kick { on_pre { target += 0.5 mV } }
population In[1000] = poisson(rate = 100 Hz)
population Big[210000] = Noisy()
projection kick: In -> Big.I { synapse = Kick()  connect = fixed_outdegree(50) }
record s = spike_times(Big)
record v = trace(Big.V, cells = [0, 69999, 70000, 104999, 105000, 139999, 140000, 209999])
"#,
        &["v"],
    );
}

#[test]
fn without_a_c_compiler_the_engine_interprets_and_says_why() {
    let path = small_model("no_cc");
    let out = path.parent().unwrap().join("out");
    let o = run_quietly(&path, &out)
        .args(["--no-plot", "--duration", "300ms"])
        .env("CC", "/nonexistent/cc")
        // No cached library may stand in for the compiler.
        .env("CBMC_NO_CACHE", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        all.contains("interpreted: no C compiler (`/nonexistent/cc`"),
        "no reason given: {all}"
    );
    assert!(out.join("small.npz").is_file());
}

#[test]
fn a_closed_output_pipe_ends_quietly() {
    use std::process::Stdio;
    let model = format!("{}/models/cerebellum.cbm", env!("CARGO_MANIFEST_DIR"));
    let mut child = cbmc()
        .args(["emit-c", &model])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the pipe before cbmc has printed (as `| head -0` would): its
    // first write then meets a closed pipe.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("panicked"),
        "a closed pipe made cbmc panic: {err}"
    );
}

/// `--duration` takes a quantity as the language writes it: with or without
/// a space before the unit, with an exponent (`3e2ms` once read as the
/// number 3 and the unit `e2ms`).
#[test]
fn duration_reads_every_way_a_quantity_is_written() {
    let path = small_model("durations");
    for (i, d) in ["300ms", "300 ms", "3e2ms", "0.3e3 ms", "0.3s"]
        .iter()
        .enumerate()
    {
        let out = path.parent().unwrap().join(format!("out{i}"));
        let o = run_quietly(&path, &out)
            .args(["--no-plot", "--duration", d])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{d}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("small.meta.json")).unwrap())
                .unwrap();
        assert_eq!(meta["steps_done"], 300, "--duration {d}");
    }
}

#[path = "common/models.rs"]
mod models;

/// The checker refuses recorders whose arrays would share a name
/// (`RecorderKind::array_suffixes`); the recording must write exactly the
/// names the checker reserves, for every recorder kind, or the check misses
/// clashes. Every valid model, a few steps each.
#[test]
fn npz_array_names_are_the_ones_the_checker_reserves() {
    let mut kinds = std::collections::BTreeSet::new();
    let dir = temp_dir("array_names");
    for (name, path) in models::valid_model_files() {
        // (Some documentation examples show mistakes on purpose.)
        let Ok(prepared) = cbmc::session::prepare(&path, &[]) else {
            continue;
        };
        if cbmc::network::estimated_bytes(&prepared.ir) > 64 << 20 {
            continue;
        }
        let model = prepared.checked.model.as_ref().expect("valid");
        // The documented spellings (docs/language.md section 3.12).
        let mut expected: Vec<String> = vec!["meta".to_string()];
        expected.extend(model.gaps.iter().map(|g| format!("{}_pairs", g.name)));
        for r in &model.recorders {
            kinds.insert(
                format!("{:?}", r.kind)
                    .split([' ', '{'])
                    .next()
                    .unwrap_or("")
                    .to_string(),
            );
            expected.extend(
                r.kind
                    .array_suffixes(model)
                    .iter()
                    .map(|s| format!("{}{s}", r.name)),
            );
        }
        let mut ir = prepared.ir.clone();
        ir.steps = ir.steps.min(3);
        let stop = std::sync::atomic::AtomicBool::new(false);
        let result = cbmc::session::run_cpu(&ir, 1, &stop, 0, &mut |_| {}).expect("run");
        let npz = cbmc::session::write_outputs(&dir, "m", &prepared, &result).expect("write");
        let zip = zip::ZipArchive::new(std::fs::File::open(&npz).unwrap()).unwrap();
        let mut written: Vec<String> = zip
            .file_names()
            .map(|n| n.trim_end_matches(".npy").to_string())
            .collect();
        expected.sort();
        written.sort();
        assert_eq!(
            written, expected,
            "{name}: arrays written vs names reserved by the checker"
        );
    }
    assert_eq!(kinds.len(), 5, "every recorder kind is covered: {kinds:?}");
}

/// A run whose `.npz` cannot be moved into place (a folder has its name)
/// keeps the complete file under its temporary name and says where.
#[test]
fn results_that_cannot_be_moved_into_place_are_kept() {
    let path = small_model("kept_results");
    let out = path.parent().unwrap().join("out");
    std::fs::create_dir_all(out.join("small.npz")).unwrap();
    let o = run_quietly(&path, &out)
        .args(["--duration", "0.2 s", "--no-plot"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
    let kept = partial_files(&out);
    assert_eq!(kept.len(), 1, "{kept:?}");
    let kept = out.join(&kept[0]);
    assert!(
        err.contains(&format!("the results are complete in {}", kept.display())),
        "{err}"
    );
    let zip = zip::ZipArchive::new(std::fs::File::open(&kept).expect("kept")).expect("a whole npz");
    assert!(
        zip.file_names().any(|n| n == "Out_spikes.npy"),
        "{:?}",
        zip.file_names().collect::<Vec<_>>()
    );
}

/// Traces are labelled in the unit their variable was declared in (`g:
/// 1/ms`, `I: mV/ms`), else the conventional unit of its dimension; the
/// scale turns the SI values into it.
#[test]
fn trace_metadata_gives_the_declared_unit() {
    let d = temp_dir("trace_units");
    let path = d.join("units.cbm");
    std::fs::write(
        &path,
        r#"
simulation { dt = 1 ms  duration = 5 ms }
neuron N {
    state { V = -65 mV; g: 1/ms = 0.5 /ms; slope: mV/ms = 0 mV/ms; c: nS = 1 nS; sq: mV^2 }
    inputs { I: mV/ms }
    update { slope = I }
}
population P[2] = N()
record V = trace(P.V, cells = [0])
record g = trace(P.g, cells = [0])
record slope = trace(P.slope, cells = [0])
record I = trace(P.I, cells = [0])
record c = trace(P.c, cells = 2)
record sq = trace(P.sq, cells = [1])
"#,
    )
    .unwrap();
    let (prepared, result) = run_file(&path, &[], 1);
    let meta = cbmc::session::metadata(&prepared, &result);
    let recorders = meta["recorders"].as_array().expect("recorders");
    let unit = |name: &str| -> (String, f64) {
        let r = recorders.iter().find(|r| r["name"] == name).expect(name);
        (
            r["unit"].as_str().unwrap_or("?").to_string(),
            r["unit_scale"].as_f64().unwrap_or(f64::NAN),
        )
    };
    assert_eq!(unit("V"), ("mV".to_string(), 1e3));
    assert_eq!(unit("g"), ("1/ms".to_string(), 1e-3));
    assert_eq!(unit("slope"), ("mV/ms".to_string(), 1.0));
    assert_eq!(unit("I"), ("mV/ms".to_string(), 1.0));
    assert_eq!(unit("c"), ("nS".to_string(), 1e9));
    assert_eq!(unit("sq"), ("mV^2".to_string(), 1e6));
    // `cells = 2`: the first two cells, as in spike_counts and spike_times.
    let cells = result
        .recording
        .arrays()
        .into_iter()
        .find(|(k, _)| k == "c_cells")
        .map(|(_, a)| match a {
            cbmc::record::NpzArray::U32 { data, .. } => data.into_owned(),
            _ => vec![],
        });
    assert_eq!(cells, Some(vec![0, 1]));
}

/// `cbmc validate`: an unknown experiment name or an empty window is an
/// error naming what is allowed (the first panicked); and the weight
/// experiments scale the initial value whatever it is (a distribution here,
/// `pf_pkj.g_inc`; they once set the variable to 0.5 or 2 outright, which
/// the checker refused as a bare number).
#[test]
fn validate_names_its_experiments_and_scales_any_initial_weight() {
    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/cerebellum.cbm");
    let m = model.to_str().unwrap();
    let run = |args: &[&str]| {
        let o = cbmc().arg("validate").arg(m).args(args).output().unwrap();
        let text =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        assert!(!text.contains("panicked"), "{text}");
        (o.status.code(), text)
    };
    let (code, text) = run(&["--duration", "1s", "--window", "0.5s", "--only", "foo"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("seed1, seed2, seed3, w0.5, w2, off-w0.5, off-w2"),
        "{text}"
    );
    let (code, text) = run(&["--duration", "1s", "--window", "0s"]);
    assert_eq!(code, Some(2), "{text}");
    let (code, text) = run(&[
        "--duration",
        "0.3s",
        "--window",
        "0.1s",
        "--only",
        "w2",
        "--weight",
        "g_inc",
    ]);
    assert_ne!(code, Some(2), "the experiment ran: {text}");
    assert!(text.contains("1 experiment of"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("w2 ")), "{text}");
}

/// A compiled model in the cache that was damaged (truncated, as a full
/// disk leaves it) is compiled again and replaced, not loaded: loading it
/// killed the process with SIGBUS.
#[test]
fn a_damaged_cache_entry_is_compiled_again() {
    let path = small_model("damaged_cache");
    let dir = path.parent().unwrap();
    let cache = dir.join("cache");
    let run = || {
        let o = run_quietly(&path, &dir.join("out"))
            .args(["--duration", "0.1 s", "--no-plot"])
            .env("CBMC_CACHE_DIR", &cache)
            .env_remove("CBMC_NO_CACHE")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    run();
    let Some(library) = std::fs::read_dir(cache.join("cpu")).ok().and_then(|d| {
        d.map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "so"))
    }) else {
        assert!(
            std::env::var_os("CBMC_REQUIRE_CC").is_none(),
            "no compiled model in the cache"
        );
        eprintln!("skipped: no C compiler, so no compiled model to damage");
        return;
    };
    let whole = std::fs::read(&library).unwrap();
    std::fs::write(&library, &whole[..4000.min(whole.len() / 2)]).unwrap();
    let second = run();
    assert!(second.contains("native code, compiled"), "{second}");
    assert_eq!(std::fs::read(&library).unwrap().len(), whole.len());
    let third = run();
    assert!(third.contains("native code, cached"), "{third}");
}

/// `kill` and `timeout` (SIGTERM) stop a run like Ctrl-C: what was
/// recorded is saved, marked partial, and the exit status is 130.
#[test]
fn a_terminated_run_saves_what_it_recorded() {
    let path = small_model("terminated");
    let out = path.parent().unwrap().join("out");
    let child = run_quietly(&path, &out)
        .args(["--duration", "100000 s", "--no-plot"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{err}");
    let npz = std::fs::File::open(out.join("small.npz")).expect("the partial run's .npz");
    let zip = zip::ZipArchive::new(npz).expect("a whole npz");
    assert!(zip.file_names().any(|n| n == "Out_spikes.npy"));
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("small.meta.json")).unwrap())
            .unwrap();
    assert_eq!(meta["partial"], true);
    assert!(meta["steps_done"].as_u64().unwrap() > 0);
    assert_eq!(partial_files(&out), Vec::<String>::new());
}

/// A UTF-8 byte order mark (some Windows editors write one) is not part of
/// the model.
#[test]
fn a_byte_order_mark_is_ignored() {
    let d = temp_dir("bom");
    let path = d.join("bom.cbm");
    std::fs::write(&path, format!("\u{feff}{SMALL}")).unwrap();
    let o = cbmc().arg("check").arg(&path).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `validate` refuses what it cannot measure, up front and as a usage
/// error: a model without an inferior olive, a window that is not a time.
#[test]
fn validate_refuses_what_it_cannot_measure() {
    let path = small_model("validate_refuses");
    for (args, needle) in [
        (
            vec!["--duration", "1s", "--window", "0.5s"],
            "no population `IO`",
        ),
        (
            vec!["--duration", "1s", "--window", "nans"],
            "is not a time",
        ),
    ] {
        let o = cbmc()
            .arg("validate")
            .arg(&path)
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

/// A mistake far along a very long line (a generated list of cells) is
/// reported plainly: miette cannot draw a label past column 65535 and
/// panicked. The out-of-range cells are one error, not thousands.
#[test]
fn a_mistake_on_a_very_long_line_is_reported() {
    let d = temp_dir("long_line");
    let path = d.join("long.cbm");
    let cells: Vec<String> = (0..20001).map(|i| i.to_string()).collect();
    let model = SMALL.replace("cells = [0, 1]", &format!("cells = [{}]", cells.join(", ")));
    std::fs::write(&path, model).unwrap();
    let o = cbmc().arg("check").arg(&path).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains("cell 50 is outside `Out` (size 50) (and 19950 more listed cells)"),
        "{err}"
    );
    assert!(
        err.contains("long.cbm:28:224 (line too long to show)"),
        "{err}"
    );
    assert_eq!(err.matches("E020").count(), 1, "{err}");
}

/// Long flat chains (a generated sum, thousands of `else if`) made trees
/// deep enough to overflow the stack: up to 10,000 operators a statement
/// they are checked, beyond that they are a syntax error.
#[test]
fn long_chains_are_checked_or_refused_without_overflowing() {
    let d = temp_dir("long_chains");
    let check = |name: &str, reset: String| {
        let path = d.join(format!("{name}.cbm"));
        std::fs::write(&path, SMALL.replace("reset { V = EL }", &reset)).unwrap();
        let o = cbmc().arg("check").arg(&path).output().unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let sum = |terms: usize| format!("reset {{ V = EL{} }}", " + 0 mV".repeat(terms));
    let (code, err) = check("sum", sum(9_990));
    assert_eq!(code, Some(0), "{err}");
    let (code, err) = check("too_long", sum(10_001));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("more than 10000 operators"), "{err}");
    let chain: String = (0..20_000)
        .map(|i| format!(" else if V > {i} mV {{ V = EL }}"))
        .collect();
    let (code, err) = check(
        "else_if",
        format!("reset {{ if V > 0 mV {{ V = EL }}{chain} }}"),
    );
    assert_eq!(code, Some(0), "{err}");
}

/// Output that cannot be written (`> /dev/full`) ends with a one-line error
/// and status 1, not a panic.
#[test]
fn unwritable_standard_output_is_an_error_not_a_panic() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        eprintln!("skipped: no /dev/full here");
        return;
    };
    let path = small_model("dev_full");
    let o = cbmc()
        .arg("emit-c")
        .arg(&path)
        .stdout(full)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("failed printing to stdout"), "{err}");
}

/// W113 (a reversed driving force) fires on the term that pushes a variable
/// away from its reversal, also inside a scaled sum and a `select` in an
/// update map, and on none of the usual correct forms: leaks written either
/// way round, conductances with constants and negations, quadratic and
/// exponential neuron models, and differences in another variable's
/// equation.
#[test]
fn reversed_driving_forces_and_only_those_are_flagged() {
    let model = r#"
model forces
simulation { dt = 0.1 ms  duration = 10 ms }
neuron A {
    parameters { gL = 0.1 /ms; EL = -65 mV; tau = 10 ms; E = 0 mV; Vr = -60 mV; Vc = -50 mV; DT = 2 mV; a = 1 /ms; b = 0.1 }
    state { V = EL; q = EL; e = EL; z = EL; w: mV = 0 mV; g: 1/ms = 0 /ms }
    equations {
        dV/dt = -(V - EL) / tau + gL * (EL - V) - g * (V - E) + 0.5 * g * (V - E) + w / tau
        dq/dt = (q - Vr) * (q - Vc) / (tau * 1 mV)
        de/dt = (EL - e + DT * exp((e - Vc) / DT)) / tau
        dw/dt = a * (V - EL) * b - w / tau
        dg/dt = -g / tau
        dz/dt = (gL * (EL - z) + g * (z - E)) * b
    }
    update { z += dt * (gL * (EL - z) + select(z > E, g * (z - E), 0 mV/ms)) }
    spike when V >= -50 mV
    reset { V = EL }
}
population P[1] = A()
record p = spike_counts(P, bin = 1 ms)
"#;
    let w113 = diagnostics_at("w113", model, "cbm::W113");
    assert_eq!(w113, vec![(8, 65), (13, 34), (15, 55)]);
}

/// A keyword after a bare number is not its unit: `o == 0 or ...`,
/// `c > 0.05 and ...` and `0.5 for 2 ms` parse (they were syntax errors,
/// `or`/`and`/`for` read as unit names).
#[test]
fn a_keyword_after_a_number_is_not_a_unit() {
    let d = temp_dir("keyword_units");
    let path = d.join("kw.cbm");
    std::fs::write(
        &path,
        r#"
model kw
simulation { dt = 1 ms  duration = 10 ms }
neuron N {
    parameters { o = 1 }
    state { V = -65 mV; c = 0 }
    equations { dV/dt = (-65 mV - V) / 10 ms }
    update { if c > 0.05 and t > 1 ms { c = 0 } }
    spike when o == 0 or V > -50 mV
    reset { V = -65 mV }
}
synapse S {
    state { w = 1 }
    on_pre { if w > 0.05 and t > 1 ms { target += w * 0.5 mV for 2 ms } }
}
population P[2] = N()
projection p: P -> P.V { synapse = S()  connect = one_to_one() }
record r = spike_counts(P, bin = 1 ms)
"#,
    )
    .unwrap();
    let o = cbmc().arg("check").arg(&path).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(!err.contains("E001"), "{err}");
}

/// W112 (noise that depends on dt) stays quiet on correctly scaled noise:
/// dt reaching the kick through a parameter (the exact Ornstein-Uhlenbeck
/// step), white noise scaled by 1/sqrt(dt) inside an equation, a fresh draw
/// (not a kick), a kick at a chosen time; and fires on a bare per-step kick.
#[test]
fn noise_scaled_for_dt_is_not_flagged() {
    let model = r#"
model noise
simulation { dt = 0.1 ms  duration = 10 ms }
neuron A {
    parameters { tau = 10 ms; EL = -65 mV; sigma = 1 mV; decay = exp(-dt / tau); kick = sigma * sqrt(1 - decay^2); s2 = 1 mV/ms }
    state { V = EL; x: mV = 0 mV; xi: mV = 0 mV; y = EL }
    equations {
        dV/dt = (EL - V + x + xi) / tau + s2 * sqrt(2 * tau / dt) * randn() / 10
        dy/dt = (EL - y) / tau
    }
    update {
        x = x * decay + kick * randn()
        xi = sigma * randn()
        if t == 5 ms { V += sigma * randn() }
        y += sigma * randn()
    }
    spike when V >= -50 mV
    reset { V = EL }
}
population P[1] = A()
record p = spike_counts(P, bin = 1 ms)
"#;
    let w112 = diagnostics_at("w112", model, "cbm::W112");
    assert_eq!(w112, vec![(15, 9)]);
}

/// (line, column) of each diagnostic with `code` that `cbmc check` gives
/// for `model`.
fn diagnostics_at(dir: &str, model: &str, code: &str) -> Vec<(u64, u64)> {
    let path = temp_dir(dir).join("model.cbm");
    std::fs::write(&path, model).unwrap();
    let o = cbmc()
        .args(["check", "--format", "json"])
        .arg(&path)
        .output()
        .unwrap();
    let found: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    found
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == code)
        .map(|d| (d["line"].as_u64().unwrap(), d["column"].as_u64().unwrap()))
        .collect()
}

/// The hint after a run's warnings names the run's overrides (the
/// duration below is what draws W111; `cbmc check FILE` alone is clean of
/// it), and two flags giving one setting are refused, not resolved silently.
#[test]
fn the_warning_hint_keeps_the_overrides_and_conflicts_are_refused() {
    let path = small_model("hint_overrides");
    let out = path.parent().unwrap().join("out");
    let o = run_quietly(&path, &out)
        .args(["--duration", "10.5 ms", "--no-plot"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "`cbmc check {} --set 'duration=10.5 ms'` shows them",
            path.display()
        )),
        "{err}"
    );
    let o = run_quietly(&path, &out)
        .args(["--seed", "7", "--set", "seed=8", "--no-plot"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--seed and --set seed=... both give the seed"),
        "{err}"
    );
}

/// `cbmc check --allow W103` drops that warning (a model whose input
/// cells are deliberately unrecorded passes `--deny-warnings`); an error
/// code or an unknown code is refused. A gallery of unconnected cells draws
/// no warning (W102 is for populations left out of a network).
#[test]
fn check_allows_named_warnings_only() {
    let path = model_file(
        "allow",
        r#"
simulation { dt = 1 ms  duration = 10 ms }
neuron Lif { parameters { I = 2 mV/ms } state { V = 0 mV } equations { dV/dt = I - V / 10 ms [exact] } spike when V > 15 mV; reset { V = 0 mV } }
population A[1] = Lif()
population B[1] = Lif(I = 3 mV/ms)
record b = spike_counts(B, bin = 5 ms)
"#,
    );
    let check = |extra: &[&str]| {
        cbmc()
            .args(["check", path.to_str().unwrap(), "--deny-warnings"])
            .args(extra)
            .output()
            .unwrap()
    };
    let o = check(&[]);
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("W103"), "{stderr}");
    assert!(!stderr.contains("W102"), "{stderr}");
    for spelling in ["W103", "w103", "cbm::W103", "CBM::W103"] {
        let o = check(&["--allow", spelling]);
        assert!(
            o.status.success(),
            "{spelling}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    for bad in ["E020", "W999"] {
        let o = check(&["--allow", bad]);
        assert_eq!(o.status.code(), Some(2), "--allow {bad}");
        assert!(String::from_utf8_lossy(&o.stderr).contains(&format!("--allow {bad}")));
    }
}

/// `--set TYPE.param` is checked against the dimension of the value the
/// model wrote (a unit-less declaration takes it from there), and a name
/// the type lacks gets a message that says what the type has.
#[test]
fn type_defaults_set_from_the_command_line_are_checked() {
    let path = model_file(
        "type_set",
        r#"
simulation { dt = 1 ms  duration = 20 ms }
neuron Lif {
    parameters { drive = 0 mV/ms }
    state { V = 0 mV }
    equations { dV/dt = drive - V / 10 ms [exact] }
    spike when V > 10 mV; reset { V = 0 mV }
}
population A[2] = Lif()
record a = spike_counts(A, bin = 5 ms)
"#,
    );
    let check = |set: &str| {
        let o = cbmc()
            .args(["check", path.to_str().unwrap(), "--set", set])
            .output()
            .unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
    };
    assert!(check("Lif.drive=2 mV/ms").0);
    let (ok, err) = check("Lif.drive=2");
    assert!(
        !ok && err.contains("E012") && err.contains("expected voltage/time"),
        "{err}"
    );
    let (ok, err) = check("Lif.nope=2");
    assert!(
        !ok && err.contains("has no parameter `nope`; its parameters: drive"),
        "{err}"
    );
    let (ok, err) = check("Lif.V=1 mV");
    assert!(
        !ok && err.contains("is a state variable of neuron type `Lif`"),
        "{err}"
    );
}

/// `cbmc bench` times the CPU engine by default, without and with
/// recording; `--backend cuda` where no GPU is usable is a clear error, not
/// a panic (with one, the same command times the CUDA engine).
#[test]
fn bench_times_both_ways_and_refuses_cuda_without_a_gpu() {
    let model = small_model("bench_cli");
    let out = cbmc()
        .arg("bench")
        .arg(&model)
        .args(["--duration", "200ms"])
        .output()
        .expect("cbmc runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("no recording") && text.contains("with recording"),
        "{text}"
    );
    if cbmc::engine::cuda::driver::usable().is_ok() {
        return;
    }
    let out = cbmc()
        .arg("bench")
        .arg(&model)
        .args(["--duration", "200ms", "--backend", "cuda"])
        .output()
        .expect("cbmc runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("--backend cuda:") && !err.contains("panicked"),
        "{err}"
    );
}
