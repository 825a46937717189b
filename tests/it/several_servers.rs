//! Several `rolodex serve` processes on one database, the way a deployment outgrows one
//! machine (README, "Several servers, one database"): clients spread over two processes see
//! one store. An If-Match race split over both has exactly one winner, and sync tokens taken
//! from either process mean the same changes on the other. (Subscriptions across processes:
//! `graphql_subscription`.)

use crate::common;
use crate::dav_client::{between, card, fixture};

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};

/// One CardDAV request with a bearer token; returns the status, the ETag header and the body.
async fn dav(
    method: &str,
    url: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: String,
) -> (StatusCode, Option<String>, String) {
    let mut request = reqwest::Client::new()
        .request(Method::from_bytes(method.as_bytes()).unwrap(), url)
        .bearer_auth(token)
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let reply = request.send().await.unwrap();
    let status = reply.status();
    let etag = reply
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, etag, reply.text().await.unwrap())
}

/// The entries of a sync-collection answer, href -> ETag (`None` for a removed card), and its
/// new token.
fn sync_entries(body: &str) -> (BTreeMap<String, Option<String>>, String) {
    let mut entries = BTreeMap::new();
    for response in body.split("<d:response>").skip(1) {
        let href = between(response, "<d:href>", "</d:href>").to_owned();
        let etag = response
            .contains("<d:getetag>")
            .then(|| between(response, "<d:getetag>", "</d:getetag>").to_owned());
        entries.insert(href, etag);
    }
    let token = between(body, "<d:sync-token>", "</d:sync-token>").to_owned();
    (entries, token)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_if_match_race_over_two_processes_has_one_winner() {
    let store = common::store().await;
    let alice = common::user(&store, "race").await;
    let token = common::token(&store, &alice).await;
    let (_a, a) = common::serve_process(&[]).await;
    let (_b, b) = common::serve_process(&[]).await;
    let path = format!("/dav/addressbooks/{}/contacts/race.vcf", alice.user_name);

    let (status, etag, _) = dav(
        "PUT",
        &format!("{a}{path}"),
        &token,
        &[("If-None-Match", "*"), ("Content-Type", "text/vcard")],
        card("race", "Before"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let etag = etag.expect("ETag of the created card");

    // Sixteen writers, half through each process, all holding the same ETag.
    let writers: Vec<_> = (0..16)
        .map(|i| {
            let base = if i % 2 == 0 { a.clone() } else { b.clone() };
            let (url, token, etag) = (format!("{base}{path}"), token.clone(), etag.clone());
            tokio::spawn(async move {
                let (status, _, _) = dav(
                    "PUT",
                    &url,
                    &token,
                    &[("If-Match", &etag), ("Content-Type", "text/vcard")],
                    card("race", &format!("Writer {i}")),
                )
                .await;
                (i, status)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for writer in writers {
        let (i, status) = writer.await.unwrap();
        match status {
            StatusCode::NO_CONTENT | StatusCode::OK | StatusCode::CREATED => winners.push(i),
            StatusCode::PRECONDITION_FAILED => {}
            other => panic!("writer {i}: {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");

    // Both processes serve the winner's card under one new ETag.
    let mut seen = Vec::new();
    for base in [&a, &b] {
        let (status, etag, body) =
            dav("GET", &format!("{base}{path}"), &token, &[], String::new()).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            body.contains(&format!("FN:Writer {}\r\n", winners[0])),
            "{body}"
        );
        seen.push(etag.expect("ETag"));
    }
    assert_eq!(seen[0], seen[1]);
    assert_ne!(seen[0], etag);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sync_token_from_one_process_means_the_same_changes_on_the_other() {
    let store = common::store().await;
    let alice = common::user(&store, "synctoken").await;
    let token = common::token(&store, &alice).await;
    let (_a, a) = common::serve_process(&[]).await;
    let (_b, b) = common::serve_process(&[]).await;
    let book = format!("/dav/addressbooks/{}/contacts/", alice.user_name);
    let put = |base: &str, name: &str| {
        let url = format!("{base}{book}{name}.vcf");
        let (token, body) = (token.clone(), card(name, name));
        async move {
            let (status, _, _) =
                dav("PUT", &url, &token, &[("Content-Type", "text/vcard")], body).await;
            assert!(status.is_success(), "PUT {url}: {status}");
        }
    };
    put(&a, "old").await;

    let (status, _, initial) = dav(
        "REPORT",
        &format!("{a}{book}"),
        &token,
        &[("Depth", "1"), ("Content-Type", "application/xml")],
        fixture("davx5-sync-initial.xml"),
    )
    .await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    let (entries, first_token) = sync_entries(&initial);
    assert_eq!(entries.len(), 1);

    // Ten new cards written at once through both processes, and the old one deleted through B.
    let writes: Vec<_> = (0..10)
        .map(|i| {
            let base = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(put(&base, &format!("new-{i}")))
        })
        .collect();
    for write in writes {
        write.await.unwrap();
    }
    let (status, _, _) = dav(
        "DELETE",
        &format!("{b}{book}old.vcf"),
        &token,
        &[],
        String::new(),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // The token taken from A means the same changes on A and on B: every new card with its
    // ETag and the deletion, and one new token.
    let sync = |token: &str| fixture("davx5-sync.xml").replace("{{TOKEN}}", token);
    let mut answers = Vec::new();
    for base in [&a, &b] {
        let (status, _, body) = dav(
            "REPORT",
            &format!("{base}{book}"),
            &token,
            &[("Depth", "1"), ("Content-Type", "application/xml")],
            sync(&first_token),
        )
        .await;
        assert_eq!(status, StatusCode::MULTI_STATUS, "{body}");
        answers.push(sync_entries(&body));
    }
    assert_eq!(answers[0], answers[1]);
    let (changes, next_token) = &answers[0];
    assert_eq!(changes.len(), 11, "{changes:?}");
    assert_eq!(changes[&format!("{book}old.vcf")], None);
    for i in 0..10 {
        assert!(
            changes[&format!("{book}new-{i}.vcf")].is_some(),
            "{changes:?}"
        );
    }
    assert_ne!(next_token, &first_token);

    // And the new token, from either process, is up to date on the other.
    for base in [&b, &a] {
        let (status, _, body) = dav(
            "REPORT",
            &format!("{base}{book}"),
            &token,
            &[("Depth", "1"), ("Content-Type", "application/xml")],
            sync(next_token),
        )
        .await;
        assert_eq!(status, StatusCode::MULTI_STATUS);
        assert_eq!(sync_entries(&body), (BTreeMap::new(), next_token.clone()));
    }
}
