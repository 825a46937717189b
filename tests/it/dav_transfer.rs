//! MOVE and COPY of cards through the real router against a real PostgreSQL (issue 13 item 3,
//! RFC 4918 9.8, 9.9, RFC 6352 6.3.2.1): within a book and between the user's books, the
//! Destination and Overwrite headers, no-uid-conflict, 201/204, what sync-collection shows,
//! and hostile or foreign destinations answered 4xx or 502.

use crate::common;
use crate::dav_client;

use axum::http::StatusCode;
use dav_client::*;

/// The hrefs a sync-collection from `token` reports, with "404" for deletions.
async fn sync_changes(c: &Client, book: &str, token: &str) -> Vec<String> {
    let body = format!(
        r#"<D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"#
    );
    let reply = c.report(book, &body).await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS, "{}", reply.body);
    reply
        .body
        .split("<d:response>")
        .skip(1)
        .map(|r| {
            let href = between(r, "<d:href>", "</d:href>");
            let name = href.rsplit('/').next().unwrap_or_default();
            if r.contains("404 Not Found") {
                format!("-{name}")
            } else {
                format!("+{name}")
            }
        })
        .collect()
}

#[tokio::test]
async fn move_and_copy_within_and_between_books() {
    let store = common::store().await;
    let c = client(&store, "mv").await;
    let other = format!("{}other/", c.home());
    assert_eq!(
        c.send("MKCOL", &other, &[], "").await.status,
        StatusCode::CREATED
    );
    c.put(&c.card("a.vcf"), &card("mv-a", "Ann"), &[]).await;
    let token = c.sync_token().await;

    // MOVE within the book: 201, the old href is gone, sync shows -a +b.
    let reply = c
        .send(
            "MOVE",
            &c.card("a.vcf"),
            &[("destination", &c.card("b.vcf"))],
            "",
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(
        c.get(&c.card("a.vcf"), &[]).await.status,
        StatusCode::NOT_FOUND
    );
    let moved = c.get(&c.card("b.vcf"), &[]).await;
    assert!(moved.body.contains("UID:mv-a"));
    assert_eq!(
        sync_changes(&c, &c.book(), &token).await,
        ["-a.vcf", "+b.vcf"]
    );

    // COPY within the book meets the source's UID (RFC 6352 6.3.2.1).
    let reply = c
        .send(
            "COPY",
            &c.card("b.vcf"),
            &[("destination", &c.card("c.vcf"))],
            "",
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    insta::assert_snapshot!("copy_uid_conflict", c.redact(&reply.body));

    // COPY to another book (absolute URL): 201; both exist; Overwrite: F then 412.
    let other_token = {
        let reply = c
            .propfind(
                &other,
                "0",
                r#"<propfind xmlns="DAV:"><prop><sync-token/></prop></propfind>"#,
            )
            .await;
        between(&reply.body, "<d:sync-token>", "</d:sync-token>").to_owned()
    };
    let absolute = format!("http://dav.example{other}copy.vcf");
    let reply = c
        .send(
            "COPY",
            &c.card("b.vcf"),
            &[("destination", &absolute), ("host", "dav.example")],
            "",
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(c.get(&c.card("b.vcf"), &[]).await.status, StatusCode::OK);
    assert_eq!(sync_changes(&c, &other, &other_token).await, ["+copy.vcf"]);
    let reply = c
        .send(
            "COPY",
            &c.card("b.vcf"),
            &[("destination", &absolute), ("overwrite", "F")],
            "",
        )
        .await;
    assert_eq!(reply.status, StatusCode::PRECONDITION_FAILED);
    // Overwrite (the default T) of a card with the same UID: 204.
    let reply = c
        .send("COPY", &c.card("b.vcf"), &[("destination", &absolute)], "")
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);

    // MOVE between books onto another href where the UID already is: no-uid-conflict.
    let reply = c
        .send(
            "MOVE",
            &c.card("b.vcf"),
            &[("destination", &format!("{other}elsewhere.vcf"))],
            "",
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert!(reply.body.contains("copy.vcf"), "{}", reply.body);

    // MOVE over a card of another UID is refused like a PUT would be.
    c.put(&c.card("d.vcf"), &card("mv-d", "Dan"), &[]).await;
    let reply = c
        .send(
            "MOVE",
            &c.card("d.vcf"),
            &[("destination", &format!("{other}copy.vcf"))],
            "",
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.body.contains("no-uid-conflict"));

    // MOVE between books: source book shows a deletion, destination an addition.
    let (token, other_token) = (c.sync_token().await, {
        let reply = c
            .propfind(
                &other,
                "0",
                r#"<propfind xmlns="DAV:"><prop><sync-token/></prop></propfind>"#,
            )
            .await;
        between(&reply.body, "<d:sync-token>", "</d:sync-token>").to_owned()
    });
    let reply = c
        .send(
            "MOVE",
            &c.card("d.vcf"),
            &[("destination", &format!("{other}d.vcf"))],
            "",
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(sync_changes(&c, &c.book(), &token).await, ["-d.vcf"]);
    assert_eq!(sync_changes(&c, &other, &other_token).await, ["+d.vcf"]);
}

/// A method, its headers and the status expected.
type Case = (&'static str, Vec<(&'static str, String)>, StatusCode);

#[tokio::test]
async fn bad_destinations_are_4xx_or_502() {
    let store = common::store().await;
    let c = client(&store, "mvbad").await;
    let stranger = client(&store, "mvother").await;
    c.put(&c.card("a.vcf"), &card("mvbad-a", "Ann"), &[]).await;
    let src = c.card("a.vcf");
    let cases: Vec<Case> = vec![
        ("MOVE", vec![], StatusCode::BAD_REQUEST),
        (
            "MOVE",
            vec![("destination", "b.vcf".into())],
            StatusCode::BAD_REQUEST,
        ),
        (
            "MOVE",
            vec![("destination", stranger.card("x.vcf"))],
            StatusCode::FORBIDDEN,
        ),
        (
            "COPY",
            vec![("destination", c.book())],
            StatusCode::FORBIDDEN,
        ),
        (
            "COPY",
            vec![("destination", "/dav/".into())],
            StatusCode::FORBIDDEN,
        ),
        (
            "COPY",
            vec![("destination", src.clone())],
            StatusCode::FORBIDDEN,
        ),
        (
            "COPY",
            vec![("destination", "/elsewhere/x.vcf".into())],
            StatusCode::BAD_GATEWAY,
        ),
        (
            "COPY",
            vec![
                (
                    "destination",
                    format!("https://other.example{}", c.card("b.vcf")),
                ),
                ("host", "dav.example".into()),
            ],
            StatusCode::BAD_GATEWAY,
        ),
        (
            "COPY",
            vec![("destination", format!("{}%zz", c.book()))],
            StatusCode::BAD_REQUEST,
        ),
        (
            "COPY",
            vec![("destination", format!("{}nobook/x.vcf", c.home()))],
            StatusCode::CONFLICT,
        ),
        (
            "COPY",
            vec![
                ("destination", c.card("b.vcf")),
                ("overwrite", "maybe".into()),
            ],
            StatusCode::BAD_REQUEST,
        ),
        (
            "COPY",
            vec![("destination", format!("{}{}", c.book(), "n".repeat(300)))],
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (method, headers, expected) in &cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let reply = c.send(method, &src, &headers, "").await;
        assert_eq!(
            reply.status, *expected,
            "{method} {headers:?}: {}",
            reply.body
        );
    }
    // A missing source is 404; collections are refused with a reason.
    let reply = c
        .send(
            "MOVE",
            &c.card("nope.vcf"),
            &[("destination", &c.card("b.vcf"))],
            "",
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = c
        .send(
            "MOVE",
            &c.book(),
            &[("destination", &format!("{}x/", c.home()))],
            "",
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.body.contains("address books cannot be"));
    // Nothing moved.
    assert_eq!(c.get(&src, &[]).await.status, StatusCode::OK);
    assert_eq!(
        c.get(&c.card("b.vcf"), &[]).await.status,
        StatusCode::NOT_FOUND
    );
}
