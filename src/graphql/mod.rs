//! Front end 1: the GraphQL API (async-graphql) on `/graphql` (POST queries and mutations, GET
//! for the GraphiQL playground) and `/graphql/ws` (subscriptions over graphql-ws and
//! graphql-transport-ws). Resolvers are thin: they call the store.
//!
//! Every request is authenticated (Bearer token, or Basic with the account or an app password);
//! depth and complexity limits are on; errors carry `extensions.code` (see [`errors`]).

pub mod connection;
pub mod errors;
pub mod ids;
pub mod inputs;
pub mod loaders;
pub mod mutation;
pub mod playground;
pub mod query;
pub mod subscription;
pub mod types;

use async_graphql::dataloader::DataLoader;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::{Context, Data, Schema};
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::Router;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::app::AppState;
use crate::auth::{AuthError, Authenticator, Peer};
use crate::store::{Principal, Store};
use loaders::{GroupsLoader, RequestBooks};
use mutation::MutationRoot;
use query::QueryRoot;
use subscription::SubscriptionRoot;

pub type RolodexSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Deepest query accepted (the schema's deepest useful query is about 8 levels).
pub const MAX_DEPTH: usize = 16;
/// Largest complexity accepted: a page of 100 contacts with every field is about 5,000.
pub const MAX_COMPLEXITY: usize = 20_000;

/// The schema with its limits. Per-request data (store, principal, loaders) is attached to
/// each request, so one schema serves every user.
pub fn build_schema() -> RolodexSchema {
    Schema::build(QueryRoot, MutationRoot, SubscriptionRoot)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .finish()
}

/// The schema in SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    build_schema().sdl()
}

pub(crate) fn store<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Store> {
    ctx.data::<Store>()
}

pub(crate) fn principal<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Principal> {
    ctx.data::<Principal>()
        .map_err(|_| errors::unauthenticated())
}

/// Everything a request or subscription needs, for one principal.
fn request_data(state: &AppState, principal: Principal) -> Data {
    let mut data = Data::default();
    data.insert(DataLoader::new(
        GroupsLoader {
            store: state.store.clone(),
            principal: principal.clone(),
        },
        tokio::spawn,
    ));
    data.insert(RequestBooks {
        store: state.store.clone(),
        principal: principal.clone(),
        books: Default::default(),
    });
    data.insert(state.store.clone());
    data.insert(state.changes.clone());
    data.insert(principal);
    data
}

/// The routes of this front end.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/graphql", get(playground::page).post(execute))
        .route("/graphql/assets/{name}", get(playground::asset))
        .route("/graphql/ws", get(subscribe))
}

/// A GraphQL-shaped rejection: the client's GraphQL library can read the code, and browsers
/// and HTTP tools see the status and its headers (challenge or `Retry-After`).
fn auth_rejection(error: &AuthError) -> Response {
    let code = match error {
        AuthError::Missing | AuthError::Invalid => "UNAUTHENTICATED",
        AuthError::Throttled { .. } => "TOO_MANY_REQUESTS",
        AuthError::Busy | AuthError::Unavailable(_) => "UNAVAILABLE",
    };
    if let AuthError::Unavailable(e) = error {
        tracing::warn!(error = %e, "authentication: database unavailable");
    }
    let body = serde_json::json!({
        "errors": [{ "message": error.to_string(), "extensions": { "code": code } }]
    });
    error.decorate(axum::Json(body).into_response())
}

async fn authenticate(
    authenticator: &Authenticator,
    headers: &HeaderMap,
    peer: Option<std::net::IpAddr>,
) -> Result<Principal, Response> {
    authenticator
        .authenticate_request(headers, peer)
        .await
        .map_err(|error| auth_rejection(&error))
}

async fn execute(
    State(state): State<AppState>,
    Peer(peer): Peer,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> Response {
    let principal = match authenticate(&state.authenticator, &headers, peer).await {
        Ok(p) => p,
        Err(response) => return response,
    };
    let mut request = request.into_inner();
    request.data = request_data(&state, principal);
    GraphQLResponse::from(state.graphql.execute(request).await).into_response()
}

/// Subscriptions. Credentials come from the upgrade request's `Authorization` header, or from
/// the `connection_init` payload (`{"Authorization": "Bearer ..."}`, as browsers cannot set
/// headers on WebSockets).
async fn subscribe(
    State(state): State<AppState>,
    Peer(peer): Peer,
    protocol: GraphQLProtocol,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let from_header = match headers.get(header::AUTHORIZATION) {
        Some(_) => match authenticate(&state.authenticator, &headers, peer).await {
            Ok(principal) => Some(principal),
            Err(response) => return response,
        },
        None => None,
    };
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            let schema = state.graphql.clone();
            GraphQLWebSocket::new(socket, schema, protocol)
                .on_connection_init(move |payload| async move {
                    let principal = match from_header {
                        Some(p) => p,
                        None => principal_from_init(&state.authenticator, &payload, peer).await?,
                    };
                    Ok(request_data(&state, principal))
                })
                .serve()
        })
}

async fn principal_from_init(
    authenticator: &Authenticator,
    payload: &serde_json::Value,
    peer: Option<std::net::IpAddr>,
) -> async_graphql::Result<Principal> {
    let credential = ["Authorization", "authorization"]
        .iter()
        .find_map(|k| {
            payload
                .get(k)
                .or_else(|| payload.get("headers").and_then(|h| h.get(k)))
        })
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .or_else(|| {
            ["authToken", "token"]
                .iter()
                .find_map(|k| payload.get(k).and_then(|v| v.as_str()))
                .map(|t| format!("Bearer {t}"))
        })
        .ok_or_else(errors::unauthenticated)?;
    let value = HeaderValue::from_str(&credential).map_err(|_| errors::unauthenticated())?;
    authenticator
        .authenticate(&value, peer)
        .await
        .map_err(|_| errors::unauthenticated())
}
