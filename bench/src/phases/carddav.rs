//! The CardDAV phases (upload, PROPFIND, multiget, queries, sync, GET, PUT), each checking
//! every timed answer against the generated data; the same code runs against every server.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use super::Ctx;
use crate::data::expect::Needle;
use crate::data::unfold;
use crate::data::Card;
use crate::dav::{self, Dav, Reply};
use crate::stats::Measurement;
use crate::xml::{parse_multistatus, Multistatus};

const UPLOAD_CONNECTIONS: usize = 8;
const MULTIGET_BATCH: usize = 100;
/// How many cards the incremental sync changes.
const SYNC_CHANGES: usize = 10;

type PhaseResult = Result<Measurement, String>;

fn expect_status(reply: &Reply, wanted: &[u16], what: &str) -> Result<(), String> {
    if wanted.contains(&reply.status.as_u16()) {
        Ok(())
    } else {
        Err(format!("{what}: {}", reply.describe()))
    }
}

fn parse(reply: &Reply, what: &str) -> Result<Multistatus, String> {
    expect_status(reply, &[207], what)?;
    parse_multistatus(reply.text()?).map_err(|e| format!("{what}: {e}"))
}

/// "expected 10, got 9: missing [..], unexpected [..]" for two sets of paths.
fn set_difference(expected: &BTreeSet<String>, got: &BTreeSet<String>) -> String {
    let missing: Vec<&String> = expected.difference(got).take(3).collect();
    let extra: Vec<&String> = got.difference(expected).take(3).collect();
    format!(
        "expected {} cards, got {}; missing {:?}{}; unexpected {:?}{}",
        expected.len(),
        got.len(),
        missing,
        if expected.difference(got).count() > 3 {
            " …"
        } else {
            ""
        },
        extra,
        if got.difference(expected).count() > 3 {
            " …"
        } else {
            ""
        },
    )
}

/// The card members of a multistatus (the book itself left out): path -> etag. Fails on a
/// member without an etag, on duplicates and on non-2xx member statuses.
fn members(
    ctx: &Ctx<'_>,
    ms: &Multistatus,
    need_vcard_type: bool,
) -> Result<HashMap<String, String>, String> {
    let dav = &ctx.server.dav;
    let mut out = HashMap::with_capacity(ms.responses.len());
    for response in &ms.responses {
        let path = dav.normalize_href(&response.href);
        if dav.is_book(&path) {
            continue;
        }
        if let Some(status) = &response.status {
            if !status.contains(" 2") {
                return Err(format!("{path}: member status {status}"));
            }
        }
        let etag = response
            .etag
            .clone()
            .filter(|e| !e.is_empty())
            .ok_or_else(|| format!("{path}: no getetag"))?;
        if need_vcard_type {
            let kind = response.content_type.as_deref().unwrap_or("");
            if !kind.to_ascii_lowercase().contains("vcard") {
                return Err(format!("{path}: getcontenttype {kind:?}, not text/vcard"));
            }
        }
        if out.insert(path.clone(), etag).is_some() {
            return Err(format!("{path} listed twice"));
        }
    }
    Ok(out)
}

fn paths_of(ctx: &Ctx<'_>, indices: impl IntoIterator<Item = usize>) -> BTreeSet<String> {
    indices.into_iter().map(|i| ctx.paths[i].clone()).collect()
}

fn same_members(expected: &BTreeSet<String>, got: &HashMap<String, String>) -> Result<(), String> {
    let got: BTreeSet<String> = got.keys().cloned().collect();
    if &got == expected {
        Ok(())
    } else {
        Err(set_difference(expected, &got))
    }
}

/// Phase 1: PUT every card (If-None-Match: *) over 8 connections; cards/s.
pub async fn upload(ctx: &Ctx<'_>) -> PhaseResult {
    let elapsed = put_all(std::slice::from_ref(&ctx.server.dav), ctx.cards, &ctx.paths).await?;
    Ok(Measurement::from_durations(&[elapsed]).with_cards(ctx.n()))
}

/// PUTs card i at `paths[i]` (`If-None-Match: *`) over [`UPLOAD_CONNECTIONS`] connections,
/// connection j talking to `servers[j % servers.len()]`; the time it took, or what failed.
pub async fn put_all(
    servers: &[Dav],
    cards: &[Card],
    paths: &[String],
) -> Result<Duration, String> {
    // Rendered before the clock starts: we time the server, not the generator.
    let jobs: Arc<Vec<(String, String)>> = Arc::new(
        cards
            .iter()
            .zip(paths)
            .map(|(card, path)| (path.clone(), card.vcard()))
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let started = Instant::now();
    let workers: Vec<_> = (0..UPLOAD_CONNECTIONS)
        .map(|connection| {
            let (jobs, next, failures) = (jobs.clone(), next.clone(), failures.clone());
            let dav = servers[connection % servers.len()].clone();
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((path, body)) = jobs.get(i) else {
                        break;
                    };
                    let outcome = dav::timed(dav.create(path, body.clone())).await;
                    let problem = match outcome {
                        Ok(reply) if matches!(reply.status.as_u16(), 201 | 204) => continue,
                        Ok(reply) => format!("{path}: {}", reply.describe()),
                        Err(e) => format!("{path}: {e}"),
                    };
                    failures
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(problem);
                }
            })
        })
        .collect();
    for worker in workers {
        worker
            .await
            .map_err(|e| format!("upload task failed: {e}"))?;
    }
    let elapsed = started.elapsed();
    let failures = failures.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(first) = failures.first() {
        return Err(format!(
            "{} of {} PUTs not 201/204, e.g. {first}",
            failures.len(),
            cards.len(),
        ));
    }
    Ok(elapsed)
}

/// A full, validated listing of the book: path -> etag.
async fn listing(ctx: &Ctx<'_>) -> Result<(HashMap<String, String>, Duration), String> {
    let dav = &ctx.server.dav;
    let reply = dav::timed(dav.propfind(&dav.book, "1", dav::PROPFIND_ETAG_TYPE)).await?;
    let ms = parse(&reply, "PROPFIND")?;
    let members = members(ctx, &ms, true)?;
    same_members(&paths_of(ctx, 0..ctx.n()), &members)?;
    Ok((members, reply.elapsed))
}

/// Phase 2: PROPFIND Depth 1 of the book (getetag + getcontenttype).
pub async fn propfind(ctx: &mut Ctx<'_>) -> PhaseResult {
    let mut samples = Vec::new();
    for _ in 0..ctx.reps.propfind {
        let (members, elapsed) = listing(ctx).await?;
        samples.push(elapsed);
        ctx.etags = members;
    }
    Ok(Measurement::from_durations(&samples))
}

/// Phase 3: addressbook-multiget of every card, 100 hrefs a request; one sample is the
/// whole pass.
pub async fn multiget_all(ctx: &Ctx<'_>) -> PhaseResult {
    let dav = &ctx.server.dav;
    let batches: Vec<Vec<usize>> = (0..ctx.n())
        .collect::<Vec<_>>()
        .chunks(MULTIGET_BATCH)
        .map(<[usize]>::to_vec)
        .collect();
    let bodies: Vec<String> = batches
        .iter()
        .map(|batch| {
            let hrefs: Vec<String> = batch.iter().map(|&i| ctx.paths[i].clone()).collect();
            dav::multiget_body(&hrefs)
        })
        .collect();
    let mut samples = Vec::new();
    for _ in 0..ctx.reps.multiget_all {
        let mut pass = Duration::ZERO;
        let mut seen = 0;
        for (batch, body) in batches.iter().zip(&bodies) {
            let reply = dav::timed(dav.report("0", body.clone())).await?;
            pass += reply.elapsed;
            let ms = parse(&reply, "multiget")?;
            let mut wanted: HashMap<String, usize> =
                batch.iter().map(|&i| (ctx.paths[i].clone(), i)).collect();
            for response in &ms.responses {
                let path = dav.normalize_href(&response.href);
                let index = wanted
                    .remove(&path)
                    .ok_or_else(|| format!("multiget: unexpected or repeated {path}"))?;
                let data = response
                    .address_data
                    .as_deref()
                    .ok_or_else(|| format!("multiget: {path} without address-data"))?;
                let uid = &ctx.cards[index].uid;
                if !unfold(data).contains(uid.as_str()) {
                    return Err(format!("multiget: {path} address-data lacks UID {uid}"));
                }
                if response.etag.is_none() {
                    return Err(format!("multiget: {path} without getetag"));
                }
                seen += 1;
            }
            if let Some(path) = wanted.keys().next() {
                return Err(format!(
                    "multiget: {} of {} cards missing, e.g. {path}",
                    wanted.len(),
                    batch.len()
                ));
            }
        }
        if seen != ctx.n() {
            return Err(format!(
                "multiget: {seen} cards returned, expected {}",
                ctx.n()
            ));
        }
        samples.push(pass);
    }
    Ok(Measurement::from_durations(&samples))
}

/// Phase 4: addressbook-query text-match (i;unicode-casemap, contains) on `property`.
pub async fn query(ctx: &Ctx<'_>, property: &str, needle: &Needle) -> PhaseResult {
    let dav = &ctx.server.dav;
    let body = dav::query_body(property, &needle.text);
    let expected = paths_of(ctx, needle.expected.iter().copied());
    let mut samples = Vec::new();
    for _ in 0..ctx.reps.query {
        let reply = dav::timed(dav.report("1", body.clone())).await?;
        let ms = parse(&reply, "addressbook-query")?;
        let got = members(ctx, &ms, false)?;
        same_members(&expected, &got)
            .map_err(|e| format!("{property} contains {:?}: {e}", needle.text))?;
        samples.push(reply.elapsed);
    }
    Ok(Measurement::from_durations(&samples))
}

/// Phase 5: sync-collection from scratch, then after changing 10 cards (incremental).
pub async fn sync(ctx: &Ctx<'_>) -> (PhaseResult, PhaseResult) {
    let initial = sync_initial(ctx).await;
    let token = match &initial {
        Ok((_, token)) => token.clone(),
        Err(e) => {
            let reason = format!("initial sync failed: {e}");
            return (Err(e.clone()), Err(reason));
        }
    };
    let incremental = sync_incremental(ctx, &token).await;
    (initial.map(|(m, _)| m), incremental)
}

async fn sync_initial(ctx: &Ctx<'_>) -> Result<(Measurement, String), String> {
    let dav = &ctx.server.dav;
    let body = dav::sync_body("");
    let everything = paths_of(ctx, 0..ctx.n());
    let mut samples = Vec::new();
    let mut token = String::new();
    for _ in 0..ctx.reps.sync_initial {
        let reply = dav::timed(dav.report("0", body.clone())).await?;
        let ms = parse(&reply, "sync-collection")?;
        same_members(&everything, &members(ctx, &ms, false)?)?;
        token = ms
            .sync_token
            .filter(|t| !t.is_empty())
            .ok_or("sync-collection: no sync-token")?;
        samples.push(reply.elapsed);
    }
    Ok((Measurement::from_durations(&samples), token))
}

/// The cards the incremental sync changes: spread over the book.
fn sync_changed(n: usize) -> BTreeSet<usize> {
    (0..SYNC_CHANGES)
        .map(|k| (k * n / SYNC_CHANGES + 7) % n)
        .collect()
}

async fn sync_incremental(ctx: &Ctx<'_>, token: &str) -> PhaseResult {
    let dav = &ctx.server.dav;
    let changed = sync_changed(ctx.n());
    if changed.len() != SYNC_CHANGES {
        return Err(format!("need at least {SYNC_CHANGES} cards"));
    }
    // The changes themselves are not timed.
    for (k, &i) in changed.iter().enumerate() {
        let body = ctx.cards[i].vcard_with_note(&format!("Changed for the sync test ({k})."));
        let reply = dav::timed(dav.put(&ctx.paths[i], body)).await?;
        expect_status(&reply, &[200, 201, 204], "PUT change before sync")?;
    }
    let expected = paths_of(ctx, changed);
    let body = dav::sync_body(token);
    let mut samples = Vec::new();
    for _ in 0..ctx.reps.sync_incremental {
        let reply = dav::timed(dav.report("0", body.clone())).await?;
        let ms = parse(&reply, "sync-collection with token")?;
        same_members(&expected, &members(ctx, &ms, false)?)?;
        if ms.sync_token.as_deref().is_none_or(str::is_empty) {
            return Err("sync-collection with token: no new sync-token".into());
        }
        samples.push(reply.elapsed);
    }
    Ok(Measurement::from_durations(&samples))
}

/// Rotates through the book so no single card's caching dominates.
fn rotate(rep: usize, n: usize, salt: usize) -> usize {
    (rep * 7919 + salt) % n
}

/// Phase 6: GET one card.
pub async fn get(ctx: &Ctx<'_>) -> PhaseResult {
    let dav = &ctx.server.dav;
    let mut samples = Vec::new();
    for rep in 0..ctx.reps.get {
        let card = &ctx.cards[rotate(rep, ctx.n(), 13)];
        let path = &ctx.paths[card.index];
        let reply = dav::timed(dav.get(path)).await?;
        expect_status(&reply, &[200], &format!("GET {path}"))?;
        let body = unfold(reply.text()?);
        if !body.contains(&card.uid) || !body.contains(&card.full_name) {
            return Err(format!(
                "GET {path}: body lacks UID or FN {:?}",
                card.full_name
            ));
        }
        samples.push(reply.elapsed);
    }
    Ok(Measurement::from_durations(&samples))
}

/// The current etag of one card, by PROPFIND Depth 0 (when a PUT answer had none).
async fn etag_of(ctx: &Ctx<'_>, path: &str) -> Result<String, String> {
    let dav = &ctx.server.dav;
    let reply = dav::timed(dav.propfind(path, "0", dav::PROPFIND_ETAG)).await?;
    let ms = parse(&reply, "PROPFIND Depth 0")?;
    ms.responses
        .into_iter()
        .find_map(|r| r.etag)
        .ok_or_else(|| format!("PROPFIND {path}: no getetag"))
}

/// Phase 7: PUT with If-Match (changing NOTE), and once a stale If-Match, which must 412.
pub async fn put_if_match(ctx: &mut Ctx<'_>) -> PhaseResult {
    // The sync phase changed some cards since the last listing: start from fresh etags.
    ctx.etags = listing(ctx).await?.0;
    let dav = ctx.server.dav.clone();
    let mut samples = Vec::new();
    let mut stale: Option<(usize, String)> = None;
    let mut updated = HashSet::new();
    for rep in 0..ctx.reps.put {
        let card = &ctx.cards[rotate(rep, ctx.n(), 101)];
        let path = ctx.paths[card.index].clone();
        let etag = ctx
            .etags
            .get(&path)
            .cloned()
            .ok_or_else(|| format!("no etag known for {path}"))?;
        let body = card.vcard_with_note(&format!("Edited by the bench, round {rep}; ✓"));
        let reply = dav::timed(dav.update(&path, body, &etag)).await?;
        expect_status(&reply, &[200, 201, 204], &format!("PUT If-Match {path}"))?;
        samples.push(reply.elapsed);
        let new_etag = match reply.etag() {
            Some(e) => e,
            None => etag_of(ctx, &path).await?,
        };
        if new_etag == etag {
            return Err(format!("PUT {path}: the etag did not change"));
        }
        if updated.insert(card.index) && stale.is_none() {
            stale = Some((card.index, etag));
        }
        ctx.etags.insert(path, new_etag);
    }
    if let Some((index, old_etag)) = stale {
        let path = &ctx.paths[index];
        let body = ctx.cards[index].vcard_with_note("This write must be refused.");
        let reply = dav::timed(dav.update(path, body, &old_etag)).await?;
        if reply.status != StatusCode::PRECONDITION_FAILED {
            return Err(format!(
                "PUT with a stale If-Match: wanted 412, got {}",
                reply.describe()
            ));
        }
    }
    Ok(Measurement::from_durations(&samples))
}
