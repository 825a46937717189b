//! `rolodex-bench`: the driver behind `bench/run`. Generates the contacts, runs every
//! server at every size through the phases, and writes bench/results/latest.{json,md}
//! (bench/chart.py draws latest.png from the JSON).

mod data;
mod dav;
mod env;
mod phases;
mod report;
mod rng;
mod scaling;
mod servers;
mod stats;
mod xml;

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;

use phases::Needles;
use servers::{Kind, Tools};

/// Benchmark Rolodex against Radicale and Xandikos over CardDAV (and Rolodex's GraphQL and
/// import). Usually run through `bench/run`, which builds everything and draws the chart.
#[derive(Debug, Parser)]
#[command(name = "rolodex-bench")]
struct Args {
    /// Numbers of contacts Rolodex is measured at.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
    sizes: Vec<usize>,
    /// Numbers of contacts the peers (Radicale, Xandikos) are measured at; they upload at
    /// tens of cards per second, so large sizes take very long.
    #[arg(long, value_delimiter = ',', default_value = "1000")]
    peer_sizes: Vec<usize>,
    /// Servers to run.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "rolodex,radicale,xandikos"
    )]
    servers: Vec<String>,
    /// Only N = 1,000 (for every server).
    #[arg(long)]
    quick: bool,
    /// The rolodex binary under test.
    #[arg(long, env = "ROLODEX_BIN", required_unless_present = "show_cards")]
    rolodex_bin: Option<PathBuf>,
    /// The venv with radicale and xandikos (default: <repo>/target/bench-venv).
    #[arg(long)]
    venv: Option<PathBuf>,
    /// The Rolodex repository (default: the parent of this crate).
    #[arg(long)]
    repo: Option<PathBuf>,
    /// Where latest.json and latest.md go (default: <repo>/bench/results).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Scratch space for server data and logs (default: <repo>/bench/target/run).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Keep each server's data dir after its run (they are large at 100k).
    #[arg(long)]
    keep_data: bool,
    /// Instead of the phases: run 1, 2, ... `rolodex serve` processes on one database (the
    /// counts given) and report upload and GET throughput for each in scaling.{json,md}.
    #[arg(long, value_delimiter = ',', value_name = "COUNTS")]
    processes: Vec<usize>,
    /// Cards uploaded for each process count of --processes.
    #[arg(long, default_value = "10000")]
    processes_size: usize,
    /// Print the first K generated cards and the needles for N = K, then exit.
    #[arg(long, value_name = "K")]
    show_cards: Option<usize>,
}

#[tokio::main]
async fn main() {
    let mut args = Args::parse();
    if args.quick {
        args.sizes = vec![1000];
        args.peer_sizes = vec![1000];
    }
    if let Some(k) = args.show_cards {
        let cards = data::generate(k.max(20));
        for card in &cards[..k] {
            print!("{}", card.vcard());
        }
        let needles = Needles::for_cards(&cards);
        for (what, needle) in [
            ("EMAIL", &needles.email),
            ("FN", &needles.full_name),
            ("search", &needles.search),
        ] {
            eprintln!(
                "{what} needle {:?} matches {} cards",
                needle.text,
                needle.expected.len()
            );
        }
        return;
    }
    if let Err(e) = run(args).await {
        servers::process::stop_all();
        eprintln!("rolodex-bench: {e}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), String> {
    let started = Instant::now();
    let repo = match &args.repo {
        Some(repo) => repo.clone(),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."),
    };
    let repo = repo
        .canonicalize()
        .map_err(|e| format!("repo {}: {e}", repo.display()))?;
    let rolodex_bin = args
        .rolodex_bin
        .clone()
        .ok_or("--rolodex-bin or ROLODEX_BIN is required")?;
    let rolodex = rolodex_bin
        .canonicalize()
        .map_err(|e| format!("rolodex binary {}: {e}", rolodex_bin.display()))?;
    let tools = Tools {
        rolodex,
        venv_bin: args
            .venv
            .clone()
            .unwrap_or_else(|| repo.join("target/bench-venv"))
            .join("bin"),
    };
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| repo.join("bench/results"));
    let work_dir = args
        .work_dir
        .clone()
        .unwrap_or_else(|| repo.join("bench/target/run"));

    if !args.processes.is_empty() {
        spawn_signal_handler();
        let cards = data::generate(args.processes_size.max(1));
        let environment = env::collect(&tools, &repo, std::env::var_os("ROLODEX_BIN").is_some());
        let records = scaling::run(&tools, &cards, &args.processes, &work_dir).await;
        let report = scaling::ScalingReport::new(environment, records);
        std::fs::create_dir_all(&out_dir)
            .map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
        let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        std::fs::write(out_dir.join("scaling.json"), json)
            .map_err(|e| format!("cannot write scaling.json: {e}"))?;
        let markdown = scaling::markdown(&report, cards.len());
        std::fs::write(out_dir.join("scaling.md"), &markdown)
            .map_err(|e| format!("cannot write scaling.md: {e}"))?;
        println!("{markdown}");
        return Ok(());
    }

    let mut kinds = Vec::new();
    for name in &args.servers {
        let kind = Kind::parse(name.trim())
            .ok_or_else(|| format!("unknown server {name:?} (rolodex, radicale, xandikos)"))?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    kinds.sort();
    let mut plan: Vec<(usize, Kind)> = Vec::new();
    for &kind in &kinds {
        let sizes = if kind == Kind::Rolodex {
            &args.sizes
        } else {
            &args.peer_sizes
        };
        plan.extend(sizes.iter().map(|&n| (n, kind)));
    }
    plan.sort();
    plan.dedup();
    if let Some((n, _)) = plan.iter().find(|(n, _)| *n < 20) {
        return Err(format!(
            "N = {n} is too small (the sync phase changes 10 cards)"
        ));
    }
    if plan.is_empty() {
        return Err("nothing to run".into());
    }

    spawn_signal_handler();

    let max_n = plan.iter().map(|(n, _)| *n).max().unwrap_or(0);
    let generated = Instant::now();
    let cards = data::generate(max_n);
    eprintln!(
        "generated {} cards in {:.1} s",
        cards.len(),
        generated.elapsed().as_secs_f64()
    );

    let environment = env::collect(&tools, &repo, std::env::var_os("ROLODEX_BIN").is_some());
    let mut report = report::Report {
        environment,
        config: report::Config {
            sizes: args.sizes.clone(),
            peer_sizes: args.peer_sizes.clone(),
            servers: kinds.iter().map(|k| k.name().to_string()).collect(),
            upload_connections: 8,
            multiget_batch: 100,
        },
        complete: false,
        total_wall_s: 0.0,
        runs: Vec::new(),
    };

    let mut needles: Option<(usize, Needles)> = None;
    for (n, kind) in plan {
        let prefix = &cards[..n];
        if needles.as_ref().is_none_or(|(size, _)| *size != n) {
            needles = Some((n, Needles::for_cards(prefix)));
        }
        let (_, current) = needles.as_ref().expect("set just above");
        let run_dir = work_dir.join(format!("{}-{n}", kind.name()));
        let record = phases::run(kind, prefix, current, &tools, &run_dir, args.keep_data).await;
        report.runs.push(record);
        report.total_wall_s = started.elapsed().as_secs_f64();
        report.write(&out_dir)?;
    }
    report.complete = true;
    report.total_wall_s = started.elapsed().as_secs_f64();
    report.write(&out_dir)?;
    println!("{}", report::markdown(&report));
    eprintln!(
        "wrote {}/latest.json and latest.md in {:.0} s",
        out_dir.display(),
        report.total_wall_s
    );
    Ok(())
}

/// Ctrl-C or SIGTERM: stop every server we started (cleanly where they allow) and leave.
/// A panic needs no handler: unwinding drops the process guards, which stop their servers.
fn spawn_signal_handler() {
    tokio::spawn(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).ok();
        let terminated = async {
            match term.as_mut() {
                Some(term) => {
                    term.recv().await;
                }
                // Without a SIGTERM handler, still stop on Ctrl-C.
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminated => {}
        }
        eprintln!("interrupted: stopping the servers");
        let _ = tokio::task::spawn_blocking(servers::process::stop_all).await;
        std::process::exit(130);
    });
}
