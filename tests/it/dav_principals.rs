//! The RFC 3744 principal REPORTs through the real router against a real PostgreSQL (issue 13
//! item 7): principal-property-search and principal-search-property-set on the principal
//! collection and principal URLs, principal-match, acl-principal-prop-set (400 for Depth other
//! than 0). Every answer names the caller's principal only, never another user's.

use crate::common;
use crate::dav_client;

use axum::http::StatusCode;
use dav_client::*;

fn search(text: &str, test: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><D:principal-property-search xmlns:D="DAV:"{test}><D:property-search><D:prop><D:displayname/></D:prop><D:match>{text}</D:match></D:property-search><D:prop><D:displayname/><D:principal-URL/><C:addressbook-home-set xmlns:C="urn:ietf:params:xml:ns:carddav"/></D:prop></D:principal-property-search>"#
    )
}

async fn report0(c: &Client, path: &str, body: &str) -> Reply {
    c.send("REPORT", path, &[("depth", "0")], body.to_owned())
        .await
}

#[tokio::test]
async fn principal_property_search_finds_only_the_caller() {
    let store = common::store().await;
    let c = client(&store, "pps").await;
    // Another user whose name also matches "pps": never listed.
    let other = client(&store, "pps").await;
    let reply = report0(&c, "/dav/principals/", &search("PPS", "")).await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS, "{}", reply.body);
    insta::assert_snapshot!("principal_property_search", c.redact(&reply.body));
    assert!(!reply.body.contains(&other.user));
    assert_eq!(reply.body.matches("<d:response>").count(), 1);
    // On the caller's principal URL too.
    let mine = format!("/dav/principals/{}/", c.user);
    let reply = report0(&c, &mine, &search("pps", "")).await;
    assert_eq!(reply.body.matches("<d:response>").count(), 1);
    // No match: an empty multistatus. anyof with one hit matches.
    let reply = report0(&c, "/dav/principals/", &search("nobody-by-this-name", "")).await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
    assert_eq!(reply.body.matches("<d:response>").count(), 0);
    let two = format!(
        r#"<D:principal-property-search xmlns:D="DAV:" test="anyof"><D:property-search><D:prop><D:displayname/></D:prop><D:match>zzz</D:match></D:property-search><D:property-search><D:prop><D:displayname/></D:prop><D:match>{}</D:match></D:property-search><D:prop><D:displayname/></D:prop></D:principal-property-search>"#,
        c.user
    );
    let reply = report0(&c, "/dav/principals/", &two).await;
    assert_eq!(reply.body.matches("<d:response>").count(), 1);
    let all = two.replace(" test=\"anyof\"", "");
    let reply = report0(&c, "/dav/principals/", &all).await;
    assert_eq!(reply.body.matches("<d:response>").count(), 0);
    // Another user's principal URL is a 404, as every path of theirs.
    let theirs = format!("/dav/principals/{}/", other.user);
    let reply = report0(&c, &theirs, &search("pps", "")).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    // Only on the principal collection; Depth 1 is refused.
    let reply = report0(&c, &c.book(), &search("pps", "")).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = c
        .send(
            "REPORT",
            "/dav/principals/",
            &[("depth", "1")],
            search("pps", ""),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    // Bounded input.
    let many = format!(
        r#"<D:principal-property-search xmlns:D="DAV:">{}</D:principal-property-search>"#,
        "<D:property-search><D:prop><D:displayname/></D:prop><D:match>a</D:match></D:property-search>".repeat(17)
    );
    let reply = report0(&c, "/dav/principals/", &many).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn principal_search_property_set_names_displayname() {
    let store = common::store().await;
    let c = client(&store, "psps").await;
    let body = r#"<?xml version="1.0" encoding="utf-8"?><D:principal-search-property-set xmlns:D="DAV:"/>"#;
    let reply = report0(&c, "/dav/principals/", body).await;
    assert_eq!(reply.status, StatusCode::OK);
    insta::assert_snapshot!("principal_search_property_set", pretty(&reply.body));
    let reply = report0(&c, &c.home(), body).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn principal_match_and_acl_principal_prop_set() {
    let store = common::store().await;
    let c = client(&store, "pm").await;
    c.put(&c.card("a.vcf"), &card("pm-a", "Ann"), &[]).await;
    let own = r#"<D:principal-match xmlns:D="DAV:"><D:self/><D:prop><D:displayname/></D:prop></D:principal-match>"#;
    let reply = report0(&c, "/dav/principals/", own).await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
    insta::assert_snapshot!("principal_match_self", c.redact(&reply.body));
    // By owner: the home's books and their cards are all the caller's.
    let owner = r#"<D:principal-match xmlns:D="DAV:"><D:principal-property><D:owner/></D:principal-property><D:prop><D:getetag/></D:prop></D:principal-match>"#;
    let reply = report0(&c, &c.home(), owner).await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
    assert!(reply.body.contains(&c.book()), "{}", reply.body);
    assert!(reply.body.contains("a.vcf"));
    let reply = c
        .send(
            "REPORT",
            &c.home(),
            &[("depth", "infinity")],
            owner.to_owned(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let neither = r#"<D:principal-match xmlns:D="DAV:"><D:prop/></D:principal-match>"#;
    assert_eq!(
        report0(&c, "/dav/principals/", neither).await.status,
        StatusCode::BAD_REQUEST
    );

    let acl = r#"<D:acl-principal-prop-set xmlns:D="DAV:"><D:prop><D:displayname/><D:principal-URL/></D:prop></D:acl-principal-prop-set>"#;
    let reply = report0(&c, &c.card("a.vcf"), acl).await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
    insta::assert_snapshot!("acl_principal_prop_set", c.redact(&reply.body));
    // RFC 3744 9.2: Depth other than 0 is a 400.
    let reply = c
        .send("REPORT", &c.book(), &[("depth", "1")], acl.to_owned())
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    // The collections above the homes name no principal in their ACL.
    let reply = report0(&c, "/dav/", acl).await;
    assert_eq!(reply.body.matches("<d:response>").count(), 0);

    // The reports are advertised where they are answered.
    let set = r#"<propfind xmlns="DAV:"><prop><supported-report-set/></prop></propfind>"#;
    let reply = c.propfind("/dav/principals/", "0", set).await;
    assert!(reply.body.contains("<d:principal-property-search/>"));
    assert!(reply.body.contains("<d:principal-search-property-set/>"));
    let reply = c.propfind(&c.book(), "0", set).await;
    assert!(reply.body.contains("<d:acl-principal-prop-set/>"));
    assert!(!reply.body.contains("principal-property-search"));
}
