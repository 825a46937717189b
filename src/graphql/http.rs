//! `POST /graphql`: the checks a request passes, in order, before the schema sees it.
//!
//! 1. `Origin` (when the request has one): the server's own origin or a configured one, else
//!    403. A browser attaches stored Basic credentials to a cross-site form post; this and the
//!    next check keep another site's page from running mutations with them.
//! 2. `Content-Type: application/json`, else 415. A page can only send JSON to another origin
//!    after a CORS preflight, which this server never grants.
//! 3. Authentication, from the headers alone, else 401/429/503: nothing of the body is read
//!    for an unauthenticated client.
//! 4. The body, read up to `max_body_bytes`, else 413; then parsed, else 400 (`BAD_REQUEST`;
//!    a GraphQL syntax error is 400 too, `GRAPHQL_PARSE_FAILED`).

use async_graphql::http::WebSocketProtocols;
use async_graphql_axum::GraphQLResponse;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::errors::{GraphqlRefusal, Rejection};
use super::guard::PARSE_FAILED;
use super::{Caller, GraphqlState, request_data};
use crate::auth::{Authenticated, Authenticator, Peer};
use crate::store::Store;

/// The media types `POST /graphql` accepts (parameters such as `charset` aside).
const JSON_TYPES: [&str; 2] = ["application/json", "application/graphql-response+json"];

pub(super) async fn execute(
    State(store): State<Store>,
    State(authenticator): State<Authenticator>,
    State(front): State<GraphqlState>,
    Peer(peer): Peer,
    request: Request,
) -> Response {
    let headers = request.headers();
    if let Err(rejection) = check_origin(headers, request.uri(), &front.allowed_origins) {
        return rejection.into_response();
    }
    if let Err(rejection) = check_content_type(headers) {
        return rejection.into_response();
    }
    let authenticated =
        match Authenticated::<GraphqlRefusal>::from_headers(&authenticator, headers, peer).await {
            Ok(authenticated) => authenticated,
            Err(refusal) => return refusal,
        };
    let caller = Caller {
        authenticator,
        authorization: authenticated.authorization,
        peer,
    };
    let body = match read_body(request, front.max_body_bytes).await {
        Ok(body) => body,
        Err(rejection) => return rejection.into_response(),
    };
    // serde would also read a JSON array as a request (its fields in order); a batch is not
    // one, and is not supported.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Rejection::BadRequest(
            "the body must be one GraphQL request, a JSON object (batches are not supported)"
                .to_owned(),
        )
        .into_response();
    }
    let mut graphql_request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return Rejection::BadRequest(format!("the body is not a GraphQL request: {e}"))
                .into_response();
        }
    };
    drop(body);
    graphql_request.data = request_data(&store, &front.changes, authenticated.principal, caller);
    let response = front.schema.execute(graphql_request).await;
    let unparsable = response.errors.iter().any(|error| {
        error
            .extensions
            .as_ref()
            .and_then(|extensions| extensions.get("code"))
            .is_some_and(|code| *code == async_graphql::Value::from(PARSE_FAILED))
    });
    let mut http_response = GraphQLResponse::from(response).into_response();
    if unparsable {
        *http_response.status_mut() = StatusCode::BAD_REQUEST;
    }
    http_response
}

/// Reads the whole body, refusing one over `limit` bytes: by its `Content-Length` before
/// reading any of it, or as soon as a streamed body passes the limit.
async fn read_body(request: Request, limit: usize) -> Result<Bytes, Rejection> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(Rejection::TooLarge { limit });
    }
    // The router caps every body at `max_body_bytes` (DefaultBodyLimit and a transport-level
    // limit); axum reports passing it as a length-limit error, whichever layer noticed.
    match Bytes::from_request(request, &()).await {
        Ok(body) if body.len() > limit => Err(Rejection::TooLarge { limit }),
        Ok(body) => Ok(body),
        Err(BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_))) => {
            Err(Rejection::TooLarge { limit })
        }
        Err(other) => Err(Rejection::BadRequest(other.body_text())),
    }
}

fn check_content_type(headers: &HeaderMap) -> Result<(), Rejection> {
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|essence| essence.trim().to_ascii_lowercase());
    match essence {
        Some(essence) if JSON_TYPES.contains(&essence.as_str()) => Ok(()),
        _ => Err(Rejection::UnsupportedMediaType),
    }
}

/// Refuses a request whose `Origin` is neither the server's own (the request's `Host`, over
/// http or https) nor one of `allowed` (normalized `scheme://host[:port]`, lower case).
/// Requests without `Origin` (curl, scripts, native apps) pass: only browsers send it, and
/// they always do on cross-origin POSTs and WebSocket upgrades.
pub(super) fn check_origin(
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    allowed: &[String],
) -> Result<(), Rejection> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = String::from_utf8_lossy(origin.as_bytes())
        .trim()
        .to_ascii_lowercase();
    if allowed.contains(&origin) {
        return Ok(());
    }
    // HTTP/1.1 names the server in `Host`; HTTP/2 in the URI's authority.
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
        .or_else(|| uri.authority().map(|a| a.as_str().to_owned()));
    match host {
        Some(host) if same_origin(&origin, &host.trim().to_ascii_lowercase()) => Ok(()),
        _ => Err(Rejection::ForeignOrigin(origin)),
    }
}

/// Whether `origin` (lower case) names the server reached as `host` (lower case).
fn same_origin(origin: &str, host: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let default_port = match scheme {
        "http" => 80,
        "https" => 443,
        _ => return false,
    };
    let (Some((origin_host, origin_port)), Some((host_name, host_port))) =
        (split_authority(authority), split_authority(host))
    else {
        return false;
    };
    if origin_host != host_name {
        return false;
    }
    // A port left out is the scheme's default; a `Host` without one was reached on the
    // default port of whichever scheme the client used (a TLS proxy may stand in front).
    match (origin_port, host_port) {
        (Some(a), Some(b)) => a == b,
        (None, None) => true,
        (None, Some(port)) | (Some(port), None) => port == default_port,
    }
}

/// `host[:port]` (IPv6 in brackets) into its parts; `None` when the port is not a number or
/// anything follows the authority.
fn split_authority(authority: &str) -> Option<(&str, Option<u16>)> {
    if authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
        return None;
    }
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (host, rest) = authority.split_at(end + 1);
        match rest {
            "" => (host, None),
            rest => (host, Some(rest.strip_prefix(':')?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(port) => Some(port.parse::<u16>().ok()?),
        None => None,
    };
    Some((host, port))
}

/// The WebSocket sub-protocol axum agreed on, as async-graphql names it.
pub(super) fn protocol_of(
    selected: Option<&axum::http::HeaderValue>,
) -> Option<WebSocketProtocols> {
    selected?.to_str().ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(origin: &str, host: &str, allowed: &[&str]) -> bool {
        let mut headers = HeaderMap::new();
        headers.insert(header::ORIGIN, origin.parse().unwrap());
        headers.insert(header::HOST, host.parse().unwrap());
        let allowed: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
        check_origin(&headers, &"/graphql".parse().unwrap(), &allowed).is_ok()
    }

    #[test]
    fn own_and_allowed_origins_pass_others_do_not() {
        assert!(origin("http://127.0.0.1:8080", "127.0.0.1:8080", &[]));
        assert!(origin("https://contacts.example", "contacts.example", &[]));
        assert!(origin(
            "https://Contacts.Example",
            "contacts.example:443",
            &[]
        ));
        assert!(origin("http://[::1]:8080", "[::1]:8080", &[]));
        assert!(origin(
            "https://app.example",
            "contacts.example",
            &["https://app.example"]
        ));
        assert!(!origin("https://evil.example", "contacts.example", &[]));
        assert!(!origin("http://127.0.0.1:9999", "127.0.0.1:8080", &[]));
        assert!(!origin("null", "contacts.example", &[]));
        assert!(!origin(
            "https://contacts.example.evil",
            "contacts.example",
            &[]
        ));
        assert!(!origin("ftp://contacts.example", "contacts.example", &[]));
        assert!(!origin(
            "https://contacts.example:443@evil",
            "contacts.example",
            &[]
        ));
        assert!(!origin(
            "http://contacts.example",
            "contacts.example:8080",
            &[]
        ));
        // Without an Origin header (curl, native apps) the request passes.
        assert!(check_origin(&HeaderMap::new(), &"/".parse().unwrap(), &[]).is_ok());
    }

    #[test]
    fn json_only() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
            check_content_type(&headers).is_ok()
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/graphql-response+json"));
        assert!(!with("text/plain"));
        assert!(!with("application/x-www-form-urlencoded"));
        assert!(!with("multipart/form-data; boundary=x"));
        assert!(check_content_type(&HeaderMap::new()).is_err());
    }
}
