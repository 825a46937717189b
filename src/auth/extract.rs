//! The authentication extractor both front ends use, and the client's address it counts failed
//! logins by.
//!
//! [`Authenticated`] turns a request's `Authorization` header into a [`Principal`]; a request
//! without a usable one is refused with the status and headers of its [`AuthError`] (401 with
//! the `Basic` and `Bearer` challenges, 429 or 503 with `Retry-After`, see
//! [`AuthError::decorate`]) and a body the front end chooses through [`Refusal`]: plain text
//! for CardDAV ([`PlainText`]), a GraphQL error object for `/graphql`.

use std::marker::PhantomData;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::{AuthError, Authenticator};
use crate::domain::principal::Principal;

/// The client's address, when the server was started with connection info (it always is in
/// `serve`; requests driven without a socket, as in some tests, have none).
pub fn peer_address(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip())
}

/// Extractor: the client's address, when known (see [`peer_address`]). Never rejects.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(peer_address(&parts.extensions)))
    }
}

/// How a front end words its answer to a request without a usable principal. Only the body is
/// the front end's: the status and its headers are set by [`AuthError::decorate`] afterwards,
/// so every front end challenges and throttles alike.
pub trait Refusal {
    fn body(error: &AuthError) -> Response;
}

/// The answer of [`Refusal`] `R` to `error`, decorated; a database failure is logged here, once
/// for every front end (the client is only told it is unavailable).
pub fn refuse<R: Refusal>(error: &AuthError) -> Response {
    if let AuthError::Unavailable(e) = error {
        tracing::warn!(error = %e, "authentication: database unavailable");
    }
    error.decorate(R::body(error))
}

/// The plain-text refusal (`invalid credentials`, one line): CardDAV and every route that is
/// not GraphQL.
pub struct PlainText;

impl Refusal for PlainText {
    fn body(error: &AuthError) -> Response {
        format!("{error}\n").into_response()
    }
}

/// Extractor: the authenticated principal, and the credential and address it came from (a
/// long-lived connection authenticates the same credential again later). Refused as
/// [`Refusal`] `R` words it.
pub struct Authenticated<R = PlainText> {
    pub principal: Principal,
    /// The `Authorization` value the principal came from.
    pub authorization: HeaderValue,
    /// The client's address (see [`peer_address`]).
    pub peer: Option<IpAddr>,
    refusal: PhantomData<fn() -> R>,
}

impl<R: Refusal> Authenticated<R> {
    /// Authenticates the `Authorization` header of `headers`, counting a failure against
    /// `peer` too; the refusal to answer otherwise. For handlers that must check something
    /// else first (an `Origin`, a `Content-Type`) or authenticate only when a header is sent.
    pub async fn from_headers(
        authenticator: &Authenticator,
        headers: &HeaderMap,
        peer: Option<IpAddr>,
    ) -> Result<Self, Response> {
        let refused = |error: AuthError| refuse::<R>(&error);
        let authorization = headers
            .get(header::AUTHORIZATION)
            .ok_or(AuthError::Missing)
            .map_err(refused)?;
        let principal = authenticator
            .authenticate(authorization, peer)
            .await
            .map_err(refused)?;
        Ok(Authenticated {
            principal,
            authorization: authorization.clone(),
            peer,
            refusal: PhantomData,
        })
    }
}

impl<S, R> FromRequestParts<S> for Authenticated<R>
where
    Authenticator: FromRef<S>,
    S: Send + Sync,
    R: Refusal,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let authenticator = Authenticator::from_ref(state);
        Self::from_headers(
            &authenticator,
            &parts.headers,
            peer_address(&parts.extensions),
        )
        .await
    }
}
