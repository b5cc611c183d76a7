//! Tasks over synapses: spike delivery, by-target handlers (post and
//! teacher spikes), periodic plasticity rules, and the recorders.

use super::*;

impl Gen<'_> {
    /// Cells and teacher times that synapse code reads.
    pub(super) fn handler_reads(
        &self,
        qi: usize,
        stmts: &[Stmt],
        extra: Option<&Expr>,
    ) -> Vec<Res> {
        let q = &self.ir.projections[qi];
        let mut out = vec![Res::Syn(qi)];
        let mut add = |e: &Expr| {
            walk(e, &mut |x| match x {
                Expr::Pre(a) => match a {
                    CellAccess::Var(v) => out.push(Res::Var(q.source, *v)),
                    CellAccess::LastSpike | CellAccess::Spiked => out.push(self.spk_res(q.source)),
                    CellAccess::LastTeacher => {}
                },
                Expr::Post(a) => match a {
                    CellAccess::Var(v) => out.push(Res::Var(q.target, *v)),
                    CellAccess::LastSpike | CellAccess::Spiked => out.push(self.spk_res(q.target)),
                    CellAccess::LastTeacher => {
                        if let Some(ti) = q.teacher {
                            out.push(self.tarr_res(ti))
                        }
                    }
                },
                _ => {}
            })
        };
        visit_exprs(stmts, &mut add);
        if let Some(e) = extra {
            add(e);
        }
        out
    }

    /// Synapse variables the handlers of a projection use, so they get buffers.
    pub(super) fn touch_syn_vars(&mut self, qi: usize, stmts: &[Stmt]) {
        let mut used = vec![];
        syn_vars_used(stmts, &mut used);
        for v in used {
            self.slot(Entry::SynVar { proj: qi, var: v });
        }
    }

    /// Delivery of a projection's spikes: per target, a warp scans the CSC
    /// entries in ascending synapse id, runs `on_pre` for those whose source
    /// spiked, and adds their deposits in that order.
    pub(super) fn deliver_task(&mut self, qi: usize) -> Task {
        let ir = self.ir;
        let q = &ir.projections[qi];
        let nt = self.pop_size(q.target);
        let ws = mask_words(self.pop_size(q.source));
        let sl = q.ring_slots();
        let d = q.delay_steps as usize;
        let teacher = self.teachers[qi];
        let mut pulses = vec![];
        deposits(&q.on_pre, &mut pulses);
        let max_pulse = pulses.iter().copied().max().unwrap_or(0) as usize;
        self.touch_syn_vars(qi, &q.on_pre);
        let off = self.name(Entry::CscOff { proj: qi });
        let cpre = self.name(Entry::CscPre { proj: qi });
        let mask = self.name(Entry::Mask { pop: q.source });
        let mut code = String::new();
        let _ = writeln!(
            code,
            "// from: projection {} (delivery: on_pre, {} deposit(s), delay {d}{}, {sl} slots)\nCBM_TASK void cbm_deliver_{}(i64 s, i64 c0, u64 rot_) {{\n    // A warp without a target leaves before loading anything: it would\n    // wait for the loads before returning all the same.\n    if (cbm_warp_r(rot_) >= {nt}ull) return;\n    const double t = (double)s * CBM_DT;\n    (void)t;\n    const u32* mk_ = {mask} + (u64)(s - c0) * {ws}ull;",
            q.name,
            pulses.len(),
            if q.delay_draw.is_some() { " or more, drawn per synapse" } else { "" },
            q.name
        );
        // A small source's spike bits of this step, held by the lanes (word
        // w in register w / 32 of lane w % 32): a synapse's bit is then a
        // shuffle away instead of a load that waits for its source's index.
        let held = ws.div_ceil(32);
        let lookup = if held <= MASK_REGISTERS {
            let mut l = String::from("                u32 mw_ = 0u;\n");
            for r in 0..held {
                let _ = writeln!(
                    code,
                    "    const u32 mw{r}_ = cbm_lane() + {}u < {ws}u ? mk_[cbm_lane() + {}u] : 0u;",
                    32 * r,
                    32 * r
                );
                let _ = writeln!(
                    l,
                    "                {{ const u32 x_ = __shfl_sync(CBM_FULL, mw{r}_, (pi_ >> 5) & 31u); if ((pi_ >> 10) == {r}u) mw_ = x_; }}"
                );
            }
            l.push_str("                const int act = pi_ != 0xffffffffu && ((mw_ >> (pi_ & 31u)) & 1u);");
            l
        } else {
            "                const int act = pi_ != 0xffffffffu && ((mk_[pi_ >> 5] >> (pi_ & 31u)) & 1u);".to_string()
        };
        let _ = writeln!(
            code,
            "    for (u64 j = cbm_warp_r(rot_); j < {nt}ull; j += cbm_nwarps()) {{\n        const u64 pj_ = j;\n        (void)pj_;\n        const u32 lo_ = {off}[j], hi_ = {off}[j + 1];\n        (void)lo_;\n        (void)hi_;"
        );
        let ring = if max_pulse > 0 {
            Some(self.name(Entry::Ring { proj: qi }))
        } else {
            None
        };
        // Delays drawn per synapse: each deposit goes to its synapse's own
        // slot (`dl_` steps past the shortest delay), in memory.
        let delays = q
            .delay_draw
            .is_some()
            .then(|| self.name(Entry::CscDelay { proj: qi }));
        let in_registers = max_pulse <= PULSE_REGISTERS && delays.is_none();
        let dl = if delays.is_some() { " + (u64)dl_" } else { "" };
        // Each deposit adds to the ring slots of its pulse in synapse order
        // (slot by slot the CPU engine's order): in registers a0, a1, ...,
        // or in memory, lane l serving the slots l, l + 32, ...
        let adds = |pulse: u32| -> String {
            match &ring {
                Some(_) if in_registers => (0..pulse).map(|p| format!(" a{p} += x_;")).collect(),
                // With drawn delays two synapses' pulses may share a slot
                // at different pulse steps: one lane adds them all, in order.
                Some(ring) if delays.is_some() => format!(
                    " if (cbm_lane() == 0u) for (u32 p_ = 0u; p_ < {pulse}u; ++p_) {ring}[(((u64)s + {d}ull{dl} + p_) % {sl}ull) * {nt}ull + j] += x_;"
                ),
                Some(ring) => format!(
                    " for (u32 p_ = cbm_lane(); p_ < {pulse}u; p_ += 32u) {ring}[(((u64)s + {d}ull{dl} + p_) % {sl}ull) * {nt}ull + j] += x_;"
                ),
                None => String::new(),
            }
        };
        if let (Some(ring), true) = (&ring, in_registers) {
            for p in 0..max_pulse {
                let _ = writeln!(
                    code,
                    "        double a{p} = {ring}[((u64)(s + {}) % {sl}ull) * {nt}ull + j];",
                    d + p
                );
            }
        }
        // A teacher's arrivals: counted per target for one delay, or added
        // per spiking synapse into its own slot (integer adds: any order).
        let count_arrivals = teacher && delays.is_none();
        if count_arrivals {
            code.push_str("        u32 narr_ = 0u;\n");
        }
        let dv_decl: Vec<String> = (0..pulses.len())
            .map(|k| format!("double dv{k} = 0.0; int df{k} = 0;"))
            .collect();
        // A round covers up to DELIVERY_CHUNKS chunks of 32 synapses. First every
        // lane loads the source of its synapse in each chunk and tests its
        // spike bit (independent loads, in flight together); then the
        // spiking ones are dealt out to the lanes in ascending order, 32 at
        // a time, each lane runs `on_pre` for its synapse, and the deposits
        // are added lane by lane: the CPU engine's order. A target's scan
        // is thus a few dependent loads per round, not per synapse. A
        // projection whose targets have fewer synapses takes fewer chunks a
        // round (the cerebellum's fan-ins are 1 to 1024): the unrolled
        // round is most of a delivery's code, and so of compile time.
        let fan_in = q.wiring.max_in_degree(self.pop_size(q.source));
        // Through source words where the source's spike bits are in
        // registers and a target has no more words than synapses, on
        // average (so the words and runs take at most three times the
        // bytes of the CSC sources); by default where that is estimated
        // cheaper (`words_by_default`). Both ways are then in the source
        // (`CBM_DELIVERY` chooses) and the engine fills the words' buffers
        // either way: for a projection that scans by default, only where
        // they are small (`WORDS_SPARE_BYTES`).
        let mean_fan_in = q.wiring.mean_in_degree(self.pop_size(q.source), nt);
        let by_default = words_by_default(mean_fan_in, held);
        let words_bytes = (nt * ws * 8) as f64 + (mean_fan_in + 1.0) * nt as f64 * 4.0;
        let words = (1..=MASK_REGISTERS).contains(&held)
            && ws as f64 <= mean_fan_in
            && (by_default || words_bytes <= WORDS_SPARE_BYTES);
        if words {
            let _ = writeln!(
                code,
                "#if CBM_DELIVERY == 2 || (CBM_DELIVERY == 0 && {})",
                u8::from(by_default)
            );
            code.push_str(&self.words_finder(qi, held, ws, count_arrivals));
            code.push_str("#else\n");
        }
        let u = fan_in.div_ceil(32).clamp(1, DELIVERY_CHUNKS);
        let _ = writeln!(
            code,
            "        for (u32 e00_ = lo_; e00_ < hi_; e00_ += {}u) {{\n            // (chunks past the end are skipped by the whole warp)\n            u32 pre_[{u}], am_[{u}];\n            #pragma unroll\n            for (u32 u_ = 0; u_ < {u}u; ++u_) {{\n                const u32 e = e00_ + 32u * u_ + cbm_lane();\n                pre_[u_] = e < hi_ ? {cpre}[e] : 0xffffffffu;\n            }}\n            u32 nact_ = 0u;\n            #pragma unroll\n            for (u32 u_ = 0; u_ < {u}u; ++u_) {{\n                am_[u_] = 0u;\n                if (e00_ + 32u * u_ >= hi_) continue;\n                const u32 pi_ = pre_[u_];\n{lookup}\n                am_[u_] = __ballot_sync(CBM_FULL, act);\n                nact_ += __popc(am_[u_]);\n            }}",
            32 * u
        );
        if count_arrivals {
            code.push_str("            narr_ += nact_;\n");
        }
        let _ = writeln!(
            code,
            "            for (u32 r0_ = 0; r0_ < nact_; r0_ += 32u) {{\n                // this lane's synapse: the (r0_ + lane)-th spiking one of the round\n                // (its chunk first, then its bit: one bit search per lane, not per chunk)\n                const u32 r_ = r0_ + cbm_lane();\n                u32 e = 0xffffffffu, before_ = 0u, word_ = 0u, rank_ = 0u;\n                #pragma unroll\n                for (u32 u_ = 0; u_ < {u}u; ++u_) {{\n                    if (am_[u_] == 0u) continue;\n                    const u32 c_ = __popc(am_[u_]);\n                    if (r_ >= before_ && r_ < before_ + c_) {{ e = e00_ + 32u * u_; word_ = am_[u_]; rank_ = r_ - before_; }}\n                    before_ += c_;\n                }}\n                if (e != 0xffffffffu) e += cbm_nth_set(word_, rank_);"
        );
        if words {
            code.push_str("#endif\n");
        }
        let _ = writeln!(
            code,
            "                {}{}\n                if (e != 0xffffffffu) {{\n                    const u32 pi_ = {cpre}[e];\n                    const u32 k = e; // (synapse variables in CSC order)\n                    (void)k;\n                    (void)pi_;",
            dv_decl.join(" "),
            match &delays {
                Some(dls) => format!("\n                const u32 dl0 = e != 0xffffffffu ? {dls}[e] : 0u;"),
                None => String::new(),
            }
        );
        if teacher && delays.is_some() {
            let arr = self.name(Entry::Arr { proj: qi });
            let _ = writeln!(
                code,
                "                    atomicAdd(&{arr}[((u64)s + {d}ull + (u64)dl0) % {sl}ull * {nt}ull + j], 1u);"
            );
        }
        code.push_str(&Self::locals(q.locals, 5));
        let mut body = String::new();
        let mut dep = 0;
        self.stmts(&mut body, &q.on_pre, Ctx::Synapse { proj: qi }, 5, &mut dep);
        code.push_str(&body);
        for k in 1..pulses.len() {
            let dvn = self.name(Entry::DepVal { proj: qi, d: k });
            let dfn = self.name(Entry::DepFlag { proj: qi, d: k });
            let _ = writeln!(
                code,
                "                    {dvn}[k] = dv{k};\n                    {dfn}[k] = (u32)df{k};"
            );
        }
        code.push_str("                }\n");
        if !pulses.is_empty() {
            let adds = adds(pulses[0]);
            let (shuffle_delays, take_delay) = if delays.is_some() {
                (
                    "\n                    u32 ds_[4];\n                    #pragma unroll\n                    for (int q_ = 0; q_ < 4; ++q_) ds_[q_] = __shfl_sync(CBM_FULL, dl0, b_[q_]);",
                    " const u32 dl_ = ds_[q_];",
                )
            } else {
                ("", "")
            };
            let _ = writeln!(
                code,
                "                // four deposits at a time: their shuffles issue together, the adds stay in order\n                u32 dm_ = __ballot_sync(CBM_FULL, df0);\n                while (dm_ != 0u) {{\n                    int b_[4], nb_ = 0;\n                    #pragma unroll\n                    for (int q_ = 0; q_ < 4; ++q_) {{\n                        b_[q_] = dm_ != 0u ? __ffs((int)dm_) - 1 : 0;\n                        if (dm_ != 0u) {{ dm_ &= dm_ - 1u; ++nb_; }}\n                    }}\n                    double xs_[4];\n                    #pragma unroll\n                    for (int q_ = 0; q_ < 4; ++q_) xs_[q_] = __shfl_sync(CBM_FULL, dv0, b_[q_]);{shuffle_delays}\n                    #pragma unroll\n                    for (int q_ = 0; q_ < 4; ++q_) {{\n                        if (q_ >= nb_) break;\n                        const double x_ = xs_[q_];{take_delay}{adds}\n                    }}\n                }}"
            );
        }
        code.push_str("            }\n        }\n");
        // Later deposit statements: after all of the first, as in the CPU engine.
        for (k, &pulse) in pulses.iter().enumerate().skip(1) {
            let dvn = self.name(Entry::DepVal { proj: qi, d: k });
            let dfn = self.name(Entry::DepFlag { proj: qi, d: k });
            let adds = adds(pulse);
            let (dl_decl, dl_load, dl_take) = match &delays {
                Some(dls) => (
                    "\n            u32 dlv = 0u;".to_string(),
                    format!("\n                    dlv = {dls}[e];"),
                    " const u32 dl_ = __shfl_sync(CBM_FULL, dlv, b_);",
                ),
                None => (String::new(), String::new(), ""),
            };
            let _ = writeln!(
                code,
                "        for (u32 e0_ = lo_; e0_ < hi_; e0_ += 32u) {{ // deposit {k}\n            const u32 e = e0_ + cbm_lane();\n            double dv = 0.0;\n            int df = 0;{dl_decl}\n            if (e < hi_) {{\n                const u32 pi_ = {cpre}[e];\n                if ((mk_[pi_ >> 5] >> (pi_ & 31u)) & 1u) {{\n                    const u32 k = e;\n                    df = (int){dfn}[k];\n                    dv = {dvn}[k];{dl_load}\n                }}\n            }}\n            u32 dm_ = __ballot_sync(CBM_FULL, df);\n            while (dm_ != 0u) {{\n                const int b_ = __ffs((int)dm_) - 1;\n                dm_ &= dm_ - 1u;\n                const double x_ = __shfl_sync(CBM_FULL, dv, b_);{dl_take}{adds}\n            }}\n        }}"
            );
        }
        code.push_str("        if (cbm_lane() == 0u) {\n");
        if let (Some(ring), true) = (&ring, in_registers) {
            for p in 0..max_pulse {
                let _ = writeln!(
                    code,
                    "            {ring}[((u64)(s + {}) % {sl}ull) * {nt}ull + j] = a{p};",
                    d + p
                );
            }
        }
        if count_arrivals {
            let arr = self.name(Entry::Arr { proj: qi });
            let _ = writeln!(
                code,
                "            if (narr_ > 0u) {arr}[((u64)(s + {d}) % {sl}ull) * {nt}ull + j] += narr_;"
            );
        }
        code.push_str("        }\n");
        code.push_str(&self.signal_delivery(qi, "        "));
        code.push_str("    }\n}\n");
        let mut reads = self.handler_reads(qi, &q.on_pre, None);
        reads.push(Res::Mask(q.source));
        let mut writes = vec![];
        if writes_any(&q.on_pre) {
            writes.push(Res::Syn(qi));
        }
        if max_pulse > 0 {
            writes.push(Res::RingLater(qi));
            if d == 0 {
                writes.push(Res::RingNow(qi));
            }
        }
        if teacher {
            writes.push(Res::ArrLater(qi));
            if d == 0 {
                writes.push(Res::ArrNow(qi));
            }
        }
        Task {
            name: format!("deliver_{}", q.name),
            code,
            reads,
            writes,
            period: None,
            defer: if d == 0 {
                Defer::No
            } else {
                Defer::Delivery { delay: d as u32 }
            },
            warps: nt as u64, // a warp a target
            cell_flags: CellFlags::None,
            target_flags: None,
            early: false,
        }
    }

    /// The spiking synapses of target `j` found through its source words
    /// (`Entry::CscWords`, built by `cuda::source_words`) instead of by
    /// testing each synapse's source. The lane that holds the spike bits of
    /// sources `32 w .. 32 w + 31` (word `w`, register `w / 32` of lane
    /// `w % 32`) loads the target's word `w`: one AND gives the spiking
    /// sources that reach the target. Counts summed over the lanes rank
    /// them in source order; each is dealt to a lane, which looks up its
    /// run of CSC entries (`Entry::CscRuns`: more than one entry where a
    /// source reaches the target more than once), and the runs' entries are
    /// dealt out to the lanes in CSC order, 32 at a time: the order of the
    /// scan, so the deposits add up bitwise the same. Per target that is a
    /// few dozen instructions a word register and two dependent loads (the
    /// words, then the runs) before the synapses' variables, against ~16
    /// instructions for every 32 synapses and a load a round in the scan.
    ///
    /// Opens two loops (rounds of 32 spiking sources, then of 32 of their
    /// synapses) that the caller closes, and leaves each lane's CSC entry
    /// in `e` (0xffffffff for none).
    fn words_finder(&mut self, qi: usize, held: usize, ws: usize, count_arrivals: bool) -> String {
        let words = self.name(Entry::CscWords { proj: qi });
        let runs = self.name(Entry::CscRuns { proj: qi });
        let regs: Vec<usize> = (0..held).collect();
        // One line per register, each made by `f`.
        let each = |f: &dyn Fn(usize) -> String| -> String { regs.iter().map(|&r| f(r)).collect() };
        // The value of register `rg_` among `name0_`, `name1_`, ...
        let select = |name: &str| -> String {
            let mut x = format!("{name}{}_", held - 1);
            for r in (0..held - 1).rev() {
                x = format!("rg_ == {r}u ? {name}{r}_ : {x}");
            }
            format!("({x})")
        };
        let mut c = String::new();
        c.push_str("        // the spiking sources that reach target j: its source words AND the spike bits\n");
        c.push_str(&each(&|r| {
            format!(
                "        const u64 cw{r}_ = cbm_lane() + {o}u < {ws}u ? {words}[j * {ws}ull + cbm_lane() + {o}u] : 0ull;\n        const u32 ac{r}_ = (u32)cw{r}_ & mw{r}_;\n        u32 in{r}_ = (u32)__popc(ac{r}_);\n",
                o = 32 * r
            )
        }));
        let _ = write!(
            c,
            "        // (counts summed over the lanes, register by register: in*_ counts\n        // the spiking sources of the words up to this lane's)\n        #pragma unroll\n        for (u32 d_ = 1u; d_ < 32u; d_ <<= 1) {{\n{}            if (cbm_lane() >= d_) {{{} }}\n        }}\n{}        const u32 na_ = {};\n",
            each(&|r| format!(
                "            const u32 x{r}_ = __shfl_sync(CBM_FULL, in{r}_, cbm_lane() - d_);\n"
            )),
            each(&|r| format!(" in{r}_ += x{r}_;")),
            each(&|r| format!(
                "        const u32 tt{r}_ = __shfl_sync(CBM_FULL, in{r}_, 31);\n"
            )),
            regs.iter().map(|r| format!("tt{r}_")).collect::<Vec<_>>().join(" + ")
        );
        let _ = write!(
            c,
            "        for (u32 a0_ = 0u; a0_ < na_; a0_ += 32u) {{\n            // this lane's source: the (a0_ + lane)-th spiking one; its register\n            // (rg_ = {held}: none), its lane by halving, then its bit\n            u32 rg_ = 0u, rr_ = a0_ + cbm_lane();\n{}            u32 ln_ = 0u;\n            #pragma unroll\n            for (u32 st_ = 16u; st_ > 0u; st_ >>= 1) {{\n{}                if ({} <= rr_) ln_ += st_;\n            }}\n{}            u32 es_ = 0u, ne_ = 0u; // its first CSC entry, and how many it has\n            if (rg_ < {held}u) {{\n                const u64 sw_ = {};\n                const u32 sa_ = {};\n                const u32 bit_ = cbm_nth_set(sa_, rr_ - ({} - (u32)__popc(sa_)));\n                const u32 x_ = (u32)(sw_ >> 32) + (u32)__popc((u32)sw_ & ((1u << bit_) - 1u));\n                es_ = {runs}[x_];\n                ne_ = {runs}[x_ + 1u] - es_;\n            }}\n",
            each(&|r| format!(
                "            if (rg_ == {r}u && rr_ >= tt{r}_) {{ rr_ -= tt{r}_; rg_ = {}u; }}\n",
                r + 1
            )),
            each(&|r| format!(
                "                const u32 y{r}_ = __shfl_sync(CBM_FULL, in{r}_, ln_ + st_ - 1u);\n"
            )),
            select("y"),
            each(&|r| format!(
                "            const u64 sw{r}_ = __shfl_sync(CBM_FULL, cw{r}_, ln_);\n            const u32 sa{r}_ = __shfl_sync(CBM_FULL, ac{r}_, ln_), si{r}_ = __shfl_sync(CBM_FULL, in{r}_, ln_);\n"
            )),
            select("sw"),
            select("sa"),
            select("si"),
        );
        c.push_str("            // their synapses, dealt out to the lanes in CSC order, 32 at a time\n            u32 ie_ = ne_;\n            #pragma unroll\n            for (u32 d_ = 1u; d_ < 32u; d_ <<= 1) {\n                const u32 x_ = __shfl_sync(CBM_FULL, ie_, cbm_lane() - d_);\n                if (cbm_lane() >= d_) ie_ += x_;\n            }\n            const u32 nsyn_ = __shfl_sync(CBM_FULL, ie_, 31);\n");
        if count_arrivals {
            c.push_str("            narr_ += nsyn_;\n");
        }
        c.push_str("            for (u32 r0_ = 0u; r0_ < nsyn_; r0_ += 32u) {\n                const u32 r_ = r0_ + cbm_lane();\n                u32 ls_ = 0u;\n                #pragma unroll\n                for (u32 st_ = 16u; st_ > 0u; st_ >>= 1)\n                    if (__shfl_sync(CBM_FULL, ie_, ls_ + st_ - 1u) <= r_) ls_ += st_;\n                const u32 xs_ = __shfl_sync(CBM_FULL, es_, ls_), xi_ = __shfl_sync(CBM_FULL, ie_, ls_), xn_ = __shfl_sync(CBM_FULL, ne_, ls_);\n                u32 e = r_ < nsyn_ ? xs_ + (r_ - (xi_ - xn_)) : 0xffffffffu;\n");
        c
    }

    /// `on_post` (the target cell spiked now) or `on_teacher` (a teacher spike
    /// arrived now): a warp runs the handler over the cell's CSC entries.
    pub(super) fn by_target_task(&mut self, qi: usize, teacher: bool) -> Task {
        let ir = self.ir;
        let q = &ir.projections[qi];
        let nt = self.pop_size(q.target);
        let handler = if teacher { &q.on_teacher } else { &q.on_post };
        self.touch_syn_vars(qi, handler);
        let what = if teacher { "on_teacher" } else { "on_post" };
        let active = if teacher {
            let ti = q.teacher.expect("on_teacher needs a teacher");
            format!("{}[jl_] == s", self.row_of(Entry::Tarr { proj: ti }))
        } else {
            format!("{}[jl_] == s", self.row_of(Entry::Lspk { pop: q.target }))
        };
        let off = self.name(Entry::CscOff { proj: qi });
        let cpre = self.name(Entry::CscPre { proj: qi });
        let mut body = String::new();
        let mut dep = 0;
        self.stmts(&mut body, handler, Ctx::Synapse { proj: qi }, 4, &mut dep);
        let code = format!(
            "// from: projection {} ({what})\nCBM_TASK void cbm_{what}_{}(i64 s, i64 c0, u64 rot_) {{\n    const double t = (double)s * CBM_DT;\n    (void)t;\n    (void)c0;\n    const u64 grp_ = cbm_group({nt}ull);\n    for (u64 base = cbm_warp_r(rot_) * grp_; base < {nt}ull; base += cbm_nwarps() * grp_) {{\n        const u64 jl_ = base + cbm_lane();\n        const int act = cbm_lane() < grp_ && jl_ < {nt}ull && {active};\n        u32 m_ = __ballot_sync(CBM_FULL, act);\n        while (m_ != 0u) {{\n            const int b_ = __ffs((int)m_) - 1;\n            m_ &= m_ - 1u;\n            const u64 pj_ = base + (u64)b_;\n            for (u32 e = {off}[pj_] + cbm_lane(); e < {off}[pj_ + 1]; e += 32u) {{\n                const u32 k = e; // (synapse variables in CSC order)\n                const u32 pi_ = {cpre}[e];\n                (void)pi_;\n{}{body}            }}\n        }}\n    }}\n}}\n",
            q.name,
            q.name,
            Self::locals(q.locals, 4)
        );
        let mut reads = self.handler_reads(qi, handler, None);
        if teacher {
            reads.push(self.tarr_res(q.teacher.expect("teacher")));
        } else {
            reads.push(self.spk_res(q.target));
        }
        Task {
            name: format!("{what}_{}", q.name),
            code,
            reads,
            writes: vec![Res::Syn(qi)],
            period: None,
            defer: Defer::No,
            cell_flags: CellFlags::None,
            target_flags: None,
            early: false,
            warps: nt as u64,
        }
    }

    pub(super) fn every_task(&mut self, qi: usize, k: usize) -> Task {
        let ir = self.ir;
        let q = &ir.projections[qi];
        let (period, body_stmts) = &q.every[k];
        let ns = self.pop_size(q.source);
        let c = Ctx::Synapse { proj: qi };
        let name = format!("every{k}_{}", q.name);
        let mut code = String::new();
        let _ = writeln!(
            code,
            "// from: projection {} (every {} steps)\nCBM_TASK void cbm_{name}(i64 s, i64 c0, u64 rot_) {{\n    (void)c0;\n    if ((u64)s % {period}ull != 0ull) return;\n    const double t = (double)s * CBM_DT;\n    (void)t;",
            q.name, period
        );
        // The synapse's place on the device (see `Generated::csc_order`).
        let at = if self.csc_order[qi] {
            format!("{}[kk_]", self.name(Entry::CsrPos { proj: qi }))
        } else {
            "kk_".to_string()
        };
        let guarded = crate::engine::cpu::hoisted_guard(body_stmts);
        // With the fused step, each synapse may wait for its target's flag
        // (the delivery of the rule's step done with that target), so that
        // the rule may share the delivery's phase.
        let target_flags = (self.rule_flags && self.flag_candidates().contains(&qi)).then_some(qi);
        let reads;
        // A warp per group of source cells (`cbm_group`), or every thread.
        let warps;
        if let Some((cond, then)) = guarded {
            self.touch_syn_vars(qi, then);
            let cv = self.expr(cond, Ctx::PreCell { pop: q.source });
            let off = self.name(Entry::CsrOff { proj: qi });
            let post = self.name(Entry::Post { proj: qi });
            let mut body = self.await_delivery(qi, &ind(4));
            let mut dep = 0;
            self.stmts(&mut body, then, c, 4, &mut dep);
            let _ = write!(
                code,
                "    // the guard depends on the presynaptic cell only: silent sources cost nothing\n    const u64 grp_ = cbm_group({ns}ull);\n    for (u64 base = cbm_warp_r(rot_) * grp_; base < {ns}ull; base += cbm_nwarps() * grp_) {{\n        int act = 0;\n        {{\n            const u64 pi_ = base + cbm_lane();\n            if (cbm_lane() < grp_ && pi_ < {ns}ull) act = {cv} != 0.0;\n        }}\n        u32 m_ = __ballot_sync(CBM_FULL, act);\n        while (m_ != 0u) {{\n            const int b_ = __ffs((int)m_) - 1;\n            m_ &= m_ - 1u;\n            const u64 pi_ = base + (u64)b_;\n            for (u32 kk_ = {off}[pi_] + cbm_lane(); kk_ < {off}[pi_ + 1]; kk_ += 32u) {{\n                const u32 pj_ = {post}[kk_];\n                (void)pj_;\n                const u32 k = {at};\n{}{body}            }}\n        }}\n    }}\n}}\n",
                Self::locals(q.locals, 4)
            );
            reads = self.handler_reads(qi, then, Some(cond));
            warps = ns as u64;
        } else {
            self.touch_syn_vars(qi, body_stmts);
            let pre = self.name(Entry::Pre { proj: qi });
            let post = self.name(Entry::Post { proj: qi });
            let nsyn = self.name(Entry::NSyn { proj: qi });
            let mut body = self.await_delivery(qi, &ind(2));
            let mut dep = 0;
            self.stmts(&mut body, body_stmts, c, 2, &mut dep);
            let _ = write!(
                code,
                "    for (u64 kk_ = cbm_tid_r(rot_); kk_ < {nsyn}; kk_ += cbm_nthr()) {{\n        const u32 pi_ = {pre}[kk_];\n        const u32 pj_ = {post}[kk_];\n        (void)pi_;\n        (void)pj_;\n        const u64 k = {at};\n{}{body}    }}\n}}\n",
                Self::locals(q.locals, 2)
            );
            reads = self.handler_reads(qi, body_stmts, None);
            warps = ALL_WARPS;
        }
        Task {
            name,
            code,
            reads,
            writes: vec![Res::Syn(qi)],
            period: Some(*period as u64),
            defer: Defer::Yes,
            cell_flags: CellFlags::None,
            target_flags,
            early: false,
            warps,
        }
    }

    /// Have the cells of population `pi` record its traces themselves, at
    /// the end of their update (which must be the last of the step to
    /// write their variables): no recorder task then reads them at the
    /// start of the next step, before those cells' next update.
    pub(super) fn trace_in_cells(&mut self, pi: usize) {
        for (ri, r) in self.ir.recorders.iter().enumerate() {
            if let RecorderKindIr::Trace { population, .. } = r.kind {
                self.traced_by_cells[ri] |= population == pi;
            }
        }
    }

    /// The code by which cell `i`'s thread records the traces of its
    /// population (`trace_in_cells`), its variables in registers: into
    /// each of the recorder's columns that is the cell's (`Entry::TraceAt`).
    pub(super) fn traces_by_cells(&mut self, pi: usize, pad: &str) -> String {
        let ir = self.ir;
        let mut out = String::new();
        for (ri, r) in ir.recorders.iter().enumerate() {
            let RecorderKindIr::Trace {
                population,
                var,
                cells,
                every_steps: e,
            } = &r.kind
            else {
                continue;
            };
            if !self.traced_by_cells[ri] || *population != pi {
                continue;
            }
            let at = self.name(Entry::TraceAt { rec: ri });
            let buf = self.name(Entry::TraceBuf { rec: ri });
            let n = self.pop_size(pi);
            let _ = writeln!(
                out,
                "{pad}if ((u64)s % {e}ull == 0ull) {{ // from: recorder {} (by the cells' own threads)\n{pad}    const u64 row_ = (u64)s / {e}ull - ((u64)c0 + {e}ull - 1ull) / {e}ull;\n{pad}    for (u32 x_ = {at}[i]; x_ < {at}[i + 1]; ++x_) {buf}[row_ * {}ull + {at}[{}ull + x_]] = cv{var}_;\n{pad}}}",
                r.name,
                cells.len(),
                n + 1
            );
        }
        out
    }

    /// Trace and weight samples of the step, into the chunk's buffers: a
    /// task per recorder, so each waits only for what it samples.
    pub(super) fn record_tasks(&mut self) -> Vec<Task> {
        let ir = self.ir;
        let mut tasks = vec![];
        for (ri, r) in ir.recorders.iter().enumerate() {
            if self.traced_by_cells[ri] {
                continue;
            }
            let (e, warps, count, buf, value, read) = match &r.kind {
                RecorderKindIr::Trace {
                    population,
                    var,
                    cells,
                    every_steps,
                } => {
                    let v = self.name(Entry::CellVar {
                        pop: *population,
                        var: *var,
                    });
                    let tc = self.name(Entry::TraceCells { rec: ri });
                    (
                        *every_steps,
                        warps_for(cells.len()),
                        format!("{}ull", cells.len()),
                        self.name(Entry::TraceBuf { rec: ri }),
                        format!("{v}[{tc}[c]]"),
                        Res::Var(*population, *var),
                    )
                }
                RecorderKindIr::Weights {
                    projection,
                    var,
                    every_steps,
                    ..
                } => {
                    let v = self.name(Entry::SynVar {
                        proj: *projection,
                        var: *var,
                    });
                    let ids = self.name(Entry::WeightIds { rec: ri });
                    (
                        *every_steps,
                        ALL_WARPS, // (as many synapses as the network gives)
                        self.name(Entry::NWeightIds { rec: ri }),
                        self.name(Entry::WeightBuf { rec: ri }),
                        format!("{v}[{ids}[c]]"),
                        Res::Syn(*projection),
                    )
                }
                _ => continue,
            };
            let name = format!("record_{}", r.name);
            let code = format!(
                "// from: recorder {}\nCBM_TASK void cbm_{name}(i64 s, i64 c0, u64 rot_) {{\n    if ((u64)s % {e}ull != 0ull) return;\n    const u64 row_ = (u64)s / {e}ull - ((u64)c0 + {e}ull - 1ull) / {e}ull;\n    for (u64 c = cbm_tid_r(rot_); c < {count}; c += cbm_nthr()) {buf}[row_ * {count} + c] = {value};\n}}\n",
                r.name
            );
            tasks.push(Task {
                name,
                code,
                reads: vec![read],
                writes: vec![],
                period: Some(e as u64),
                defer: Defer::Yes,
                cell_flags: CellFlags::None,
                target_flags: None,
                early: false,
                warps,
            });
        }
        tasks
    }
}

/// The most memory the source words and runs of a projection that scans by
/// default may take (they are there for `CBMC_CUDA_DELIVERY=words`).
const WORDS_SPARE_BYTES: f64 = 16.0 * 1024.0 * 1024.0;

/// Whether a delivery finds its spiking synapses through source words
/// (`words_finder`) by default: where its mean fan-in makes that the cheaper
/// way by an estimate of the instructions a target's warp issues. The scan
/// tests 32 synapses for ~16 instructions (a load, a shuffle and a select
/// per spike-bit register, a ballot); the words cost ~33 instructions a
/// register (a load, an AND, five shuffled sums, the lane search) and
/// ~100 more to deal out the sources and their runs. So 4 registers (up to
/// 4096 sources) pay from ~450 synapses a target, 1 register (up to 1024)
/// from ~260. (A handler's second and later deposits scan the synapses
/// either way; few projections have them.) `CBM_DELIVERY`
/// (`CBMC_CUDA_DELIVERY`) overrides the choice, for comparisons on a GPU.
fn words_by_default(mean_fan_in: f64, held: usize) -> bool {
    mean_fan_in >= (64 * held + 192) as f64
}
