//! Dead properties through the real router against a real PostgreSQL (issue 13 item 2, RFC
//! 4918 4, 9.1, 9.2, 14.23): PROPPATCH stores any property of any namespace on address books
//! and cards verbatim, PROPFIND returns it by name, with `allprop` and `propname`; protected
//! live properties are refused atomically; removing a missing property succeeds; values are
//! size-bounded; a card's properties go with its DELETE and travel with MOVE and COPY.

use crate::common;
use crate::dav_client;

use axum::http::StatusCode;
use dav_client::*;

/// A PROPPATCH `set` of `props` (inner XML of `D:prop`), with the Z namespace declared on the
/// root and a default namespace, so stored values must carry inherited declarations.
fn set(props: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="http://ns.example.com/z/" xmlns="urn:default"><D:set><D:prop>{props}</D:prop></D:set></D:propertyupdate>"#
    )
}

fn remove(props: &str) -> String {
    format!(
        r#"<D:propertyupdate xmlns:D="DAV:" xmlns:Z="http://ns.example.com/z/"><D:remove><D:prop>{props}</D:prop></D:remove></D:propertyupdate>"#
    )
}

const AUTHORS: &str = r#"<Z:Authors><Z:Author xml:lang="en">Jim &amp; Roy</Z:Author><plain>mixed <b>content</b> kept</plain></Z:Authors>"#;

#[tokio::test]
async fn dead_properties_on_books_are_stored_and_returned() {
    let store = common::store().await;
    let c = client(&store, "dead").await;
    // A vendor property together with displayname: both succeed (no more 424 for the whole).
    let body = set(&format!(
        "<D:displayname>Family</D:displayname>{AUTHORS}<x:color xmlns:x=\"http://apple.com/ns/ical/\">#FF0000</x:color>"
    ));
    let reply = c.send("PROPPATCH", &c.book(), &[], body).await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
    insta::assert_snapshot!("proppatch_dead_ok", c.redact(&reply.body));
    let book = store
        .get_address_book(&c.principal, c.book_id)
        .await
        .unwrap();
    assert_eq!(book.display_name, "Family");

    // By name, verbatim, with the declarations it inherited.
    let by_name = c
        .propfind(
            &c.book(),
            "0",
            r#"<propfind xmlns="DAV:" xmlns:Z="http://ns.example.com/z/"><prop><displayname/><Z:Authors/><Z:missing/></prop></propfind>"#,
        )
        .await;
    insta::assert_snapshot!("propfind_dead_by_name", c.redact(&by_name.body));
    assert!(by_name.body.contains(r#"<Z:Author xml:lang="en">Jim &amp; Roy</Z:Author><plain>mixed <b>content</b> kept</plain>"#));
    // allprop and propname list them (RFC 4918 9.1).
    let allprop = c.propfind(&c.book(), "0", "").await;
    assert!(allprop.body.contains("<Z:Authors "), "{}", allprop.body);
    assert!(allprop.body.contains(">#FF0000</x:color>"));
    let propname = c
        .propfind(
            &c.book(),
            "0",
            r#"<propfind xmlns="DAV:"><propname/></propfind>"#,
        )
        .await;
    assert!(
        propname
            .body
            .contains(r#"<Authors xmlns="http://ns.example.com/z/"/>"#),
        "{}",
        propname.body
    );
    // Depth 1 on the home lists the book with them.
    let home = c.propfind(&c.home(), "1", "").await;
    assert!(home.body.contains("#FF0000"));

    // A replacement replaces; removal removes; removing what is not there is 200 (14.23).
    let reply = c
        .send(
            "PROPPATCH",
            &c.book(),
            &[],
            set("<Z:Authors>Ann</Z:Authors>"),
        )
        .await;
    assert!(reply.body.contains("200 OK"));
    let reply = c
        .send(
            "PROPPATCH",
            &c.book(),
            &[],
            remove("<Z:Authors/><Z:never-set/><x:y xmlns:x=\"urn:other\"/>"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
    assert!(!reply.body.contains("403"), "{}", reply.body);
    assert!(!reply.body.contains("424"), "{}", reply.body);
    let after = c.propfind(&c.book(), "0", "").await;
    assert!(!after.body.contains("Authors"), "{}", after.body);
    assert!(after.body.contains("#FF0000"));
    // Document order: set then remove of one name leaves it removed.
    let both = r#"<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:p>1</Z:p></D:prop></D:set><D:remove><D:prop><Z:p/></D:prop></D:remove></D:propertyupdate>"#.to_owned();
    c.send("PROPPATCH", &c.book(), &[], both).await;
    let after = c.propfind(&c.book(), "0", "").await;
    assert!(!after.body.contains("urn:z"), "{}", after.body);
}

#[tokio::test]
async fn protected_properties_fail_the_whole_proppatch() {
    let store = common::store().await;
    let c = client(&store, "deadprot").await;
    let body = set(&format!("{AUTHORS}<D:getetag>\"x\"</D:getetag>"));
    let reply = c.send("PROPPATCH", &c.book(), &[], body).await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
    insta::assert_snapshot!("proppatch_dead_protected", c.redact(&reply.body));
    let after = c.propfind(&c.book(), "0", "").await;
    assert!(
        !after.body.contains("Authors"),
        "nothing applied: {}",
        after.body
    );
    // Removing a protected live property is refused too.
    let reply = c
        .send("PROPPATCH", &c.book(), &[], remove("<D:resourcetype/>"))
        .await;
    assert!(reply.body.contains("403 Forbidden"));
    // The home keeps no dead properties: setting one is refused, removing one is a no-op.
    let reply = c.send("PROPPATCH", &c.home(), &[], set(AUTHORS)).await;
    assert!(reply.body.contains("403 Forbidden"));
    let reply = c
        .send("PROPPATCH", &c.home(), &[], remove("<Z:Authors/>"))
        .await;
    assert!(reply.body.contains("200 OK"), "{}", reply.body);
}

#[tokio::test]
async fn card_dead_properties_live_and_die_with_the_card() {
    let store = common::store().await;
    let c = client(&store, "deadcard").await;
    let other = format!("{}other/", c.home());
    c.send("MKCOL", &other, &[], "").await;
    c.put(&c.card("a.vcf"), &card("deadcard-a", "Ann"), &[])
        .await;
    let etag = c
        .get(&c.card("a.vcf"), &[])
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let reply = c
        .send(
            "PROPPATCH",
            &c.card("a.vcf"),
            &[],
            set("<D:displayname>Ann's card</D:displayname><Z:note>n</Z:note>"),
        )
        .await;
    assert!(
        reply.body.contains("200 OK") && !reply.body.contains("403"),
        "{}",
        reply.body
    );
    // Dead properties are not the card: its ETag is unchanged.
    assert_eq!(
        c.get(&c.card("a.vcf"), &[]).await.header("etag"),
        Some(etag.as_str())
    );
    let listing = c.propfind(&c.book(), "1", "").await;
    insta::assert_snapshot!("propfind_card_dead_allprop", c.redact(&listing.body));

    // MOVE carries them; the old href has none.
    let dest = format!("{other}moved.vcf");
    let reply = c
        .send("MOVE", &c.card("a.vcf"), &[("destination", &dest)], "")
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let moved = c
        .propfind(&dest, "0", r#"<propfind xmlns="DAV:" xmlns:Z="http://ns.example.com/z/"><prop><Z:note/><displayname/></prop></propfind>"#)
        .await;
    assert!(moved.body.contains(">n</Z:note>"), "{}", moved.body);
    assert!(moved.body.contains("Ann's card"));
    // COPY duplicates them.
    let copy = c.card("copy.vcf");
    let reply = c.send("COPY", &dest, &[("destination", &copy)], "").await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let copied = c.propfind(&copy, "0", "").await;
    assert!(copied.body.contains(">n</Z:note>"));

    // DELETE takes them along: a card created again at the same href starts without them.
    assert_eq!(
        c.send("DELETE", &copy, &[], "").await.status,
        StatusCode::NO_CONTENT
    );
    c.put(&copy, &card("deadcard-new", "New"), &[]).await;
    let fresh = c.propfind(&copy, "0", "").await;
    assert!(!fresh.body.contains("Z:note"), "{}", fresh.body);
    // PROPPATCH on a missing card is 404.
    let reply = c
        .send("PROPPATCH", &c.card("none.vcf"), &[], set("<Z:n/>"))
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn dead_properties_are_size_bounded() {
    let store = common::store().await;
    let c = client(&store, "deadsize").await;
    let limit = rolodex::limits::Limits::default().max_dead_property_bytes;
    // Two halves fit one by one, the third set goes over: 507, nothing of it applied.
    let half = "x".repeat(limit / 2 - 200);
    for name in ["one", "two"] {
        let reply = c
            .send(
                "PROPPATCH",
                &c.book(),
                &[],
                set(&format!("<Z:{name}>{half}</Z:{name}>")),
            )
            .await;
        assert!(reply.body.contains("200 OK"), "{name}");
    }
    let reply = c
        .send(
            "PROPPATCH",
            &c.book(),
            &[],
            set(&format!(
                "<D:displayname>Big</D:displayname><Z:three>{half}</Z:three>"
            )),
        )
        .await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
    assert!(
        reply.body.contains("507 Insufficient Storage"),
        "{}",
        reply.body
    );
    assert!(reply.body.contains("424 Failed Dependency"));
    let book = store
        .get_address_book(&c.principal, c.book_id)
        .await
        .unwrap();
    assert_ne!(book.display_name, "Big");
    // Replacing one of them with a small value makes room.
    c.send("PROPPATCH", &c.book(), &[], set("<Z:one>small</Z:one>"))
        .await;
    let reply = c
        .send(
            "PROPPATCH",
            &c.book(),
            &[],
            set(&format!("<Z:three>{half}</Z:three>")),
        )
        .await;
    assert!(reply.body.contains("200 OK"), "{}", reply.body);
    // Hostile shapes: a malformed comment in a value is a 400, deep nesting is refused by the
    // reader's depth limit; neither stores anything.
    let reply = c
        .send(
            "PROPPATCH",
            &c.book(),
            &[],
            set("<Z:c><!-- a -- b --></Z:c>"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let deep = format!("{}{}", "<Z:d>".repeat(100), "</Z:d>".repeat(100));
    let reply = c.send("PROPPATCH", &c.book(), &[], set(&deep)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}
