//! CardDAV RFC conformance through the real router against a real PostgreSQL (issue 13):
//! methods allowed per resource, finite PROPFIND depth and MKCOL bodies (RFC 4918 9.1, 9.3.1),
//! validators on address books (RFC 7232) and REPORTs on card URLs (RFC 6352 3, 8.6, 8.7).
//! Multistatus bodies are snapshotted with volatile values redacted. MOVE and COPY are in
//! tests/it/dav_transfer.rs.

use crate::common;
use crate::dav_client;

use axum::http::StatusCode;
use dav_client::*;

const QUERY_FN: &str = r#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/></D:prop><C:filter><C:prop-filter name="FN"><C:text-match match-type="contains">NAME</C:text-match></C:prop-filter></C:filter></C:addressbook-query>"#;

// ---------------------------------------------------------------------------------------------
// Item 8: OPTIONS, Depth: infinity, MKCOL bodies

#[tokio::test]
async fn options_on_the_home_advertise_only_what_works_there() {
    let store = common::store().await;
    let c = client(&store, "opt").await;
    c.put(&c.card("a.vcf"), &card("opt-a", "Ann"), &[]).await;
    let allow = |reply: &Reply| {
        reply
            .header("allow")
            .unwrap()
            .split(',')
            .map(|m| m.trim().to_owned())
            .collect::<Vec<_>>()
    };
    let home = c.send("OPTIONS", &c.home(), &[], "").await;
    assert_eq!(home.status, StatusCode::OK);
    let methods = allow(&home);
    // Every advertised method is answered by something other than 405 on the home.
    for method in &methods {
        let reply = c.send(method, &c.home(), &[("depth", "0")], "").await;
        assert_ne!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} is advertised on the home"
        );
    }
    for method in ["PUT", "DELETE", "MKCOL", "MOVE", "COPY"] {
        assert!(!methods.iter().any(|m| m == method), "{method} on the home");
        let reply = c.send(method, &c.home(), &[], "").await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
    }
    let card = c.send("OPTIONS", &c.card("a.vcf"), &[], "").await;
    let methods = allow(&card);
    for method in ["PUT", "DELETE", "COPY", "MOVE", "REPORT"] {
        assert!(methods.iter().any(|m| m == method), "{method} on a card");
    }
}

#[tokio::test]
async fn propfind_depth_infinity_is_refused_with_propfind_finite_depth() {
    let store = common::store().await;
    let c = client(&store, "inf").await;
    let body = r#"<propfind xmlns="DAV:"><prop><resourcetype/></prop></propfind>"#;
    for path in [
        c.home(),
        c.book(),
        "/dav/".to_owned(),
        "/dav/principals/".to_owned(),
    ] {
        let reply = c.propfind(&path, "infinity", body).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{path}");
        assert!(
            reply.body.contains("<d:propfind-finite-depth/>"),
            "{}",
            reply.body
        );
    }
    // Garbage is a 400, never a silent Depth 1.
    let reply = c.propfind(&c.home(), "2", body).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    // Depth 0 and 1 still work; no Depth header on a collection is served as 1.
    let reply = c.propfind(&c.home(), "1", body).await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
    assert_eq!(reply.body.matches("<d:response>").count(), 2);
    let reply = c.send("PROPFIND", &c.home(), &[], body.to_owned()).await;
    assert_eq!(reply.body.matches("<d:response>").count(), 2);
    // A card has no members: any depth is served.
    c.put(&c.card("a.vcf"), &card("inf-a", "Ann"), &[]).await;
    let reply = c.propfind(&c.card("a.vcf"), "infinity", body).await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
}

#[tokio::test]
async fn mkcol_with_a_body_that_is_not_xml_is_415() {
    let store = common::store().await;
    let c = client(&store, "mk415").await;
    let path = |slug: &str| format!("{}{slug}/", c.home());
    let reply = c
        .send(
            "MKCOL",
            &path("text"),
            &[("content-type", "text/plain")],
            "make me a book",
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let reply = c.send("MKCOL", &path("json"), &[], r#"{"a": 1}"#).await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Nothing was created by either.
    let books = store.list_address_books(&c.principal).await.unwrap();
    assert_eq!(books.len(), 1);
    // Malformed XML declared as XML is a 400; a plain MKCOL still creates a book.
    let reply = c
        .send(
            "MKCOL",
            &path("bad"),
            &[("content-type", "application/xml")],
            "<D:mkcol xmlns:D=\"DAV:\">",
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = c.send("MKCOL", &path("plain"), &[], "").await;
    assert_eq!(reply.status, StatusCode::CREATED);
}

// ---------------------------------------------------------------------------------------------
// Item 6: validators on address books

#[tokio::test]
async fn get_on_a_book_has_validators() {
    let store = common::store().await;
    let c = client(&store, "val").await;
    c.put(&c.card("a.vcf"), &card("val-a", "Ann"), &[]).await;
    let first = c.get(&c.book(), &[]).await;
    assert_eq!(first.status, StatusCode::OK);
    let tag = first
        .header("etag")
        .expect("a book's GET has an ETag")
        .to_owned();
    let modified = first.header("last-modified").unwrap().to_owned();
    // RFC 4918 15.4: getcontentlength is the Content-Length of a GET; the export is streamed
    // without one, so a book has no getcontentlength (404 propstat), consistently.
    assert_eq!(first.header("content-length"), None);
    let prop = c
        .propfind(
            &c.book(),
            "0",
            r#"<propfind xmlns="DAV:"><prop><getcontentlength/><getetag/></prop></propfind>"#,
        )
        .await;
    assert!(
        prop.body.contains("404 Not Found"),
        "getcontentlength on a book: {}",
        prop.body
    );

    let same = c.get(&c.book(), &[("if-none-match", &tag)]).await;
    assert_eq!(same.status, StatusCode::NOT_MODIFIED);
    assert_eq!(same.header("etag"), Some(tag.as_str()));
    assert!(same.body.is_empty());
    let head = c
        .send("HEAD", &c.book(), &[("if-none-match", &tag)], "")
        .await;
    assert_eq!(head.status, StatusCode::NOT_MODIFIED);
    let since = c.get(&c.book(), &[("if-modified-since", &modified)]).await;
    assert_eq!(since.status, StatusCode::NOT_MODIFIED);
    // If-None-Match wins over If-Modified-Since (RFC 7232 3.3).
    let both = c
        .get(
            &c.book(),
            &[
                ("if-none-match", "\"other\""),
                ("if-modified-since", &modified),
            ],
        )
        .await;
    assert_eq!(both.status, StatusCode::OK);
    // An unreadable date is ignored.
    let bad = c
        .get(&c.book(), &[("if-modified-since", "yesterday")])
        .await;
    assert_eq!(bad.status, StatusCode::OK);
    let old = c
        .get(
            &c.book(),
            &[("if-modified-since", "Mon, 01 Jan 2001 00:00:00 GMT")],
        )
        .await;
    assert_eq!(old.status, StatusCode::OK);

    // A write changes the tag: the old one no longer matches.
    c.put(&c.card("b.vcf"), &card("val-b", "Bob"), &[]).await;
    let after = c.get(&c.book(), &[("if-none-match", &tag)]).await;
    assert_eq!(after.status, StatusCode::OK);
    assert_ne!(after.header("etag"), Some(tag.as_str()));
    assert!(after.body.contains("UID:val-b"));

    // Cards honour If-Modified-Since too.
    let card_reply = c.get(&c.card("a.vcf"), &[]).await;
    let card_date = card_reply.header("last-modified").unwrap().to_owned();
    let reply = c
        .get(&c.card("a.vcf"), &[("if-modified-since", &card_date)])
        .await;
    assert_eq!(reply.status, StatusCode::NOT_MODIFIED);
}

// ---------------------------------------------------------------------------------------------
// Item 4: REPORTs on card URLs

#[tokio::test]
async fn reports_on_a_card_url() {
    let store = common::store().await;
    let c = client(&store, "crep").await;
    c.put(&c.card("a.vcf"), &card("crep-a", "Ann Lee"), &[])
        .await;
    c.put(&c.card("b.vcf"), &card("crep-b", "Bob Lee"), &[])
        .await;

    // addressbook-query with Depth 0 on a card: that card, if it matches.
    let query = QUERY_FN.replace("NAME", "Lee");
    let reply = c
        .send("REPORT", &c.card("a.vcf"), &[("depth", "0")], query.clone())
        .await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS, "{}", reply.body);
    insta::assert_snapshot!("query_on_card", c.redact(&reply.body));
    assert!(!reply.body.contains("b.vcf"));
    let miss = c
        .send(
            "REPORT",
            &c.card("a.vcf"),
            &[("depth", "0")],
            QUERY_FN.replace("NAME", "Bob"),
        )
        .await;
    assert_eq!(miss.status, StatusCode::MULTI_STATUS);
    assert_eq!(
        miss.body.matches("<d:response>").count(),
        0,
        "{}",
        miss.body
    );
    let gone = c
        .send("REPORT", &c.card("nope.vcf"), &[("depth", "0")], query)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);

    // addressbook-multiget on a card URL.
    let multiget = format!(
        r#"<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data/></D:prop><D:href>{}</D:href></C:addressbook-multiget>"#,
        c.card("a.vcf")
    );
    let reply = c
        .send("REPORT", &c.card("a.vcf"), &[("depth", "0")], multiget)
        .await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
    assert!(reply.body.contains("UID:crep-a"));

    // sync-collection stays a collection report.
    let sync = r#"<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"#;
    let reply = c.report(&c.card("a.vcf"), sync).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.body.contains("<d:supported-report/>"));

    // The card says what it supports.
    let reply = c
        .propfind(
            &c.card("a.vcf"),
            "0",
            r#"<propfind xmlns="DAV:"><prop><supported-report-set/></prop></propfind>"#,
        )
        .await;
    insta::assert_snapshot!("card_supported_report_set", c.redact(&reply.body));
}
