//! The markdown report: one comparison table per N (a column per server, and for each peer
//! a ratio against Rolodex), Rolodex's scaling over N, Rolodex's figures against the scale
//! goals README's performance section names, and every failure with its reason.

use std::fmt::Write as _;

use super::{figure, format_mib, format_seconds, thousands, Report};
use crate::phases::{Metric, Outcome, PhaseId, RunRecord};
use crate::servers::Kind;

pub fn render(report: &Report) -> String {
    let env = &report.environment;
    let mut md = String::new();
    let _ = writeln!(md, "# Rolodex benchmark\n");
    let _ = writeln!(
        md,
        "{} · {} × {} · Rolodex {} (`{}`, git {}{}) · Radicale {} · Xandikos {}{}\n",
        env.date_utc,
        env.cpu_count,
        env.cpu_model,
        env.rolodex_version,
        env.rolodex_bin,
        short(&env.rolodex_git_rev),
        if env.rolodex_git_dirty { ", dirty" } else { "" },
        env.radicale_version,
        env.xandikos_version,
        if report.complete {
            ""
        } else {
            " · **incomplete run**"
        },
    );
    if !env.load_average_at_start.is_empty() {
        let _ = writeln!(
            md,
            "Load average at start: {} (other work on the machine skews the figures).\n",
            env.load_average_at_start
        );
    }
    let _ = writeln!(
        md,
        "Medians. Every answer was checked against the generated data before it counted; \
         FAIL means a wrong answer (reasons below). \"vs Rolodex\": how many times slower than \
         Rolodex (for upload: the peer's throughput as a fraction of Rolodex's). `-`: not \
         applicable. Samples, min and p90 are in latest.json.\n"
    );

    let mut sizes: Vec<usize> = report.runs.iter().map(|r| r.n).collect();
    sizes.sort_unstable();
    sizes.dedup();
    for &n in &sizes {
        comparison(&mut md, report, n);
    }
    scaling(&mut md, report);
    goals(&mut md, report);
    failures(&mut md, report);
    md
}

fn short(rev: &str) -> &str {
    &rev[..rev.len().min(10)]
}

fn cell(phase: PhaseId, outcome: Option<&Outcome>) -> String {
    match outcome {
        Some(Outcome::Ok(m)) => figure(phase, m),
        Some(Outcome::Fail { .. }) => "**FAIL**".into(),
        Some(Outcome::NotApplicable) | None => "-".into(),
    }
}

/// Peer relative to Rolodex: times as "N× slower", upload as a fraction of throughput.
fn ratio(phase: PhaseId, rolodex: Option<&Outcome>, peer: Option<&Outcome>) -> String {
    let (Some(Outcome::Ok(r)), Some(Outcome::Ok(p))) = (rolodex, peer) else {
        return String::new();
    };
    let value = match phase.metric() {
        Metric::Time => p.median_s / r.median_s,
        Metric::Throughput => p.cards_per_s.unwrap_or(0.0) / r.cards_per_s.unwrap_or(f64::NAN),
    };
    format_ratio(value)
}

fn format_ratio(value: f64) -> String {
    if !value.is_finite() {
        String::new()
    } else if value >= 10.0 {
        format!("{value:.0}x")
    } else if value >= 1.0 {
        format!("{value:.1}x")
    } else if value >= 0.01 {
        format!("{value:.2}x")
    } else {
        format!("{value:.4}x")
    }
}

fn comparison(md: &mut String, report: &Report, n: usize) {
    let runs: Vec<&RunRecord> = Kind::ALL
        .iter()
        .filter_map(|&kind| report.run(kind, n))
        .collect();
    let rolodex = report.run(Kind::Rolodex, n);
    let _ = writeln!(md, "## N = {}\n", thousands(n as f64));
    let mut header = String::from("| Phase |");
    let mut rule = String::from("|---|");
    for run in &runs {
        let _ = write!(header, " {} |", run.server.title());
        rule.push_str("---:|");
        if run.server != Kind::Rolodex && rolodex.is_some() {
            let _ = write!(header, " {} vs Rolodex |", run.server.title());
            rule.push_str("---:|");
        }
    }
    let _ = writeln!(md, "{header}\n{rule}");
    for phase in PhaseId::ALL {
        let mut row = format!("| {} |", phase.label());
        for run in &runs {
            let outcome = outcome_of(run, phase);
            let _ = write!(row, " {} |", cell(phase, outcome));
            if run.server != Kind::Rolodex && rolodex.is_some() {
                let base = rolodex.and_then(|r| outcome_of(r, phase));
                let _ = write!(row, " {} |", ratio(phase, base, outcome));
            }
        }
        let _ = writeln!(md, "{row}");
    }
    for (label, value) in RESOURCE_ROWS {
        let mut row = format!("| {label} |");
        let base = rolodex.and_then(value);
        for run in &runs {
            let own = value(run);
            let _ = write!(row, " {} |", own.map_or("-".into(), format_mib));
            if run.server != Kind::Rolodex && rolodex.is_some() {
                let text = match (own, base) {
                    (Some(own), Some(base)) if base > 0.0 => format_ratio(own / base),
                    _ => String::new(),
                };
                let _ = write!(row, " {text} |");
            }
        }
        let _ = writeln!(md, "{row}");
    }
    let wall: Vec<String> = runs
        .iter()
        .map(|r| format!("{} {}", r.server.title(), format_seconds(r.wall_s)))
        .collect();
    let _ = writeln!(
        md,
        "\nWall time per server (start to stop): {}.\n",
        wall.join(", ")
    );
}

/// A figure read from a run's resources, in bytes.
type ResourceValue = fn(&RunRecord) -> Option<f64>;

const RESOURCE_ROWS: [(&str, ResourceValue); 3] = [
    ("Server peak RSS (VmHWM)", |r| {
        r.resources
            .as_ref()?
            .server_peak_rss_kib
            .map(|k| k as f64 * 1024.0)
    }),
    ("PostgreSQL RSS (sum)", |r| {
        r.resources
            .as_ref()?
            .postgres_rss_sum_kib
            .map(|k| k as f64 * 1024.0)
    }),
    ("Data dir on disk", |r| {
        r.resources.as_ref().map(|res| res.data_dir_bytes as f64)
    }),
];

fn outcome_of(run: &RunRecord, phase: PhaseId) -> Option<&Outcome> {
    if run.error.is_some() {
        return Some(&FAILED_TO_RUN);
    }
    run.outcome(phase)
}

static FAILED_TO_RUN: Outcome = Outcome::Fail {
    reason: String::new(),
};

fn scaling(md: &mut String, report: &Report) {
    let mut runs: Vec<&RunRecord> = report
        .runs
        .iter()
        .filter(|r| r.server == Kind::Rolodex)
        .collect();
    runs.sort_by_key(|r| r.n);
    if runs.len() < 2 {
        return;
    }
    let _ = writeln!(md, "## Rolodex scaling\n");
    let mut header = String::from("| Phase |");
    let mut rule = String::from("|---|");
    for run in &runs {
        let _ = write!(header, " N = {} |", thousands(run.n as f64));
        rule.push_str("---:|");
    }
    let _ = writeln!(md, "{header}\n{rule}");
    for phase in PhaseId::ALL {
        let mut row = format!("| {} |", phase.label());
        for run in &runs {
            let _ = write!(row, " {} |", cell(phase, outcome_of(run, phase)));
        }
        let _ = writeln!(md, "{row}");
    }
    for (label, value) in RESOURCE_ROWS {
        let mut row = format!("| {label} |");
        for run in &runs {
            let _ = write!(row, " {} |", value(run).map_or("-".into(), format_mib));
        }
        let _ = writeln!(md, "{row}");
    }
    let _ = writeln!(md);
}

/// What a scale goal holds Rolodex to: a phase (or the server's peak memory) at one N.
struct Goal {
    n: usize,
    what: GoalOn,
    /// At most this time (seconds) or memory (MiB); at least this throughput (cards/s).
    bound: f64,
    target: &'static str,
}

enum GoalOn {
    Phase(PhaseId),
    PeakRss,
}

const GOALS: [Goal; 8] = [
    Goal {
        n: 10_000,
        what: GoalOn::Phase(PhaseId::Upload),
        bound: 1000.0,
        target: "≥ 1,000 cards/s",
    },
    Goal {
        n: 10_000,
        what: GoalOn::Phase(PhaseId::MultigetAll),
        bound: 0.25,
        target: "≤ 250 ms",
    },
    Goal {
        n: 100_000,
        what: GoalOn::Phase(PhaseId::Propfind),
        bound: 0.25,
        target: "≤ 250 ms",
    },
    Goal {
        n: 100_000,
        what: GoalOn::Phase(PhaseId::SyncInitial),
        bound: 0.25,
        target: "≤ 250 ms",
    },
    Goal {
        n: 100_000,
        what: GoalOn::Phase(PhaseId::GraphqlExport),
        bound: 2.0,
        target: "≤ 2 s",
    },
    Goal {
        n: 100_000,
        what: GoalOn::Phase(PhaseId::Import),
        bound: 20.0,
        target: "≤ 20 s",
    },
    Goal {
        n: 100_000,
        what: GoalOn::PeakRss,
        bound: 96.0,
        target: "≤ 96 MiB",
    },
    Goal {
        n: 1_000_000,
        what: GoalOn::PeakRss,
        bound: 96.0,
        target: "≤ 96 MiB",
    },
];

/// Rolodex's figure for each goal whose N this run measured, and whether it is met.
fn goals(md: &mut String, report: &Report) {
    let mut rows = Vec::new();
    for goal in &GOALS {
        let Some(run) = report
            .run(Kind::Rolodex, goal.n)
            .filter(|r| r.error.is_none())
        else {
            continue;
        };
        let (label, figure_text, met) = match goal.what {
            GoalOn::Phase(phase) => {
                let (text, met) = match run.outcome(phase) {
                    Some(Outcome::Ok(m)) => {
                        let met = match phase.metric() {
                            Metric::Time => m.median_s <= goal.bound,
                            Metric::Throughput => m.cards_per_s.unwrap_or(0.0) >= goal.bound,
                        };
                        (figure(phase, m), Some(met))
                    }
                    other => (cell(phase, other), None),
                };
                (phase.label(), text, met)
            }
            GoalOn::PeakRss => match RESOURCE_ROWS[0].1(run) {
                Some(bytes) => (
                    RESOURCE_ROWS[0].0,
                    format_mib(bytes),
                    Some(bytes / (1024.0 * 1024.0) <= goal.bound),
                ),
                None => (RESOURCE_ROWS[0].0, "-".into(), None),
            },
        };
        let verdict = match met {
            Some(true) => "met",
            Some(false) => "**missed**",
            None => "not measured",
        };
        rows.push(format!(
            "| {label} | {} | {} | {figure_text} | {verdict} |",
            thousands(goal.n as f64),
            goal.target
        ));
    }
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "## Scale goals\n\nRolodex against the goals in README's performance section (which says \
         why a missed one is missed). Peak RSS is the server's own, after every phase but the \
         import (a separate process).\n\n| Phase | N | Goal | Rolodex | |\n|---|---:|---|---:|---|\n{}\n",
        rows.join("\n")
    );
}

fn failures(md: &mut String, report: &Report) {
    let mut lines = Vec::new();
    for run in &report.runs {
        let who = format!("{} N={}", run.server.title(), thousands(run.n as f64));
        if let Some(error) = &run.error {
            lines.push(format!("- {who}: did not run: {}", one_line(error)));
        }
        for phase in PhaseId::ALL {
            if let Some(Outcome::Fail { reason }) = run.outcome(phase) {
                lines.push(format!("- {who}, {}: {}", phase.label(), one_line(reason)));
            }
        }
    }
    if !lines.is_empty() {
        let _ = writeln!(md, "## Failures\n\n{}\n", lines.join("\n"));
    }
}

fn one_line(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let clipped: String = flat.chars().take(400).collect();
    clipped.replace('|', "\\|")
}
