//! Per-request DataLoaders: they batch lookups that many nodes of one response need, so a page
//! of N contacts asks the database once, not N times.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;

use super::errors::store_error;
use super::types::GroupRef;
use crate::store::{Principal, Store};

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
