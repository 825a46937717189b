//! Several `rolodex serve` processes on one PostgreSQL (`--processes 1,2,...`): the way to
//! outgrow one server process. For each process count K, a fresh Rolodex (its managed
//! PostgreSQL) plus K - 1 more `rolodex serve` processes on the same database (`--database-url`
//! over the cluster's Unix socket), then:
//!
//! 1. upload of N cards over 8 connections, connection i talking to process i mod K (cards/s;
//!    the same upload as the main run's first phase);
//! 2. 8 clients reading single cards (GET) for a fixed time, client i on process i mod K
//!    (GETs/s), every answer checked to be the card asked for.
//!
//! Correctness across processes (ETag races, sync tokens, subscriptions) is tested in the
//! repository's test suite (`tests/it/several_servers.rs`); this measures throughput only.
//! Results go to `scaling.json` and `scaling.md` beside `latest.*`, which they leave alone.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::data::Card;
use crate::dav::{self, Dav};
use crate::phases::put_all;
use crate::servers::{self, Kind, Running, Tools};

const CONNECTIONS: usize = 8;
/// How long the GET clients run for each process count.
const READ_WINDOW: Duration = Duration::from_secs(10);

/// One process count's figures.
#[derive(Debug, Clone, Serialize)]
pub struct ScalingRecord {
    pub processes: usize,
    pub n: usize,
    pub upload_cards_per_s: Option<f64>,
    pub gets_per_s: Option<f64>,
    /// Why a figure is missing (a wrong answer or a process that failed to start).
    pub failures: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScalingReport {
    pub environment: crate::env::Environment,
    pub connections: usize,
    pub read_window_s: f64,
    pub records: Vec<ScalingRecord>,
}

impl ScalingReport {
    pub fn new(environment: crate::env::Environment, records: Vec<ScalingRecord>) -> Self {
        ScalingReport {
            environment,
            connections: CONNECTIONS,
            read_window_s: READ_WINDOW.as_secs_f64(),
            records,
        }
    }
}

/// Runs every process count in `counts` at `n` cards; each on fresh data.
pub async fn run(
    tools: &Tools,
    cards: &[Card],
    counts: &[usize],
    work_dir: &Path,
) -> Vec<ScalingRecord> {
    let mut records = Vec::new();
    for &count in counts {
        let count = count.max(1);
        eprintln!(
            "[scaling K={count} N={}] starting {count} process(es)",
            cards.len()
        );
        let run_dir = work_dir.join(format!("scaling-{count}"));
        let record = match run_one(tools, cards, count, &run_dir).await {
            Ok(record) => record,
            Err(reason) => ScalingRecord {
                processes: count,
                n: cards.len(),
                upload_cards_per_s: None,
                gets_per_s: None,
                failures: vec![reason],
            },
        };
        eprintln!(
            "[scaling K={count} N={}] upload {} cards/s, GET {} /s{}",
            cards.len(),
            figure(record.upload_cards_per_s),
            figure(record.gets_per_s),
            if record.failures.is_empty() {
                String::new()
            } else {
                format!(" ({})", record.failures.join("; "))
            }
        );
        records.push(record);
        let _ = std::fs::remove_dir_all(&run_dir);
    }
    records
}

fn figure(value: Option<f64>) -> String {
    value.map_or_else(|| "FAIL".to_owned(), |v| format!("{v:.0}"))
}

async fn run_one(
    tools: &Tools,
    cards: &[Card],
    count: usize,
    run_dir: &Path,
) -> Result<ScalingRecord, String> {
    let primary = servers::start(Kind::Rolodex, tools, run_dir).await?;
    let database_url = managed_database_url(&primary.data_dir.join("run"));
    let mut extra: Vec<Running> = Vec::new();
    for index in 1..count {
        extra.push(servers::start_attached(tools, &primary, &database_url, run_dir, index).await?);
    }
    let davs: Vec<Dav> = std::iter::once(&primary)
        .chain(&extra)
        .map(|running| running.dav.clone())
        .collect();
    let paths: Vec<String> = cards
        .iter()
        .map(|card| primary.dav.card_path(&card.file_name()))
        .collect();
    let mut failures = Vec::new();
    let upload = match put_all(&davs, cards, &paths).await {
        Ok(elapsed) => Some(cards.len() as f64 / elapsed.as_secs_f64()),
        Err(reason) => {
            failures.push(format!("upload: {reason}"));
            None
        }
    };
    let gets = if upload.is_some() {
        match reads(&davs, cards, &paths).await {
            Ok(rate) => Some(rate),
            Err(reason) => {
                failures.push(format!("GET: {reason}"));
                None
            }
        }
    } else {
        None
    };
    // The extra processes first: they hold connections to the primary's PostgreSQL.
    drop(extra);
    drop(primary);
    Ok(ScalingRecord {
        processes: count,
        n: cards.len(),
        upload_cards_per_s: upload,
        gets_per_s: gets,
        failures,
    })
}

/// The managed cluster's URL for the application role over its socket directory (what
/// `rolodex` admin commands attach with).
fn managed_database_url(socket_dir: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut host = String::new();
    for &byte in socket_dir.as_os_str().as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            host.push(char::from(byte));
        } else {
            host.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("postgresql://rolodex_app@/rolodex?host={host}")
}

/// GETs of rotating cards for [`READ_WINDOW`], client i on process i mod K; each answer must
/// be 200 and carry the card's UID. GETs/s.
async fn reads(davs: &[Dav], cards: &[Card], paths: &[String]) -> Result<f64, String> {
    let targets: Arc<Vec<(String, String)>> = Arc::new(
        paths
            .iter()
            .zip(cards)
            .map(|(path, card)| (path.clone(), format!("UID:{}", card.uid)))
            .collect(),
    );
    let done = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let deadline = Instant::now() + READ_WINDOW;
    let started = Instant::now();
    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|worker| {
            let dav = davs[worker % davs.len()].clone();
            let (targets, done, failures) = (targets.clone(), done.clone(), failures.clone());
            tokio::spawn(async move {
                // Each client starts at its own place in the book.
                let mut i = worker * targets.len() / CONNECTIONS;
                while Instant::now() < deadline {
                    let (path, uid_line) = &targets[i % targets.len()];
                    i += 1;
                    let problem = match dav::timed(dav.get(path)).await {
                        Ok(reply) if reply.status.as_u16() == 200 => match reply.text() {
                            Ok(text) if text.contains(uid_line.as_str()) => {
                                done.fetch_add(1, Ordering::Relaxed);
                                continue;
                            }
                            _ => format!("{path}: not the card asked for"),
                        },
                        Ok(reply) => format!("{path}: {}", reply.describe()),
                        Err(e) => format!("{path}: {e}"),
                    };
                    failures
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(problem);
                    break;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.map_err(|e| format!("GET task failed: {e}"))?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    if let Some(first) = failures.lock().unwrap_or_else(|p| p.into_inner()).first() {
        return Err(first.clone());
    }
    Ok(done.load(Ordering::Relaxed) as f64 / elapsed)
}

/// `scaling.md`: one row per process count.
pub fn markdown(report: &ScalingReport, n: usize) -> String {
    let mut out = String::new();
    out.push_str("# Rolodex: several server processes on one PostgreSQL\n\n");
    out.push_str(&format!(
        "{} · git {} · load average at start: {}\n\n",
        report.environment.date_utc,
        report.environment.rolodex_git_rev,
        report.environment.load_average_at_start
    ));
    out.push_str(&format!(
        "N = {n} cards. Upload: every card PUT once over {} connections spread over the \
         processes. GET: {} clients reading single cards for {:.0} s, spread the same way. \
         Every answer checked. All processes and PostgreSQL share this machine's CPUs.\n\n",
        report.connections, report.connections, report.read_window_s
    ));
    out.push_str("| processes | upload (cards/s) | GET (requests/s) | failures |\n");
    out.push_str("|---:|---:|---:|---|\n");
    for record in &report.records {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            record.processes,
            figure(record.upload_cards_per_s),
            figure(record.gets_per_s),
            if record.failures.is_empty() {
                "-".to_owned()
            } else {
                record.failures.join("; ")
            }
        ));
    }
    out
}
