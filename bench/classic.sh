#!/usr/bin/env bash
# CPU engine speed on classic benchmark networks (bench/models/), next to
# the cerebellum: wall seconds per simulated second, best of 3 (`cbmc
# bench`, with recording). Record results with the machine and date in
# docs/benchmarks.md.
#
#   bench/classic.sh [CBMC_BINARY]       # default: target/release/cbmc
#
# brunel.cbm       Brunel (2000) model A, AI regime: 4000 E + 1000 I LIF
#                  cells, delta synapses, 100,000 Bernoulli input cells
# brunel_full.cbm  the same at NE = 10,000, CE = 1000 (13M synapses)
# brunel_poisson.cbm, brunel_full_poisson.cbm  the same two with the input
#                  drawn per cell and step (rand_poisson) instead of by
#                  100,000 or 500,000 Bernoulli cells
# coba.cbm         Brette et al. (2007) benchmark 1, 4000 conductance LIF
# cuba.cbm         Brette et al. (2007) benchmark 2, 4000 current LIF
set -uo pipefail
cd "$(dirname "$0")/.."
B=${1:-target/release/cbmc}
best() { "$B" bench "$1" --duration "$2" --repeat 3 2>&1 | awk '/with recording/ {print $3}'; }
printf '%-18s %10s %12s\n' model simulated "wall s"
for m in cuba coba brunel brunel_poisson; do
    printf '%-18s %10s %12s\n' "$m" 1s "$(best bench/models/$m.cbm 1s)"
done
for m in brunel_full brunel_full_poisson; do
    printf '%-18s %10s %12s\n' "$m" 0.2s "$(best bench/models/$m.cbm 0.2s)"
done
printf '%-18s %10s %12s\n' cerebellum 60s "$(best models/cerebellum.cbm 60s)"
