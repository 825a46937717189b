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

use std::collections::{HashMap, HashSet};

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

/// The label of every property group (its first non-blank `X-ABLabel`, decoded), read in one
/// pass: looking up the label of each property then costs a hash lookup, so reading or
/// relabelling a card stays linear in its number of properties.
pub(super) struct GroupLabels(HashMap<String, String>);

impl GroupLabels {
    pub(super) fn of(vcard: &VCard) -> GroupLabels {
        let mut labels = HashMap::new();
        for entry in vcard.entries.iter().filter(|e| is_x(e, X_AB_LABEL)) {
            if let (Some(group), Some(text)) = (&entry.group, entry_text(entry)) {
                // Group names compare case-insensitively, as vCard names do.
                labels
                    .entry(group.to_ascii_lowercase())
                    .or_insert_with(|| decode_label(&text));
            }
        }
        GroupLabels(labels)
    }

    /// The label of `entry`, as the model keeps it ([`norm_label`]: Apple's built-in "Other"
    /// says no more than no label at all).
    pub(super) fn of_entry(&self, entry: &VCardEntry) -> Option<String> {
        let group = entry.group.as_deref()?.to_ascii_lowercase();
        norm_label(&self.0.get(&group).cloned())
    }
}

/// The number after the highest `item<N>` group of the card: new groups count on from there.
fn next_item_number(vcard: &VCard) -> u32 {
    vcard
        .entries
        .iter()
        .filter_map(|e| e.group.as_deref())
        .filter_map(|g| strip_prefix_ignore_ascii_case(g, "item"))
        .filter_map(|n| n.parse::<u32>().ok())
        .max()
        .unwrap_or(0)
        .saturating_add(1)
}

/// Gives the properties at the given indices the given labels (`None` removes one), in one
/// pass over the card: a property without a group gets a new `item<N>` group, a changed group
/// loses its old `X-ABLabel`s and gets the new one right after the property.
fn relabel(vcard: &mut VCard, wanted: Vec<(usize, Option<String>)>) {
    let current = GroupLabels::of(vcard);
    let mut next = next_item_number(vcard);
    let mut cleared: HashSet<String> = HashSet::new();
    let mut insert_after: HashMap<usize, VCardEntry> = HashMap::new();
    for (index, label) in wanted {
        let label = norm_label(&label);
        let Some(entry) = vcard.entries.get_mut(index) else {
            continue;
        };
        if current.of_entry(entry) == label {
            continue;
        }
        let group = match (&entry.group, &label) {
            (Some(group), _) => group.clone(),
            (None, None) => continue,
            (None, Some(_)) => {
                let group = format!("item{next}");
                next = next.saturating_add(1);
                entry.group = Some(group.clone());
                group
            }
        };
        cleared.insert(group.to_ascii_lowercase());
        if let Some(label) = label {
            let mut helper = new_entry(x_name(X_AB_LABEL), Vec::new(), &encode_label(&label));
            helper.group = Some(group);
            insert_after.insert(index, helper);
        }
    }
    if cleared.is_empty() {
        return;
    }
    let old = std::mem::take(&mut vcard.entries);
    vcard.entries.reserve(old.len() + insert_after.len());
    for (index, entry) in old.into_iter().enumerate() {
        let stale = is_x(&entry, X_AB_LABEL)
            && entry
                .group
                .as_deref()
                .is_some_and(|g| cleared.contains(&g.to_ascii_lowercase()));
        if !stale {
            vcard.entries.push(entry);
        }
        if let Some(helper) = insert_after.remove(&index) {
            vcard.entries.push(helper);
        }
    }
}

/// Gives the properties selected by `is_kind`, in card order, the labels in `labels` (same
/// order; a patch's list was just reconciled into exactly these properties).
pub(super) fn set_labels(
    vcard: &mut VCard,
    is_kind: impl Fn(&VCardEntry) -> bool,
    labels: &[Option<String>],
) {
    let wanted = (0..vcard.entries.len())
        .filter(|&i| is_kind(&vcard.entries[i]))
        .zip(labels.iter().cloned())
        .collect();
    relabel(vcard, wanted);
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

/// Whether `entry` holds the anniversary in any dialect.
fn is_anniversary(entry: &VCardEntry, labels: &GroupLabels) -> bool {
    entry.name == VCardProperty::Anniversary
        || X_ANNIVERSARIES.iter().any(|name| is_x(entry, name))
        || (is_x(entry, X_AB_DATE)
            && labels
                .of_entry(entry)
                .is_some_and(|l| l.eq_ignore_ascii_case(ANNIVERSARY_LABEL)))
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

fn related_person(entry: &VCardEntry, labels: &GroupLabels) -> Option<RelatedPerson> {
    let name = entry_text(entry)?;
    let label = labels.of_entry(entry);
    let from_label = label.as_deref().and_then(RelationKind::from_word);
    let from_x = X_RELATED
        .iter()
        .find(|(x, _)| is_x(entry, x))
        .map(|(_, kind)| *kind);
    // `x-mother` is more exact than the `parent` beside it.
    let types = types(entry);
    let kind_of = |t: &str| RelationKind::from_word(t).filter(|k| *k != RelationKind::Other);
    let from_types = (types.iter().filter_map(|t| t.strip_prefix("x-")))
        .find_map(kind_of)
        .or_else(|| types.iter().find_map(|t| kind_of(t)));
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
    let labels = GroupLabels::of(vcard);
    let entries = &vcard.entries;
    let birthday = entries
        .iter()
        .filter(|e| e.name == VCardProperty::Bday)
        .find_map(date_of);
    let anniversary = entries
        .iter()
        .filter(|e| is_anniversary(e, &labels))
        .find_map(date_of);
    let websites = entries
        .iter()
        .filter(|e| is_website(e))
        .filter_map(|entry| {
            Some(Website {
                kind: website_kind(entry),
                url: entry_text(entry)?,
                label: labels.of_entry(entry),
            })
        })
        .collect();
    let related_people = entries
        .iter()
        .filter(|e| is_related(e))
        .filter_map(|e| related_person(e, &labels))
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
    let labels = GroupLabels::of(vcard);
    let old: Vec<bool> = vcard
        .entries
        .iter()
        .map(|e| is_anniversary(e, &labels))
        .collect();
    let at = old.iter().position(|&is_old| is_old);
    let groups: Vec<String> = (vcard.entries.iter().zip(&old))
        .filter(|(_, is_old)| **is_old)
        .filter_map(|(e, _)| e.group.clone())
        .collect();
    let mut old = old.into_iter();
    vcard.entries.retain(|_| !old.next().unwrap_or(false));
    super::edit::drop_orphan_groups(vcard, &groups);
    let Some(date) = anniversary else {
        return;
    };
    let at = at.unwrap_or(vcard.entries.len()).min(vcard.entries.len());
    let (params, value) = date_value(date, legacy);
    if legacy {
        let group = format!("item{}", next_item_number(vcard));
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
            if entry.name == VCardProperty::Related || is_x(entry, X_AB_RELATED) {
                set_related_type(entry, person);
            } else {
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

/// A TYPE value that names a relation (`spouse`, RFC 6350's `co-worker`, our `x-mother`).
fn is_relation_type(value: &str) -> bool {
    RelationKind::from_word(value.strip_prefix("x-").unwrap_or(value)).is_some()
}

/// Sets the TYPE values that say how the person is related, keeping others (`pref`). The
/// label slot holds the exact kind unless the person has a label of its own; then the kind
/// goes in TYPE too: RFC 6350's word plus `x-<word>` when it has none (`x-mother` beside
/// `parent`) on RELATED, the word on Apple's `X-ABRELATEDNAMES`.
fn set_related_type(entry: &mut VCardEntry, person: &RelatedPerson) {
    entry.params.retain(|p| {
        p.name != VCardParameterName::Type || !p.value.as_text().is_some_and(is_relation_type)
    });
    let custom_label = norm_label(&person.label).is_some();
    let word = person.kind.word();
    let text =
        |t: String| VCardParameter::new(VCardParameterName::Type, VCardParameterValue::Text(t));
    if entry.name == VCardProperty::Related {
        let (rfc, exact) = related_type(person.kind);
        if let Some(t) = rfc {
            entry
                .params
                .push(VCardParameter::new(VCardParameterName::Type, t));
        }
        if !exact && custom_label {
            entry.params.push(text(format!("x-{word}")));
        }
    } else if custom_label && person.kind != RelationKind::Other {
        entry.params.push(text(word.to_owned()));
    }
}

fn new_related(person: &RelatedPerson, legacy: bool) -> VCardEntry {
    if legacy {
        let mut entry = new_entry(x_name(X_AB_RELATED), Vec::new(), &person.name);
        set_related_type(&mut entry, person);
        return entry;
    }
    let mut entry = new_entry(
        VCardProperty::Related,
        vec![VCardParameter::new(
            VCardParameterName::Value,
            VCardParameterValue::ValueType(VCardValueType::Text),
        )],
        &person.name,
    );
    set_related_type(&mut entry, person);
    entry
}

/// 4.0 -> 3.0: `ANNIVERSARY` and text `RELATED` become Apple's `itemN.X-ABDATE` /
/// `itemN.X-ABRELATEDNAMES` with their label, the only forms 3.0 clients read (3.0 has
/// neither property). Dates arrive here already in their 3.0 form (year-less ones with
/// `X-APPLE-OMIT-YEAR`). A RELATED that is a URI (`urn:uuid:`) stays as it is.
pub(super) fn to_legacy(entries: Vec<VCardEntry>) -> Vec<VCardEntry> {
    let mut vcard = VCard { entries };
    let labels = GroupLabels::of(&vcard);
    let mut wanted = Vec::new();
    for (index, entry) in vcard.entries.iter_mut().enumerate() {
        let is_text_related = entry.name == VCardProperty::Related
            && entry.params.iter().any(|p| {
                p.name == VCardParameterName::Value
                    && matches!(
                        &p.value,
                        VCardParameterValue::ValueType(VCardValueType::Text)
                    )
            });
        if entry.name == VCardProperty::Anniversary {
            if labels.of_entry(entry).is_none() {
                wanted.push((index, Some(ANNIVERSARY_LABEL.to_owned())));
            }
            let date = date_of(entry);
            entry.name = x_name(X_AB_DATE);
            if let Some(date) = date {
                let year = date.year.or(Some(OMITTED_YEAR));
                entry.values = vec![VCardValue::Text(PartialDate { year, ..date }.to_string())];
            }
            entry.params.retain(|p| p.name != VCardParameterName::Value);
        } else if is_text_related && let Some(person) = related_person(entry, &labels) {
            entry.name = x_name(X_AB_RELATED);
            entry.params.retain(|p| p.name != VCardParameterName::Value);
            set_related_type(entry, &person);
            if let Some(label) = related_label(&person, true) {
                wanted.push((index, Some(label)));
            }
        }
    }
    relabel(&mut vcard, wanted);
    vcard.entries
}
