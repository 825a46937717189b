//! One benchmark run: a server at one N, through every phase in order, each validated
//! against the generated data before its figure counts; a failed phase is recorded with
//! its reason and the run goes on.

mod carddav;

pub use carddav::put_all;
mod graphql;
mod import;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::data::expect::{self, Needle};
use crate::data::Card;
use crate::servers::{self, Kind, Resources, Running, Tools};
use crate::stats::Measurement;

/// Whether a phase's figure is a time (lower is better) or a throughput.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Time,
    Throughput,
}

/// The phases, in the order they run and are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PhaseId {
    Upload,
    Propfind,
    MultigetAll,
    QueryEmail,
    QueryFn,
    SyncInitial,
    SyncIncremental,
    Get,
    PutIfMatch,
    GraphqlPage,
    GraphqlSearch,
    GraphqlExport,
    Import,
}

impl PhaseId {
    pub const ALL: [PhaseId; 13] = [
        PhaseId::Upload,
        PhaseId::Propfind,
        PhaseId::MultigetAll,
        PhaseId::QueryEmail,
        PhaseId::QueryFn,
        PhaseId::SyncInitial,
        PhaseId::SyncIncremental,
        PhaseId::Get,
        PhaseId::PutIfMatch,
        PhaseId::GraphqlPage,
        PhaseId::GraphqlSearch,
        PhaseId::GraphqlExport,
        PhaseId::Import,
    ];

    /// The key in the JSON (and chart.py).
    pub fn key(self) -> &'static str {
        match self {
            PhaseId::Upload => "upload",
            PhaseId::Propfind => "propfind",
            PhaseId::MultigetAll => "multiget_all",
            PhaseId::QueryEmail => "query_email",
            PhaseId::QueryFn => "query_fn",
            PhaseId::SyncInitial => "sync_initial",
            PhaseId::SyncIncremental => "sync_incremental",
            PhaseId::Get => "get",
            PhaseId::PutIfMatch => "put_if_match",
            PhaseId::GraphqlPage => "graphql_page",
            PhaseId::GraphqlSearch => "graphql_search",
            PhaseId::GraphqlExport => "graphql_export",
            PhaseId::Import => "import",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            PhaseId::Upload => "Upload, 8 connections",
            PhaseId::Propfind => "PROPFIND Depth 1 (etag, type)",
            PhaseId::MultigetAll => "multiget all, batches of 100",
            PhaseId::QueryEmail => "query EMAIL (other case)",
            PhaseId::QueryFn => "query FN (Cyrillic, other case)",
            PhaseId::SyncInitial => "sync-collection, initial",
            PhaseId::SyncIncremental => "sync-collection, 10 changes",
            PhaseId::Get => "GET one card",
            PhaseId::PutIfMatch => "PUT update with If-Match",
            PhaseId::GraphqlPage => "GraphQL first 100, all fields",
            PhaseId::GraphqlSearch => "GraphQL search (Cyrillic)",
            PhaseId::GraphqlExport => "GraphQL exportContacts (VCF4)",
            PhaseId::Import => "import N-card .vcf (CLI)",
        }
    }

    pub fn metric(self) -> Metric {
        match self {
            PhaseId::Upload => Metric::Throughput,
            _ => Metric::Time,
        }
    }
}

/// What a phase came to.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Ok(Measurement),
    Fail { reason: String },
    NotApplicable,
}

impl From<Result<Measurement, String>> for Outcome {
    fn from(result: Result<Measurement, String>) -> Outcome {
        match result {
            Ok(m) => Outcome::Ok(m),
            Err(reason) => Outcome::Fail { reason },
        }
    }
}

/// How many timed samples each phase takes; fewer of the expensive ones at 100k.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Reps {
    pub propfind: usize,
    pub multiget_all: usize,
    pub query: usize,
    pub sync_initial: usize,
    pub sync_incremental: usize,
    pub get: usize,
    pub put: usize,
    pub graphql: usize,
    pub export: usize,
}

impl Reps {
    pub fn for_size(n: usize) -> Reps {
        let big = n >= 100_000;
        Reps {
            propfind: if big { 3 } else { 10 },
            multiget_all: if big { 2 } else { 3 },
            query: if big { 10 } else { 20 },
            sync_initial: if big { 3 } else { 5 },
            sync_incremental: 20,
            get: 200,
            put: 50,
            graphql: 20,
            export: if big { 3 } else { 5 },
        }
    }
}

/// The needles used at this N and how many cards each must find.
#[derive(Debug, Clone, Serialize)]
pub struct NeedleInfo {
    pub text: String,
    pub expected_cards: usize,
}

impl From<&Needle> for NeedleInfo {
    fn from(needle: &Needle) -> NeedleInfo {
        NeedleInfo {
            text: needle.text.clone(),
            expected_cards: needle.expected.len(),
        }
    }
}

/// Everything measured for one server at one N.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub server: Kind,
    pub n: usize,
    /// Set when the run could not happen at all (e.g. the server did not start).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub phases: BTreeMap<String, Outcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    pub needles: BTreeMap<String, NeedleInfo>,
    pub reps: Reps,
    pub wall_s: f64,
    pub log: String,
}

impl RunRecord {
    pub fn outcome(&self, phase: PhaseId) -> Option<&Outcome> {
        self.phases.get(phase.key())
    }
}

/// The state the phases share for one run.
pub struct Ctx<'a> {
    pub server: &'a Running,
    pub tools: &'a Tools,
    pub cards: &'a [Card],
    /// Path of card i's resource.
    pub paths: Vec<String>,
    pub reps: Reps,
    pub run_dir: &'a Path,
    /// Current ETag by path, from the latest listing.
    pub etags: HashMap<String, String>,
}

impl Ctx<'_> {
    pub fn n(&self) -> usize {
        self.cards.len()
    }
}

pub struct Needles {
    pub email: Needle,
    pub full_name: Needle,
    pub search: Needle,
}

impl Needles {
    pub fn for_cards(cards: &[Card]) -> Needles {
        Needles {
            email: expect::email(cards),
            full_name: expect::full_name(cards),
            search: expect::search(cards),
        }
    }
}

/// Runs every phase of `kind` at `cards.len()`; never fails, a failure is in the record.
pub async fn run(
    kind: Kind,
    cards: &[Card],
    needles: &Needles,
    tools: &Tools,
    run_dir: &Path,
    keep_data: bool,
) -> RunRecord {
    let started = Instant::now();
    let n = cards.len();
    let reps = Reps::for_size(n);
    let mut record = RunRecord {
        server: kind,
        n,
        error: None,
        phases: BTreeMap::new(),
        resources: None,
        needles: [
            ("query_email", &needles.email),
            ("query_fn", &needles.full_name),
            ("graphql_search", &needles.search),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), NeedleInfo::from(v)))
        .collect(),
        reps,
        wall_s: 0.0,
        log: run_dir.join("server.log").display().to_string(),
    };
    if let Err(e) = std::fs::create_dir_all(run_dir) {
        record.error = Some(format!("cannot create {}: {e}", run_dir.display()));
        return record;
    }
    eprintln!("[{} N={n}] starting", kind.name());
    let server = match servers::start(kind, tools, run_dir).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("[{} N={n}] did not start: {e}", kind.name());
            record.error = Some(e);
            record.wall_s = started.elapsed().as_secs_f64();
            return record;
        }
    };
    let mut ctx = Ctx {
        server: &server,
        tools,
        cards,
        paths: cards
            .iter()
            .map(|c| server.dav.card_path(&c.file_name()))
            .collect(),
        reps,
        run_dir,
        etags: HashMap::new(),
    };
    let mut note = |phase: PhaseId, outcome: Outcome| {
        eprintln!(
            "[{} N={n}] {:<32} {}",
            kind.name(),
            phase.label(),
            crate::report::summary(phase, &outcome)
        );
        record.phases.insert(phase.key().to_string(), outcome);
    };

    note(PhaseId::Upload, carddav::upload(&ctx).await.into());
    note(PhaseId::Propfind, carddav::propfind(&mut ctx).await.into());
    note(
        PhaseId::MultigetAll,
        carddav::multiget_all(&ctx).await.into(),
    );
    note(
        PhaseId::QueryEmail,
        carddav::query(&ctx, "EMAIL", &needles.email).await.into(),
    );
    note(
        PhaseId::QueryFn,
        carddav::query(&ctx, "FN", &needles.full_name).await.into(),
    );
    let (initial, incremental) = carddav::sync(&ctx).await;
    note(PhaseId::SyncInitial, initial.into());
    note(PhaseId::SyncIncremental, incremental.into());
    note(PhaseId::Get, carddav::get(&ctx).await.into());
    note(
        PhaseId::PutIfMatch,
        carddav::put_if_match(&mut ctx).await.into(),
    );
    if kind == Kind::Rolodex {
        let (page, search) = graphql::run(&ctx, &needles.search).await;
        note(PhaseId::GraphqlPage, page.into());
        note(PhaseId::GraphqlSearch, search.into());
        note(PhaseId::GraphqlExport, graphql::export(&ctx).await.into());
    } else {
        note(PhaseId::GraphqlPage, Outcome::NotApplicable);
        note(PhaseId::GraphqlSearch, Outcome::NotApplicable);
        note(PhaseId::GraphqlExport, Outcome::NotApplicable);
    }
    // Memory and disk before the import: the import doubles the data, and peers have none.
    let resources = server.resources();
    if kind == Kind::Rolodex {
        note(PhaseId::Import, import::run(&ctx).await.into());
    } else {
        note(PhaseId::Import, Outcome::NotApplicable);
    }
    drop(ctx);
    record.resources = Some(resources);
    server.stop().await;
    if !keep_data {
        let _ = std::fs::remove_dir_all(run_dir.join("data"));
        let _ = std::fs::remove_file(run_dir.join("import.vcf"));
    }
    record.wall_s = started.elapsed().as_secs_f64();
    eprintln!("[{} N={n}] done in {:.1} s", kind.name(), record.wall_s);
    record
}
