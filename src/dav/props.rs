//! Property values of every kind of DAV resource, written into a multistatus response: one
//! function decides what each [`Known`] property is on each [`Resource`], so PROPFIND,
//! multiget, addressbook-query and sync-collection all report the same values.

use chrono::{DateTime, Utc};

use super::negotiate;
use super::paths;
use super::xml::names::Known;
use super::xml::names::QName;
use super::xml::request::{PropSelection, RequestedProp};
use super::xml::values::{
    ADDRESS_DATA_TYPES, ADDRESSBOOK_REPORTS, CARD_REPORTS, HOME_REPORTS, OWNER_PRIVILEGES,
    PRINCIPAL_REPORTS, READ_PRIVILEGES,
};
use super::xml::write::{Multistatus, Response};
use crate::domain::etag;
use crate::domain::vcard::{CardVersion, RenderVersion};
use crate::store::{self, AddressBook, CardMeta, DeadProperty};

/// `Content-Type` of every card we serve (docs/carddav-clients.md §13).
pub const VCARD_CONTENT_TYPE: &str = "text/vcard; charset=utf-8";

/// Sync tokens are URIs (RFC 6578 requires one); the book id guards against a token of one book
/// being replayed on another, the revision is the position in the change log.
const SYNC_TOKEN_PREFIX: &str = "https://rolodex.invalid/sync/";

pub fn sync_token(book: &AddressBook) -> String {
    sync_token_at(book.id, book.revision)
}

pub fn sync_token_at(book_id: i64, revision: i64) -> String {
    format!("{SYNC_TOKEN_PREFIX}{book_id}/{revision}")
}

/// The revision in a token of `book_id`; `None` for anything else (a foreign or malformed
/// token is answered with DAV:valid-sync-token).
pub fn parse_sync_token(token: &str, book_id: i64) -> Option<i64> {
    let rest = token.trim().strip_prefix(SYNC_TOKEN_PREFIX)?;
    let (id, revision) = rest.split_once('/')?;
    if id.parse::<i64>().ok()? != book_id {
        return None;
    }
    revision.parse::<i64>().ok().filter(|r| *r >= 0)
}

/// HTTP-date (RFC 7231 IMF-fixdate), as `getlastmodified` and `Last-Modified` need.
pub fn http_date(at: &DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// A resource whose properties are reported.
pub enum Resource<'a> {
    Root,
    Principals,
    Principal,
    Homes,
    Home,
    Book(&'a AddressBook),
    Card {
        meta: &'a CardMeta,
        /// The stored text and its version, when the request asked for `address-data`.
        body: Option<(&'a str, CardVersion)>,
    },
}

/// Request-wide facts the values depend on.
pub struct PropContext<'a> {
    pub user: &'a str,
    pub principal_href: String,
    pub home_href: String,
    pub max_resource_size: usize,
    /// Version asked for in `address-data`, if any.
    pub address_version: Option<RenderVersion>,
    pub apple: bool,
}

impl<'a> PropContext<'a> {
    pub fn new(user: &'a str, max_resource_size: usize, apple: bool) -> PropContext<'a> {
        PropContext {
            user,
            principal_href: paths::principal_href(user),
            home_href: paths::home_href(user),
            max_resource_size,
            address_version: None,
            apple,
        }
    }
}

/// Properties reported for `allprop`: the cheap, commonly used ones (RFC 4918 lets a server
/// leave out expensive live properties).
fn allprop_set(resource: &Resource<'_>) -> &'static [Known] {
    match resource {
        Resource::Card { .. } => &[
            Known::ResourceType,
            Known::GetEtag,
            Known::GetContentType,
            Known::GetContentLength,
            Known::GetLastModified,
        ],
        Resource::Book(_) => &[
            Known::ResourceType,
            Known::DisplayName,
            Known::AddressbookDescription,
            Known::GetCtag,
            Known::SyncToken,
            Known::GetLastModified,
        ],
        _ => &[Known::ResourceType, Known::DisplayName],
    }
}

/// Every property a resource has (for `propname`).
fn supported_set(resource: &Resource<'_>) -> &'static [Known] {
    match resource {
        Resource::Card { .. } => &[
            Known::ResourceType,
            Known::GetEtag,
            Known::GetContentType,
            Known::GetContentLength,
            Known::GetLastModified,
            Known::Owner,
            Known::CurrentUserPrincipal,
            Known::CurrentUserPrivilegeSet,
            Known::PrincipalCollectionSet,
            Known::SupportedReportSet,
        ],
        Resource::Book(_) => &[
            Known::ResourceType,
            Known::DisplayName,
            Known::AddressbookDescription,
            Known::GetCtag,
            Known::SyncToken,
            Known::GetLastModified,
            Known::SupportedReportSet,
            Known::SupportedAddressData,
            Known::MaxResourceSize,
            Known::Owner,
            Known::CurrentUserPrincipal,
            Known::CurrentUserPrivilegeSet,
            Known::PrincipalCollectionSet,
        ],
        Resource::Principal => &[
            Known::ResourceType,
            Known::DisplayName,
            Known::PrincipalUrl,
            Known::AddressbookHomeSet,
            Known::CurrentUserPrincipal,
            Known::CurrentUserPrivilegeSet,
            Known::PrincipalCollectionSet,
            Known::SupportedReportSet,
        ],
        Resource::Root => &[
            Known::ResourceType,
            Known::DisplayName,
            Known::AddressbookHomeSet,
            Known::CurrentUserPrincipal,
            Known::CurrentUserPrivilegeSet,
            Known::PrincipalCollectionSet,
            Known::SupportedReportSet,
        ],
        Resource::Home => &[
            Known::ResourceType,
            Known::DisplayName,
            Known::Owner,
            Known::CurrentUserPrincipal,
            Known::CurrentUserPrivilegeSet,
            Known::PrincipalCollectionSet,
            Known::SupportedReportSet,
        ],
        Resource::Principals | Resource::Homes => &COMMON_WITH_NAME,
    }
}

const COMMON_WITH_NAME: [Known; 6] = [
    Known::ResourceType,
    Known::DisplayName,
    Known::CurrentUserPrincipal,
    Known::CurrentUserPrivilegeSet,
    Known::PrincipalCollectionSet,
    Known::SupportedReportSet,
];

/// Writes `known`'s value on `resource`; false when the resource does not have it.
fn write_value(
    out: &mut Response<'_>,
    known: Known,
    resource: &Resource<'_>,
    ctx: &PropContext<'_>,
) -> bool {
    let name = known.name();
    match (known, resource) {
        (Known::ResourceType, Resource::Principal) => {
            out.raw(&name, "<d:collection/><d:principal/>")
        }
        (Known::ResourceType, Resource::Book(_)) => {
            out.raw(&name, "<d:collection/><card:addressbook/>")
        }
        (Known::ResourceType, Resource::Card { .. }) => out.empty(&name),
        (Known::ResourceType, _) => out.raw(&name, "<d:collection/>"),

        (Known::DisplayName, Resource::Root) => out.text(&name, "Rolodex"),
        (Known::DisplayName, Resource::Principals) => out.text(&name, "Principals"),
        (Known::DisplayName, Resource::Homes) => out.text(&name, "Address books"),
        (Known::DisplayName, Resource::Principal | Resource::Home) => out.text(&name, ctx.user),
        (Known::DisplayName, Resource::Book(book)) => out.text(&name, &book.display_name),

        (Known::GetEtag, Resource::Card { meta, .. }) => out.text(&name, &etag::quoted(&meta.etag)),
        (Known::GetContentType, Resource::Card { .. }) => out.text(&name, VCARD_CONTENT_TYPE),
        (Known::GetContentLength, Resource::Card { meta, .. }) => out.number(&name, meta.size),
        (Known::GetLastModified, Resource::Card { meta, .. }) => {
            out.text(&name, &http_date(&meta.updated_at))
        }
        (Known::GetLastModified, Resource::Book(book)) => {
            out.text(&name, &http_date(&book.updated_at))
        }

        (Known::SyncToken | Known::GetCtag, Resource::Book(book)) => {
            out.text(&name, &sync_token(book))
        }
        (Known::SupportedReportSet, Resource::Book(_)) => out.raw(&name, ADDRESSBOOK_REPORTS),
        (Known::SupportedReportSet, Resource::Card { .. }) => out.raw(&name, CARD_REPORTS),
        (Known::SupportedReportSet, Resource::Principals | Resource::Principal) => {
            out.raw(&name, PRINCIPAL_REPORTS)
        }
        (Known::SupportedReportSet, Resource::Home) => out.raw(&name, HOME_REPORTS),
        (Known::SupportedReportSet, _) => out.empty(&name),
        (Known::SupportedAddressData, Resource::Book(_)) => out.raw(&name, ADDRESS_DATA_TYPES),
        (Known::MaxResourceSize, Resource::Book(_)) => out.number(
            &name,
            i64::try_from(ctx.max_resource_size).unwrap_or(i64::MAX),
        ),
        (Known::AddressbookDescription, Resource::Book(book)) => out.text(&name, &book.description),

        (
            Known::CurrentUserPrivilegeSet,
            Resource::Home | Resource::Book(_) | Resource::Card { .. },
        ) => out.raw(&name, OWNER_PRIVILEGES),
        (Known::CurrentUserPrivilegeSet, _) => out.raw(&name, READ_PRIVILEGES),

        (
            Known::Owner,
            Resource::Principal | Resource::Home | Resource::Book(_) | Resource::Card { .. },
        ) => out.href(&name, &ctx.principal_href),
        (Known::CurrentUserPrincipal, _) => out.href(&name, &ctx.principal_href),
        (Known::PrincipalUrl, Resource::Principal) => out.href(&name, &ctx.principal_href),
        (Known::AddressbookHomeSet, Resource::Principal | Resource::Root) => {
            out.href(&name, &ctx.home_href)
        }
        (Known::PrincipalCollectionSet, _) => out.href(&name, paths::PRINCIPALS),

        (
            Known::AddressData,
            Resource::Card {
                body: Some((text, version)),
                ..
            },
        ) => {
            let asked = negotiate::asked_version(ctx.address_version, ctx.apple);
            out.text(&name, &store::representation(text, *version, asked));
        }
        _ => return false,
    }
    true
}

fn write_requested(
    out: &mut Response<'_>,
    requested: &RequestedProp,
    resource: &Resource<'_>,
    ctx: &PropContext<'_>,
    dead: &[DeadProperty],
) {
    let found = requested
        .known
        .is_some_and(|known| write_value(out, known, resource, ctx));
    if found {
        return;
    }
    let name = &requested.name;
    match dead
        .iter()
        .find(|d| d.namespace == name.ns && d.name == name.local)
    {
        Some(property) => out.verbatim(&property.xml),
        None => out.with_status(name, axum::http::StatusCode::NOT_FOUND),
    }
}

/// Writes one `response` for `resource` at `href` with the selected properties.
pub fn write_response(
    ms: &mut Multistatus,
    href: &str,
    resource: &Resource<'_>,
    selection: &PropSelection,
    ctx: &PropContext<'_>,
) {
    write_response_with_dead(ms, href, resource, selection, ctx, &[]);
}

/// [`write_response`] for a resource with dead properties: named ones are answered from them,
/// and `allprop` and `propname` list them all (RFC 4918 9.1: allprop means the dead properties
/// and the live ones the server chooses).
pub fn write_response_with_dead(
    ms: &mut Multistatus,
    href: &str,
    resource: &Resource<'_>,
    selection: &PropSelection,
    ctx: &PropContext<'_>,
    dead: &[DeadProperty],
) {
    let mut out = ms.response(href);
    match selection {
        PropSelection::Props(props) => {
            for requested in props {
                write_requested(&mut out, requested, resource, ctx, dead);
            }
        }
        PropSelection::All { include } => {
            for known in allprop_set(resource) {
                write_value(&mut out, *known, resource, ctx);
            }
            for property in dead {
                out.verbatim(&property.xml);
            }
            for requested in include {
                let listed = requested
                    .known
                    .is_some_and(|k| allprop_set(resource).contains(&k))
                    || dead.iter().any(|d| {
                        d.namespace == requested.name.ns && d.name == requested.name.local
                    });
                if !listed {
                    write_requested(&mut out, requested, resource, ctx, &[]);
                }
            }
        }
        PropSelection::Names => {
            for known in supported_set(resource) {
                out.empty(&known.name());
            }
            for property in dead {
                out.empty(&QName::new(&property.namespace, &property.name));
            }
        }
    }
    out.finish();
}

/// Whether answering `selection` may need a resource's dead properties (otherwise they are
/// not read).
pub fn needs_dead(selection: &PropSelection) -> bool {
    match selection {
        PropSelection::All { .. } | PropSelection::Names => true,
        PropSelection::Props(props) => props.iter().any(|p| {
            !matches!(
                p.known,
                Some(known) if known.is_protected() || known == Known::MeCard
            )
        }),
    }
}
