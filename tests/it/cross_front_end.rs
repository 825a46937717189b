//! One record, two front ends, over HTTP: what a CardDAV client writes, GraphQL reads with the
//! same ETag; what GraphQL changes, CardDAV sees as a new ETag, ctag and sync token, with the
//! client's own properties intact; a GraphQL delete is a 404 in sync-collection.

use crate::common;

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .map(|i| i + start.len())
        .unwrap_or_else(|| panic!("{start} in {text}"));
    let to = from
        + text[from..]
            .find(end)
            .unwrap_or_else(|| panic!("{end} in {text}"));
    &text[from..to]
}

struct Both {
    http: reqwest::Client,
    base: String,
    token: String,
    basic: String,
    book_url: String,
}

impl Both {
    async fn graphql(&self, query: &str, variables: Value) -> Value {
        let body: Value = self
            .http
            .post(format!("{}/graphql", self.base))
            .bearer_auth(&self.token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(body.get("errors").is_none(), "{body}");
        body["data"].clone()
    }

    async fn dav(
        &self,
        method: &str,
        url: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let mut request = self
            .http
            .request(Method::from_bytes(method.as_bytes()).unwrap(), url)
            .header("Authorization", &self.basic)
            .body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.text().await.unwrap())
    }

    async fn book_state(&self) -> (String, String) {
        let (status, _, body) = self
            .dav(
                "PROPFIND",
                &self.book_url,
                r#"<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:cs="http://calendarserver.org/ns/"><d:prop><cs:getctag/><d:sync-token/></d:prop></d:propfind>"#,
                &[("Depth", "0"), ("Content-Type", "application/xml")],
            )
            .await;
        assert_eq!(status, 207, "{body}");
        (
            between(&body, "getctag>", "</").to_owned(),
            between(&body, "sync-token>", "</").to_owned(),
        )
    }
}

async fn setup() -> Both {
    let store = common::store().await;
    let user = common::user(&store, "both").await;
    let token = common::token(&store, &user).await;
    let base = common::serve(&store).await;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:test password", user.user_name))
    );
    let book_url = format!("{base}/dav/addressbooks/{}/contacts/", user.user_name);
    Both {
        http: reqwest::Client::new(),
        base,
        token,
        basic,
        book_url,
    }
}

const CARD: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//Apple Inc.//iPhone OS 17.4//EN\r\nN:Crusher;Beverly;;;\r\nFN:Beverly Crusher\r\nitem1.EMAIL;type=INTERNET;type=pref:bev@enterprise.example\r\nitem1.X-ABLabel:_$!<Other>!$_\r\nTEL;type=CELL;type=VOICE;type=pref:+1 415 555 0101\r\nX-APPLE-SPECIAL:keep me\r\nUID:5B9C1A54-2F43-4E1B-9C77-0D7B8A6E1F01\r\nEND:VCARD\r\n";

#[tokio::test]
async fn a_carddav_put_is_a_graphql_contact_with_the_same_etag() {
    let both = setup().await;
    let url = format!("{}crusher.vcf", both.book_url);
    let (status, headers, _) = both
        .dav(
            "PUT",
            &url,
            CARD,
            &[("Content-Type", "text/vcard"), ("If-None-Match", "*")],
        )
        .await;
    assert_eq!(status, 201);
    let dav_etag = headers["etag"]
        .to_str()
        .unwrap()
        .trim_matches('"')
        .to_owned();

    let found = both
        .graphql("{ contacts(search: \"crusher\") { edges { node { id etag firstName lastName emails { email } phoneNumbers { normalized } vcard } } } }", json!({}))
        .await;
    let node = &found["contacts"]["edges"][0]["node"];
    assert_eq!(node["etag"], dav_etag.as_str());
    assert_eq!(node["firstName"], "Beverly");
    assert_eq!(node["emails"][0]["email"], "bev@enterprise.example");
    assert_eq!(node["phoneNumbers"][0]["normalized"], "+14155550101");
    assert_eq!(node["vcard"], CARD, "GraphQL serves the stored bytes");
}

#[tokio::test]
async fn a_graphql_update_is_a_new_version_for_carddav_clients() {
    let both = setup().await;
    let url = format!("{}crusher.vcf", both.book_url);
    let (status, headers, _) = both
        .dav("PUT", &url, CARD, &[("Content-Type", "text/vcard")])
        .await;
    assert_eq!(status, 201);
    let first_etag = headers["etag"].to_str().unwrap().to_owned();
    let (ctag_before, token_before) = both.book_state().await;

    let id = both
        .graphql("{ contacts { edges { node { id } } } }", json!({}))
        .await["contacts"]["edges"][0]["node"]["id"]
        .clone();
    let updated = both
        .graphql("mutation($id: ID!) { updateContact(id: $id, input: { jobTitle: \"Chief Medical Officer\" }) { etag } }", json!({ "id": id }))
        .await;
    let new_etag = updated["updateContact"]["etag"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, headers, body) = both.dav("GET", &url, "", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(headers["etag"].to_str().unwrap(), format!("\"{new_etag}\""));
    assert_ne!(headers["etag"].to_str().unwrap(), first_etag);
    assert!(body.contains("TITLE:Chief Medical Officer"), "{body}");
    for kept in [
        "X-APPLE-SPECIAL:keep me",
        "item1.X-ABLabel:_$!<Other>!$_",
        "item1.EMAIL",
        "PRODID:-//Apple Inc.//iPhone OS 17.4//EN",
    ] {
        assert!(body.contains(kept), "lost {kept}:\n{body}");
    }
    let (ctag_after, token_after) = both.book_state().await;
    assert_ne!(ctag_after, ctag_before);
    assert_ne!(token_after, token_before);

    // The client's stale If-Match now fails instead of overwriting the API's edit.
    let (status, _, _) = both
        .dav(
            "PUT",
            &url,
            CARD,
            &[("Content-Type", "text/vcard"), ("If-Match", &first_etag)],
        )
        .await;
    assert_eq!(status, 412);

    // A sync from the old token reports the card as changed.
    let report = format!(
        r#"<?xml version="1.0"?><d:sync-collection xmlns:d="DAV:"><d:sync-token>{token_before}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#
    );
    let (status, _, body) = both
        .dav(
            "REPORT",
            &both.book_url,
            &report,
            &[("Content-Type", "application/xml")],
        )
        .await;
    assert_eq!(status, 207, "{body}");
    assert!(
        body.contains("crusher.vcf") && body.contains(&new_etag),
        "{body}"
    );
}

#[tokio::test]
async fn a_graphql_delete_is_a_404_in_sync_collection() {
    let both = setup().await;
    let url = format!("{}crusher.vcf", both.book_url);
    both.dav("PUT", &url, CARD, &[("Content-Type", "text/vcard")])
        .await;
    let (_, token) = both.book_state().await;
    let id = both
        .graphql("{ contacts { edges { node { id } } } }", json!({}))
        .await["contacts"]["edges"][0]["node"]["id"]
        .clone();
    both.graphql(
        "mutation($id: ID!) { deleteContact(id: $id) { deletedId } }",
        json!({ "id": id }),
    )
    .await;

    let report = format!(
        r#"<?xml version="1.0"?><d:sync-collection xmlns:d="DAV:"><d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#
    );
    let (status, _, body) = both
        .dav(
            "REPORT",
            &both.book_url,
            &report,
            &[("Content-Type", "application/xml")],
        )
        .await;
    assert_eq!(status, 207, "{body}");
    let response = between(&body, "crusher.vcf", "</d:response>");
    assert!(response.contains("HTTP/1.1 404 Not Found"), "{body}");
    let (status, _, _) = both.dav("GET", &url, "", &[]).await;
    assert_eq!(status, 404);

    // And a group made in GraphQL is a group card for CardDAV clients.
    both.graphql(
        "mutation { createGroup(name: \"Sickbay\") { group { uid } } }",
        json!({}),
    )
    .await;
    let (status, _, body) = both
        .dav("PROPFIND", &both.book_url, r#"<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>"#, &[("Depth", "1")])
        .await;
    assert_eq!(status, 207);
    let href = body
        .split("<d:href>")
        .filter_map(|s| s.split("</d:href>").next())
        .find(|h| h.ends_with(".vcf"))
        .expect("the group card is listed")
        .to_owned();
    let (_, _, card) = both
        .dav(
            "GET",
            &format!("{}{}", both.base, href),
            "",
            &[(
                "User-Agent",
                "macOS/14.4 (23E214) AddressBookCore/2487.500.71",
            )],
        )
        .await;
    assert!(
        card.contains("VERSION:3.0") && card.contains("X-ADDRESSBOOKSERVER-KIND:group"),
        "{card}"
    );
}

/// The same stored card asked for the same version gives the same bytes over CardDAV GET,
/// GraphQL `vcard` and `exportContacts` (`store::representation`): nothing asked is the
/// stored bytes, a 2.1 card PUT by an old client included (it used to come back from GraphQL as
/// 3.0 while CardDAV served it as stored); another version asked is the one conversion.
#[tokio::test]
async fn carddav_graphql_and_export_serve_a_stored_card_alike_in_every_version() {
    let both = setup().await;
    let cards = [
        (
            "2.1",
            "BEGIN:VCARD\r\nVERSION:2.1\r\nN:Riker;William\r\nFN:William Riker\r\nTEL;CELL:+1 415 555 0102\r\nEMAIL;INTERNET;PREF:riker@enterprise.example\r\nUID:riker-21\r\nEND:VCARD\r\n",
        ),
        (
            "3.0",
            "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Troi;Deanna;;;\r\nFN:Deanna Troi\r\nTEL;TYPE=CELL:+1 415 555 0103\r\nUID:troi-30\r\nEND:VCARD\r\n",
        ),
        (
            "4.0",
            "BEGIN:VCARD\r\nVERSION:4.0\r\nN:Data;;;;\r\nFN:Data\r\nTEL;TYPE=cell;VALUE=uri:tel:+1-415-555-0104\r\nUID:data-40\r\nEND:VCARD\r\n",
        ),
    ];
    for (stored_version, card) in cards {
        let url = format!("{}card.vcf", both.book_url);
        let (status, _, body) = both
            .dav("PUT", &url, card, &[("Content-Type", "text/vcard")])
            .await;
        assert_eq!(status, 201, "{stored_version}: {body}");
        let get = |accept: Option<&'static str>| {
            let (both, url) = (&both, url.clone());
            async move {
                let headers: Vec<(&str, &str)> =
                    accept.map(|a| ("Accept", a)).into_iter().collect();
                let (status, _, text) = both.dav("GET", &url, "", &headers).await;
                assert_eq!(status, 200, "{text}");
                text
            }
        };
        let as_stored = get(None).await;
        let as_3 = get(Some("text/vcard; version=3.0")).await;
        let as_4 = get(Some("text/vcard; version=4.0")).await;
        assert_eq!(
            as_stored, card,
            "{stored_version}: CardDAV serves the stored bytes"
        );
        assert!(as_3.contains("VERSION:3.0"), "{stored_version}: {as_3}");
        assert!(as_4.contains("VERSION:4.0"), "{stored_version}: {as_4}");

        let node = both
            .graphql(
                "{ contacts { edges { node { vcard v3: vcard(version: V3) v4: vcard(version: V4) } } } }",
                json!({}),
            )
            .await["contacts"]["edges"][0]["node"]
            .clone();
        assert_eq!(node["vcard"], as_stored.as_str(), "{stored_version}");
        assert_eq!(node["v3"], as_3.as_str(), "{stored_version}");
        assert_eq!(node["v4"], as_4.as_str(), "{stored_version}");

        let export = both
            .graphql(
                "{ v3: exportContacts(format: VCF3) v4: exportContacts(format: VCF4) }",
                json!({}),
            )
            .await;
        assert_eq!(export["v3"], as_3.as_str(), "{stored_version}");
        assert_eq!(export["v4"], as_4.as_str(), "{stored_version}");

        let (status, _, _) = both.dav("DELETE", &url, "", &[]).await;
        assert_eq!(status, 204);
    }
}
