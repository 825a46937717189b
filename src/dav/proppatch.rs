//! PROPPATCH (RFC 4918 9.2): live properties of address books (display name, description),
//! Apple's `CS:me-card` on the home (accepted, not stored: docs/carddav-clients.md §21) and dead
//! properties of address books and cards (any other property, stored verbatim).
//!
//! Atomic: a protected live property (RFC 4918 15: `getetag`, `resourcetype`...) or a dead
//! property on a resource that keeps none is refused with 403
//! `DAV:cannot-modify-protected-property`, every other property of the request with 424 Failed
//! Dependency, and nothing is applied (docs/carddav-clients.md §22); dead properties beyond the
//! size limit are 507 (9.2.1). Removing a property that is not there succeeds (14.23).
//! Instructions apply in document order, so a later `set` or `remove` of a name wins.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;

use super::paths::{self, Target};
use super::xml::dead::{self, RawProperty};
use super::xml::names::{Known, QName};
use super::xml::request::{self, PatchOp};
use super::xml::write::Multistatus;
use super::{Ctx, DavError, multistatus, xml};
use crate::store::{DeadProperty, PatchOutcome, PropertyOwner, PropertyPatch};

/// What a PROPPATCH may change on the resource it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Patchable {
    /// An address book: display name and description live, anything else dead.
    Book,
    /// A card: dead properties only (everything live on a card is computed).
    Card,
    /// The home: `CS:me-card` only (no dead properties are kept there).
    Home,
    /// The root, principals and the collections above the homes: nothing.
    Fixed,
}

/// How one instruction is carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    LiveDisplayName,
    LiveDescription,
    /// Accepted and not stored.
    Ignored,
    Dead,
    /// Removing a property the resource does not have (and cannot have): nothing to do.
    Absent,
    Refused,
}

fn action(op: &PatchOp, on: Patchable) -> Action {
    let removing = op.value.is_none();
    match (op.prop.known, on) {
        (Some(Known::DisplayName), Patchable::Book) => Action::LiveDisplayName,
        (Some(Known::AddressbookDescription), Patchable::Book) => Action::LiveDescription,
        (Some(Known::MeCard), Patchable::Home) => Action::Ignored,
        (Some(known), _) if known.is_protected() => Action::Refused,
        (_, Patchable::Book | Patchable::Card) => Action::Dead,
        (None, Patchable::Home | Patchable::Fixed) if removing => Action::Absent,
        _ => Action::Refused,
    }
}

pub async fn proppatch(ctx: &Ctx, target: &Target, body: Body) -> Result<Response, DavError> {
    let bytes = ctx.body(body).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(DavError::bad_request(
            "PROPPATCH needs a propertyupdate body",
        ));
    }
    let root = xml::tree::parse(&bytes)?;
    let ops = request::proppatch(&root)?;
    let raw = dead::properties(&bytes)?;
    if raw.len() != ops.len() {
        return Err(DavError::bad_request(
            "the propertyupdate could not be read property by property",
        ));
    }
    let user = ctx.user();
    let (href, on, book, card) = match target {
        Target::Root => (paths::ROOT.to_owned(), Patchable::Fixed, None, None),
        Target::Principals => (paths::PRINCIPALS.to_owned(), Patchable::Fixed, None, None),
        Target::Homes => (paths::HOMES.to_owned(), Patchable::Fixed, None, None),
        Target::Principal { .. } => (paths::principal_href(user), Patchable::Fixed, None, None),
        Target::Home { .. } => (paths::home_href(user), Patchable::Home, None, None),
        Target::Book { slug, .. } => {
            let book = ctx.book(slug).await?;
            (
                paths::book_href(user, &book.slug),
                Patchable::Book,
                Some(book),
                None,
            )
        }
        Target::Card { slug, name, .. } => {
            let book = ctx.book(slug).await?;
            let href = paths::card_href(&paths::book_href(user, &book.slug), name);
            (href, Patchable::Card, Some(book), Some(name.as_str()))
        }
    };
    let actions: Vec<Action> = ops.iter().map(|op| action(op, on)).collect();
    let mut statuses = vec![StatusCode::OK; ops.len()];
    if actions.contains(&Action::Refused) {
        for (status, action) in statuses.iter_mut().zip(&actions) {
            *status = if *action == Action::Refused {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::FAILED_DEPENDENCY
            };
        }
    } else if let Some(book) = &book {
        let patch = patch_of(
            &ops,
            &actions,
            &raw,
            book,
            ctx.limits.max_dead_property_bytes,
        );
        let owner = match card {
            Some(name) => PropertyOwner::Card(name),
            None => PropertyOwner::Book,
        };
        let outcome = ctx
            .store
            .patch_properties(&ctx.principal, book.id, owner, &patch)
            .await?;
        if let PatchOutcome::TooLarge { .. } = outcome {
            for ((status, action), op) in statuses.iter_mut().zip(&actions).zip(&ops) {
                *status = if *action == Action::Dead && op.value.is_some() {
                    StatusCode::INSUFFICIENT_STORAGE
                } else {
                    StatusCode::FAILED_DEPENDENCY
                };
            }
        }
    }

    let mut ms = Multistatus::new(false);
    let mut out = ms.response(&href);
    for (op, status) in ops.iter().zip(&statuses) {
        if *status == StatusCode::OK {
            out.empty(&op.prop.name);
        } else {
            out.with_status(&op.prop.name, *status);
        }
    }
    out.finish();
    Ok(multistatus(ms.finish()))
}

/// The store's patch for a book or card: each property's last instruction in document order.
fn patch_of(
    ops: &[PatchOp],
    actions: &[Action],
    raw: &[RawProperty],
    book: &crate::store::AddressBook,
    max_bytes: usize,
) -> PropertyPatch {
    let mut patch = PropertyPatch {
        max_bytes,
        ..PropertyPatch::default()
    };
    let mut dead: HashMap<QName, Option<&RawProperty>> = HashMap::new();
    let mut order: Vec<QName> = Vec::new();
    for ((op, action), raw) in ops.iter().zip(actions).zip(raw) {
        match action {
            // Removing the display name falls back to the slug: clients show something.
            Action::LiveDisplayName => {
                patch.display_name = Some(op.value.clone().unwrap_or_else(|| book.slug.clone()))
            }
            Action::LiveDescription => {
                patch.description = Some(op.value.clone().unwrap_or_default())
            }
            Action::Dead => {
                if !dead.contains_key(&op.prop.name) {
                    order.push(op.prop.name.clone());
                }
                dead.insert(op.prop.name.clone(), op.value.is_some().then_some(raw));
            }
            Action::Ignored | Action::Absent | Action::Refused => {}
        }
    }
    for name in order {
        match dead.get(&name).copied().flatten() {
            Some(raw) => patch.set.push(DeadProperty {
                namespace: raw.ns.clone(),
                name: raw.local.clone(),
                xml: raw.xml.clone(),
            }),
            None => patch
                .remove
                .push((name.ns.into_owned(), name.local.into_owned())),
        }
    }
    patch
}
