//! Card <-> [`ContactDetails`] and free labels: how birthday, anniversary, websites, related
//! people and the labels of emails, phones and addresses are read from every dialect clients
//! write, and written back in the one each version's clients read.
//!
//! | detail | vCard 4.0 (RFC 6350) | vCard 3.0 (Apple Contacts, DAVx5) | also read |
//! |---|---|---|---|
//! | birthday | `BDAY:--0412` | `BDAY;X-APPLE-OMIT-YEAR=1604:1604-04-12` | `BDAY;VALUE=text` |
//! | anniversary | `ANNIVERSARY` (§6.2.6) | `itemN.X-ABDATE` + `X-ABLabel:_$!<Anniversary>!$_` | `X-ANNIVERSARY` (Evolution), `X-KADDRESSBOOK-X-Anniversary` |
//! | website | `URL;TYPE=work` (§6.7.8) | the same; a label in `itemN.X-ABLabel` | |
//! | related person | `RELATED;VALUE=text;TYPE=spouse` (§6.6.6) | `itemN.X-ABRELATEDNAMES` + `X-ABLabel:_$!<Spouse>!$_` | `X-EVOLUTION-SPOUSE`/`-MANAGER`/`-ASSISTANT`, `X-KADDRESSBOOK-X-SpousesName`/… |
//! | label | `itemN.X-ABLabel` beside the property, in both versions (4.0 has no label parameter for EMAIL/TEL/ADR) | | |
//!
//! Apple writes its built-in labels as `_$!<Name>!$_` and localizes them; the model keeps the
//! name ("HomePage") and writes the built-in form back for the names Apple knows, so a label
//! round-trips into the phone's own language.

use calcard::common::PartialDateTime;
use calcard::vcard::{
    VCard, VCardEntry, VCardParameter, VCardParameterName, VCardParameterValue, VCardProperty,
    VCardType, VCardValue, VCardValueType,
};

use super::edit::{insert_at, new_entry, reconcile, remove_where, x_name};
use super::extract::{entry_text, is_x, types};
use crate::domain::details::{
    ContactDetails, PartialDate, RelatedPerson, RelationKind, Website, WebsiteKind, norm_label,
};
use crate::domain::text::strip_prefix_ignore_ascii_case;

const X_AB_LABEL: &str = "X-ABLabel";
const X_AB_DATE: &str = "X-ABDATE";
const X_AB_RELATED: &str = "X-ABRELATEDNAMES";
const APPLE_OMIT_YEAR: &str = "X-APPLE-OMIT-YEAR";
/// The placeholder year Apple and DAVx5 write for a date without a year.
const OMITTED_YEAR: u16 = 1604;
const ANNIVERSARY_LABEL: &str = "Anniversary";
/// Other clients' anniversary properties, read in any version.
const X_ANNIVERSARIES: [&str; 3] = [
    "X-ANNIVERSARY",
    "X-EVOLUTION-ANNIVERSARY",
    "X-KADDRESSBOOK-X-Anniversary",
];
/// Other clients' single related-person properties and the relation each names.
const X_RELATED: [(&str, RelationKind); 7] = [
    ("X-EVOLUTION-SPOUSE", RelationKind::Spouse),
    ("X-EVOLUTION-MANAGER", RelationKind::Manager),
    ("X-EVOLUTION-ASSISTANT", RelationKind::Assistant),
    ("X-KADDRESSBOOK-X-SpousesName", RelationKind::Spouse),
    ("X-KADDRESSBOOK-X-ManagersName", RelationKind::Manager),
    ("X-KADDRESSBOOK-X-AssistantsName", RelationKind::Assistant),
    ("X-SPOUSE", RelationKind::Spouse),
];
/// Apple's built-in label names (written `_$!<Name>!$_`), compared case-insensitively.
const APPLE_LABELS: [&str; 24] = [
    "Home",
    "Work",
    "Other",
    "Main",
    "HomePage",
    "HomeFAX",
    "WorkFAX",
    "OtherFAX",
    "Pager",
    "Mobile",
    "iPhone",
    "School",
    "Anniversary",
    "Spouse",
    "Partner",
    "Child",
    "Parent",
    "Mother",
    "Father",
    "Sibling",
    "Brother",
    "Sister",
    "Friend",
    "Assistant",
];

/// `_$!<Name>!$_` -> `Name`; any other label as written.
fn decode_label(text: &str) -> String {
    text.strip_prefix("_$!<")
        .and_then(|rest| rest.strip_suffix(">!$_"))
        .unwrap_or(text)
        .to_owned()
}

/// A label as Apple writes it: its built-in form for the names it knows ("Manager" too).
fn encode_label(label: &str) -> String {
    match APPLE_LABELS
        .iter()
        .chain(&["Manager"])
        .find(|known| known.eq_ignore_ascii_case(label))
    {
        Some(known) => format!("_$!<{known}>!$_"),
        None => label.to_owned(),
    }
}

fn in_group(entry: &VCardEntry, group: &str) -> bool {
    entry
        .group
        .as_deref()
        .is_some_and(|g| g.eq_ignore_ascii_case(group))
}

/// The label of the property at `index`: the `X-ABLabel` of its group, decoded.
pub(super) fn label_at(vcard: &VCard, index: usize) -> Option<String> {
    let group = vcard.entries.get(index)?.group.as_deref()?;
    vcard
        .entries
        .iter()
        .filter(|e| is_x(e, X_AB_LABEL) && in_group(e, group))
        .find_map(entry_text)
        .map(|text| decode_label(&text))
        // Apple's built-in "Other" says no more than no label at all.
        .filter(|label| !label.trim().is_empty() && !label.eq_ignore_ascii_case("Other"))
}

/// A group name no property of the card uses: `item<N>` after the highest one.
fn new_group(vcard: &VCard) -> String {
    let highest = vcard
        .entries
        .iter()
        .filter_map(|e| e.group.as_deref())
        .filter_map(|g| strip_prefix_ignore_ascii_case(g, "item"))
        .filter_map(|n| n.parse::<u32>().ok())
        .max()
        .unwrap_or(0);
    format!("item{}", highest.saturating_add(1))
}

/// Sets (or with `None` removes) the label of the property at `index`, giving it a group when
/// it has none. A new label goes right after the property.
fn set_label_at(vcard: &mut VCard, index: usize, label: Option<&str>) {
    let group = match (vcard.entries[index].group.clone(), label) {
        (Some(group), _) => group,
        (None, None) => return,
        (None, Some(_)) => {
            let group = new_group(vcard);
            vcard.entries[index].group = Some(group.clone());
            group
        }
    };
    let existing = vcard
        .entries
        .iter()
        .position(|e| is_x(e, X_AB_LABEL) && in_group(e, &group));
    match (existing, label) {
        (Some(at), Some(label)) => {
            vcard.entries[at].values = vec![VCardValue::Text(encode_label(label))];
        }
        (None, Some(label)) => {
            let mut entry = new_entry(x_name(X_AB_LABEL), Vec::new(), &encode_label(label));
            entry.group = Some(group);
            insert_at(vcard, Some(index + 1), vec![entry]);
        }
        (Some(_), None) => {
            remove_where(vcard, |e| is_x(e, X_AB_LABEL) && in_group(e, &group));
        }
        (None, None) => {}
    }
}

/// Gives the properties selected by `is_kind`, in card order, the labels in `labels` (same
/// order; a patch's list was just reconciled into exactly these properties).
pub(super) fn set_labels(
    vcard: &mut VCard,
    is_kind: impl Fn(&VCardEntry) -> bool,
    labels: &[Option<String>],
) {
    let mut nth = 0;
    let mut index = 0;
    while index < vcard.entries.len() && nth < labels.len() {
        if is_kind(&vcard.entries[index]) {
            let wanted = norm_label(&labels[nth]);
            if label_at(vcard, index) != wanted {
                set_label_at(vcard, index, wanted.as_deref());
            }
            nth += 1;
        }
        index += 1;
    }
}

fn omit_year(entry: &VCardEntry) -> Option<u16> {
    entry.params.iter().find_map(|p| match &p.name {
        VCardParameterName::Other(n) if n.eq_ignore_ascii_case(APPLE_OMIT_YEAR) => {
            p.value.as_text().and_then(|y| y.trim().parse().ok())
        }
        _ => None,
    })
}

/// The date of a BDAY/ANNIVERSARY-like property: a parsed date, or text in a date form. Times
/// are ignored; a date without month and day (`BDAY:1996`) is not a model date.
fn date_of(entry: &VCardEntry) -> Option<PartialDate> {
    let date = match entry.values.first()? {
        VCardValue::PartialDateTime(dt) => PartialDate::new(dt.year, dt.month?, dt.day?).ok()?,
        other => {
            let text = super::extract::value_text(other)?;
            // `1990-04-12T10:00:00Z` and `19900412T100000` carry a date before the `T`.
            let date_part = text.trim().split('T').next().unwrap_or_default();
            PartialDate::parse(date_part).ok()?
        }
    };
    match (omit_year(entry), date.year) {
        (Some(omitted), Some(year)) if omitted == year => Some(PartialDate { year: None, ..date }),
        _ => Some(date),
    }
}

fn is_anniversary_label(vcard: &VCard, index: usize) -> bool {
    label_at(vcard, index).is_some_and(|l| l.eq_ignore_ascii_case(ANNIVERSARY_LABEL))
}

/// Whether the entry at `index` holds the anniversary in any dialect.
fn is_anniversary(vcard: &VCard, index: usize) -> bool {
    let entry = &vcard.entries[index];
    entry.name == VCardProperty::Anniversary
        || X_ANNIVERSARIES.iter().any(|name| is_x(entry, name))
        || (is_x(entry, X_AB_DATE) && is_anniversary_label(vcard, index))
}

pub(super) fn is_website(entry: &VCardEntry) -> bool {
    entry.name == VCardProperty::Url
}

/// RELATED, Apple's `X-ABRELATEDNAMES` and the single-person extensions of other clients.
pub(super) fn is_related(entry: &VCardEntry) -> bool {
    entry.name == VCardProperty::Related
        || is_x(entry, X_AB_RELATED)
        || X_RELATED.iter().any(|(name, _)| is_x(entry, name))
}

fn website_kind(entry: &VCardEntry) -> WebsiteKind {
    let types = types(entry);
    if types.iter().any(|t| t == "work") {
        WebsiteKind::Work
    } else if types.iter().any(|t| t == "home") {
        WebsiteKind::Home
    } else {
        WebsiteKind::Other
    }
}

fn related_person(vcard: &VCard, index: usize) -> Option<RelatedPerson> {
    let entry = &vcard.entries[index];
    let name = entry_text(entry)?;
    let label = label_at(vcard, index);
    let from_label = label.as_deref().and_then(RelationKind::from_word);
    let from_x = X_RELATED
        .iter()
        .find(|(x, _)| is_x(entry, x))
        .map(|(_, kind)| *kind);
    let from_types = types(entry)
        .iter()
        .find_map(|t| RelationKind::from_word(t).filter(|k| *k != RelationKind::Other));
    let kind = from_label
        .or(from_x)
        .or(from_types)
        .unwrap_or(RelationKind::Other);
    // A label that only names the kind says nothing more.
    let label = label.filter(|_| from_label.is_none());
    Some(RelatedPerson { kind, name, label })
}

/// Reads the details from the card.
pub(super) fn extract(vcard: &VCard) -> ContactDetails {
    let birthday = vcard
        .entries
        .iter()
        .filter(|e| e.name == VCardProperty::Bday)
        .find_map(date_of);
    let anniversary = (0..vcard.entries.len())
        .filter(|&i| is_anniversary(vcard, i))
        .find_map(|i| date_of(&vcard.entries[i]));
    let websites = (0..vcard.entries.len())
        .filter(|&i| is_website(&vcard.entries[i]))
        .filter_map(|i| {
            let entry = &vcard.entries[i];
            Some(Website {
                kind: website_kind(entry),
                url: entry_text(entry)?,
                label: label_at(vcard, i),
            })
        })
        .collect();
    let related_people = (0..vcard.entries.len())
        .filter(|&i| is_related(&vcard.entries[i]))
        .filter_map(|i| related_person(vcard, i))
        .collect();
    ContactDetails {
        birthday,
        anniversary,
        websites,
        related_people,
    }
}

fn date_value(date: PartialDate, legacy: bool) -> (Vec<VCardParameter>, VCardValue) {
    let year = match (date.year, legacy) {
        (None, true) => Some(OMITTED_YEAR),
        (year, _) => year,
    };
    let params = if legacy && date.year.is_none() {
        vec![VCardParameter::new(
            VCardParameterName::Other(APPLE_OMIT_YEAR.into()),
            VCardParameterValue::Text(OMITTED_YEAR.to_string()),
        )]
    } else {
        Vec::new()
    };
    let value = VCardValue::PartialDateTime(PartialDateTime {
        year,
        month: Some(date.month),
        day: Some(date.day),
        ..PartialDateTime::default()
    });
    (params, value)
}

/// Sets BDAY (in place when there is one; its group and other parameters stay).
pub(super) fn set_birthday(vcard: &mut VCard, legacy: bool, birthday: Option<PartialDate>) {
    let Some(date) = birthday else {
        remove_where(vcard, |e| e.name == VCardProperty::Bday);
        return;
    };
    let (params, value) = date_value(date, legacy);
    match vcard
        .entries
        .iter_mut()
        .find(|e| e.name == VCardProperty::Bday)
    {
        Some(entry) => {
            entry.params.retain(|p| {
                p.name != VCardParameterName::Value
                    && !matches!(&p.name, VCardParameterName::Other(n)
                        if n.eq_ignore_ascii_case(APPLE_OMIT_YEAR))
            });
            entry.params.extend(params);
            entry.values = vec![value];
        }
        None => vcard.entries.push(VCardEntry {
            group: None,
            name: VCardProperty::Bday,
            params,
            values: vec![value],
        }),
    }
}

/// Replaces every anniversary property by one in the form the card's version is read in.
pub(super) fn set_anniversary(vcard: &mut VCard, legacy: bool, anniversary: Option<PartialDate>) {
    let old: Vec<usize> = (0..vcard.entries.len())
        .filter(|&i| is_anniversary(vcard, i))
        .collect();
    let at = old.first().copied();
    let groups: Vec<String> = old
        .iter()
        .filter_map(|&i| vcard.entries[i].group.clone())
        .collect();
    let mut index = 0;
    vcard.entries.retain(|_| {
        let keep = !old.contains(&index);
        index += 1;
        keep
    });
    super::edit::drop_orphan_groups(vcard, &groups);
    let Some(date) = anniversary else {
        return;
    };
    let at = at.unwrap_or(vcard.entries.len()).min(vcard.entries.len());
    let (params, value) = date_value(date, legacy);
    if legacy {
        let group = new_group(vcard);
        let date_entry = VCardEntry {
            group: Some(group.clone()),
            name: x_name(X_AB_DATE),
            params,
            values: vec![VCardValue::Text(
                PartialDate {
                    year: date.year.or(Some(OMITTED_YEAR)),
                    ..date
                }
                .to_string(),
            )],
        };
        let mut label = new_entry(
            x_name(X_AB_LABEL),
            Vec::new(),
            &encode_label(ANNIVERSARY_LABEL),
        );
        label.group = Some(group);
        insert_at(vcard, Some(at), vec![date_entry, label]);
    } else {
        let entry = VCardEntry {
            group: None,
            name: VCardProperty::Anniversary,
            params,
            values: vec![value],
        };
        insert_at(vcard, Some(at), vec![entry]);
    }
}

fn website_types(kind: WebsiteKind) -> Vec<VCardType> {
    match kind {
        WebsiteKind::Home => vec![VCardType::Home],
        WebsiteKind::Work => vec![VCardType::Work],
        WebsiteKind::Other => Vec::new(),
    }
}

pub(super) fn set_websites(vcard: &mut VCard, websites: &[Website]) {
    let websites: Vec<Website> = websites
        .iter()
        .map(|w| Website {
            url: w.url.trim().to_owned(),
            ..w.clone()
        })
        .filter(|w| !w.url.is_empty())
        .collect();
    reconcile(
        vcard,
        is_website,
        &websites,
        |site, entry| entry_text(entry).as_deref() == Some(site.url.as_str()),
        |entry, site, _| {
            if entry_text(entry).as_deref() != Some(site.url.as_str()) {
                entry.values = vec![VCardValue::Text(site.url.clone())];
            }
            if website_kind(entry) != site.kind {
                super::edit::set_kind_types(entry, &website_types(site.kind));
            }
        },
        |site, _| {
            let params = website_types(site.kind)
                .into_iter()
                .map(|t| VCardParameter::new(VCardParameterName::Type, t))
                .collect();
            new_entry(VCardProperty::Url, params, &site.url)
        },
    );
    let labels: Vec<Option<String>> = websites.iter().map(|w| w.label.clone()).collect();
    set_labels(vcard, is_website, &labels);
}

/// The RFC 6350 §6.6.6 type closest to a relation (4.0 TYPE); the exact kind goes in a label
/// when RFC 6350 has no word for it.
fn related_type(kind: RelationKind) -> (Option<VCardType>, bool) {
    match kind {
        RelationKind::Spouse => (Some(VCardType::Spouse), true),
        RelationKind::Child => (Some(VCardType::Child), true),
        RelationKind::Parent => (Some(VCardType::Parent), true),
        RelationKind::Sibling => (Some(VCardType::Sibling), true),
        RelationKind::Friend => (Some(VCardType::Friend), true),
        RelationKind::Relative => (Some(VCardType::Kin), true),
        RelationKind::Colleague => (Some(VCardType::Colleague), true),
        RelationKind::Emergency => (Some(VCardType::Emergency), true),
        RelationKind::Mother | RelationKind::Father => (Some(VCardType::Parent), false),
        RelationKind::Brother | RelationKind::Sister => (Some(VCardType::Sibling), false),
        RelationKind::Partner => (Some(VCardType::Sweetheart), false),
        RelationKind::Assistant | RelationKind::Manager => (Some(VCardType::CoWorker), false),
        RelationKind::Other => (None, true),
    }
}

/// The label written beside a related person: its own label, else the kind's word when the
/// TYPE cannot say it (4.0) or always (3.0, where the label is the only place for it).
fn related_label(person: &RelatedPerson, legacy: bool) -> Option<String> {
    let exact = related_type(person.kind).1;
    norm_label(&person.label).or_else(|| {
        (person.kind != RelationKind::Other && (legacy || !exact)).then(|| {
            let word = person.kind.word();
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect())
                .unwrap_or_default()
        })
    })
}

pub(super) fn set_related(vcard: &mut VCard, legacy: bool, people: &[RelatedPerson]) {
    let people: Vec<RelatedPerson> = people
        .iter()
        .map(|p| RelatedPerson {
            name: p.name.trim().to_owned(),
            ..p.clone()
        })
        .filter(|p| !p.name.is_empty())
        .collect();
    reconcile(
        vcard,
        is_related,
        &people,
        |person, entry| entry_text(entry).as_deref() == Some(person.name.as_str()),
        |entry, person, _| {
            if entry_text(entry).as_deref() != Some(person.name.as_str()) {
                entry.values = vec![VCardValue::Text(person.name.clone())];
            }
            if entry.name == VCardProperty::Related {
                set_related_type(entry, person.kind);
            } else if !is_x(entry, X_AB_RELATED) {
                // A single-person extension (X-EVOLUTION-SPOUSE) that may now name someone
                // else: rewritten in the card version's own form.
                *entry = new_related(person, legacy);
            }
        },
        |person, _| new_related(person, legacy),
    );
    let labels: Vec<Option<String>> = people.iter().map(|p| related_label(p, legacy)).collect();
    set_labels(vcard, is_related, &labels);
}

fn set_related_type(entry: &mut VCardEntry, kind: RelationKind) {
    entry.params.retain(|p| p.name != VCardParameterName::Type);
    if let Some(t) = related_type(kind).0 {
        entry
            .params
            .push(VCardParameter::new(VCardParameterName::Type, t));
    }
}

fn new_related(person: &RelatedPerson, legacy: bool) -> VCardEntry {
    if legacy {
        return new_entry(x_name(X_AB_RELATED), Vec::new(), &person.name);
    }
    let mut entry = new_entry(
        VCardProperty::Related,
        vec![VCardParameter::new(
            VCardParameterName::Value,
            VCardParameterValue::ValueType(VCardValueType::Text),
        )],
        &person.name,
    );
    set_related_type(&mut entry, person.kind);
    entry
}

/// 4.0 -> 3.0: `ANNIVERSARY` and text `RELATED` become Apple's `itemN.X-ABDATE` /
/// `itemN.X-ABRELATEDNAMES` with their label, the only forms 3.0 clients read (3.0 has
/// neither property). Dates arrive here already in their 3.0 form (year-less ones with
/// `X-APPLE-OMIT-YEAR`). A RELATED that is a URI (`urn:uuid:`) stays as it is.
pub(super) fn to_legacy(entries: Vec<VCardEntry>) -> Vec<VCardEntry> {
    let mut vcard = VCard { entries };
    let mut index = 0;
    while index < vcard.entries.len() {
        let entry = &vcard.entries[index];
        let is_text_related = entry.name == VCardProperty::Related
            && entry.params.iter().any(|p| {
                p.name == VCardParameterName::Value
                    && matches!(
                        &p.value,
                        VCardParameterValue::ValueType(VCardValueType::Text)
                    )
            });
        if entry.name == VCardProperty::Anniversary {
            let date = date_of(entry);
            let label = label_at(&vcard, index);
            let entry = &mut vcard.entries[index];
            entry.name = x_name(X_AB_DATE);
            if let Some(date) = date {
                let year = date.year.or(Some(OMITTED_YEAR));
                entry.values = vec![VCardValue::Text(PartialDate { year, ..date }.to_string())];
            }
            entry.params.retain(|p| p.name != VCardParameterName::Value);
            if label.is_none() {
                set_label_at(&mut vcard, index, Some(ANNIVERSARY_LABEL));
            }
        } else if is_text_related {
            let Some(person) = related_person(&vcard, index) else {
                index += 1;
                continue;
            };
            let entry = &mut vcard.entries[index];
            entry.name = x_name(X_AB_RELATED);
            entry.params.retain(|p| {
                !matches!(p.name, VCardParameterName::Value | VCardParameterName::Type)
            });
            if let Some(label) = related_label(&person, true) {
                set_label_at(&mut vcard, index, Some(&label));
            }
        }
        index += 1;
    }
    vcard.entries
}
