//! Committed-change events: one background LISTEN connection per server process on
//! [`CHANGE_CHANNEL`], fanned out to in-process subscribers. Because PostgreSQL delivers NOTIFY
//! only at commit, and to every listening session, a subscriber hears of a change made by any
//! server process (or the CLI) once it is durable, and never of a rolled-back one.

use std::time::Duration;

use futures_util::StreamExt;
use serde::Deserialize;
use tokio::sync::broadcast;

use super::{CHANGE_CHANNEL, ChangeOp};

/// One committed change, as announced on the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeEvent {
    pub address_book_id: i64,
    pub revision: i64,
    pub contact_id: i64,
    pub op: ChangeOp,
}

/// The NOTIFY payload, as `store::commit` builds it.
#[derive(Deserialize)]
struct Payload {
    address_book_id: i64,
    revision: i64,
    contact_id: i64,
    op: String,
}

/// How many events a slow subscriber may fall behind before it misses some (it is then told to
/// resync through the change feed).
const BACKLOG: usize = 1024;

/// Fan-out point for change events in this process.
#[derive(Clone, Debug)]
pub struct ChangeHub {
    sender: broadcast::Sender<ChangeEvent>,
}

impl ChangeHub {
    /// Starts listening in the background (reconnecting with backoff if the connection drops):
    /// the LISTEN task of the process, started once by whoever serves subscriptions (`serve`).
    /// Must be called inside a tokio runtime.
    pub fn start(database_url: &str) -> ChangeHub {
        let hub = ChangeHub::unheard();
        let url = database_url.to_owned();
        let task_sender = hub.sender.clone();
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(200);
            loop {
                match listen(&url, &task_sender).await {
                    Ok(()) => backoff = Duration::from_millis(200),
                    // The server is shutting down (every hub handle is gone) and the database
                    // went with it: nothing to reconnect for.
                    Err(_) if hub_dropped(&task_sender) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, "change listener disconnected; reconnecting");
                    }
                }
                // Stop when nobody can ever subscribe again (every hub handle dropped).
                if task_sender.receiver_count() == 0 && hub_dropped(&task_sender) {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        });
        hub
    }

    /// A hub no listener feeds: its subscribers hear nothing. For a router whose
    /// subscriptions are not exercised (tests of other features, tools).
    pub fn unheard() -> ChangeHub {
        let (sender, _) = broadcast::channel(BACKLOG);
        ChangeHub { sender }
    }

    /// A receiver of every event committed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<ChangeEvent> {
        self.sender.subscribe()
    }
}

/// Why the LISTEN connection ended (logged; the task reconnects).
#[derive(Debug, thiserror::Error)]
enum ListenError {
    #[error(transparent)]
    Connect(#[from] crate::db::ConnectError),
    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),
    #[error("connection closed")]
    Closed,
}

/// The listener task holds one sender; the hub handles hold the others.
fn hub_dropped(sender: &broadcast::Sender<ChangeEvent>) -> bool {
    sender.strong_count() <= 1
}

async fn listen(url: &str, sender: &broadcast::Sender<ChangeEvent>) -> Result<(), ListenError> {
    // The same TLS settings as the pool (sslmode, sslrootcert).
    let target = crate::db::ConnectTarget::parse(url)?;
    let (client, mut connection) = target.connect().await?;
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    let statement = format!("LISTEN {CHANGE_CHANNEL}");
    let listen = client.batch_execute(&statement);
    tokio::pin!(listen);
    // The connection must be polled for the LISTEN to complete; drive both.
    loop {
        tokio::select! {
            done = &mut listen => { done?; break; }
            message = messages.next() => match message {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => return Err(ListenError::Closed),
            }
        }
    }
    let mut idle_checks = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            message = messages.next() => match message {
                Some(Ok(tokio_postgres::AsyncMessage::Notification(note))) => {
                    if let Ok(p) = serde_json::from_str::<Payload>(note.payload()) {
                        let _ = sender.send(ChangeEvent {
                            address_book_id: p.address_book_id,
                            revision: p.revision,
                            contact_id: p.contact_id,
                            op: if p.op == "delete" { ChangeOp::Delete } else { ChangeOp::Put },
                        });
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => return Err(ListenError::Closed),
            },
            _ = idle_checks.tick() => {
                if hub_dropped(sender) && sender.receiver_count() == 0 {
                    return Ok(());
                }
            }
        }
    }
}
