//! The HTTP application: shared state and the router that mounts every front end.

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::auth::Authenticator;
use crate::store::Store;

/// State shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub authenticator: Authenticator,
    pub max_body_bytes: usize,
}

impl AppState {
    pub fn new(store: Store, max_body_bytes: usize) -> AppState {
        AppState {
            authenticator: Authenticator::new(store.clone()),
            store,
            max_body_bytes,
        }
    }
}

impl FromRef<AppState> for Authenticator {
    fn from_ref(state: &AppState) -> Authenticator {
        state.authenticator.clone()
    }
}

/// Builds the router: `/healthz` today; the GraphQL and CardDAV front ends mount here.
pub fn build_router(state: AppState) -> Router {
    let body_limit = state.max_body_bytes;
    Router::new()
        .route("/healthz", get(healthz))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// Liveness and database reachability; unauthenticated and reveals nothing but "ok".
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n"),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n")
        }
    }
}
