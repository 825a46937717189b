//! A store read started on its own task before it is needed (the next page of a listing or an
//! export, read while the current one is written), so PostgreSQL works while this process
//! does. Aborted when dropped: a read never outlives the answer it was for (a client gone, an
//! answer cut short).

use std::future::Future;

use tokio::task::JoinHandle;

use super::{StoreError, StoreResult};

/// A read running ahead of its use.
pub struct ReadAhead<T>(JoinHandle<StoreResult<T>>);

impl<T: Send + 'static> ReadAhead<T> {
    pub fn start(read: impl Future<Output = StoreResult<T>> + Send + 'static) -> ReadAhead<T> {
        ReadAhead(tokio::spawn(read))
    }

    /// Its result, once the read is done.
    pub async fn finish(mut self) -> StoreResult<T> {
        (&mut self.0)
            .await
            .map_err(|e| StoreError::Unavailable(format!("reading ahead failed: {e}")))?
    }
}

impl<T> Drop for ReadAhead<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
