//! Phase 8, Rolodex only: GraphQL's first page of contacts with every field, the accent- and
//! case-insensitive `search`, and the whole book as one `exportContacts(format: VCF4)` string,
//! checked against the generated data.

use std::collections::{BTreeSet, HashMap};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::{json, Value};

use super::Ctx;
use crate::data::expect::Needle;
use crate::dav::{self, Reply};
use crate::stats::Measurement;

const PAGE: usize = 100;

/// Every scalar and nested field of `Contact` in schema.graphql (as a full-sync client
/// would ask), `vcard` included.
const PAGE_QUERY: &str = r#"query BenchPage {
  addressBooks { id databaseId slug displayName description changeToken createdAt updatedAt
    groups { id uid name memberCount } }
  contacts(first: 100) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node {
      id databaseId uid etag href displayName alias prefix firstName middleName lastName
      suffix phoneticFirstName phoneticMiddleName phoneticLastName nickname company
      department jobTitle email phoneNumber username avatarUrl hasPhoto conversationId
      lastActiveAt publicKey ownerIdentity dropUrls moduleData categories note createdAt
      updatedAt deletedAt vcard
      emails { type email }
      phoneNumbers { type number normalized }
      addresses { type street city state zip country }
      groups { id databaseId name }
      group { id databaseId name }
      addressBook { id databaseId slug displayName }
    } }
  }
}"#;

const SEARCH_QUERY: &str = r#"query BenchSearch($q: String!, $after: String) {
  contacts(first: 100, search: $q, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { uid displayName } }
  }
}"#;

type PhaseResult = Result<Measurement, String>;

pub async fn run(ctx: &Ctx<'_>, needle: &Needle) -> (PhaseResult, PhaseResult) {
    (page(ctx).await, search(ctx, needle).await)
}

const EXPORT_QUERY: &str = "query BenchExport { exportContacts(format: VCF4) }";

/// The whole book as vCard 4.0 in one answer (every card converted from the 3.0 uploaded):
/// exactly the generated UIDs, each once, each card a 4.0 one.
pub async fn export(ctx: &Ctx<'_>) -> PhaseResult {
    let wanted: BTreeSet<&str> = ctx.cards.iter().map(|c| c.uid.as_str()).collect();
    let mut samples = Vec::new();
    for _ in 0..ctx.reps.export {
        let (reply, value) = post(ctx, EXPORT_QUERY, json!({})).await?;
        let text = value
            .pointer("/data/exportContacts")
            .and_then(Value::as_str)
            .ok_or("GraphQL: no data.exportContacts string")?;
        let (mut cards, mut v4) = (0usize, 0usize);
        let mut uids = BTreeSet::new();
        for line in text.lines() {
            match line {
                "BEGIN:VCARD" => cards += 1,
                "VERSION:4.0" => v4 += 1,
                _ => {
                    if let Some(uid) = line.strip_prefix("UID:") {
                        uids.insert(uid);
                    }
                }
            }
        }
        if cards != ctx.n() || v4 != ctx.n() || uids != wanted {
            let missing: Vec<_> = wanted.difference(&uids).take(3).collect();
            return Err(format!(
                "exportContacts: {cards} cards, {v4} of them 4.0, {} UIDs, expected {} \
                 (missing {missing:?})",
                uids.len(),
                ctx.n()
            ));
        }
        samples.push(reply.elapsed);
    }
    Ok(Measurement::from_durations(&samples))
}

async fn post(ctx: &Ctx<'_>, query: &str, variables: Value) -> Result<(Reply, Value), String> {
    let server = ctx.server;
    let token = server.bearer.as_deref().ok_or("no bearer token")?;
    let body = json!({ "query": query, "variables": variables }).to_string();
    let request = server
        .dav
        .http
        .post(format!("{}/graphql", server.dav.origin))
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .header(CONTENT_TYPE, "application/json")
        .body(body);
    let reply = dav::timed(request).await?;
    if !reply.status.is_success() {
        return Err(format!("GraphQL: {}", reply.describe()));
    }
    let value: Value =
        serde_json::from_slice(&reply.body).map_err(|e| format!("GraphQL: bad JSON: {e}"))?;
    if let Some(errors) = value.get("errors").filter(|e| !e.is_null()) {
        return Err(format!("GraphQL errors: {errors}"));
    }
    Ok((reply, value))
}

fn connection(value: &Value) -> Result<&Value, String> {
    value
        .pointer("/data/contacts")
        .ok_or_else(|| "GraphQL: no data.contacts".to_string())
}

fn nodes(connection: &Value) -> Result<&Vec<Value>, String> {
    connection
        .get("edges")
        .and_then(Value::as_array)
        .ok_or_else(|| "GraphQL: no edges".to_string())
}

fn total_count(connection: &Value) -> Result<usize, String> {
    connection
        .get("totalCount")
        .and_then(Value::as_u64)
        .map(|n| n as usize)
        .ok_or_else(|| "GraphQL: no totalCount".to_string())
}

fn uid_of(edge: &Value) -> Result<&str, String> {
    edge.pointer("/node/uid")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("GraphQL: edge without node.uid: {edge}"))
}

/// First page with everything: 100 nodes, each a generated card with its e-mail addresses.
async fn page(ctx: &Ctx<'_>) -> PhaseResult {
    let by_uid: HashMap<&str, usize> = ctx
        .cards
        .iter()
        .map(|c| (c.uid.as_str(), c.index))
        .collect();
    let mut samples = Vec::new();
    for _ in 0..ctx.reps.graphql {
        let (reply, value) = post(ctx, PAGE_QUERY, json!({})).await?;
        let contacts = connection(&value)?;
        let edges = nodes(contacts)?;
        if edges.len() != PAGE.min(ctx.n()) {
            return Err(format!(
                "first page has {} contacts, expected {PAGE}",
                edges.len()
            ));
        }
        let total = total_count(contacts)?;
        if total != ctx.n() {
            return Err(format!("totalCount {total}, expected {}", ctx.n()));
        }
        for edge in edges {
            let uid = uid_of(edge)?;
            let index = *by_uid
                .get(uid)
                .ok_or_else(|| format!("unknown contact uid {uid}"))?;
            let got: BTreeSet<&str> = edge
                .pointer("/node/emails")
                .and_then(Value::as_array)
                .ok_or_else(|| format!("{uid}: no emails list"))?
                .iter()
                .filter_map(|e| e.get("email").and_then(Value::as_str))
                .collect();
            let wanted: BTreeSet<&str> = ctx.cards[index]
                .emails
                .iter()
                .map(|e| e.address.as_str())
                .collect();
            if got != wanted {
                return Err(format!("{uid}: emails {got:?}, expected {wanted:?}"));
            }
        }
        samples.push(reply.elapsed);
    }
    Ok(Measurement::from_durations(&samples))
}

/// `contacts(search:)` with the other-case Cyrillic family name: first checked in full by
/// paging through every result (untimed), then the first page timed.
async fn search(ctx: &Ctx<'_>, needle: &Needle) -> PhaseResult {
    let expected: BTreeSet<&str> = needle
        .expected
        .iter()
        .map(|&i| ctx.cards[i].uid.as_str())
        .collect();
    let mut found = BTreeSet::new();
    let mut after = Value::Null;
    loop {
        let (_, value) = post(
            ctx,
            SEARCH_QUERY,
            json!({ "q": needle.text, "after": after }),
        )
        .await?;
        let contacts = connection(&value)?;
        for edge in nodes(contacts)? {
            found.insert(uid_of(edge)?.to_string());
        }
        let next = contacts
            .pointer("/pageInfo/hasNextPage")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        after = contacts
            .pointer("/pageInfo/endCursor")
            .cloned()
            .unwrap_or(Value::Null);
        if !next || after.is_null() || found.len() > ctx.n() {
            break;
        }
    }
    let found_refs: BTreeSet<&str> = found.iter().map(String::as_str).collect();
    if found_refs != expected {
        let missing: Vec<_> = expected.difference(&found_refs).take(3).collect();
        let extra: Vec<_> = found_refs.difference(&expected).take(3).collect();
        return Err(format!(
            "search {:?}: expected {} contacts, found {}; missing {missing:?}, unexpected {extra:?}",
            needle.text,
            expected.len(),
            found.len()
        ));
    }
    let mut samples = Vec::new();
    for _ in 0..ctx.reps.graphql {
        let (reply, value) = post(ctx, SEARCH_QUERY, json!({ "q": needle.text })).await?;
        let contacts = connection(&value)?;
        let total = total_count(contacts)?;
        let edges = nodes(contacts)?;
        if total != expected.len() || edges.len() != PAGE.min(expected.len()) {
            return Err(format!(
                "search {:?}: totalCount {total} with {} on the page, expected {}",
                needle.text,
                edges.len(),
                expected.len()
            ));
        }
        for edge in edges {
            let uid = uid_of(edge)?;
            if !expected.contains(uid) {
                return Err(format!("search {:?}: unexpected {uid}", needle.text));
            }
        }
        samples.push(reply.elapsed);
    }
    Ok(Measurement::from_durations(&samples))
}
