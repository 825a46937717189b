//! The HTTP application: shared state and the router that mounts every front end.

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::auth::Authenticator;
use crate::graphql::RolodexSchema;
use crate::store::{ChangeHub, Store};

/// State shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub authenticator: Authenticator,
    pub max_body_bytes: usize,
    /// The GraphQL schema, built once.
    pub graphql: RolodexSchema,
    /// Committed-change events for subscriptions (one LISTEN connection per process).
    pub changes: ChangeHub,
}

impl AppState {
    /// Must be called inside a tokio runtime (the change listener starts in the background).
    pub fn new(store: Store, max_body_bytes: usize) -> AppState {
        AppState {
            authenticator: Authenticator::new(store.clone()),
            changes: ChangeHub::start(store.database_url()),
            graphql: crate::graphql::build_schema(),
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

/// Builds the router: `/healthz`, GraphQL (`/graphql`, `/graphql/ws`) and CardDAV.
pub fn build_router(state: AppState) -> Router {
    let body_limit = state.max_body_bytes;
    Router::new()
        .route("/healthz", get(healthz))
        .merge(crate::graphql::router())
        .merge(crate::dav::router())
        .layer(DefaultBodyLimit::max(body_limit))
        // DefaultBodyLimit only covers extractors that buffer through axum; GraphQL reads the
        // body as a stream, so also cap every body at the transport level.
        .layer(tower_http::limit::RequestBodyLimitLayer::new(body_limit))
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
