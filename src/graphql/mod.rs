//! Front end 1: the GraphQL API (async-graphql) on `/graphql` (POST queries and mutations, GET
//! for the GraphiQL playground) and `/graphql/ws` (subscriptions over graphql-ws and
//! graphql-transport-ws). Resolvers are thin: they call the store.
//!
//! Every request is authenticated (Bearer token, or Basic with the account or an app password)
//! before its body is read; browsers of other origins are refused ([`http`]); depth,
//! complexity, fragment expansion and root fields are limited from [`Limits`] ([`guard`]);
//! WebSockets have an init deadline and message and subscription caps ([`ws`]); errors carry
//! `extensions.code` (see [`errors`]).

pub mod connection;
pub mod credentials;
pub mod details;
pub mod duplicates;
pub mod errors;
pub mod guard;
mod http;
pub mod ids;
pub mod inputs;
pub mod loaders;
pub mod mutation;
pub mod playground;
pub mod query;
pub mod subscription;
pub mod types;
mod ws;

use std::sync::Arc;

use crate::download::ExportPermits;
use async_graphql::dataloader::DataLoader;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::{Context, Data, Schema};
use axum::Router;
use axum::extract::{FromRef, State, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::auth::{AuthError, Authenticated, Authenticator, Peer};
use crate::limits::Limits;
use crate::store::{ChangeHub, Principal, Store};
use errors::{GraphqlRefusal, Rejection};
use loaders::{GroupsLoader, RequestBooks};
use mutation::MutationRoot;
use query::QueryRoot;
use subscription::SubscriptionRoot;

#[derive(async_graphql::MergedObject, Default)]
#[graphql(name = "Query")]
pub struct Queries(QueryRoot, duplicates::DuplicatesQuery);

/// Writing contacts, groups and address books, your account's credentials and password, and
/// merging duplicates.
#[derive(async_graphql::MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct Mutations(MutationRoot, duplicates::DuplicatesMutation);

pub type RolodexSchema = Schema<Queries, Mutations, SubscriptionRoot>;

/// The limits resolvers read (page size, search size), as schema data.
pub(crate) struct SchemaLimits(pub Limits);

/// The schema with its limits and the server's export permits (shared with the export
/// download, `crate::download`). Per-request data (store, principal, loaders) is attached to
/// each request, so one schema serves every user.
pub fn build_schema(limits: &Limits, exports: ExportPermits) -> RolodexSchema {
    Schema::build(Queries::default(), Mutations::default(), SubscriptionRoot)
        .limit_depth(limits.graphql_max_depth)
        .limit_complexity(limits.graphql_max_complexity)
        .limit_recursive_depth(guard::MAX_RECURSION)
        .extension(guard::RequestGuard::new(limits))
        .data(SchemaLimits(limits.clone()))
        .data(exports)
        .finish()
}

/// What the GraphQL front end needs of the application's state besides the [`Store`] and the
/// [`Authenticator`]: the schema, the change events subscriptions hear, and its HTTP and
/// WebSocket limits.
#[derive(Clone)]
pub struct GraphqlState {
    schema: RolodexSchema,
    changes: ChangeHub,
    /// Browser origins, besides the server's own, allowed to call `/graphql`.
    allowed_origins: Arc<Vec<String>>,
    max_body_bytes: usize,
    ws_max_message_bytes: usize,
    ws: ws::ConnectionLimits,
}

impl GraphqlState {
    /// The schema is built here, once. `changes` is the process's change hub, listening or
    /// not (see [`ChangeHub`]): subscriptions hear what it hears.
    pub fn new(
        limits: &Limits,
        allowed_origins: Vec<String>,
        changes: ChangeHub,
        exports: ExportPermits,
    ) -> GraphqlState {
        GraphqlState {
            schema: build_schema(limits, exports),
            changes,
            allowed_origins: Arc::new(allowed_origins),
            max_body_bytes: limits.max_body_bytes,
            ws_max_message_bytes: limits.graphql_ws_max_message_bytes,
            ws: ws::ConnectionLimits {
                init_timeout: std::time::Duration::from_secs(limits.graphql_ws_init_timeout_secs),
                max_subscriptions: limits.graphql_max_subscriptions,
            },
        }
    }
}

/// The schema in SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    let limits = Limits::default();
    build_schema(&limits, ExportPermits::new(&limits)).sdl()
}

pub(crate) fn limits<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Limits> {
    Ok(&ctx.data::<SchemaLimits>()?.0)
}

pub(crate) fn store<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Store> {
    ctx.data::<Store>()
}

pub(crate) fn principal<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Principal> {
    ctx.data::<Principal>()
        .map_err(|_| errors::unauthenticated())
}

/// How the principal of a request authenticated, and from where: `changePassword` checks the
/// current password against the login throttle of that address, and an operation on a
/// WebSocket, and each event of a subscription, authenticates the same credential again first,
/// so a revoked token, a changed password or a disabled user ends a long-lived connection's
/// access as it ends a new request's.
#[derive(Clone)]
pub(crate) struct Caller {
    pub authenticator: Authenticator,
    /// The `Authorization` value the principal came from.
    pub authorization: HeaderValue,
    pub peer: Option<std::net::IpAddr>,
}

impl Caller {
    /// Authenticates the credential again: Ok if it still stands for `principal`, the GraphQL
    /// error to answer otherwise (UNAUTHENTICATED, or UNAVAILABLE when it cannot be checked).
    pub(crate) async fn recheck(&self, principal: &Principal) -> async_graphql::Result<()> {
        match self
            .authenticator
            .authenticate(&self.authorization, self.peer)
            .await
        {
            Ok(current) if current.user_id == principal.user_id => Ok(()),
            Ok(_) | Err(AuthError::Missing | AuthError::Invalid) => Err(errors::unauthenticated()),
            Err(AuthError::Throttled { .. } | AuthError::Busy) => Err(errors::busy(
                "your credentials cannot be checked right now; try again shortly",
            )),
            Err(AuthError::Unavailable(detail)) => Err(errors::store_error(
                crate::store::StoreError::Unavailable(detail),
            )),
        }
    }
}

/// Authenticates the credential of a WebSocket connection's data again (see [`Caller`]).
pub(crate) async fn recheck_session(data: &Data) -> async_graphql::Result<()> {
    use std::any::TypeId;
    let caller = data
        .get(&TypeId::of::<Caller>())
        .and_then(|value| value.downcast_ref::<Caller>());
    let principal = data
        .get(&TypeId::of::<Principal>())
        .and_then(|value| value.downcast_ref::<Principal>());
    match (caller, principal) {
        (Some(caller), Some(principal)) => caller.recheck(principal).await,
        _ => Err(errors::unauthenticated()),
    }
}

/// Everything a request or subscription needs, for one principal.
fn request_data(store: &Store, changes: &ChangeHub, principal: Principal, caller: Caller) -> Data {
    let mut data = Data::default();
    data.insert(DataLoader::new(
        GroupsLoader {
            store: store.clone(),
            principal: principal.clone(),
        },
        tokio::spawn,
    ));
    data.insert(RequestBooks {
        store: store.clone(),
        principal: principal.clone(),
        books: Default::default(),
    });
    data.insert(store.clone());
    data.insert(changes.clone());
    data.insert(principal);
    data.insert(caller);
    data
}

/// The routes of this front end. Generic over the application's state: it only needs the
/// parts named in the bounds.
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Store: FromRef<S>,
    Authenticator: FromRef<S>,
    GraphqlState: FromRef<S>,
{
    Router::new()
        .route("/graphql", get(playground::page).post(http::execute))
        .route("/graphql/assets/{name}", get(playground::asset))
        .route("/graphql/ws", get(subscribe))
}

/// Subscriptions. Credentials come from the upgrade request's `Authorization` header, or from
/// the `connection_init` payload (`{"Authorization": "Bearer ..."}`, as browsers cannot set
/// headers on WebSockets). A browser's upgrade from another origin is refused (403) like a
/// cross-origin POST: the browser would send its stored credentials with it.
async fn subscribe(
    State(store): State<Store>,
    State(authenticator): State<Authenticator>,
    State(front): State<GraphqlState>,
    Peer(peer): Peer,
    headers: HeaderMap,
    uri: Uri,
    upgrade: WebSocketUpgrade,
) -> Response {
    if let Err(rejection) = http::check_origin(&headers, &uri, &front.allowed_origins) {
        return rejection.into_response();
    }
    let upgrade = upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(front.ws_max_message_bytes)
        .max_frame_size(front.ws_max_message_bytes);
    let Some(protocol) = http::protocol_of(upgrade.selected_protocol()) else {
        return Rejection::BadRequest(
            "Sec-WebSocket-Protocol must offer graphql-transport-ws or graphql-ws".to_owned(),
        )
        .into_response();
    };
    // Without the header, the credential comes later, in `connection_init`.
    let from_header = if headers.contains_key(header::AUTHORIZATION) {
        match Authenticated::<GraphqlRefusal>::from_headers(&authenticator, &headers, peer).await {
            Ok(authenticated) => Some((authenticated.principal, authenticated.authorization)),
            Err(refusal) => return refusal,
        }
    } else {
        None
    };
    upgrade.on_upgrade(move |socket| {
        ws::serve(
            socket,
            front.schema.clone(),
            protocol,
            front.ws,
            move |payload| async move {
                let (principal, authorization) = match from_header {
                    Some(found) => found,
                    None => principal_from_init(&authenticator, &payload, peer).await?,
                };
                let caller = Caller {
                    authenticator,
                    authorization,
                    peer,
                };
                Ok(request_data(&store, &front.changes, principal, caller))
            },
        )
    })
}

/// The principal of a `connection_init` payload, and the `Authorization` value it came from.
async fn principal_from_init(
    authenticator: &Authenticator,
    payload: &serde_json::Value,
    peer: Option<std::net::IpAddr>,
) -> async_graphql::Result<(Principal, HeaderValue)> {
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
    let principal = authenticator
        .authenticate(&value, peer)
        .await
        .map_err(|_| errors::unauthenticated())?;
    Ok((principal, value))
}
