//! The CardDAV front end (RFC 6352 over RFC 4918/6578): thin handlers over the store that
//! serve the same records GraphQL does, as vCards, to Apple Contacts, DAVx5, Thunderbird,
//! Evolution and vdirsyncer. `docs/carddav-clients.md` lists the client behaviour every
//! handler here was written against.
//!
//! - [`paths`]: the URL space and its one percent-encoding rule;
//! - [`xml`]: pure request parsing and multistatus/error writing (quick-xml);
//! - [`error`]: [`DavError`] and THE mapping from `StoreError` to HTTP;
//! - [`props`]: property values of each kind of resource;
//! - [`negotiate`]: vCard 3.0/4.0 negotiation and Apple client detection;
//! - [`propfind`], [`proppatch`], [`mkcol`], [`card`] (GET/HEAD/PUT/DELETE), [`transfer`]
//!   (COPY/MOVE), [`report`] (multiget, sync-collection), [`query`] (addressbook-query and its
//!   filter), [`principals`] (the RFC 3744 principal reports): the methods.
//!
//! Every request is authenticated (HTTP Basic with the account or an app password) except
//! the `/.well-known/carddav` redirect and OPTIONS on the DAV root, which reveal nothing.
//! A path in another user's namespace is answered exactly like a missing one (404).

pub mod book_body;
pub mod card;
pub mod error;
pub mod listing;
pub mod mkcol;
pub mod negotiate;
pub mod paths;
pub mod principals;
pub mod propfind;
pub mod proppatch;
pub mod props;
pub mod query;
pub mod report;
pub mod transfer;
pub mod xml;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRef, FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;

use crate::auth::{Authenticated, Authenticator, PlainText};
use crate::limits::Limits;
use crate::store::{AddressBook, Principal, Store};
pub use error::DavError;
use paths::{PathError, Target};

/// The `DAV` header: compliance classes clients look for (docs/carddav-clients.md §3).
pub const DAV_HEADER: &str = "1, 3, addressbook, extended-mkcol";

/// The limits the CardDAV front end applies, each as documented on [`Limits`]: its part of the
/// application's state, next to the [`Store`] and the [`Authenticator`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DavLimits {
    pub max_body_bytes: usize,
    pub max_card_bytes: usize,
    pub max_dead_property_bytes: usize,
    pub max_multiget_hrefs: usize,
    pub max_filter_elements: usize,
    pub max_requested_properties: usize,
    pub stream_page_cards: usize,
}

impl From<&Limits> for DavLimits {
    fn from(limits: &Limits) -> DavLimits {
        DavLimits {
            max_body_bytes: limits.max_body_bytes,
            max_card_bytes: limits.max_card_bytes,
            max_dead_property_bytes: limits.max_dead_property_bytes,
            max_multiget_hrefs: limits.max_multiget_hrefs,
            max_filter_elements: limits.max_filter_elements,
            max_requested_properties: limits.max_requested_properties,
            stream_page_cards: limits.stream_page_cards,
        }
    }
}

/// Routes of the CardDAV front end, to be merged into the application router. Generic over the
/// application's state: it only needs the parts named in the bounds.
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Store: FromRef<S>,
    Authenticator: FromRef<S>,
    DavLimits: FromRef<S>,
{
    Router::new()
        .route(paths::WELL_KNOWN, any(well_known))
        .route("/.well-known/carddav/", any(well_known))
        .route("/dav", any(handle))
        .route("/dav/", any(handle))
        .route("/dav/{*rest}", any(handle))
}

/// `/.well-known/carddav` (RFC 6764): a redirect to the DAV root for every method, without
/// authentication — macOS gives up when it gets a 401, 404 or 405 here (docs/carddav-clients.md §1).
async fn well_known() -> Response {
    let mut response = StatusCode::MOVED_PERMANENTLY.into_response();
    response
        .headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static(paths::ROOT));
    response
}

async fn handle(
    State(store): State<Store>,
    State(authenticator): State<Authenticator>,
    State(limits): State<DavLimits>,
    request: Request,
) -> Response {
    match dispatch(store, &authenticator, limits, request).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn dispatch(
    store: Store,
    authenticator: &Authenticator,
    limits: DavLimits,
    request: Request,
) -> Result<Response, DavError> {
    let (mut parts, body) = request.into_parts();
    let target = paths::parse(parts.uri.path());
    if parts.method == Method::OPTIONS
        && matches!(target, Ok(Target::Root))
        && !parts.headers.contains_key(header::AUTHORIZATION)
    {
        return Ok(options(error::ALLOW_ALL));
    }
    let principal =
        match Authenticated::<PlainText>::from_request_parts(&mut parts, authenticator).await {
            Ok(authenticated) => authenticated.principal,
            Err(refusal) => return Ok(refusal),
        };
    let target = match target {
        Ok(target) => target,
        Err(PathError::NotFound) => return Err(DavError::not_found()),
        Err(PathError::BadEncoding) => {
            return Err(DavError::bad_request(
                "malformed percent-encoding in the path",
            ));
        }
    };
    // Another user's namespace: the same answer as a path that does not exist.
    if target
        .user()
        .is_some_and(|user| user != principal.user_name)
    {
        return Err(DavError::not_found());
    }
    let ctx = Ctx {
        store,
        principal,
        headers: parts.headers,
        max_body: limits.max_body_bytes,
        limits,
    };
    match parts.method.as_str() {
        "OPTIONS" => Ok(options(allow_for(&target))),
        "PROPFIND" => propfind::handle(&ctx, &target, body).await,
        "PROPPATCH" => proppatch::proppatch(&ctx, &target, body).await,
        "MKCOL" => mkcol::mkcol(&ctx, &target, body).await,
        "REPORT" => report::handle(&ctx, &target, body).await,
        "GET" => card::get(&ctx, &target, false).await,
        "HEAD" => card::get(&ctx, &target, true).await,
        "PUT" => card::put(&ctx, &target, body).await,
        "DELETE" => card::delete(&ctx, &target).await,
        "COPY" => transfer::handle(&ctx, &target, crate::store::TransferKind::Copy).await,
        "MOVE" => transfer::handle(&ctx, &target, crate::store::TransferKind::Move).await,
        _ => Err(DavError::MethodNotAllowed(allow_for(&target))),
    }
}

/// Methods allowed on a target (OPTIONS `Allow`, 405 `Allow`).
fn allow_for(target: &Target) -> &'static str {
    match target {
        Target::Card { .. } => error::ALLOW_CARD,
        Target::Book { .. } => error::ALLOW_BOOK,
        // The home holds address books only: MKCOL of a new book and PUT / DELETE are
        // requests on the book's or card's own URL, never on the home (RFC 4918 9.3, 9.6).
        _ => error::ALLOW_COLLECTION,
    }
}

fn options(allow: &'static str) -> Response {
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    headers.insert("dav", HeaderValue::from_static(DAV_HEADER));
    headers.insert(header::ALLOW, HeaderValue::from_static(allow));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    response
}

/// One authenticated DAV request: who is asking, and the headers that shape the answer.
pub struct Ctx {
    pub store: Store,
    pub principal: Principal,
    pub headers: HeaderMap,
    pub max_body: usize,
    pub limits: DavLimits,
}

/// The `Depth` header (RFC 4918 10.2) as PROPFIND serves it: `infinity` is refused there
/// (RFC 4918 9.1, `DAV:propfind-finite-depth`), see [`Ctx::finite_depth`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    Zero,
    One,
}

impl Ctx {
    fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Depth` header of a PROPFIND: 0 or 1, `default` when absent. `infinity` (also the
    /// RFC 4918 10.2 default, which `default` overrides for clients that send none) is refused
    /// with 403 `DAV:propfind-finite-depth` (RFC 4918 9.1), anything else with 400.
    pub fn finite_depth(&self, default: Depth) -> Result<Depth, DavError> {
        let Some(value) = self.headers.get("depth") else {
            return Ok(default);
        };
        match value.to_str().map(str::trim) {
            Ok("0") => Ok(Depth::Zero),
            Ok("1") => Ok(Depth::One),
            Ok(v) if v.eq_ignore_ascii_case("infinity") => Err(DavError::condition(
                StatusCode::FORBIDDEN,
                xml::names::QName::dav("propfind-finite-depth"),
                Some("Depth: infinity is not served; ask with Depth 0 or 1".to_owned()),
            )),
            _ => Err(DavError::bad_request(
                "the Depth header must be 0, 1 or infinity",
            )),
        }
    }

    /// The `Depth` header where only 0 and anything else matter (REPORTs on principals).
    pub fn depth_is_zero(&self) -> Option<bool> {
        self.header(header::HeaderName::from_static("depth"))
            .map(|d| d.trim() == "0")
    }

    /// `Prefer: return=minimal` (RFC 8144) or Apple's `Brief: t`: leave out 404 propstats.
    pub fn minimal(&self) -> bool {
        let brief = self
            .headers
            .get("brief")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("t"));
        let prefer = self
            .headers
            .get_all("prefer")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| {
                v.split(',')
                    .any(|p| p.trim().eq_ignore_ascii_case("return=minimal"))
            });
        brief || prefer
    }

    pub fn apple(&self) -> bool {
        negotiate::is_apple(&self.headers)
    }

    pub fn user(&self) -> &str {
        &self.principal.user_name
    }

    pub fn prop_context(&self) -> props::PropContext<'_> {
        props::PropContext::new(self.user(), self.limits.max_card_bytes, self.apple())
    }

    /// One of the principal's address books by slug; 404 otherwise.
    pub async fn book(&self, slug: &str) -> Result<AddressBook, DavError> {
        Ok(self
            .store
            .address_book_by_slug(&self.principal, slug)
            .await?)
    }

    /// Reads the whole body, refusing more than `max_body` bytes.
    pub async fn body(&self, body: Body) -> Result<Bytes, DavError> {
        self.body_up_to(body, self.max_body).await
    }

    /// Reads the whole body, refusing more than `limit` bytes (and never more than
    /// `max_body`) with 413 before reading past it.
    ///
    /// A refused body that is still within `max_body` is read to its end and dropped first:
    /// most clients send the whole body before they read the answer, and would otherwise see
    /// the connection reset instead of the 413. A body declared larger than `max_body` is
    /// refused at once, unread.
    pub async fn body_up_to(&self, body: Body, limit: usize) -> Result<Bytes, DavError> {
        use futures_util::StreamExt;
        let limit = limit.min(self.max_body);
        let declared = self
            .header(header::CONTENT_LENGTH)
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.max_body as u64) {
            return Err(body_too_large(limit));
        }
        let mut stream = body.into_data_stream();
        let mut kept = Vec::new();
        let mut total = 0usize;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| DavError::bad_request("the request body was cut off"))?;
            total = total.saturating_add(chunk.len());
            if total > self.max_body {
                return Err(body_too_large(limit));
            }
            if total <= limit {
                kept.extend_from_slice(&chunk);
            } else if !kept.is_empty() {
                kept = Vec::new();
            }
        }
        if total > limit {
            return Err(body_too_large(limit));
        }
        Ok(Bytes::from(kept))
    }

    /// Refuses a PROPFIND or REPORT naming more properties than the limit: each is answered
    /// for every resource listed.
    pub fn check_properties(&self, props: &xml::request::Props) -> Result<(), DavError> {
        let (count, limit) = (props.property_count(), self.limits.max_requested_properties);
        if count > limit {
            return Err(DavError::Status(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request names {count} properties; at most {limit} are answered"),
            ));
        }
        Ok(())
    }

    /// Reads and parses an XML body; `None` when the body is empty.
    pub async fn xml_body(&self, body: Body) -> Result<Option<xml::tree::Element>, DavError> {
        let bytes = self.body(body).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        Ok(Some(xml::tree::parse(&bytes)?))
    }
}

fn body_too_large(limit: usize) -> DavError {
    DavError::Status(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request body is larger than {limit} bytes"),
    )
}

/// A 207 Multi-Status response.
pub fn multistatus(body: String) -> Response {
    let mut response = (StatusCode::MULTI_STATUS, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    response
}
