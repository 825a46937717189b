//! Per-request DataLoaders: they batch lookups that many nodes of one response need, so a page
//! of N contacts asks the database once, not N times.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;

use super::errors::store_error;
use super::types::GroupRef;
use crate::store::{AddressBook, Principal, Store};

/// Groups of contacts, by contact id.
pub struct GroupsLoader {
    pub store: Store,
    pub principal: Principal,
}

impl Loader<i64> for GroupsLoader {
    type Value = Vec<GroupRef>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let summaries = self
            .store
            .group_summaries(&self.principal, keys)
            .await
            .map_err(store_error)?;
        Ok(summaries
            .into_iter()
            .map(|(id, groups)| (id, groups.iter().map(GroupRef::from).collect()))
            .collect())
    }
}

/// The principal's address books, loaded at most once per request: every node of a page
/// asking for its `addressBook` shares one query (a user has a handful of books). A cell
/// rather than a DataLoader, whose batching window could split one page into two queries.
pub struct RequestBooks {
    pub store: Store,
    pub principal: Principal,
    pub books: tokio::sync::OnceCell<Vec<AddressBook>>,
}

impl RequestBooks {
    /// The principal's book with this id (`None`: deleted since the contact was read).
    pub async fn get(&self, id: i64) -> async_graphql::Result<Option<AddressBook>> {
        let books = self
            .books
            .get_or_try_init(|| self.store.list_address_books(&self.principal))
            .await
            .map_err(store_error)?;
        Ok(books.iter().find(|book| book.id == id).cloned())
    }
}
