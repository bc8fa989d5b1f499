//! The Markdown report of the lookup benchmark.

use super::*;

pub(super) fn report(results: &[ModeResult], a: &LookupArgs, cpus: usize) -> String {
    let mut r = String::new();
    r.push_str("# Benchmark: the SOAP lookup against what bounds it\n\n");
    r.push_str("Reproduce: `cargo run --release -p dtr -- bench lookup --postgres-url postgres://…` (writes this file; without `--postgres-url` only the embedded mode).\n\n");
    r.push_str(&format!(
        "Machine: {} CPUs. The serving processes are pinned to CPU {SERVER_CPU} and the load generator to CPU {LOAD_CPU} \
         (`taskset`): `wrk` for the HTTPS rows, this benchmark's own tonic client for the gRPC row, {} keep-alive \
         connections each; {} interleaved rounds of {} s per row after a warm-up, medians reported. Every row looks \
         up the same daginstitution ({NUMMER}). Absolute numbers vary with the machine; compare the ratios. \
         Where a target is not met, docs/bench/lookup-profile.md shows where the time goes (CPU profiles of \
         both modes under this load).\n\n",
        cpus,
        a.connections,
        a.rounds,
        a.seconds
    ));
    for m in results {
        let med: Vec<Sample> = (0..4).map(|i| m.median(i)).collect();
        r.push_str(&format!("## {} — {}\n\n", m.name, m.setup));
        r.push_str("| target | req/s (median) | p50 | p99 | SOAP lookup via gateway ÷ target | rounds (req/s) |\n|---|---|---|---|---|---|\n");
        for (i, row) in ROWS.into_iter().enumerate() {
            let ratio = if i == 0 { "—".to_owned() } else { format!("**{:.2}**", med[0].rps / med[i].rps) };
            let rounds: Vec<String> = m.rounds.iter().map(|x| format!("{:.0}", x[i].rps)).collect();
            r.push_str(&format!(
                "| {} | {:.0} | {:.2} ms | {:.2} ms | {ratio} | {} |\n",
                row.label(),
                med[i].rps,
                med[i].p50_ms,
                med[i].p99_ms,
                rounds.join(", ")
            ));
        }
        let targets = [
            ("via gateway ÷ direct gRPC", med[0].rps / med[1].rps, 0.8),
            ("via gateway ÷ node soap peer", med[0].rps / med[2].rps, 2.0),
            ("via gateway ÷ fixed answer", med[0].rps / med[3].rps, 0.25),
        ];
        r.push_str("\n| target (docs/quality.md) | ratio | wanted | met |\n|---|---|---|---|\n");
        for (what, ratio, want) in targets {
            r.push_str(&format!(
                "| {what} | {ratio:.2} | ≥ {want} | {} |\n",
                if ratio >= want { "yes" } else { "**no**" }
            ));
        }
        let p99 = med[0].p99_ms / med[1].p99_ms.max(1e-9);
        r.push_str(&format!(
            "| p99 via gateway ÷ p99 of direct gRPC | {p99:.2} | ≤ 2 | {} |\n",
            if p99 <= 2.0 { "yes" } else { "**no**" }
        ));
        r.push_str(&format!(
            "\n{} keep-alive HTTPS connections held open (each after one answered request; resident memory read after the node peer collected its garbage):\n\n| process | RSS idle | RSS holding them | per connection |\n|---|---|---|---|\n",
            m.held_count
        ));
        for (what, idle, holding) in &m.held {
            r.push_str(&format!(
                "| {what} | {:.1} MiB | {:.1} MiB | {:.1} KiB |\n",
                *idle as f64 / 1024.0,
                *holding as f64 / 1024.0,
                (*holding as f64 - *idle as f64) / m.held_count.max(1) as f64
            ));
        }
        r.push('\n');
    }
    r
}
