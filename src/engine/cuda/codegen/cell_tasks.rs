//! Tasks over cells: spike sources, neuron updates (arrivals, the step,
//! spikes, resets), gap junctions.

use super::*;

impl Gen<'_> {
    pub(super) fn source_task(&mut self, pi: usize, s: &SourceIr) -> Task {
        let ir = self.ir;
        let p = &ir.populations[pi];
        let n = p.size;
        let w = mask_words(n);
        let name = format!("src_{}", p.name);
        let early = self.rows.early[pi];
        let lspk = self.row_of(Entry::Lspk { pop: pi });
        let mask = self.name(Entry::Mask { pop: pi });
        let mut body = self.carry(Entry::Lspk { pop: pi }, &ind(3));
        let mut pre = String::new();
        let kind;
        let fixed = s.fixed_probability(ir.dt);
        if fixed.is_some() || s.per_cell_constant() {
            let next = self.name(Entry::SrcNext { pop: pi });
            let count = self.name(Entry::SrcCount { pop: pi });
            let st = stream(rng::SOURCE, pi, 1);
            let gap = match fixed {
                Some(prob) if prob <= 0.0 => format!("{}ull", u64::MAX / 4),
                Some(prob) if prob >= 1.0 => "0ull".into(),
                Some(prob) => format!(
                    "cbm_geometric({st}u, i, c_, {})",
                    lit(crate::engine::spike_gaps::log_q(prob))
                ),
                None => format!(
                    "cbm_geometric({st}u, i, c_, {}[i])",
                    self.name(Entry::SrcLogQ { pop: pi })
                ),
            };
            kind = if fixed.is_some() {
                "constant probability, geometric gaps"
            } else {
                "a constant probability per cell, geometric gaps"
            };
            let _ = write!(
                body,
                "            const u32 cn_ = {count}[i]; // (loaded with the next step, not after it)\n            if ({next}[i] == (u64)s) {{\n                spk = 1;\n                const u32 c_ = cn_ + 1u;\n                {count}[i] = c_;\n                {next}[i] = (u64)s + {}ull + {gap};\n                {lspk}[i] = s;\n                (void)c_;\n            }}\n",
                1 + s.refractory_steps()
            );
        } else {
            match s {
                SourceIr::SpikeTimes { cells, .. } => {
                    kind = "spike times";
                    let times = self.name(Entry::SrcTimes { pop: pi });
                    let nt = self.name(Entry::NTimes { pop: pi });
                    let _ = write!(
                        pre,
                        "    u64 lo_ = 0, hi_ = {nt};\n    while (lo_ < hi_) {{\n        const u64 mid_ = (lo_ + hi_) / 2;\n        if ({times}[mid_] < (u64)s) lo_ = mid_ + 1; else hi_ = mid_;\n    }}\n    const int fire_ = lo_ < {nt} && {times}[lo_] == (u64)s;\n"
                    );
                    let who = if cells.is_some() {
                        format!(" && {}[i] != 0u", self.name(Entry::SrcCells { pop: pi }))
                    } else {
                        String::new()
                    };
                    let _ = write!(
                        body,
                        "            if (fire_{who}) {{\n                spk = 1;\n                {lspk}[i] = s;\n            }}\n"
                    );
                }
                SourceIr::Bernoulli { p: e, .. } | SourceIr::Poisson { rate: e, .. } => {
                    let poisson = matches!(s, SourceIr::Poisson { .. });
                    kind = if poisson {
                        "poisson, time-varying"
                    } else {
                        "bernoulli, time-varying"
                    };
                    let v = self.expr(e, Ctx::Source { pop: pi });
                    let prob = if poisson {
                        vec![
                            format!("const double v_ = {v};"),
                            "const double prob_ = 1.0 - exp(-v_ * CBM_DT);".to_string(),
                        ]
                    } else {
                        vec![format!("const double prob_ = {v};")]
                    };
                    // One probability for all cells, or each cell's own.
                    let (out, pad) = if s.per_cell().is_empty() {
                        (&mut pre, ind(1))
                    } else {
                        (&mut body, ind(3))
                    };
                    for line in prob {
                        let _ = writeln!(out, "{pad}{line}");
                    }
                    self.draw_body(&mut body, pi, s.refractory_steps(), &lspk);
                }
            }
        }
        let mut code = String::new();
        let _ = writeln!(
            code,
            "// from: population {} (source: {kind})\nCBM_TASK void cbm_{name}(i64 s, i64 c0, u64 rot_) {{",
            p.name
        );
        code.push_str("    const double t = (double)s * CBM_DT;\n    (void)t;\n");
        code.push_str(&pre);
        let _ = write!(
            code,
            "    for (u64 base = cbm_warp_r(rot_) * 32; base < {n}ull; base += cbm_nwarps() * 32) {{\n        const u64 i = base + cbm_lane();\n        int spk = 0;\n        if (i < {n}ull) {{\n{body}        }}\n        const u32 m_ = __ballot_sync(CBM_FULL, spk);\n        if (cbm_lane() == 0u) {mask}[(u64)(s - c0) * {w}ull + (base >> 5)] = m_;\n    }}\n}}\n"
        );
        Task {
            name,
            code,
            reads: vec![],
            // Drawn a step early, the task writes the next step's mask row
            // and last spike row, which no task of the step touches (the
            // step's are written, those of the step before no longer
            // written: `rows`): of what it touches, only its own state is
            // this step's.
            writes: if early {
                vec![Res::Src(pi)]
            } else {
                vec![Res::Spk(pi), self.spk_res(pi), Res::Mask(pi), Res::Src(pi)]
            },
            period: None,
            defer: Defer::No,
            cell_flags: CellFlags::None,
            target_flags: None,
            early,
            warps: warps_for(n),
        }
    }

    pub(super) fn draw_body(&mut self, body: &mut String, pi: usize, refractory: u32, lspk: &str) {
        let refr = self.name(Entry::Refr { pop: pi });
        let st = stream(rng::SOURCE, pi, 0);
        let _ = write!(
            body,
            "            if ({refr}[i] > 0u) {{\n                {refr}[i] -= 1u;\n            }} else {{\n                u32 w_[4];\n                cbm_philox((u32)i, (u32)(u64)s, (u32)((u64)s >> 32), {st}u, w_);\n                if (cbm_uniform(w_[0]) < prob_) {{\n                    spk = 1;\n                    {lspk}[i] = s;\n                    {refr}[i] = {refractory}u;\n                }}\n            }}\n"
        );
    }

    /// Cell variables the arrivals write: inputs (zeroed) and the targets
    /// of projections (deposits added).
    pub(super) fn arrival_vars(&self, pi: usize) -> Vec<usize> {
        let ir = self.ir;
        let PopulationKindIr::Neuron(nir) = &ir.populations[pi].kind else {
            return vec![];
        };
        let inputs = (0..nir.vars.len()).filter(|&v| nir.vars[v].kind == VarKind::Input);
        let targets = ir
            .projections
            .iter()
            .filter(|q| q.target == pi)
            .map(|q| q.target_var);
        inputs.chain(targets).collect()
    }

    /// A cell's arrivals, into the registers `cv<v>_`: inputs zeroed, this
    /// step's ring slots added (read first, cleared after), teacher arrivals
    /// noted.
    pub(super) fn arrivals(
        &mut self,
        pi: usize,
        pad: &str,
        body: &mut String,
        writes: &mut Vec<Res>,
    ) {
        let ir = self.ir;
        let n = self.pop_size(pi);
        let PopulationKindIr::Neuron(nir) = &ir.populations[pi].kind else {
            return;
        };
        body.push_str(&self.await_deliveries(pi, pad));
        // The ring slots of this step, read before anything is stored.
        let mut taken = String::new();
        for (qi, q) in ir.projections.iter().enumerate() {
            if q.target != pi || q.on_pre.is_empty() {
                continue;
            }
            let ring = self.name(Entry::Ring { proj: qi });
            let sl = q.ring_slots();
            let _ = writeln!(
                body,
                "{pad}double* rg{qi}_ = {ring} + ((u64)s % {sl}ull) * {n}ull; // from: projection {}\n{pad}const double rv{qi}_ = rg{qi}_[i];",
                q.name
            );
            let _ = writeln!(taken, "{pad}rg{qi}_[i] = 0.0;");
            writes.push(Res::RingNow(qi));
        }
        for (v, var) in nir.vars.iter().enumerate() {
            if var.kind == VarKind::Input {
                let _ = writeln!(body, "{pad}cv{v}_ = 0.0;");
                writes.push(Res::Var(pi, v));
            }
        }
        for (qi, q) in ir.projections.iter().enumerate() {
            if q.target != pi {
                continue;
            }
            let tv = q.target_var;
            writes.push(Res::Var(pi, tv));
            if q.on_pre.is_empty() {
                // No deposits: the CPU engine still adds its empty ring.
                let _ = writeln!(body, "{pad}cv{tv}_ += 0.0; // {} (no deposits)", q.name);
            } else {
                let _ = writeln!(body, "{pad}cv{tv}_ += rv{qi}_;");
            }
        }
        for (ti, t) in ir.projections.iter().enumerate() {
            if t.target != pi || !self.teachers[ti] {
                continue;
            }
            let arr = self.name(Entry::Arr { proj: ti });
            let tarr = self.row_of(Entry::Tarr { proj: ti });
            taken.push_str(&self.carry(Entry::Tarr { proj: ti }, pad));
            let sl = t.ring_slots();
            let _ = writeln!(
                body,
                "{pad}u32* ar{ti}_ = {arr} + ((u64)s % {sl}ull) * {n}ull; // from: teacher {}\n{pad}const u32 an{ti}_ = ar{ti}_[i];",
                t.name
            );
            let _ = writeln!(
                taken,
                "{pad}if (an{ti}_ > 0u) {{\n{pad}    ar{ti}_[i] = 0u;\n{pad}    {tarr}[i] = s;\n{pad}}}"
            );
            writes.push(Res::ArrNow(ti));
            writes.push(Res::Tarr(ti));
            writes.push(self.tarr_res(ti));
        }
        body.push_str(&taken);
    }

    /// A neuron population's update: arrivals (inputs zeroed, deposits added,
    /// teacher arrivals noted) and/or the step (program, spike test, reset,
    /// refractory count, NaN check).
    /// `gaps`: gap junctions of the population computed after the arrivals,
    /// in the same task (the caller checked that the arrivals do not write
    /// their voltages). `cell_flags`: the arrivals set per-cell flags, or
    /// the step waits for them (see `schedule::CellFlags`).
    pub(super) fn cell_task(
        &mut self,
        pi: usize,
        sched_pos: usize,
        arrive: bool,
        step: bool,
        gaps: &[usize],
        cell_flags: CellFlags,
    ) -> Task {
        let ir = self.ir;
        let p = &ir.populations[pi];
        let PopulationKindIr::Neuron(nir) = &p.kind else {
            unreachable!("cell task of a source")
        };
        let n = p.size;
        let w = mask_words(n);
        let part = match (arrive, step) {
            (true, true) => "cells",
            (true, false) if gaps.is_empty() => "arrivals",
            (true, false) => "arrivals_gaps",
            _ => "step",
        };
        let name = format!("{part}_{}", p.name);
        let mut reads = vec![];
        let mut writes = vec![];
        let mut body = String::new();
        let pad = ind(3);
        // The cell's variables live in registers for the task (`cv<v>_`):
        // loaded together at the start and stored at the end, so that the
        // loads do not wait one after another behind stores to buffers the
        // compiler cannot tell apart.
        let mut regs: Vec<usize> = if step {
            (0..nir.vars.len()).collect()
        } else {
            let mut r = self.arrival_vars(pi);
            r.extend(gaps.iter().map(|&g| ir.gaps[g].target));
            r
        };
        regs.sort_unstable();
        regs.dedup();
        // One warp for the whole update of a population with gap junctions
        // (`Variant::fuse`, at most 32 cells): the currents read every
        // cell's voltage before any cell steps, ordered by a warp sync
        // instead of a phase. Its registers are declared outside the
        // cells' branches, which the sync comes between.
        let one_warp = step && !gaps.is_empty();
        if cell_flags == CellFlags::Awaits(pi) {
            body.push_str(&self.await_cells(pi, &pad));
        }
        let mut loads = String::new();
        for &v in &regs {
            let arr = self.name(Entry::CellVar { pop: pi, var: v });
            if one_warp {
                let _ = writeln!(loads, "    double cv{v}_ = i < {n}ull ? {arr}[i] : 0.0;");
            } else {
                let _ = writeln!(body, "{pad}double cv{v}_ = {arr}[i];");
            }
        }
        let refr = self.name(Entry::Refr { pop: pi });
        let mut refr_load = String::new();
        if step {
            if nir.spike.is_some() {
                let _ = writeln!(refr_load, "{pad}u32 r_ = {refr}[i];");
            } else {
                let _ = writeln!(refr_load, "{pad}const u32 r_ = 0u;");
            }
            let _ = writeln!(refr_load, "{pad}(void)r_;");
        }
        if !one_warp {
            body.push_str(&refr_load);
        }
        if arrive {
            self.arrivals(pi, &pad, &mut body, &mut writes);
        }
        for &g in gaps {
            let gap = &ir.gaps[g];
            let current = self.gap_current(g, &ind(4), Some(&format!("cv{}_", gap.target)));
            let _ = write!(
                body,
                "{pad}{{\n{pad}    const u64 c = i;\n{current}{pad}}}\n"
            );
            reads.push(Res::Var(pi, gap.voltage));
            writes.push(Res::Var(pi, gap.target));
        }
        let split = body.len();
        if one_warp {
            body.push_str(&refr_load);
        }
        if step {
            for v in 0..nir.vars.len() {
                writes.push(Res::Var(pi, v));
            }
            writes.push(Res::Refr(pi));
            writes.push(Res::Spk(pi));
            writes.push(self.spk_res(pi));
            writes.push(Res::Mask(pi));
            body.push_str(&self.carry(Entry::Lspk { pop: pi }, &pad));
            body.push_str(&Self::locals(nir.locals, 3));
            let c = Ctx::Neuron { pop: pi };
            let mut dep = 0;
            let _ = writeln!(body, "{pad}// from: population {} (step program)", p.name);
            self.stmts(&mut body, &nir.step, c, 3, &mut dep);
            if let Some(sp) = &nir.spike {
                let cond = self.expr(sp, c);
                let lspk = self.row_of(Entry::Lspk { pop: pi });
                let _ = writeln!(
                    body,
                    "{pad}// from: population {} (spike test, reset)",
                    p.name
                );
                let _ = writeln!(
                    body,
                    "{pad}{{\n{pad}    const double c_ = {cond};\n{pad}    const int free_ = r_ == 0u;\n{pad}    if (r_ > 0u) r_ -= 1u;\n{pad}    if (c_ != 0.0 && free_) {{\n{pad}        spk = 1;\n{pad}        r_ = {}u;\n{pad}        {lspk}[i] = s;",
                    nir.refractory_steps
                );
                self.stmts(&mut body, &nir.reset, c, 5, &mut dep);
                let _ = writeln!(body, "{pad}    }}\n{pad}    {refr}[i] = r_;\n{pad}}}");
            }
            if !nir.checked_vars.is_empty() {
                let _ = writeln!(body, "{pad}{{ // NaN check\n{pad}    u64 key_ = ~0ull;");
                for (order, &v) in nir.checked_vars.iter().enumerate().rev() {
                    let _ = writeln!(
                        body,
                        "{pad}    if (!cbm_finite(cv{v}_)) key_ = ({sched_pos}ull << 48) | ({order}ull << 32) | i;"
                    );
                }
                let _ = writeln!(
                    body,
                    "{pad}    if (key_ != ~0ull) {{\n{pad}        atomicMin(&CBM_ERR[0], key_);\n{pad}        atomicMin(&CBM_ERR[1], (u64)s);\n{pad}        cbm_note_error();\n{pad}    }}\n{pad}}}"
                );
            }
        }
        for &v in &regs {
            let arr = self.name(Entry::CellVar { pop: pi, var: v });
            let _ = writeln!(body, "{pad}{arr}[i] = cv{v}_;");
        }
        if step {
            body.push_str(&self.traces_by_cells(pi, &pad));
        }
        if cell_flags == CellFlags::Signals(pi) {
            body.push_str(&self.signal_cell(pi, &pad));
        }
        let mut code = String::new();
        let _ = writeln!(
            code,
            "// from: population {} ({part})\nCBM_TASK void cbm_{name}(i64 s, i64 c0, u64 rot_) {{\n    const double t = (double)s * CBM_DT;\n    (void)t;\n    (void)c0;",
            p.name
        );
        if one_warp {
            let (gathered, stepped) = body.split_at(split);
            let _ = write!(
                code,
                "    if (cbm_warp_r(rot_) != 0ull) return; // one warp: all {n} cells\n    {{\n    const u64 base = 0ull;\n    const u64 i = cbm_lane();\n    int spk = 0;\n    (void)spk;\n{loads}        if (i < {n}ull) {{\n{gathered}        }}\n        __syncwarp(); // every cell's currents before any voltage is stepped\n        if (i < {n}ull) {{\n{stepped}        }}\n"
            );
        } else {
            let _ = write!(
                code,
                "    for (u64 base = cbm_warp_r(rot_) * 32; base < {n}ull; base += cbm_nwarps() * 32) {{\n        const u64 i = base + cbm_lane();\n        int spk = 0;\n        (void)spk;\n        if (i < {n}ull) {{\n{body}        }}\n"
            );
        }
        if step {
            let mask = self.name(Entry::Mask { pop: pi });
            let _ = writeln!(
                code,
                "        const u32 m_ = __ballot_sync(CBM_FULL, spk);\n        if (cbm_lane() == 0u) {mask}[(u64)(s - c0) * {w}ull + (base >> 5)] = m_;"
            );
        }
        code.push_str("    }\n}\n");
        reads.extend(writes.iter().copied());
        Task {
            name,
            code,
            reads,
            writes,
            period: None,
            defer: Defer::No,
            cell_flags,
            target_flags: None,
            early: false,
            warps: if one_warp { 1 } else { warps_for(n) },
        }
    }

    /// A gap junction's currents into cell `c`: its pairs in order, added
    /// to the target variable (or to `local`, the register that holds it).
    pub(super) fn gap_current(&mut self, g: usize, pad: &str, local: Option<&str>) -> String {
        let gap = &self.ir.gaps[g];
        let pi = gap.population;
        let v = self.name(Entry::CellVar {
            pop: pi,
            var: gap.voltage,
        });
        let tg = self.name(Entry::CellVar {
            pop: pi,
            var: gap.target,
        });
        let off = self.name(Entry::GapOff { gap: g });
        let list = self.name(Entry::GapList { gap: g });
        let k = lit(gap.coupling);
        let tg = match local {
            Some(l) => l.to_string(),
            None => format!("{tg}[c]"),
        };
        format!(
            "{pad}{{ // from: gap junction {} (pairs in order)\n{pad}    double acc = {tg};\n{pad}    for (u32 e = {off}[c]; e < {off}[c + 1]; ++e) {{\n{pad}        const u32 x = {list}[e];\n{pad}        const u32 o = x & 0x7fffffffu;\n{pad}        if (x >> 31) {{\n{pad}            const double cur = {k} * ({v}[c] - {v}[o]);\n{pad}            acc -= cur;\n{pad}        }} else {{\n{pad}            const double cur = {k} * ({v}[o] - {v}[c]);\n{pad}            acc += cur;\n{pad}        }}\n{pad}    }}\n{pad}    {tg} = acc;\n{pad}}}\n",
            gap.name
        )
    }

    pub(super) fn gap_task(&mut self, g: usize) -> Task {
        let gap = &self.ir.gaps[g];
        let pi = gap.population;
        let n = self.pop_size(pi);
        let name = format!("gap_{}", gap.name);
        let reads = vec![Res::Var(pi, gap.voltage), Res::Var(pi, gap.target)];
        let writes = vec![Res::Var(pi, gap.target)];
        let body = self.gap_current(g, &ind(2), None);
        let code = format!(
            "CBM_TASK void cbm_{name}(i64 s, i64 c0, u64 rot_) {{\n    (void)s;\n    (void)c0;\n    for (u64 c = cbm_tid_r(rot_); c < {n}ull; c += cbm_nthr()) {{\n{body}    }}\n}}\n"
        );
        Task {
            name,
            code,
            reads,
            writes,
            period: None,
            defer: Defer::No,
            cell_flags: CellFlags::None,
            target_flags: None,
            early: false,
            warps: warps_for(n),
        }
    }
}
