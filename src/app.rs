//! The HTTP application: the state shared by every handler, composed of each front end's part,
//! and the router that mounts every front end.
//!
//! The front ends do not know this state: each names the parts it needs ([`Store`],
//! [`Authenticator`], its own [`DavLimits`] or [`GraphqlState`]) and reaches them through
//! axum's `FromRef`, which `AppState` derives field by field.

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::auth::Authenticator;
use crate::dav::DavLimits;
use crate::download::ExportPermits;
use crate::graphql::GraphqlState;
use crate::limits::Limits;
use crate::store::{CardLimits, ChangeHub, Store};

/// What the server is told besides where its database is.
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    pub limits: Limits,
    /// Browser origins, besides the server's own, allowed to call `/graphql`
    /// (`scheme://host[:port]`, lower case).
    pub allowed_origins: Vec<String>,
}

/// State shared by every handler: one field per part a front end asks for.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub store: Store,
    pub authenticator: Authenticator,
    pub dav: DavLimits,
    pub graphql: GraphqlState,
    /// Whole-book exports running at once (GraphQL's and the download's).
    pub exports: ExportPermits,
    /// The cap on every request body, applied to the whole router.
    #[from_ref(skip)]
    pub max_body_bytes: usize,
}

impl AppState {
    /// The state of a server on `store`, which is given the card limits of `options`. Nothing
    /// is started: `changes` is the process's change hub, started by the caller
    /// ([`ChangeHub::start`], as `serve` does) when subscriptions are to hear of changes.
    pub fn new(store: Store, options: AppOptions, changes: ChangeHub) -> AppState {
        let limits = options.limits;
        let exports = ExportPermits::new(&limits);
        let store = store.with_card_limits(CardLimits::from(&limits));
        AppState {
            authenticator: Authenticator::new(store.clone(), &limits),
            dav: DavLimits::from(&limits),
            graphql: GraphqlState::new(&limits, options.allowed_origins, changes, exports.clone()),
            exports,
            max_body_bytes: limits.max_body_bytes,
            store,
        }
    }
}

/// Builds the router: `/` (a page naming the front ends), `/healthz`, GraphQL (`/graphql`,
/// `/graphql/ws`) and CardDAV. Serve it with connection info
/// (`into_make_service_with_connect_info::<SocketAddr>`) so failed logins are also counted per
/// client address.
pub fn build_router(state: AppState) -> Router {
    let body_limit = state.max_body_bytes;
    Router::new()
        .route("/", get(crate::home::page))
        .route("/healthz", get(healthz))
        .merge(crate::graphql::router())
        .merge(crate::dav::router())
        .merge(crate::download::router())
        // Each front end reads its bodies itself, within `max_body_bytes` (and CardDAV PUT
        // within `max_card_bytes`), only after authentication, and refuses a larger one in its
        // own terms (a DAV precondition, a GraphQL error). This covers any extractor added
        // later.
        .layer(DefaultBodyLimit::max(body_limit))
        // The last line of defence: a handler that panics answers 500 (and is logged) instead
        // of dropping the client's connection with no status.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        .with_state(state)
}

/// Liveness and database reachability; unauthenticated and reveals nothing but "ok".
async fn healthz(State(store): State<Store>) -> impl IntoResponse {
    match store.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n"),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n")
        }
    }
}

/// The answer for a request whose handler panicked. The panic message is logged, never sent.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = message, "request handler panicked");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error: the request could not be completed\n",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    /// The last line of defence: a handler that panics is a 500 with a body, not a connection
    /// closed without a status.
    #[tokio::test]
    async fn a_panicking_handler_is_answered_500() {
        let router: Router = Router::new()
            .route(
                "/boom",
                get(|| async {
                    let text = "12€";
                    // Slicing inside a character, as the phone normalizer once did.
                    let _ = &text[..3];
                    ""
                }),
            )
            .layer(tower_http::catch_panic::CatchPanicLayer::custom(
                panic_response,
            ));
        let response = router
            .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        assert!(String::from_utf8_lossy(&body).contains("internal error"));
    }
}
