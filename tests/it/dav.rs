//! The CardDAV front end through the real router against a real PostgreSQL: discovery, every
//! method, report and precondition, request bodies of real clients (tests/fixtures/dav),
//! version negotiation, bad input, tenant isolation and the cross-front-end cases on the store
//! level. Multistatus bodies are snapshotted (tests/it/snapshots/) with volatile values redacted.

use crate::common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use rolodex::domain::contact::ContactPatch;
use rolodex::domain::etag;
use rolodex::store::ContactListQuery;

use crate::dav_client;

use dav_client::*;
// ---------------------------------------------------------------------------------------------
// Discovery and authentication

#[tokio::test]
async fn well_known_redirects_without_authentication() {
    let store = common::store().await;
    let c = client(&store, "wk").await;
    for method in ["GET", "PROPFIND", "OPTIONS"] {
        let request = Request::builder()
            .method(method)
            .uri("/.well-known/carddav")
            .body(Body::empty())
            .unwrap();
        let reply = send_raw(&c.router, request).await;
        assert_eq!(reply.status, StatusCode::MOVED_PERMANENTLY, "{method}");
        assert_eq!(reply.header("location"), Some("/dav/"));
    }
}

#[tokio::test]
async fn authentication_is_required_and_both_passwords_work() {
    let store = common::store().await;
    let c = client(&store, "auth").await;
    let anonymous = Request::builder()
        .method("PROPFIND")
        .uri(c.home())
        .body(Body::empty())
        .unwrap();
    let reply = send_raw(&c.router, anonymous).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(
        reply
            .headers
            .get_all("www-authenticate")
            .iter()
            .any(|v| v.to_str().unwrap().starts_with("Basic realm="))
    );
    let wrong = Request::builder()
        .method("PROPFIND")
        .uri(c.home())
        .header("authorization", basic(&c.user, "wrong"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send_raw(&c.router, wrong).await.status,
        StatusCode::UNAUTHORIZED
    );
    // The account password (common::user sets "test password") works as well as the app one.
    let account = Request::builder()
        .method("PROPFIND")
        .uri(c.home())
        .header("authorization", basic(&c.user, "test password"))
        .header("depth", "0")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send_raw(&c.router, account).await.status,
        StatusCode::MULTI_STATUS
    );
    // OPTIONS on the root answers capability discovery without credentials.
    let options = Request::builder()
        .method("OPTIONS")
        .uri("/dav/")
        .body(Body::empty())
        .unwrap();
    let reply = send_raw(&c.router, options).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.header("dav"),
        Some("1, 3, addressbook, extended-mkcol")
    );
}

#[tokio::test]
async fn options_advertise_carddav() {
    let store = common::store().await;
    let c = client(&store, "opt").await;
    for path in [c.home(), c.book(), c.card("x.vcf")] {
        let reply = c.send("OPTIONS", &path, &[], Body::empty()).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            reply.header("dav"),
            Some("1, 3, addressbook, extended-mkcol")
        );
        assert!(reply.header("allow").unwrap().contains("PROPFIND"));
    }
}

#[tokio::test]
async fn discovery_as_macos_does_it() {
    let store = common::store().await;
    let c = client(&store, "mac").await;
    store
        .create_address_book(&c.principal, "work", "Work", "Colleagues")
        .await
        .unwrap();
    let mac = [("user-agent", "macOS/13.0 (22A380) AddressBook/2487.200.9")];

    // 1. current-user-principal on the redirect target.
    let reply = c
        .send(
            "PROPFIND",
            "/dav/",
            &[("depth", "0"), mac[0]],
            fixture("macos-current-user-principal.xml"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
    insta::assert_snapshot!("macos_root", c.redact(&reply.body));
    let principal = between(
        between(
            &reply.body,
            "<d:current-user-principal>",
            "</d:current-user-principal>",
        ),
        "<d:href>",
        "</d:href>",
    )
    .to_owned();
    assert_eq!(principal, format!("/dav/principals/{}/", c.user));

    // 2. The principal: home set, principal URL, display name, collections.
    let reply = c
        .send(
            "PROPFIND",
            &principal,
            &[("depth", "0"), mac[0]],
            fixture("macos-principal.xml"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
    insta::assert_snapshot!("macos_principal", c.redact(&reply.body));
    let home = between(
        between(
            &reply.body,
            "<card:addressbook-home-set>",
            "</card:addressbook-home-set>",
        ),
        "<d:href>",
        "</d:href>",
    )
    .to_owned();
    assert_eq!(home, c.home());

    // 3. The home, Depth 1: the default book first, with getctag.
    let reply = c
        .send(
            "PROPFIND",
            &home,
            &[("depth", "1"), mac[0]],
            fixture("macos-home.xml"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
    insta::assert_snapshot!("macos_home", c.redact(&reply.body));
    let first_book = reply.body.find("/contacts/</d:href>").unwrap();
    let second_book = reply.body.find("/work/</d:href>").unwrap();
    assert!(first_book < second_book, "the default book is listed first");
    assert!(reply.body.contains("<cs:getctag>"));

    // 4. Apple's PROPPATCH of me-card on the home is accepted.
    let body = fixture("macos-me-card.xml").replace("{{CARD_HREF}}", &c.card("me.vcf"));
    let reply = c.send("PROPPATCH", &home, &[mac[0]], body).await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
    assert!(reply.body.contains("<cs:me-card/>"));
    assert!(reply.body.contains("HTTP/1.1 200 OK"));
}

// ---------------------------------------------------------------------------------------------
// Cards: PUT / GET / HEAD / DELETE with preconditions

#[tokio::test]
async fn put_get_delete_with_preconditions() {
    let store = common::store().await;
    let c = client(&store, "crud").await;
    let path = c.card("picard.vcf");
    let body = common::fixture("apple-3.0.vcf");

    let created = c.put(&path, &body, &[("if-none-match", "*")]).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let tag = etag::quoted(&etag::of_bytes(body.as_bytes()));
    assert_eq!(created.header("etag"), Some(tag.as_str()));

    let again = c.put(&path, &body, &[("if-none-match", "*")]).await;
    assert_eq!(again.status, StatusCode::PRECONDITION_FAILED);

    let got = c.get(&path, &[]).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body, body, "GET returns the bytes that were PUT");
    assert_eq!(
        got.header("content-type"),
        Some("text/vcard; charset=utf-8")
    );
    assert_eq!(got.header("etag"), Some(tag.as_str()));
    assert!(got.header("last-modified").unwrap().ends_with(" GMT"));

    let head = c.send("HEAD", &path, &[], Body::empty()).await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());
    assert_eq!(head.header("etag"), Some(tag.as_str()));
    assert_eq!(
        head.header("content-length"),
        Some(body.len().to_string().as_str())
    );

    let not_modified = c.get(&path, &[("if-none-match", &tag)]).await;
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);

    // Update: a stale ETag fails, the current one (quoted, as DAVx5 sends it) succeeds.
    let edited = body.replace("Ship's Captain", "Admiral");
    let stale = c
        .put(
            &path,
            &edited,
            &[("if-match", "\"0123456789abcdef0123456789abcdef\"")],
        )
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let updated = c.put(&path, &edited, &[("if-match", &tag)]).await;
    assert_eq!(updated.status, StatusCode::NO_CONTENT);
    let new_tag = etag::quoted(&etag::of_bytes(edited.as_bytes()));
    assert_eq!(updated.header("etag"), Some(new_tag.as_str()));
    // If-Match: * and lists.
    assert_eq!(
        c.put(&c.card("nope.vcf"), &card("n", "N"), &[("if-match", "*")])
            .await
            .status,
        StatusCode::PRECONDITION_FAILED
    );
    assert_eq!(
        c.put(
            &path,
            &edited,
            &[("if-match", &format!("\"x\", {new_tag}"))]
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );

    let wrong_delete = c
        .send("DELETE", &path, &[("if-match", &tag)], Body::empty())
        .await;
    assert_eq!(wrong_delete.status, StatusCode::PRECONDITION_FAILED);
    let deleted = c
        .send("DELETE", &path, &[("if-match", &new_tag)], Body::empty())
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(c.get(&path, &[]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        c.send("DELETE", &path, &[], Body::empty()).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn etag_only_when_stored_bytes_equal_the_body() {
    let store = common::store().await;
    let c = client(&store, "bom").await;
    // A byte-order mark is dropped when storing: the stored bytes differ, so no ETag.
    let body = format!("\u{feff}{}", card("bom-1", "Bom"));
    let reply = c.put(&c.card("bom.vcf"), &body, &[]).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.header("etag"), None);
    assert_eq!(
        c.get(&c.card("bom.vcf"), &[]).await.body,
        card("bom-1", "Bom")
    );
}

#[tokio::test]
async fn hrefs_keep_one_encoding() {
    let store = common::store().await;
    let c = client(&store, "enc").await;
    for (i, encoded) in [
        "a%40b.vcf",
        "with%20space.vcf",
        "J%C3%BCrgen.vcf",
        "100%25.vcf",
    ]
    .iter()
    .enumerate()
    {
        let reply = c
            .put(&c.card(encoded), &card(&format!("enc-{i}"), "E"), &[])
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{encoded}");
    }
    // The raw '@' form names the same resource.
    assert_eq!(c.get(&c.card("a@b.vcf"), &[]).await.status, StatusCode::OK);
    let listing = c
        .propfind(&c.book(), "1", &fixture("thunderbird-propfind.xml"))
        .await;
    for encoded in [
        "a%40b.vcf",
        "with%20space.vcf",
        "J%C3%BCrgen.vcf",
        "100%25.vcf",
    ] {
        let href = c.card(encoded);
        assert!(
            listing.body.contains(&format!("<d:href>{href}</d:href>")),
            "{href} listed as PUT"
        );
        assert_eq!(c.get(&href, &[]).await.status, StatusCode::OK);
    }
    // The store holds decoded names.
    let names: Vec<String> = store
        .card_metas(&c.principal, c.book_id, None)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.href)
        .collect();
    assert!(names.contains(&"a@b.vcf".to_owned()));
    assert!(names.contains(&"Jürgen.vcf".to_owned()));
    assert!(names.contains(&"100%.vcf".to_owned()));
}

// ---------------------------------------------------------------------------------------------
// PROPFIND

#[tokio::test]
async fn propfind_book_and_cards() {
    let store = common::store().await;
    let c = client(&store, "pf").await;
    c.put(&c.card("b.vcf"), &card("uid-b", "Bravo"), &[]).await;
    c.put(&c.card("a.vcf"), &card("uid-a", "Alpha"), &[]).await;

    let book = c.propfind(&c.book(), "0", &fixture("davx5-book.xml")).await;
    assert_eq!(book.status, StatusCode::MULTI_STATUS);
    insta::assert_snapshot!("propfind_book_davx5", c.redact(&book.body));

    let listing = c
        .propfind(&c.book(), "1", &fixture("thunderbird-propfind.xml"))
        .await;
    insta::assert_snapshot!("propfind_book_depth1", c.redact(&listing.body));
    // Every card carries a getetag (Thunderbird needs it, INTEROP item 20).
    assert_eq!(listing.body.matches("<d:getetag>").count(), 2);

    let allprop = c.propfind(&c.card("a.vcf"), "0", "").await;
    insta::assert_snapshot!("propfind_card_allprop", c.redact(&allprop.body));
    let propname = c
        .propfind(
            &c.card("a.vcf"),
            "0",
            r#"<propfind xmlns="DAV:"><propname/></propfind>"#,
        )
        .await;
    insta::assert_snapshot!("propfind_card_propname", c.redact(&propname.body));

    // Unknown properties: a 404 propstat, never a failed request; Brief/Prefer drop it.
    let unknown = r#"<propfind xmlns="DAV:" xmlns:x="urn:example:x"><prop><getetag/><x:color/><quota-used-bytes/></prop></propfind>"#;
    let reply = c.propfind(&c.card("a.vcf"), "0", unknown).await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
    assert!(reply.body.contains("<color xmlns=\"urn:example:x\"/>"));
    assert!(reply.body.contains("HTTP/1.1 404 Not Found"));
    let brief = c
        .send(
            "PROPFIND",
            &c.card("a.vcf"),
            &[("depth", "0"), ("brief", "t")],
            unknown.to_owned(),
        )
        .await;
    // The 404 propstat is gone (match the status line: the ETag is hex and may hold "404").
    assert!(!brief.body.contains("404 Not Found"), "{}", brief.body);
    assert!(!brief.body.contains("color"), "{}", brief.body);
    assert!(brief.body.contains("getetag"), "{}", brief.body);
    let minimal = c
        .send(
            "PROPFIND",
            &c.card("a.vcf"),
            &[("depth", "0"), ("prefer", "return=minimal")],
            unknown.to_owned(),
        )
        .await;
    // The 404 propstat is gone (match the status line: the ETag is hex and may hold "404").
    assert!(!minimal.body.contains("404 Not Found"), "{}", minimal.body);
    assert!(!minimal.body.contains("color"), "{}", minimal.body);
    assert!(minimal.body.contains("getetag"), "{}", minimal.body);

    // Depth 0 on the book does not list cards; a missing card is 404.
    let depth0 = c.propfind(&c.book(), "0", "").await;
    assert!(!depth0.body.contains("a.vcf"));
    assert_eq!(
        c.propfind(&c.card("zzz.vcf"), "0", "").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn propfind_lists_without_per_card_queries() {
    let store = common::store().await;
    let c = client(&store, "perf").await;
    let body = fixture("thunderbird-propfind.xml");
    // Warm up (authentication, pool) so only the listing itself is counted.
    c.propfind(&c.book(), "1", &body).await;
    let before = store.queries_executed();
    c.propfind(&c.book(), "1", &body).await;
    let empty = store.queries_executed() - before;
    for i in 0..30 {
        c.put(
            &c.card(&format!("{i}.vcf")),
            &card(&format!("p{i}"), "P"),
            &[],
        )
        .await;
    }
    let before = store.queries_executed();
    let reply = c.propfind(&c.book(), "1", &body).await;
    let full = store.queries_executed() - before;
    assert_eq!(reply.body.matches("<d:getetag>").count(), 30);
    assert_eq!(full, empty, "queries do not grow with the number of cards");
}

// ---------------------------------------------------------------------------------------------
// vCard versions

#[tokio::test]
async fn versions_are_negotiated() {
    let store = common::store().await;
    let c = client(&store, "ver").await;
    let v4 = common::fixture("davx5-4.0.vcf");
    let v3 = common::fixture("apple-3.0.vcf");
    let group = common::fixture("apple-group-3.0.vcf");
    c.put(&c.card("crusher.vcf"), &v4, &[]).await;
    c.put(&c.card("picard.vcf"), &v3, &[]).await;
    c.put(&c.card("crew.vcf"), &group, &[]).await;

    // As stored, unless asked.
    assert_eq!(c.get(&c.card("crusher.vcf"), &[]).await.body, v4);
    let dav = [(
        "user-agent",
        "DAVx5/4.3 (2023/05/01; dav4jvm; okhttp/4.11.0) Android/13",
    )];
    assert_eq!(c.get(&c.card("crusher.vcf"), &dav).await.body, v4);

    // Apple clients get 3.0 when they do not ask (INTEROP item 6), with the same ETag.
    let mac = [("user-agent", "macOS/13.0 (22A380) AddressBook/2487.200.9")];
    let as_apple = c.get(&c.card("crusher.vcf"), &mac).await;
    assert!(as_apple.body.contains("VERSION:3.0\r\n"));
    assert!(
        as_apple
            .body
            .contains("EMAIL;TYPE=INTERNET,WORK,pref:beverly"),
        "PREF=1 became TYPE=pref:\n{}",
        as_apple.body
    );
    assert!(!as_apple.body.contains("data:"), "PHOTO became ENCODING=b");
    assert_eq!(
        as_apple.header("etag"),
        Some(etag::quoted(&etag::of_bytes(v4.as_bytes())).as_str())
    );
    assert_eq!(c.get(&c.card("picard.vcf"), &mac).await.body, v3);

    // Accept on GET.
    let to4 = c
        .get(
            &c.card("picard.vcf"),
            &[("accept", "text/vcard; version=4.0")],
        )
        .await;
    assert!(to4.body.contains("VERSION:4.0\r\n"));
    assert!(to4.body.contains("PREF=1"));
    let group4 = c
        .get(&c.card("crew.vcf"), &[("accept", "text/vcard;version=4.0")])
        .await;
    assert!(group4.body.contains("KIND:group"), "{}", group4.body);
    assert!(
        group4
            .body
            .contains("MEMBER:urn:uuid:6F9A3C1E-2B4D-4E8F-9A1B-3C5D7E9F1A2B")
    );
    let to3 = c
        .get(
            &c.card("crusher.vcf"),
            &[("accept", "text/vcard;version=3.0")],
        )
        .await;
    assert!(to3.body.contains("VERSION:3.0\r\n"));

    // address-data version in REPORTs.
    let hrefs = format!(
        "<href>{}</href><href>{}</href>",
        c.card("picard.vcf"),
        c.card("crew.vcf")
    );
    let multiget = fixture("davx5-multiget.xml").replace("{{HREFS}}", &hrefs);
    let reply = c.report(&c.book(), &multiget).await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
    assert_eq!(reply.body.matches("VERSION:4.0&#13;").count(), 2);
    assert!(reply.body.contains("KIND:group"));
    let unsupported = r#"<C:addressbook-multiget xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><prop><C:address-data content-type="text/vcard" version="2.1"/></prop><href>/x</href></C:addressbook-multiget>"#;
    let reply = c.report(&c.book(), unsupported).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.body.contains("<card:supported-address-data/>"));
}

// ---------------------------------------------------------------------------------------------
// REPORTs

#[tokio::test]
async fn multiget_returns_cards_and_404s() {
    let store = common::store().await;
    let c = client(&store, "mg").await;
    let other = client(&store, "mgother").await;
    let v3 = common::fixture("apple-3.0.vcf");
    c.put(&c.card("picard.vcf"), &v3, &[]).await;
    c.put(&c.card("two.vcf"), &card("two", "Two"), &[]).await;
    other
        .put(&other.card("secret.vcf"), &card("secret", "Secret"), &[])
        .await;

    let hrefs = [
        c.card("picard.vcf"),
        c.card("two.vcf"),
        c.card("missing.vcf"),
        other.card("secret.vcf"),
    ]
    .iter()
    .map(|h| format!("<d:href>{h}</d:href>"))
    .collect::<String>();
    let body = fixture("thunderbird-multiget.xml").replace("{{HREFS}}", &hrefs);
    let reply = c.report(&c.book(), &body).await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
    let redacted = c.redact(&reply.body).replace(&other.user, "OTHER");
    insta::assert_snapshot!("multiget_thunderbird", redacted);
    assert!(!reply.body.contains("Secret"));
    // The stored bytes, CRLF kept through XML.
    let data = between(&reply.body, "<card:address-data>", "</card:address-data>");
    let unescaped = quick_xml::escape::unescape(data).unwrap();
    assert_eq!(unescaped, v3);
}

#[tokio::test]
async fn sync_collection_reports_changes_and_deletions() {
    let store = common::store().await;
    let c = client(&store, "sync").await;
    c.put(&c.card("a.vcf"), &card("a", "A"), &[]).await;
    c.put(&c.card("b.vcf"), &card("b", "B"), &[]).await;
    c.put(&c.card("c.vcf"), &card("c", "C"), &[]).await;

    let initial = c
        .report(&c.book(), &fixture("davx5-sync-initial.xml"))
        .await;
    assert_eq!(initial.status, StatusCode::MULTI_STATUS);
    insta::assert_snapshot!("sync_initial", c.redact(&initial.body));
    let token = between(&initial.body, "<d:sync-token>", "</d:sync-token>").to_owned();
    assert_eq!(token, c.sync_token().await);

    // Nothing changed: an empty answer with the same token.
    let sync = |token: &str| fixture("davx5-sync.xml").replace("{{TOKEN}}", token);
    let unchanged = c.report(&c.book(), &sync(&token)).await;
    assert!(!unchanged.body.contains("<d:response>"));
    assert!(unchanged.body.contains(&token));

    // Update b, delete c, delete a and reuse its name for a new card, add d.
    c.put(&c.card("b.vcf"), &card("b", "B2"), &[]).await;
    c.send("DELETE", &c.card("c.vcf"), &[], Body::empty()).await;
    c.send("DELETE", &c.card("a.vcf"), &[], Body::empty()).await;
    c.put(&c.card("a.vcf"), &card("a-new", "A again"), &[])
        .await;
    c.put(&c.card("d.vcf"), &card("d", "D"), &[]).await;
    let changed = c.report(&c.book(), &sync(&token)).await;
    assert_eq!(changed.status, StatusCode::MULTI_STATUS);
    insta::assert_snapshot!("sync_changes", c.redact(&changed.body));
    assert_eq!(
        changed.body.matches("<d:response>").count(),
        4,
        "one entry per href"
    );
    let new_token = between(&changed.body, "<d:sync-token>", "</d:sync-token>").to_owned();
    assert_ne!(new_token, token);

    // Invalid tokens: 403 with DAV:valid-sync-token, so clients fall back to a full sync.
    for bad in [
        "garbage",
        "https://rolodex.invalid/sync/999999999/1",
        &new_token.replace("/sync/", "/sync/1"),
        &format!("{}9999", new_token),
    ] {
        let reply = c.report(&c.book(), &sync(bad)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{bad}");
        assert!(reply.body.contains("<d:valid-sync-token/>"));
    }
}

#[tokio::test]
async fn sync_collection_truncates_with_507() {
    let store = common::store().await;
    let c = client(&store, "trunc").await;
    for i in 0..5 {
        c.put(
            &c.card(&format!("{i}.vcf")),
            &card(&format!("t{i}"), "T"),
            &[],
        )
        .await;
    }
    let limited = |token: &str| {
        format!(
            r#"<sync-collection xmlns="DAV:"><sync-token>{token}</sync-token><sync-level>1</sync-level><limit><nresults>2</nresults></limit><prop><getetag/></prop></sync-collection>"#
        )
    };
    let mut token = String::new();
    let mut seen = Vec::new();
    for round in 0..10 {
        let reply = c.report(&c.book(), &limited(&token)).await;
        assert_eq!(reply.status, StatusCode::MULTI_STATUS);
        let truncated = reply.body.contains("HTTP/1.1 507 Insufficient Storage");
        if round == 0 {
            assert!(truncated);
            assert!(reply.body.contains("<d:number-of-matches-within-limits/>"));
        }
        for part in reply.body.split("<d:href>").skip(1) {
            let href = &part[..part.find("</d:href>").unwrap()];
            if href.ends_with(".vcf") {
                seen.push(href.to_owned());
            }
        }
        token = between(&reply.body, "<d:sync-token>", "</d:sync-token>").to_owned();
        if !truncated {
            break;
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 5, "every card arrives across truncated rounds");
}

#[tokio::test]
async fn addressbook_query_filters() {
    let store = common::store().await;
    let c = client(&store, "query").await;
    c.put(
        &c.card("picard.vcf"),
        &common::fixture("apple-3.0.vcf"),
        &[],
    )
    .await;
    c.put(
        &c.card("crusher.vcf"),
        &common::fixture("davx5-4.0.vcf"),
        &[],
    )
    .await;
    c.put(&c.card("smith.vcf"), &card("smith", "Anna Smith"), &[])
        .await;
    // A card without FN does not exist for vCard, but one without NICKNAME does.

    // tsdav: an empty prop-filter means "is defined" (INTEROP item 16), without Depth.
    let reply = c
        .send(
            "REPORT",
            &c.book(),
            &[],
            fixture("tsdav-query-empty-prop-filter.xml"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
    assert_eq!(reply.body.matches("<d:getetag>").count(), 3);

    // Evolution's search.
    let search = |text: &str| fixture("evolution-query.xml").replace("{{TEXT}}", text);
    let reply = c.report(&c.book(), &search("SMITH")).await;
    insta::assert_snapshot!("query_evolution", c.redact(&reply.body));
    let reply = c.report(&c.book(), &search("starfleet.example")).await;
    assert!(reply.body.contains("crusher.vcf"));
    assert_eq!(reply.body.matches("<d:response>").count(), 1);

    // param-filter, negate, allof, address-data, limit.
    let query = |filter: &str, extra: &str| {
        format!(
            r#"<C:addressbook-query xmlns:d="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><C:address-data/></d:prop><C:filter {filter}</C:filter>{extra}</C:addressbook-query>"#
        )
    };
    let work_fax = query(
        r#"test="anyof"><C:prop-filter name="TEL" test="allof"><C:param-filter name="TYPE"><C:text-match match-type="equals">fax</C:text-match></C:param-filter><C:param-filter name="TYPE"><C:text-match match-type="equals">home</C:text-match></C:param-filter></C:prop-filter>"#,
        "",
    );
    let reply = c.report(&c.book(), &work_fax).await;
    assert_eq!(reply.body.matches("<d:response>").count(), 1);
    assert!(reply.body.contains("picard.vcf"));
    assert!(reply.body.contains("BEGIN:VCARD"));
    let not_nickname = query(
        r#"test="allof"><C:prop-filter name="NICKNAME"><C:is-not-defined/></C:prop-filter><C:prop-filter name="EMAIL"><C:text-match negate-condition="yes" match-type="ends-with">.example</C:text-match></C:prop-filter>"#,
        "",
    );
    let reply = c.report(&c.book(), &not_nickname).await;
    assert_eq!(reply.body.matches("<d:response>").count(), 1);
    assert!(reply.body.contains("smith.vcf"));
    let limited = query(
        r#"><C:prop-filter name="UID"/>"#,
        "<C:limit><C:nresults>2</C:nresults></C:limit>",
    );
    let reply = c.report(&c.book(), &limited).await;
    assert_eq!(reply.body.matches("HTTP/1.1 200 OK").count(), 2);
    assert!(reply.body.contains("HTTP/1.1 507 Insufficient Storage"));
    let bad_collation = query(
        r#"><C:prop-filter name="FN"><C:text-match collation="i;klingon">x</C:text-match></C:prop-filter>"#,
        "",
    );
    let reply = c.report(&c.book(), &bad_collation).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.body.contains("<card:supported-collation/>"));
}

// ---------------------------------------------------------------------------------------------
// PROPPATCH, MKCOL, DELETE of books

#[tokio::test]
async fn proppatch_is_atomic_and_protects_live_properties() {
    let store = common::store().await;
    let c = client(&store, "pp").await;
    let set = r#"<d:propertyupdate xmlns:d="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><d:set><d:prop><d:displayname>Friends &amp; Family</d:displayname><C:addressbook-description>People I know</C:addressbook-description></d:prop></d:set></d:propertyupdate>"#;
    let reply = c.send("PROPPATCH", &c.book(), &[], set.to_owned()).await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
    insta::assert_snapshot!("proppatch_ok", c.redact(&reply.body));
    let book = store
        .get_address_book(&c.principal, c.book_id)
        .await
        .unwrap();
    assert_eq!(book.display_name, "Friends & Family");
    assert_eq!(book.description, "People I know");

    // A protected property in the same request: 403 for it, 424 for the rest, nothing applied.
    let mixed = r#"<d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:displayname>Changed</d:displayname><d:resourcetype><d:collection/></d:resourcetype></d:prop></d:set></d:propertyupdate>"#;
    let reply = c.send("PROPPATCH", &c.book(), &[], mixed.to_owned()).await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
    insta::assert_snapshot!("proppatch_protected", c.redact(&reply.body));
    let book = store
        .get_address_book(&c.principal, c.book_id)
        .await
        .unwrap();
    assert_eq!(book.display_name, "Friends & Family");
    let propfind = c
        .propfind(
            &c.book(),
            "0",
            r#"<propfind xmlns="DAV:"><prop><resourcetype/></prop></propfind>"#,
        )
        .await;
    assert!(propfind.body.contains("<card:addressbook/>"));

    // Remove falls back to the slug / an empty description.
    let remove = r#"<d:propertyupdate xmlns:d="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><d:remove><d:prop><d:displayname/><C:addressbook-description/></d:prop></d:remove></d:propertyupdate>"#;
    c.send("PROPPATCH", &c.book(), &[], remove.to_owned()).await;
    let book = store
        .get_address_book(&c.principal, c.book_id)
        .await
        .unwrap();
    assert_eq!(book.display_name, "contacts");
    assert_eq!(book.description, "");
}

#[tokio::test]
async fn mkcol_creates_address_books() {
    let store = common::store().await;
    let c = client(&store, "mk").await;
    let extended = r#"<?xml version="1.0" encoding="utf-8"?><D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:set><D:prop><D:resourcetype><D:collection/><C:addressbook/></D:resourcetype><D:displayname>Work</D:displayname><C:addressbook-description>Colleagues</C:addressbook-description><x:color xmlns:x="urn:example:x">red</x:color></D:prop></D:set></D:mkcol>"#;
    let path = format!("{}work/", c.home());
    let reply = c.send("MKCOL", &path, &[], extended.to_owned()).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let book = store
        .address_book_by_slug(&c.principal, "work")
        .await
        .unwrap();
    assert_eq!(book.display_name, "Work");
    assert_eq!(book.description, "Colleagues");
    assert_eq!(
        c.send("MKCOL", &path, &[], extended.to_owned())
            .await
            .status,
        StatusCode::METHOD_NOT_ALLOWED
    );

    // vdirsyncer's body, and a plain MKCOL.
    let reply = c
        .send(
            "MKCOL",
            &format!("{}synced/", c.home()),
            &[],
            fixture("vdirsyncer-mkcol.xml"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let reply = c
        .send("MKCOL", &format!("{}plain", c.home()), &[], Body::empty())
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);

    // Not an address book / bad names / not in the home.
    let calendar = r#"<D:mkcol xmlns:D="DAV:"><D:set><D:prop><D:resourcetype><D:collection/><C:calendar xmlns:C="urn:ietf:params:xml:ns:caldav"/></D:resourcetype></D:prop></D:set></D:mkcol>"#;
    let reply = c
        .send(
            "MKCOL",
            &format!("{}cal/", c.home()),
            &[],
            calendar.to_owned(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.body.contains("<d:valid-resourcetype/>"));
    let reply = c
        .send(
            "MKCOL",
            &format!("{}-bad%20name/", c.home()),
            &[],
            Body::empty(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(
        c.send("MKCOL", &c.card("sub/"), &[], Body::empty())
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    let listing = c.propfind(&c.home(), "1", "").await;
    for slug in ["contacts", "work", "synced", "plain"] {
        assert!(
            listing.body.contains(&format!("/{slug}/</d:href>")),
            "{slug}"
        );
    }
    assert!(!listing.body.contains("/cal/"));

    // DELETE of a book removes it and its cards.
    let work_card = format!("{path}w.vcf");
    c.put(&work_card, &card("w", "W"), &[]).await;
    assert_eq!(
        c.send("DELETE", &path, &[], Body::empty()).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(c.get(&work_card, &[]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        c.propfind(&path, "0", "").await.status,
        StatusCode::NOT_FOUND
    );
}

// ---------------------------------------------------------------------------------------------
// Preconditions and bad input

#[tokio::test]
async fn put_preconditions_have_error_bodies() {
    let store = common::store().await;
    let c = client(&store, "pre").await;
    c.put(&c.card("first.vcf"), &card("same-uid", "First"), &[])
        .await;

    let conflict = c
        .put(&c.card("second.vcf"), &card("same-uid", "Second"), &[])
        .await;
    assert_eq!(conflict.status, StatusCode::CONFLICT);
    insta::assert_snapshot!("no_uid_conflict", c.redact(&conflict.body));
    assert!(
        conflict
            .body
            .contains(&format!("<d:href>{}</d:href>", c.card("first.vcf")))
    );

    // RFC 6352 6.3.2.1: a card is never overwritten by one with another UID.
    let before = c.get(&c.card("first.vcf"), &[]).await;
    let overwrite = c
        .put(&c.card("first.vcf"), &card("other-uid", "Other"), &[])
        .await;
    assert_eq!(overwrite.status, StatusCode::FORBIDDEN);
    assert!(
        overwrite.body.contains("<card:no-uid-conflict>"),
        "{}",
        overwrite.body
    );
    assert!(
        overwrite
            .body
            .contains(&format!("<d:href>{}</d:href>", c.card("first.vcf")))
    );
    let after = c.get(&c.card("first.vcf"), &[]).await;
    assert_eq!(after.body, before.body, "the stored card is unchanged");

    let garbage = common::fixture("malformed-garbage-line.vcf");
    let invalid = c.put(&c.card("bad.vcf"), &garbage, &[]).await;
    assert_eq!(invalid.status, StatusCode::FORBIDDEN);
    assert!(invalid.body.contains("<card:valid-address-data/>"));
    assert!(invalid.body.contains("<!-- line "), "{}", invalid.body);

    let no_uid = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Nobody\r\nEND:VCARD\r\n";
    let reply = c.put(&c.card("nouid.vcf"), no_uid, &[]).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.body.contains("valid-address-data"));
    assert!(reply.body.contains("UID"));

    let v5 = "BEGIN:VCARD\r\nVERSION:5.0\r\nUID:x\r\nFN:Future\r\nEND:VCARD\r\n";
    let reply = c.put(&c.card("v5.vcf"), v5, &[]).await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(reply.body.contains("<card:supported-address-data/>"));

    let reply = c
        .send(
            "PUT",
            &c.card("json.vcf"),
            &[("content-type", "application/json")],
            r#"{"fn":"x"}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(reply.body.contains("<card:supported-address-data/>"));
    // Other vCard media types are accepted.
    for (i, media) in ["text/x-vcard", "application/vcard"].iter().enumerate() {
        let reply = c
            .send(
                "PUT",
                &c.card(&format!("m{i}.vcf")),
                &[("content-type", media)],
                card(&format!("media-{i}"), "M"),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{media}");
    }

    let photo = "A".repeat(LIMIT + 10);
    let big = format!(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:big\r\nFN:Big\r\nPHOTO;ENCODING=b;TYPE=JPEG:{photo}\r\nEND:VCARD\r\n"
    );
    let reply = c.put(&c.card("big.vcf"), &big, &[]).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(reply.body.contains("<card:max-resource-size/>"));

    let control = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ctl\r\nFN:Bell\u{7}\r\nEND:VCARD\r\n";
    let reply = c.put(&c.card("ctl.vcf"), control, &[]).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.body.contains("line 4"));

    // Where a card cannot go.
    assert_eq!(
        c.put(&c.book(), &card("x", "X"), &[]).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        c.put(&format!("{}nobook/x.vcf", c.home()), &card("x", "X"), &[])
            .await
            .status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        c.put(&c.card("a%2Fb.vcf"), &card("x", "X"), &[])
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        c.put("/dav/elsewhere/x.vcf", &card("x", "X"), &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // Nothing of the refused writes was stored.
    let names: Vec<String> = store
        .card_metas(&c.principal, c.book_id, None)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.href)
        .collect();
    let mut names = names;
    names.sort();
    assert_eq!(names, vec!["first.vcf", "m0.vcf", "m1.vcf"]);
}

#[tokio::test]
async fn bad_requests_are_clear_4xx_and_change_nothing() {
    let store = common::store().await;
    let c = client(&store, "bad").await;
    c.put(&c.card("keep.vcf"), &card("keep", "Keep"), &[]).await;
    let token = c.sync_token().await;

    let deep = format!(
        "<propfind xmlns=\"DAV:\">{}{}</propfind>",
        "<prop>".repeat(200),
        "</prop>".repeat(200)
    );
    let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><propfind xmlns="DAV:"><prop>&lol2;</prop></propfind>"#;
    let sync_initial = fixture("davx5-sync-initial.xml");
    let cases: Vec<(&str, String, &str, StatusCode)> = vec![
        (
            "PROPFIND",
            c.book(),
            "<propfind xmlns=\"DAV:\"><prop>",
            StatusCode::BAD_REQUEST,
        ),
        ("PROPFIND", c.book(), bomb, StatusCode::BAD_REQUEST),
        ("PROPFIND", c.book(), &deep, StatusCode::BAD_REQUEST),
        ("PROPFIND", c.book(), "<notdav/>", StatusCode::BAD_REQUEST),
        ("PROPFIND", c.book(), "\u{1}binary", StatusCode::BAD_REQUEST),
        ("PROPPATCH", c.book(), bomb, StatusCode::BAD_REQUEST),
        ("PROPPATCH", c.book(), "", StatusCode::BAD_REQUEST),
        ("REPORT", c.book(), "", StatusCode::BAD_REQUEST),
        ("REPORT", c.book(), bomb, StatusCode::BAD_REQUEST),
        (
            "REPORT",
            c.book(),
            "<d:expand-property xmlns:d=\"DAV:\"/>",
            StatusCode::FORBIDDEN,
        ),
        ("REPORT", c.home(), &sync_initial, StatusCode::FORBIDDEN),
        (
            "MKCOL",
            format!("{}new/", c.home()),
            bomb,
            StatusCode::BAD_REQUEST,
        ),
        (
            "PROPFIND",
            "/dav/addressbooks/%zz/".to_owned(),
            "",
            StatusCode::BAD_REQUEST,
        ),
        (
            "PROPFIND",
            "/dav/nothing/".to_owned(),
            "",
            StatusCode::NOT_FOUND,
        ),
        (
            "LOCK",
            c.card("keep.vcf"),
            "",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        ("POST", c.book(), "", StatusCode::METHOD_NOT_ALLOWED),
        ("DELETE", c.home(), "", StatusCode::METHOD_NOT_ALLOWED),
    ];
    for (method, path, body, expected) in &cases {
        let reply = c
            .send(method, path, &[("depth", "1")], body.to_string())
            .await;
        assert_eq!(reply.status, *expected, "{method} {path} {body:.60}");
        if *expected == StatusCode::METHOD_NOT_ALLOWED {
            assert!(reply.header("allow").is_some());
        }
    }
    // An oversized XML body.
    let huge = format!(
        "<propfind xmlns=\"DAV:\"><prop>{}</prop></propfind>",
        "<getetag/>".repeat(LIMIT / 10 + 1)
    );
    assert_eq!(
        c.propfind(&c.book(), "1", &huge).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(c.sync_token().await, token, "nothing changed");
    assert!(
        store
            .address_book_by_slug(&c.principal, "new")
            .await
            .is_err()
    );
}

// ---------------------------------------------------------------------------------------------
// Tenant isolation

#[tokio::test]
async fn another_user_sees_nothing() {
    let store = common::store().await;
    let alice = client(&store, "alice").await;
    let bob = client(&store, "bob").await;
    alice
        .put(
            &alice.card("secret.vcf"),
            &card("secret", "Secret Person"),
            &[],
        )
        .await;
    let token = alice.sync_token().await;
    let paths = [
        format!("/dav/principals/{}/", alice.user),
        alice.home(),
        alice.book(),
        alice.card("secret.vcf"),
        alice.card("new.vcf"),
        format!("{}other/", alice.home()),
    ];
    let proppatch = r#"<d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:displayname>pwned</d:displayname></d:prop></d:set></d:propertyupdate>"#;
    let multiget = format!(
        r#"<C:addressbook-multiget xmlns:d="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><C:address-data/></d:prop><d:href>{}</d:href></C:addressbook-multiget>"#,
        alice.card("secret.vcf")
    );
    for path in &paths {
        for (method, body) in [
            ("PROPFIND", String::new()),
            ("GET", String::new()),
            ("HEAD", String::new()),
            ("PUT", card("bob", "Bob")),
            ("DELETE", String::new()),
            ("PROPPATCH", proppatch.to_owned()),
            ("MKCOL", String::new()),
            ("REPORT", multiget.clone()),
            ("REPORT", fixture("davx5-sync-initial.xml")),
            ("OPTIONS", String::new()),
        ] {
            let reply = bob
                .send(method, path, &[("content-type", "text/vcard")], body)
                .await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}");
            assert!(!reply.body.contains("Secret"));
        }
    }
    // Bob's own book, with hrefs naming Alice's card: 404 members, nothing leaked.
    let reply = bob.report(&bob.book(), &multiget).await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
    assert!(reply.body.contains("HTTP/1.1 404 Not Found"));
    assert!(!reply.body.contains("Secret"));
    // Bob's sync token is not valid on... Bob's own book only; Alice's token on Bob's book fails.
    let reply = bob
        .report(
            &bob.book(),
            &fixture("davx5-sync.xml").replace("{{TOKEN}}", &token),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    // Alice's data is intact.
    assert_eq!(alice.sync_token().await, token);
    let book = store
        .get_address_book(&alice.principal, alice.book_id)
        .await
        .unwrap();
    assert_eq!(book.display_name, "Contacts");
}

// ---------------------------------------------------------------------------------------------
// One record, two front ends (GraphQL calls these store functions)

#[tokio::test]
async fn dav_writes_are_store_records() {
    let store = common::store().await;
    let c = client(&store, "x1").await;
    let body = common::fixture("apple-3.0.vcf");
    let reply = c.put(&c.card("picard.vcf"), &body, &[]).await;
    let tag = reply.header("etag").unwrap().to_owned();
    let record = store
        .get_contact_by_href(&c.principal, c.book_id, "picard.vcf")
        .await
        .unwrap();
    let by_id = store.get_contact(&c.principal, record.id).await.unwrap();
    assert_eq!(
        etag::quoted(&by_id.etag),
        tag,
        "same ETag in both front ends"
    );
    assert_eq!(by_id.vcard, body);
    assert_eq!(by_id.fields.last_name.as_deref(), Some("Picard"));

    // A group card over DAV is a group in the store.
    c.put(
        &c.card("crew.vcf"),
        &common::fixture("apple-group-3.0.vcf"),
        &[],
    )
    .await;
    let group = store
        .get_contact_by_href(&c.principal, c.book_id, "crew.vcf")
        .await
        .unwrap();
    assert_eq!(group.kind, rolodex::domain::contact::CardKind::Group);
    assert_eq!(group.fields.members.len(), 2);
}

#[tokio::test]
async fn store_writes_show_up_over_dav() {
    let store = common::store().await;
    let c = client(&store, "x2").await;
    let body = common::fixture("apple-3.0.vcf");
    c.put(&c.card("picard.vcf"), &body, &[]).await;
    let token = c.sync_token().await;
    let record = store
        .get_contact_by_href(&c.principal, c.book_id, "picard.vcf")
        .await
        .unwrap();

    // A patch (what a GraphQL mutation does) bumps ETag, ctag and sync token; GET shows it
    // with the client's unknown properties intact.
    let patch = ContactPatch {
        job_title: Some(Some("Admiral".into())),
        ..ContactPatch::default()
    };
    let patched = store
        .patch_contact(&c.principal, record.id, &patch, Some(&record.etag))
        .await
        .unwrap();
    let got = c.get(&c.card("picard.vcf"), &[]).await;
    assert_eq!(
        got.header("etag"),
        Some(etag::quoted(&patched.etag).as_str())
    );
    assert!(got.body.contains("TITLE:Admiral"));
    for kept in ["item1.X-ABLabel:_$!<Other>!$_", "X-ABADR", "item2.ADR"] {
        assert!(got.body.contains(kept), "{kept} kept:\n{}", got.body);
    }
    let new_token = c.sync_token().await;
    assert_ne!(new_token, token);
    let changes = c
        .report(
            &c.book(),
            &fixture("davx5-sync.xml").replace("{{TOKEN}}", &token),
        )
        .await;
    assert!(changes.body.contains(&etag::quoted(&patched.etag)));

    // A contact created in the store is a card here, under `<uid>.vcf`.
    let created = store
        .create_contact(
            &c.principal,
            c.book_id,
            &ContactPatch {
                first_name: Some(Some("Deanna".into())),
                last_name: Some(Some("Troi".into())),
                ..ContactPatch::default()
            },
        )
        .await
        .unwrap();
    let got = c.get(&c.card(&format!("{}.vcf", created.uid)), &[]).await;
    assert_eq!(got.status, StatusCode::OK);
    assert!(got.body.contains("FN:Deanna Troi"));

    // A group made through the store is a group card here, in the version asked for.
    let group = store
        .create_contact(
            &c.principal,
            c.book_id,
            &ContactPatch {
                kind: Some(rolodex::domain::contact::CardKind::Group),
                display_name: Some(Some("Away Team".into())),
                members: Some(vec![format!("urn:uuid:{}", created.uid)]),
                ..ContactPatch::default()
            },
        )
        .await
        .unwrap();
    let group_href = c.card(&format!("{}.vcf", group.uid));
    let got = c.get(&group_href, &[]).await;
    assert!(got.body.contains("KIND:group"), "{}", got.body);
    assert!(
        got.body
            .contains(&format!("MEMBER:urn:uuid:{}", created.uid))
    );
    let mac = [("user-agent", "iOS/16.0 (20A362) dataaccessd/1.0")];
    let got = c.get(&group_href, &mac).await;
    assert!(
        got.body.contains("X-ADDRESSBOOKSERVER-KIND:group"),
        "{}",
        got.body
    );
    assert!(got.body.contains(&format!(
        "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:{}",
        created.uid
    )));

    // A store delete is a 404 member in sync-collection.
    store
        .delete_contact(&c.principal, record.id, None)
        .await
        .unwrap();
    let changes = c
        .report(
            &c.book(),
            &fixture("davx5-sync.xml").replace("{{TOKEN}}", &new_token),
        )
        .await;
    let picard = c.card("picard.vcf");
    let entry = between(
        &changes.body,
        &format!("<d:href>{picard}</d:href>"),
        "</d:response>",
    );
    assert!(entry.contains("HTTP/1.1 404 Not Found"), "{}", changes.body);
    let live = store
        .list_contacts(
            &c.principal,
            &ContactListQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(live.items.len(), 2);
}

#[tokio::test]
async fn get_on_a_book_exports_it() {
    let store = common::store().await;
    let c = client(&store, "export").await;
    c.put(&c.card("a.vcf"), &card("a", "Alpha"), &[]).await;
    c.put(&c.card("b.vcf"), &card("b", "Bravo"), &[]).await;
    let reply = c.get(&c.book(), &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.header("content-type"),
        Some("text/vcard; charset=utf-8")
    );
    assert_eq!(
        reply.body,
        format!("{}{}", card("a", "Alpha"), card("b", "Bravo"))
    );
    // COPY and MOVE are served (tests/it/dav_rfc.rs); locking and ACL changes are not.
    for method in ["LOCK", "UNLOCK", "ACL"] {
        let reply = c.send(method, &c.card("a.vcf"), &[], Body::empty()).await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
    }
    // Hrefs relative to the book are understood too.
    let body = fixture("thunderbird-multiget.xml").replace(
        "{{HREFS}}",
        "<d:href>a.vcf</d:href><d:href>../x/a.vcf</d:href>",
    );
    let reply = c.report(&c.book(), &body).await;
    assert!(reply.body.contains("FN:Alpha"));
    assert!(
        reply
            .body
            .contains("<d:href>../x/a.vcf</d:href><d:status>HTTP/1.1 404")
    );
    // A multiget addressed to a card URL is answered like one on its book.
    let body = fixture("thunderbird-multiget.xml").replace(
        "{{HREFS}}",
        &format!("<d:href>{}</d:href>", c.card("b.vcf")),
    );
    let reply = c.send("REPORT", &c.card("a.vcf"), &[], body).await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
    assert!(reply.body.contains("FN:Bravo"));
}

/// A multiget reads its cards' texts with their metadata in one query, up to a budget of
/// 4 MiB; the cards beyond it are read a slice at a time like any listing's. Six cards of
/// about 1 MiB each, asked for in an order of the client's: every one comes back whole, in
/// the order asked, whether its text came with the metadata or after it.
#[tokio::test]
async fn a_multiget_beyond_one_reads_budget_sends_every_card_whole() {
    let store = common::store().await;
    let c = client(&store, "big-multiget").await.with_limits(
        &store,
        rolodex::limits::Limits {
            max_body_bytes: 16 * 1024 * 1024,
            max_card_bytes: 2 * 1024 * 1024,
            ..rolodex::limits::Limits::default()
        },
    );
    // A NOTE of about 1 MiB, folded into 73-octet lines (RFC 6350 3.2).
    let note = vec!["0123456789".repeat(7); 14_000].join("\r\n ");
    let mut cards = Vec::new();
    for i in 0..6 {
        let text = format!(
            "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:big-{i}\r\nFN:Big {i}\r\nN:Big {i};;;;\r\n\
             NOTE:{note}\r\nEND:VCARD\r\n"
        );
        let reply = c.put(&c.card(&format!("big-{i}.vcf")), &text, &[]).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        cards.push(text);
    }
    let total: usize = cards.iter().map(String::len).sum();
    assert!(total > 5 * 1024 * 1024, "{total} octets: beyond the budget");
    let order = [3, 0, 5, 1, 4, 2];
    let hrefs: String = order
        .iter()
        .map(|i| format!("<d:href>{}</d:href>", c.card(&format!("big-{i}.vcf"))))
        .collect();
    let body = format!(
        r#"<c:addressbook-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><c:address-data/></d:prop>{hrefs}</c:addressbook-multiget>"#
    );
    let reply = c.report(&c.book(), &body).await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
    let mut from = 0;
    for i in order {
        let href = format!("<d:href>{}</d:href>", c.card(&format!("big-{i}.vcf")));
        let at = from
            + reply.body[from..]
                .find(&href)
                .expect("every card, in the order asked");
        let next = reply.body[at + href.len()..]
            .find("<d:href>")
            .map_or(reply.body.len(), |n| at + href.len() + n);
        let data = between(
            &reply.body[at..next],
            "<card:address-data>",
            "</card:address-data>",
        );
        assert_eq!(data.replace("&#13;", "\r"), cards[i], "big-{i}.vcf");
        from = next;
    }
}

/// A book larger than a page is streamed a keyset page at a time (PROPFIND Depth 1, initial
/// sync-collection, whole-book GET): with three cards per page the answers are the very bytes
/// of one page holding the whole book — every card once, in name order, equal names in
/// creation order, dead properties with their card, a deleted card nowhere.
#[tokio::test]
async fn whole_book_answers_are_the_same_bytes_whatever_the_page_size() {
    let store = common::store().await;
    let c = client(&store, "pages").await;
    for i in 0..20 {
        // Every fourth name repeats, so pages split inside runs of equal sort names.
        let name = if i % 4 == 0 {
            "Same Name".to_owned()
        } else {
            format!("Person {:02}", 19 - i)
        };
        c.put(
            &c.card(&format!("{i:02}.vcf")),
            &card(&format!("p{i}"), &name),
            &[],
        )
        .await;
    }
    let dead = r#"<d:propertyupdate xmlns:d="DAV:" xmlns:x="urn:example:x"><d:set><d:prop><x:color>blue</x:color></d:prop></d:set></d:propertyupdate>"#;
    let reply = c
        .send("PROPPATCH", &c.card("05.vcf"), &[], dead.to_owned())
        .await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
    assert_eq!(
        c.send("DELETE", &c.card("07.vcf"), &[], Body::empty())
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let small = c.with_limits(
        &store,
        rolodex::limits::Limits {
            max_body_bytes: LIMIT,
            max_card_bytes: LIMIT,
            stream_page_cards: 3,
            ..rolodex::limits::Limits::default()
        },
    );
    let listing = fixture("thunderbird-propfind.xml");
    let allprop = r#"<propfind xmlns="DAV:"><allprop/></propfind>"#;
    let initial = fixture("davx5-sync-initial.xml");
    let with_data = r#"<sync-collection xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><sync-token/><sync-level>1</sync-level><prop><getetag/><C:address-data/></prop></sync-collection>"#;
    for (what, one_page, paged) in [
        (
            "PROPFIND",
            c.propfind(&c.book(), "1", &listing).await,
            small.propfind(&c.book(), "1", &listing).await,
        ),
        (
            "PROPFIND allprop",
            c.propfind(&c.book(), "1", allprop).await,
            small.propfind(&c.book(), "1", allprop).await,
        ),
        (
            "initial sync",
            c.report(&c.book(), &initial).await,
            small.report(&c.book(), &initial).await,
        ),
        (
            "initial sync with data",
            c.report(&c.book(), with_data).await,
            small.report(&c.book(), with_data).await,
        ),
        (
            "GET",
            c.get(&c.book(), &[]).await,
            small.get(&c.book(), &[]).await,
        ),
    ] {
        assert!(one_page.status.is_success(), "{what}: {}", one_page.status);
        assert_eq!(paged.status, one_page.status, "{what}");
        assert!(
            paged.body == one_page.body,
            "{what} differs:\n{}\n---\n{}",
            one_page.body,
            paged.body
        );
        let listed = (0..20)
            .filter(|i| {
                one_page.body.contains(&format!("{i:02}.vcf"))
                    || one_page.body.contains(&format!("UID:p{i}\r"))
            })
            .count();
        assert_eq!(
            listed, 19,
            "{what}: every live card once:\n{}",
            one_page.body
        );
        assert!(
            !one_page.body.contains("07.vcf") && !one_page.body.contains("UID:p7\r"),
            "{what}"
        );
    }
    let allprop = small.propfind(&c.book(), "1", allprop).await.body;
    assert_eq!(allprop.matches(">blue<").count(), 1, "{allprop}");
    // Name order: "Person 00" (card 19) first, the repeated name's cards in creation order.
    let get = small.get(&c.book(), &[]).await.body;
    let uids: Vec<&str> = get.lines().filter_map(|l| l.strip_prefix("UID:")).collect();
    assert_eq!(uids.first(), Some(&"p19"));
    let same: Vec<&&str> = uids
        .iter()
        .filter(|u| ["p0", "p4", "p8", "p12", "p16"].contains(u))
        .collect();
    assert_eq!(same, [&"p0", &"p4", &"p8", &"p12", &"p16"]);
}

// ---------------------------------------------------------------------------------------------
// Timing against the performance targets; run with
// `cargo test --release --test it dav::timings -- --ignored --nocapture`.

#[tokio::test]
#[ignore = "slow: loads 10,000 cards; prints timings"]
async fn timings_on_a_large_book() {
    use std::time::{Duration, Instant};
    let store = common::store().await;
    let c = client(&store, "bench").await;
    let cards: Vec<(String, String)> = (0..10_000)
        .map(|i| {
            (
                format!("{i:05}.vcf"),
                card(&format!("bench-{i}"), &format!("Person {i}")),
            )
        })
        .collect();
    let loading = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in cards.chunks(2500) {
        let chunk = chunk.to_vec();
        let store = store.clone();
        let principal = c.principal.clone();
        let book = c.book_id;
        tasks.spawn(async move {
            for (name, text) in chunk {
                store
                    .put_vcard(&principal, book, &name, &text, Default::default())
                    .await
                    .unwrap();
            }
        });
    }
    tasks.join_all().await;
    println!("loaded 10,000 cards in {:?}", loading.elapsed());

    async fn best_of<F: AsyncFn() -> Reply>(label: &str, runs: usize, f: F) -> Duration {
        let mut best = Duration::MAX;
        for _ in 0..runs {
            let started = Instant::now();
            let reply = f().await;
            best = best.min(started.elapsed());
            assert!(reply.status.is_success(), "{label}: {}", reply.status);
        }
        println!("{label}: best of {runs} = {best:?}");
        best
    }
    let listing = fixture("thunderbird-propfind.xml");
    best_of("PROPFIND Depth 1, 10,000 cards", 5, async || {
        c.propfind(&c.book(), "1", &listing).await
    })
    .await;
    let hrefs: String = (0..100)
        .map(|i| format!("<d:href>{}</d:href>", c.card(&format!("{:05}.vcf", i * 97))))
        .collect();
    let multiget = fixture("thunderbird-multiget.xml").replace("{{HREFS}}", &hrefs);
    best_of("multiget of 100", 20, async || {
        c.report(&c.book(), &multiget).await
    })
    .await;
    let token = c.sync_token().await;
    for i in 0..10 {
        c.put(
            &c.card(&format!("{i:05}.vcf")),
            &card(&format!("bench-{i}"), "Changed"),
            &[],
        )
        .await;
    }
    let sync = fixture("davx5-sync.xml").replace("{{TOKEN}}", &token);
    best_of("sync-collection after 10 changes", 20, async || {
        c.report(&c.book(), &sync).await
    })
    .await;
    let one = c.card("05000.vcf");
    best_of("GET one card", 50, async || c.get(&one, &[]).await).await;
    let initial = fixture("davx5-sync-initial.xml");
    best_of("initial sync-collection, 10,000 cards", 3, async || {
        c.report(&c.book(), &initial).await
    })
    .await;
}
