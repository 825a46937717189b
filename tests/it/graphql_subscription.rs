//! GraphQL subscriptions over graphql-transport-ws: a change made through a second server
//! process on the same database reaches a subscriber of the first (PostgreSQL LISTEN/NOTIFY
//! after commit); another user's address book cannot be subscribed to; bad credentials are
//! refused.

use crate::common;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(base: &str, token: &str) -> Socket {
    let mut request = format!("{}/graphql/ws", base.replace("http://", "ws://"))
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("ws connect");
    socket
        .send(Message::text(
            json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } }).to_string(),
        ))
        .await
        .unwrap();
    socket
}

/// The next protocol message (text frames only), with a timeout.
async fn next(socket: &mut Socket) -> Option<Value> {
    let deadline = Duration::from_secs(20);
    loop {
        match tokio::time::timeout(deadline, socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return Some(serde_json::from_str(&text).unwrap()),
            Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => return None,
            Ok(Some(Ok(_))) => continue,
            Err(_) => panic!("no message within {deadline:?}"),
        }
    }
}

async fn subscribe(socket: &mut Socket, book: &str) {
    socket
        .send(Message::text(
            json!({
                "id": "1",
                "type": "subscribe",
                "payload": {
                    "query": "subscription($b: ID!) { contactChanged(addressBookId: $b) { operation databaseId changeToken contact { displayName } } }",
                    "variables": { "b": book }
                }
            })
            .to_string(),
        ))
        .await
        .unwrap();
}

async fn graphql(base: &str, token: &str, query: &str, variables: Value) -> Value {
    let body: Value = reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
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

#[tokio::test]
async fn a_change_made_by_another_server_process_reaches_the_subscriber() {
    let store = common::store().await;
    let alice = common::user(&store, "sub").await;
    let token = common::token(&store, &alice).await;
    let base = common::serve(&store).await;
    let book = graphql(&base, &token, "{ addressBooks { id } }", json!({})).await["addressBooks"]
        [0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut socket = connect(&base, &token).await;
    assert_eq!(next(&mut socket).await.unwrap()["type"], "connection_ack");
    subscribe(&mut socket, &book).await;
    // Give the subscription a moment to register before the change happens.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (_other, other_base) = common::serve_process(&[]).await;
    let created = graphql(
        &other_base,
        &token,
        "mutation { createContact(input: { displayName: \"From Elsewhere\" }) { contact { databaseId } } }",
        json!({}),
    )
    .await;
    let id = created["createContact"]["contact"]["databaseId"].clone();

    let event = next(&mut socket).await.expect("an event");
    assert_eq!(event["type"], "next", "{event}");
    let change = &event["payload"]["data"]["contactChanged"];
    assert_eq!(change["operation"], "UPSERT");
    assert_eq!(change["databaseId"], id);
    assert_eq!(change["contact"]["displayName"], "From Elsewhere");

    // A deletion through the store (as CardDAV would do it) arrives too.
    store
        .delete_contact(&alice, id.as_i64().unwrap(), None)
        .await
        .unwrap();
    let event = next(&mut socket).await.expect("a delete event");
    assert_eq!(
        event["payload"]["data"]["contactChanged"]["operation"],
        "DELETE"
    );
    assert!(event["payload"]["data"]["contactChanged"]["contact"].is_null());
}

#[tokio::test]
async fn another_users_book_cannot_be_subscribed_and_bad_tokens_are_refused() {
    let store = common::store().await;
    let alice = common::user(&store, "sub").await;
    let mallory = common::user(&store, "mallory").await;
    let alice_book = common::default_book(&store, &alice).await;
    let mallory_token = common::token(&store, &mallory).await;
    let base = common::serve(&store).await;
    let global_id = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("AddressBook:{alice_book}"))
    };

    let mut socket = connect(&base, &mallory_token).await;
    assert_eq!(next(&mut socket).await.unwrap()["type"], "connection_ack");
    subscribe(&mut socket, &global_id).await;
    let reply = next(&mut socket).await.expect("a reply");
    // Either an `error` message or a `next` carrying only errors, per graphql-transport-ws.
    let error = match reply["type"].as_str() {
        Some("error") => reply["payload"][0].clone(),
        Some("next") => {
            assert!(reply["payload"]["data"].is_null(), "{reply}");
            reply["payload"]["errors"][0].clone()
        }
        _ => panic!("unexpected reply {reply}"),
    };
    assert_eq!(error["extensions"]["code"], "NOT_FOUND", "{reply}");

    let mut refused = connect(&base, "rdx_not_a_token").await;
    let reply = next(&mut refused).await;
    assert!(
        reply.as_ref().is_none_or(|r| r["type"] != "connection_ack"),
        "a bad token was acknowledged: {reply:?}"
    );
}

/// A socket that has sent nothing yet.
async fn open(base: &str, protocol: &str) -> Socket {
    let mut request = format!("{}/graphql/ws", base.replace("http://", "ws://"))
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", protocol.parse().unwrap());
    tokio_tungstenite::connect_async(request)
        .await
        .expect("ws connect")
        .0
}

/// Reads until the server closes; returns its close code (None: closed without a frame).
async fn closed(socket: &mut Socket) -> Option<u16> {
    loop {
        match tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .expect("the server did not close the socket")
        {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code.into()),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return None,
        }
    }
}

#[tokio::test]
async fn a_socket_that_never_initialises_is_closed() {
    let store = common::store().await;
    let base = common::serve_with_limits(
        &store,
        rolodex::limits::Limits {
            graphql_ws_init_timeout_secs: 1,
            ..Default::default()
        },
    )
    .await;
    let mut socket = open(&base, "graphql-transport-ws").await;
    assert_eq!(closed(&mut socket).await, Some(4408));
    // The legacy protocol has no code for it: the socket is just closed.
    let mut legacy = open(&base, "graphql-ws").await;
    closed(&mut legacy).await;
}

#[tokio::test]
async fn an_oversized_message_closes_the_socket() {
    let store = common::store().await;
    let alice = common::user(&store, "sub").await;
    let token = common::token(&store, &alice).await;
    let base = common::serve(&store).await;
    let mut socket = connect(&base, &token).await;
    assert_eq!(next(&mut socket).await.unwrap()["type"], "connection_ack");
    let huge = json!({
        "id": "1",
        "type": "subscribe",
        "payload": { "query": format!("subscription {{ __typename }} # {}", "x".repeat(128 * 1024)) }
    });
    // The server may close while the message is still being written.
    let _ = socket.send(Message::text(huge.to_string())).await;
    let code = closed(&mut socket).await;
    assert!(code.is_none_or(|code| code == 1009), "closed with {code:?}");
}

#[tokio::test]
async fn subscriptions_per_connection_are_capped() {
    let store = common::store().await;
    let alice = common::user(&store, "sub").await;
    let token = common::token(&store, &alice).await;
    let book = common::default_book(&store, &alice).await;
    let base = common::serve(&store).await;
    let book = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("AddressBook:{book}"))
    };
    let mut socket = connect(&base, &token).await;
    assert_eq!(next(&mut socket).await.unwrap()["type"], "connection_ack");
    let send = |id: String, kind: &'static str| {
        let message = match kind {
            "subscribe" => json!({
                "id": id,
                "type": "subscribe",
                "payload": {
                    "query": "subscription($b: ID!) { contactChanged(addressBookId: $b) { databaseId } }",
                    "variables": { "b": book }
                }
            }),
            other => json!({ "id": id, "type": other }),
        };
        Message::text(message.to_string())
    };
    // The default limit is 16.
    for id in 1..=16 {
        socket
            .send(send(id.to_string(), "subscribe"))
            .await
            .unwrap();
    }
    socket.send(send("17".into(), "subscribe")).await.unwrap();
    let reply = next(&mut socket).await.expect("a reply");
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["id"], "17", "{reply}");
    assert_eq!(
        reply["payload"][0]["extensions"]["code"], "TOO_MANY_SUBSCRIPTIONS",
        "{reply}"
    );

    // The connection stays; completing one subscription makes room for another.
    socket.send(send("1".into(), "complete")).await.unwrap();
    socket.send(send("18".into(), "subscribe")).await.unwrap();
    socket
        .send(Message::text(json!({ "type": "ping" }).to_string()))
        .await
        .unwrap();
    loop {
        let message = next(&mut socket).await.expect("the connection stays open");
        assert_ne!(message["type"], "error", "{message}");
        if message["type"] == "pong" {
            break;
        }
    }
    // And subscription 18 is live: a change reaches it (once it has registered, as above).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let created = graphql(
        &base,
        &token,
        "mutation { createContact(input: { displayName: \"Room\" }) { contact { databaseId } } }",
        json!({}),
    )
    .await;
    let id = created["createContact"]["contact"]["databaseId"].clone();
    let mut seen = std::collections::HashSet::new();
    while seen.len() < 16 {
        let event = next(&mut socket).await.expect("an event");
        assert_eq!(event["type"], "next", "{event}");
        assert_eq!(event["payload"]["data"]["contactChanged"]["databaseId"], id);
        seen.insert(event["id"].as_str().unwrap().to_owned());
    }
    assert!(seen.contains("18") && !seen.contains("1"), "{seen:?}");
}
