//! The subscription root: `contactChanged` streams committed changes of one address book,
//! whichever server process (or front end) made them, from the store's LISTEN/NOTIFY hub.
//! Before each event the subscriber's credential is authenticated again ([`Caller::recheck`]):
//! once it is revoked or expired, its password changed or its user disabled or deleted, the
//! next event is an UNAUTHENTICATED error instead, and the subscription ends.

use async_graphql::{Context, Enum, ID, SimpleObject, Subscription};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::errors::StoreResultExt;
use super::ids::{self, NodeKind};
use super::types::Contact;
use super::{Caller, principal, store};
use crate::store::{ChangeHub, ChangeOp};

pub struct SubscriptionRoot;

/// What a `contactChanged` stream holds between events.
struct Subscriber {
    receiver: tokio::sync::broadcast::Receiver<crate::store::ChangeEvent>,
    store: crate::store::Store,
    principal: crate::store::Principal,
    caller: Caller,
    /// An error was the last item: the stream ends.
    ended: bool,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
/// Kind of change.
pub enum ChangeOperation {
    /// Created or changed.
    Upsert,
    /// Deleted.
    Delete,
}

/// One committed change to a card.
#[derive(SimpleObject)]
pub struct ContactChangeEvent {
    /// Created/changed or deleted.
    pub operation: ChangeOperation,
    /// Global ID of the card.
    pub contact_id: ID,
    /// Numeric id of the card.
    pub database_id: i64,
    /// The address book's change token after this change (for `changes(since:)`).
    pub change_token: String,
    /// The card as stored now; null when deleted (or a group, see `changes`).
    pub contact: Option<Contact>,
    /// True when events were dropped because this subscriber fell behind: resync with
    /// `changes(since:)`.
    pub missed_events: bool,
}

/// Live changes.
#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Changes to contacts of one of your address books, as they are committed.
    async fn contact_changed(
        &self,
        ctx: &Context<'_>,
        address_book_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<ContactChangeEvent>>> {
        let book = ids::expect(&address_book_id, NodeKind::AddressBook, "addressBookId")?;
        let store = store(ctx)?.clone();
        let principal = principal(ctx)?.clone();
        // Ownership is checked once, up front: another user's book is NOT_FOUND.
        store.get_address_book(&principal, book).await.gql()?;
        let receiver = ctx.data::<ChangeHub>()?.subscribe();
        let caller = ctx.data::<Caller>()?.clone();
        let state = Subscriber {
            receiver,
            store,
            principal,
            caller,
            ended: false,
        };
        Ok(futures_util::stream::unfold(
            state,
            move |mut state| async move {
                if state.ended {
                    return None;
                }
                let Subscriber {
                    receiver,
                    store,
                    principal,
                    caller,
                    ..
                } = &mut state;
                loop {
                    let event = match receiver.recv().await {
                        Ok(event) => event,
                        Err(RecvError::Lagged(_)) => {
                            let lagged = ContactChangeEvent {
                                operation: ChangeOperation::Upsert,
                                contact_id: ID(String::new()),
                                database_id: 0,
                                change_token: String::new(),
                                contact: None,
                                missed_events: true,
                            };
                            return Some((Ok(lagged), state));
                        }
                        Err(RecvError::Closed) => return None,
                    };
                    if event.address_book_id != book {
                        continue;
                    }
                    if let Err(refused) = caller.recheck(principal).await {
                        state.ended = true;
                        return Some((Err(refused), state));
                    }
                    let contact = match event.op {
                        ChangeOp::Delete => None,
                        ChangeOp::Put => store
                            .get_contacts(principal, &[event.contact_id])
                            .await
                            .ok()
                            .and_then(|mut found| found.pop())
                            .map(Contact::from),
                    };
                    let item = ContactChangeEvent {
                        operation: match event.op {
                            ChangeOp::Put => ChangeOperation::Upsert,
                            ChangeOp::Delete => ChangeOperation::Delete,
                        },
                        contact_id: ids::encode(NodeKind::Contact, event.contact_id),
                        database_id: event.contact_id,
                        change_token: event.revision.to_string(),
                        contact,
                        missed_events: false,
                    };
                    return Some((Ok(item), state));
                }
            },
        ))
    }
}
