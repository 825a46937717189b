//! `/graphql/ws`: GraphQL over WebSocket (graphql-transport-ws, and the legacy graphql-ws),
//! with the connection limits async-graphql's transport does not have.
//!
//! async-graphql's [`WebSocket`] runs the protocol; this module feeds it and adds:
//!
//! - a deadline for `connection_init`: a socket that never sends it is closed with 4408
//!   ("Connection initialisation timeout", graphql-transport-ws) or simply closed (legacy);
//! - a cap on subscriptions open at once: an extra `subscribe` is answered with an `error`
//!   message for its id (code TOO_MANY_SUBSCRIPTIONS) and the connection stays open;
//! - a close with 1009 when a message is over the size limit (axum refuses it while reading);
//! - before each operation, the credential of `connection_init` is authenticated again
//!   ([`super::Caller::recheck`]): a connection opened with a since revoked token, changed
//!   password or disabled user gets UNAUTHENTICATED for anything it starts.
//!
//! Open operations are counted by [`CountingExecutor`]: async-graphql starts each accepted
//! `subscribe` through the executor and drops its stream when it completes, is stopped by the
//! client or is replaced, so the count is exact at every message the [`Inbox`] hands over.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use async_graphql::http::{ClientMessage, WebSocket, WebSocketProtocols, WsMessage};
use async_graphql::{Data, Executor, Pos, Request, Response};
use axum::extract::ws::{self, CloseFrame, Message};
use futures_util::stream::{BoxStream, SplitStream};
use futures_util::{FutureExt, SinkExt, Stream, StreamExt};
use tokio::sync::Notify;

use super::RolodexSchema;

/// graphql-transport-ws: no `connection_init` in time.
const CLOSE_INIT_TIMEOUT: u16 = 4408;
/// RFC 6455: a message too big to process.
const CLOSE_TOO_BIG: u16 = 1009;
/// RFC 6455: the peer broke the WebSocket protocol.
const CLOSE_PROTOCOL_ERROR: u16 = 1002;

/// The limits of one connection.
#[derive(Debug, Clone, Copy)]
pub(super) struct ConnectionLimits {
    pub init_timeout: Duration,
    pub max_subscriptions: usize,
}

/// Runs one GraphQL WebSocket connection to its end. `on_init` turns the `connection_init`
/// payload into the connection's data (it authenticates).
pub(super) async fn serve<OnInit, InitFuture>(
    socket: ws::WebSocket,
    schema: RolodexSchema,
    protocol: WebSocketProtocols,
    limits: ConnectionLimits,
    on_init: OnInit,
) where
    OnInit: FnOnce(serde_json::Value) -> InitFuture + Send + 'static,
    InitFuture: Future<Output = async_graphql::Result<Data>> + Send + 'static,
{
    let (mut sink, source) = socket.split();
    let shared = Arc::new(Shared::default());
    let open = Arc::new(AtomicUsize::new(0));
    let inbox = Inbox {
        source,
        shared: shared.clone(),
        open: open.clone(),
        max_open: limits.max_subscriptions,
        protocol,
    };
    let executor = CountingExecutor { schema, open };
    let mut connection = std::pin::pin!(
        WebSocket::from_message_stream(executor, inbox, protocol).on_connection_init(on_init)
    );
    let init_deadline = tokio::time::sleep(limits.init_timeout);
    let mut init_deadline = std::pin::pin!(init_deadline);

    loop {
        let next = tokio::select! {
            () = shared.notify.notified() => Next::Replies,
            message = connection.next() => match message {
                Some(message) => Next::Protocol(message),
                None => Next::End,
            },
            () = &mut init_deadline, if !shared.initialised.load(Ordering::Acquire) => {
                Next::InitTimeout
            }
        };
        // Replies the inbox queued answer messages that came before whatever the protocol
        // produced in the same turn, so they go first.
        for reply in shared.take_replies() {
            if sink.send(Message::Text(reply.into())).await.is_err() {
                return;
            }
        }
        let outgoing = match next {
            Next::Replies => continue,
            Next::Protocol(WsMessage::Text(text)) => Message::Text(text.into()),
            Next::Protocol(WsMessage::Close(code, reason)) => close(code, reason),
            Next::End => match shared.take_close() {
                Some((code, reason)) => close(code, reason.to_owned()),
                None => return,
            },
            Next::InitTimeout => match protocol {
                WebSocketProtocols::GraphQLWS => close(
                    CLOSE_INIT_TIMEOUT,
                    "Connection initialisation timeout".to_owned(),
                ),
                WebSocketProtocols::SubscriptionsTransportWS => Message::Close(None),
            },
        };
        let closing = matches!(outgoing, Message::Close(_));
        if sink.send(outgoing).await.is_err() || closing {
            return;
        }
    }
}

enum Next {
    Replies,
    Protocol(WsMessage),
    End,
    InitTimeout,
}

fn close(code: u16, reason: String) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// What the inbox tells the connection loop.
#[derive(Default)]
struct Shared {
    /// Protocol messages to send that async-graphql does not produce.
    replies: Mutex<Vec<String>>,
    /// Signalled when a reply is queued.
    notify: Notify,
    /// `connection_init` has arrived.
    initialised: AtomicBool,
    /// How to close when the client's side ended abnormally.
    close: Mutex<Option<(u16, &'static str)>>,
}

impl Shared {
    fn take_replies(&self) -> Vec<String> {
        std::mem::take(&mut *self.replies.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn take_close(&self) -> Option<(u16, &'static str)> {
        self.close.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// The client's messages, parsed, as async-graphql's [`WebSocket`] reads them; refuses a
/// `subscribe` over the limit itself, and notes `connection_init`.
struct Inbox {
    source: SplitStream<ws::WebSocket>,
    shared: Arc<Shared>,
    open: Arc<AtomicUsize>,
    max_open: usize,
    protocol: WebSocketProtocols,
}

impl Stream for Inbox {
    type Item = serde_json::Result<ClientMessage>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            let parsed = match ready!(self.source.poll_next_unpin(cx)) {
                None | Some(Ok(Message::Close(_))) => return Poll::Ready(None),
                Some(Ok(Message::Text(text))) => ClientMessage::from_bytes(text.as_bytes()),
                Some(Ok(Message::Binary(bytes))) => ClientMessage::from_bytes(&bytes),
                // axum answers pings itself.
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Err(error)) => {
                    // axum stops reading a message over `max_message_size`/`max_frame_size`
                    // with tungstenite's capacity error, which it passes on only as text.
                    let text = error.to_string();
                    let close = if text.contains("too long") || text.contains("Space limit") {
                        (CLOSE_TOO_BIG, "message too big")
                    } else {
                        (CLOSE_PROTOCOL_ERROR, "unreadable message")
                    };
                    *self.shared.close.lock().unwrap_or_else(|e| e.into_inner()) = Some(close);
                    return Poll::Ready(None);
                }
            };
            match &parsed {
                Ok(ClientMessage::ConnectionInit { .. }) => {
                    self.shared.initialised.store(true, Ordering::Release);
                }
                Ok(ClientMessage::Start { id, .. })
                    if self.open.load(Ordering::Acquire) >= self.max_open =>
                {
                    let reply = too_many_subscriptions(self.protocol, id, self.max_open);
                    self.shared
                        .replies
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(reply);
                    self.shared.notify.notify_one();
                    continue;
                }
                _ => {}
            }
            return Poll::Ready(Some(parsed));
        }
    }
}

/// The `error` message refusing operation `id`.
fn too_many_subscriptions(protocol: WebSocketProtocols, id: &str, max: usize) -> String {
    let error = serde_json::json!({
        "message": format!("at most {max} subscriptions may be open on one connection"),
        "extensions": { "code": "TOO_MANY_SUBSCRIPTIONS" },
    });
    // graphql-transport-ws sends a list of GraphQL errors; subscriptions-transport-ws one.
    let payload = match protocol {
        WebSocketProtocols::GraphQLWS => serde_json::Value::Array(vec![error]),
        WebSocketProtocols::SubscriptionsTransportWS => error,
    };
    serde_json::json!({ "id": id, "type": "error", "payload": payload }).to_string()
}

/// The schema, counting the operations it has open on one connection.
#[derive(Clone)]
struct CountingExecutor {
    schema: RolodexSchema,
    open: Arc<AtomicUsize>,
}

/// One open operation; gives its place back when its stream is dropped.
struct OpenOperation(Arc<AtomicUsize>);

impl Drop for OpenOperation {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Executor for CountingExecutor {
    async fn execute(&self, request: Request) -> Response {
        self.schema.execute(request).await
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        self.open.fetch_add(1, Ordering::AcqRel);
        let operation = OpenOperation(self.open.clone());
        let schema = self.schema.clone();
        async move {
            if let Some(data) = &session_data
                && let Err(refused) = super::recheck_session(data).await
            {
                let response =
                    Response::from_errors(vec![refused.into_server_error(Pos::default())]);
                return futures_util::stream::once(std::future::ready(response)).boxed();
            }
            Executor::execute_stream(&schema, request, session_data)
        }
        .into_stream()
        .flatten()
        .map(move |response| {
            // Moved in so the count drops exactly when async-graphql drops the stream.
            let _ = &operation;
            response
        })
        .boxed()
    }
}
