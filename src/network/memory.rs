//! Memory: what a run's network is expected to need, what this process
//! can get (cgroup limits, `ulimit -v`, available memory), and the check
//! that refuses a run that would not fit, before anything is built.

use super::*;

/// How many synapses each projection will have (exact for every rule but
/// `probability`, whose expected count is given).
pub fn expected_synapses(ir: &Ir) -> Vec<u64> {
    ir.projections
        .iter()
        .map(|q| {
            let (n_src, n_dst) = (
                ir.populations[q.source].size as u64,
                ir.populations[q.target].size as u64,
            );
            match &q.wiring {
                Wiring::Explicit { pairs } => pairs.len() as u64,
                Wiring::AllToAll { .. } => n_src * n_dst,
                Wiring::OneToOne => n_src.min(n_dst),
                Wiring::Blocks { per_source } => n_src * *per_source as u64,
                Wiring::FixedInDegree { k, .. } => n_dst * *k as u64,
                Wiring::FixedOutDegree { k, .. } => n_src * *k as u64,
                Wiring::Probability { p, .. } => (p * (n_src * n_dst) as f64).ceil() as u64,
                Wiring::PairProbability { expected, .. } => {
                    (expected * (n_src * n_dst) as f64).ceil() as u64
                }
            }
        })
        .collect()
}

/// Bytes the CPU engine needs for a model, roughly: cell variables, synapse
/// indices and variables (with the wiring's temporary pairs), ring buffers.
pub fn estimated_bytes(ir: &Ir) -> u64 {
    let cells: u64 = ir
        .populations
        .iter()
        .map(|p| {
            let vars = match &p.kind {
                PopulationKindIr::Neuron(n) => n.vars.len() as u64,
                // With each cell's own probability and its logarithm.
                PopulationKindIr::Source(s) => {
                    s.per_cell().len() as u64 + 2 * u64::from(s.per_cell_constant())
                }
            };
            p.size as u64 * (vars * 8 + 24)
        })
        .sum();
    let synapses: u64 = ir
        .projections
        .iter()
        .zip(expected_synapses(ir))
        .map(|(q, n)| {
            let delay = if q.delay_draw.is_some() { 4 } else { 0 };
            n * (8 + 8 + 8 * q.vars.len() as u64 + delay)
        })
        .sum();
    let rings: u64 = ir
        .projections
        .iter()
        .map(|q| q.ring_slots() as u64 * ir.populations[q.target].size as u64 * 8)
        .sum();
    cells + synapses + rings
}

/// Memory this process can still get (Linux), if known: the least of the
/// system's available memory, the cgroup's limit (containers, batch jobs)
/// and the address-space limit (`ulimit -v`), less what is in use.
pub fn available_bytes() -> Option<u64> {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    let kb_field = |text: &str, key: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(key))?;
        Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
    };
    let system = read("/proc/meminfo").and_then(|t| kb_field(&t, "MemAvailable:"));
    let cgroup = cgroup_available();
    let address_space = (|| {
        let limits = read("/proc/self/limits")?;
        let line = limits
            .lines()
            .find(|l| l.starts_with("Max address space"))?;
        let limit: u64 = line.split_whitespace().nth(3)?.parse().ok()?;
        let used = read("/proc/self/status").and_then(|t| kb_field(&t, "VmSize:"))?;
        Some(limit.saturating_sub(used))
    })();
    [system, cgroup, address_space].into_iter().flatten().min()
}

/// Memory left under this process's cgroup limits (containers, Slurm and
/// systemd jobs): for its cgroup and every ancestor with a limit, the limit
/// less what is in use, not counting the page cache the kernel can reclaim
/// (`inactive_file`). cgroup v2, else v1's memory controller.
fn cgroup_available() -> Option<u64> {
    cgroup_available_in(&|path: &str| std::fs::read_to_string(path).ok())
}

/// `cgroup_available`, reading files through `read` (a test gives it a
/// made-up file system).
fn cgroup_available_in(read: &dyn Fn(&str) -> Option<String>) -> Option<u64> {
    let number = |text: Option<String>| text?.trim().parse::<u64>().ok();
    let stat = |path: &str, key: &str| -> u64 {
        read(path)
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
            })
            .unwrap_or(0)
    };
    let mut best: Option<u64> = None;
    for line in read("/proc/self/cgroup")?.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let (base, limit, usage, inactive) = if controllers.is_empty() {
            (
                "/sys/fs/cgroup",
                "memory.max",
                "memory.current",
                "inactive_file",
            )
        } else if controllers.split(',').any(|c| c == "memory") {
            (
                "/sys/fs/cgroup/memory",
                "memory.limit_in_bytes",
                "memory.usage_in_bytes",
                "total_inactive_file",
            )
        } else {
            continue;
        };
        // The process's cgroup, then each parent up to the root ("").
        let mut rel = path.trim_end_matches('/');
        loop {
            let at = |f: &str| format!("{base}{rel}/{f}");
            if let (Some(max), Some(used)) = (number(read(&at(limit))), number(read(&at(usage)))) {
                let used = used.saturating_sub(stat(&at("memory.stat"), inactive));
                let left = max.saturating_sub(used);
                best = Some(best.map_or(left, |b| b.min(left)));
            }
            match rel.rfind('/') {
                Some(i) => rel = &rel[..i],
                None => break,
            }
        }
    }
    best
}

/// Refuse, before anything is built, a run that needs more memory than
/// this process can get: the network (`estimated_bytes`) and
/// `recording_bytes` for what its recorders will hold.
pub fn check_memory(ir: &Ir, recording_bytes: u64) -> Result<(), String> {
    let network = estimated_bytes(ir);
    let need = network.saturating_add(recording_bytes);
    let Some(have) = available_bytes() else {
        return Ok(());
    };
    if need <= have {
        return Ok(());
    }
    let gb = |b: u64| b as f64 / 1e9;
    let synapses = expected_synapses(ir).iter().sum::<u64>();
    let mut msg = format!(
        "this run needs about {:.1} GB of memory and {:.1} GB are available: {:.1} GB for the network",
        gb(need),
        gb(have),
        gb(network),
    );
    // The largest ring of waiting input, when it outweighs the synapses:
    // a long delay onto many cells.
    let ring = |q: &crate::ir::ProjectionIr| {
        q.ring_slots() as u64 * ir.populations[q.target].size as u64 * 8
    };
    let rings: u64 = ir.projections.iter().map(ring).sum();
    if rings > network / 2 {
        if let Some(q) = ir.projections.iter().max_by_key(|q| ring(q)) {
            msg += &format!(
                ", most of it ({:.1} GB) input waiting for its delay: projection `{}` holds {} steps of it for each of its {} target cells (its longest delay and pulse)",
                gb(rings),
                q.name,
                q.ring_slots(),
                ir.populations[q.target].size
            );
        }
    } else if synapses > 0 {
        msg += &format!(" ({synapses} synapses)");
    }
    if recording_bytes > 0 {
        msg += &format!(", {:.1} GB for the recordings", gb(recording_bytes));
    }
    msg += "; make the model smaller";
    if recording_bytes > network {
        msg += ", record fewer cells, use wider bins or a larger `every`, or shorten the run";
    }
    msg += ", or use a machine with more memory";
    Err(msg)
}

#[cfg(test)]
mod tests {
    use super::cgroup_available_in;
    use std::collections::HashMap;

    fn fs(files: &[(&str, &str)]) -> HashMap<String, String> {
        files
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn cgroup_v2_limits_count_from_the_tightest_ancestor_without_page_cache() {
        let files = fs(&[
            ("/proc/self/cgroup", "0::/job/step\n"),
            ("/sys/fs/cgroup/job/step/memory.max", "max\n"),
            ("/sys/fs/cgroup/job/step/memory.current", "100\n"),
            ("/sys/fs/cgroup/job/memory.max", "1000\n"),
            ("/sys/fs/cgroup/job/memory.current", "700\n"),
            (
                "/sys/fs/cgroup/job/memory.stat",
                "anon 400\ninactive_file 300\nactive_file 9\n",
            ),
        ]);
        // The job's limit: 1000 - (700 - 300 reclaimable cache).
        assert_eq!(cgroup_available_in(&|p| files.get(p).cloned()), Some(600));
    }

    #[test]
    fn cgroup_v1_memory_controller_is_read_too() {
        let files = fs(&[
            ("/proc/self/cgroup", "4:memory:/a\n1:cpu:/\n0::/\n"),
            ("/sys/fs/cgroup/memory/a/memory.limit_in_bytes", "5000\n"),
            ("/sys/fs/cgroup/memory/a/memory.usage_in_bytes", "3000\n"),
            (
                "/sys/fs/cgroup/memory/a/memory.stat",
                "total_inactive_file 1000\n",
            ),
            (
                "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                "9223372036854771712\n",
            ),
            ("/sys/fs/cgroup/memory/memory.usage_in_bytes", "3000\n"),
        ]);
        assert_eq!(cgroup_available_in(&|p| files.get(p).cloned()), Some(3000));
        // No limits anywhere: nothing to say.
        let none = fs(&[("/proc/self/cgroup", "0::/\n")]);
        assert_eq!(cgroup_available_in(&|p| none.get(p).cloned()), None);
    }
}
