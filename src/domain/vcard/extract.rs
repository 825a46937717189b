//! Card -> model: reads every [`ContactFields`] field from the parsed properties, whatever
//! version or client wrote them. Also the small readers that `patch` shares (which property is
//! the "main" N, a property's preference rank, its TYPE values, ...).

use calcard::vcard::{
    VCard, VCardEntry, VCardKind, VCardParameterName, VCardParameterValue, VCardProperty,
    VCardValue,
};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::details::{self, GroupLabels};
use crate::domain::contact::{
    Address, AddressKind, CardKind, ContactFields, Email, EmailKind, Phone, PhoneKind,
};
use crate::domain::phone;
use crate::domain::text::strip_prefix_ignore_ascii_case;

pub(super) const X_USERNAME: &str = "X-ROLODEX-USERNAME";
pub(super) const X_CONVERSATION_ID: &str = "X-ROLODEX-CONVERSATION-ID";
pub(super) const X_LAST_ACTIVE: &str = "X-ROLODEX-LAST-ACTIVE";
pub(super) const X_IDENTITY: &str = "X-ROLODEX-IDENTITY";
pub(super) const X_DROP_URL: &str = "X-ROLODEX-DROP-URL";
pub(super) const X_MODULE: &str = "X-ROLODEX-MODULE";
pub(super) const MODULE_PARAM: &str = "MODULE";
pub(super) const X_PHONETIC_FIRST: &str = "X-PHONETIC-FIRST-NAME";
pub(super) const X_PHONETIC_MIDDLE: &str = "X-PHONETIC-MIDDLE-NAME";
pub(super) const X_PHONETIC_LAST: &str = "X-PHONETIC-LAST-NAME";
pub(super) const X_AB_KIND: &str = "X-ADDRESSBOOKSERVER-KIND";
pub(super) const X_AB_MEMBER: &str = "X-ADDRESSBOOKSERVER-MEMBER";

/// N components: family;given;additional;prefix;suffix.
pub(super) const N_FAMILY: usize = 0;
pub(super) const N_GIVEN: usize = 1;
pub(super) const N_ADDITIONAL: usize = 2;
pub(super) const N_PREFIX: usize = 3;
pub(super) const N_SUFFIX: usize = 4;

/// Whether `entry` is the extension property `name` (case-insensitive, as vCard names are).
pub(super) fn is_x(entry: &VCardEntry, name: &str) -> bool {
    matches!(&entry.name, VCardProperty::Other(n) if n.eq_ignore_ascii_case(name))
}

/// A value as text: components joined with `,`, binary as a `data:` URI. Dates and numbers
/// are not text and yield `None`.
pub(super) fn value_text(value: &VCardValue) -> Option<String> {
    match value {
        VCardValue::Text(text) => Some(text.clone()),
        VCardValue::Component(items) => Some(items.join(",")),
        VCardValue::Binary(data) => Some(data.to_unwrapped_string()),
        VCardValue::Kind(kind) => Some(kind_str(*kind).to_owned()),
        VCardValue::Integer(i) => Some(i.to_string()),
        VCardValue::Float(f) => Some(f.to_string()),
        VCardValue::Boolean(b) => Some(b.to_string()),
        VCardValue::Sex(_) | VCardValue::GramGender(_) | VCardValue::PartialDateTime(_) => {
            value.as_text().map(str::to_owned)
        }
    }
}

pub(super) fn kind_str(kind: VCardKind) -> &'static str {
    match kind {
        VCardKind::Individual => "individual",
        VCardKind::Group => "group",
        VCardKind::Org => "org",
        VCardKind::Location => "location",
        VCardKind::Application => "application",
        VCardKind::Device => "device",
    }
}

/// The first value of a single-valued property, trimmed; `None` when empty.
pub(super) fn entry_text(entry: &VCardEntry) -> Option<String> {
    entry
        .values
        .first()
        .and_then(value_text)
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// Components of a structured value (N, ADR), each trimmed; a component holding a list
/// (`Henry,James`) is joined with `joiner`.
pub(super) fn components(entry: &VCardEntry, joiner: &str) -> Vec<String> {
    entry
        .values
        .iter()
        .map(|value| match value {
            VCardValue::Component(items) => items
                .iter()
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(joiner),
            other => value_text(other).unwrap_or_default().trim().to_owned(),
        })
        .collect()
}

fn component(parts: &[String], index: usize) -> Option<String> {
    parts.get(index).filter(|s| !s.is_empty()).cloned()
}

/// TYPE values, lower case.
pub(super) fn types(entry: &VCardEntry) -> Vec<String> {
    entry
        .params
        .iter()
        .filter(|p| p.name == VCardParameterName::Type)
        .filter_map(|p| p.value.as_text())
        .flat_map(|t| t.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .collect()
}

/// Preference rank: the PREF value (4.0; 1 is most preferred) or 1 for `TYPE=pref` (3.0).
pub(super) fn pref_rank(entry: &VCardEntry) -> Option<u32> {
    let from_pref = entry
        .params
        .iter()
        .filter(|p| p.name == VCardParameterName::Pref)
        .filter_map(|p| match &p.value {
            VCardParameterValue::Integer(n) => Some(*n),
            VCardParameterValue::Text(t) => t.trim().parse().ok(),
            _ => None,
        })
        .min();
    let from_type = types(entry).iter().any(|t| t == "pref").then_some(1);
    match (from_pref, from_type) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn has_phonetic_param(entry: &VCardEntry) -> bool {
    entry
        .params
        .iter()
        .any(|p| p.name == VCardParameterName::Phonetic)
}

/// The N property holding the name itself (not an RFC 9554 phonetic alternative).
pub(super) fn main_n_index(vcard: &VCard) -> Option<usize> {
    vcard
        .entries
        .iter()
        .position(|e| e.name == VCardProperty::N && !has_phonetic_param(e))
}

/// An RFC 9554 `N;PHONETIC=...` property, if any.
pub(super) fn phonetic_n_index(vcard: &VCard) -> Option<usize> {
    vcard
        .entries
        .iter()
        .position(|e| e.name == VCardProperty::N && has_phonetic_param(e))
}

pub(super) fn first_text(vcard: &VCard, name: &VCardProperty) -> Option<String> {
    vcard
        .entries
        .iter()
        .filter(|e| &e.name == name)
        .find_map(entry_text)
}

pub(super) fn first_x_text(vcard: &VCard, name: &str) -> Option<String> {
    vcard
        .entries
        .iter()
        .filter(|e| is_x(e, name))
        .find_map(entry_text)
}

pub(super) fn uid(vcard: &VCard) -> Option<String> {
    first_text(vcard, &VCardProperty::Uid)
}

pub(super) fn kind(vcard: &VCard) -> CardKind {
    let group = vcard.entries.iter().any(|e| {
        (e.name == VCardProperty::Kind || is_x(e, X_AB_KIND))
            && e.values.iter().any(|v| match v {
                VCardValue::Kind(kind) => *kind == VCardKind::Group,
                other => value_text(other).is_some_and(|t| t.trim().eq_ignore_ascii_case("group")),
            })
    });
    if group {
        CardKind::Group
    } else {
        CardKind::Individual
    }
}

pub(super) fn email_address(entry: &VCardEntry) -> Option<String> {
    let text = entry_text(entry)?;
    let address = match strip_prefix_ignore_ascii_case(&text, "mailto:") {
        Some(rest) => rest.trim().to_owned(),
        None => text,
    };
    (!address.is_empty()).then_some(address)
}

/// The number shown for a TEL: text as written; for a `tel:` URI the number without the
/// scheme, with an `ext=` parameter appended as " x<ext>".
pub(super) fn phone_number(entry: &VCardEntry) -> Option<String> {
    let text = entry_text(entry)?;
    match strip_prefix_ignore_ascii_case(&text, "tel:") {
        Some(uri) => {
            let mut parts = uri.split(';');
            let mut number = parts.next().unwrap_or_default().trim().to_owned();
            if let Some(ext) = parts.find_map(|p| strip_prefix_ignore_ascii_case(p, "ext=")) {
                number.push_str(" x");
                number.push_str(ext);
            }
            (!number.is_empty()).then_some(number)
        }
        None => Some(text),
    }
}

pub(super) fn phone_kind(entry: &VCardEntry) -> PhoneKind {
    let types = types(entry);
    let has = |name: &str| types.iter().any(|t| t == name);
    if has("fax") {
        PhoneKind::Fax
    } else if has("pager") {
        PhoneKind::Pager
    } else if has("cell") || has("iphone") || has("mobile") {
        PhoneKind::Mobile
    } else if has("work") {
        PhoneKind::Business
    } else if has("home") {
        PhoneKind::Home
    } else {
        PhoneKind::Other
    }
}

pub(super) fn address_kind(entry: &VCardEntry) -> AddressKind {
    let types = types(entry);
    if types.iter().any(|t| t == "home") {
        AddressKind::Home
    } else if types.iter().any(|t| t == "work") {
        AddressKind::Business
    } else {
        AddressKind::Other
    }
}

/// ADR po box;extended;street;city;region;code;country -> the model's five fields.
pub(super) fn address(entry: &VCardEntry, label: Option<String>) -> Option<Address> {
    let parts = components(entry, ", ");
    if parts.iter().all(|p| p.is_empty()) {
        return None;
    }
    Some(Address {
        label,
        kind: address_kind(entry),
        street: component(&parts, 2),
        city: component(&parts, 3),
        state: component(&parts, 4),
        zip: component(&parts, 5),
        country: component(&parts, 6),
    })
}

pub(super) fn emails(vcard: &VCard) -> Vec<Email> {
    let labels = GroupLabels::of(vcard);
    let found: Vec<(String, Option<u32>, Option<String>)> = vcard
        .entries
        .iter()
        .filter(|e| e.name == VCardProperty::Email)
        .filter_map(|e| email_address(e).map(|a| (a, pref_rank(e), labels.of_entry(e))))
        .collect();
    let best = found.iter().filter_map(|(_, rank, _)| *rank).min();
    let primary = best
        .and_then(|best| found.iter().position(|(_, rank, _)| *rank == Some(best)))
        .unwrap_or(0);
    found
        .into_iter()
        .enumerate()
        .map(|(i, (address, _, label))| Email {
            label,
            kind: if i == primary {
                EmailKind::Primary
            } else {
                EmailKind::Alternate
            },
            address,
        })
        .collect()
}

pub(super) fn phones(vcard: &VCard) -> Vec<Phone> {
    let labels = GroupLabels::of(vcard);
    vcard
        .entries
        .iter()
        .filter(|e| e.name == VCardProperty::Tel)
        .filter_map(|e| {
            phone_number(e).map(|number| Phone {
                label: labels.of_entry(e),
                kind: phone_kind(e),
                normalized: phone::normalize_e164(&number, phone::DEFAULT_REGION),
                number,
            })
        })
        .collect()
}

pub(super) fn addresses(vcard: &VCard) -> Vec<Address> {
    let labels = GroupLabels::of(vcard);
    vcard
        .entries
        .iter()
        .filter(|e| e.name == VCardProperty::Adr)
        .filter_map(|e| address(e, labels.of_entry(e)))
        .collect()
}

/// Module name and JSON of an `X-ROLODEX-MODULE` property. Text that is not JSON is kept as a
/// JSON string so it stays visible instead of vanishing.
pub(super) fn module(entry: &VCardEntry) -> Option<(String, Value)> {
    let name = entry.params.iter().find_map(|p| match &p.name {
        VCardParameterName::Other(n) if n.eq_ignore_ascii_case(MODULE_PARAM) => {
            p.value.as_text().map(str::to_owned)
        }
        _ => None,
    })?;
    let raw = entry
        .values
        .first()
        .and_then(value_text)
        .unwrap_or_default();
    let value = serde_json::from_str(&raw).unwrap_or(Value::String(raw));
    Some((name, value))
}

pub(super) fn module_data(vcard: &VCard) -> Map<String, Value> {
    let mut map = Map::new();
    for (name, value) in vcard
        .entries
        .iter()
        .filter(|e| is_x(e, X_MODULE))
        .filter_map(module)
    {
        // The first property for a module wins, as for every single-valued field.
        map.entry(name).or_insert(value);
    }
    map
}

pub(super) fn list_values(entry: &VCardEntry) -> impl Iterator<Item = String> + '_ {
    entry
        .values
        .iter()
        .flat_map(|v| match v {
            VCardValue::Component(items) => items.clone(),
            other => value_text(other).into_iter().collect(),
        })
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

pub(super) fn categories(vcard: &VCard) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for value in vcard
        .entries
        .iter()
        .filter(|e| e.name == VCardProperty::Categories)
        .flat_map(list_values)
    {
        if !out.contains(&value) {
            out.push(value);
        }
    }
    out
}

pub(super) fn members(vcard: &VCard) -> Vec<String> {
    vcard
        .entries
        .iter()
        .filter(|e| e.name == VCardProperty::Member || is_x(e, X_AB_MEMBER))
        .filter_map(entry_text)
        .collect()
}

/// Inline data rather than a link: decoded binary, or a `data:` URI calcard could not decode.
pub(super) fn is_inline(entry: &VCardEntry) -> bool {
    entry.values.iter().any(|v| match v {
        VCardValue::Binary(_) => true,
        VCardValue::Text(text) => strip_prefix_ignore_ascii_case(text, "data:").is_some(),
        _ => false,
    })
}

pub(super) fn avatar_url(vcard: &VCard) -> Option<String> {
    vcard
        .entries
        .iter()
        .filter(|e| e.name == VCardProperty::Photo && !is_inline(e))
        .find_map(entry_text)
}

pub(super) fn public_key(vcard: &VCard) -> Option<String> {
    first_text(vcard, &VCardProperty::Key)
}

pub(super) fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn phonetic(vcard: &VCard, x_name: &str, n_index: usize) -> Option<String> {
    first_x_text(vcard, x_name).or_else(|| {
        let entry = vcard.entries.get(phonetic_n_index(vcard)?)?;
        component(&components(entry, " "), n_index)
    })
}

pub(super) fn extract(vcard: &VCard) -> ContactFields {
    let n = main_n_index(vcard)
        .and_then(|i| vcard.entries.get(i))
        .map(|e| components(e, " "))
        .unwrap_or_default();
    let org: Vec<String> = vcard
        .entries
        .iter()
        .find(|e| e.name == VCardProperty::Org)
        .map(|e| components(e, ", "))
        .unwrap_or_default();
    let nickname: Vec<String> = vcard
        .entries
        .iter()
        .filter(|e| e.name == VCardProperty::Nickname)
        .flat_map(list_values)
        .collect();
    ContactFields {
        kind: kind(vcard),
        uid: uid(vcard),
        display_name: first_text(vcard, &VCardProperty::Fn),
        prefix: component(&n, N_PREFIX),
        first_name: component(&n, N_GIVEN),
        middle_name: component(&n, N_ADDITIONAL),
        last_name: component(&n, N_FAMILY),
        suffix: component(&n, N_SUFFIX),
        phonetic_first_name: phonetic(vcard, X_PHONETIC_FIRST, N_GIVEN),
        phonetic_middle_name: phonetic(vcard, X_PHONETIC_MIDDLE, N_ADDITIONAL),
        phonetic_last_name: phonetic(vcard, X_PHONETIC_LAST, N_FAMILY),
        nickname: (!nickname.is_empty()).then(|| nickname.join(", ")),
        company: component(&org, 0),
        department: component(&org, 1),
        job_title: first_text(vcard, &VCardProperty::Title),
        emails: emails(vcard),
        phones: phones(vcard),
        addresses: addresses(vcard),
        username: first_x_text(vcard, X_USERNAME),
        avatar_url: avatar_url(vcard),
        has_inline_photo: vcard
            .entries
            .iter()
            .any(|e| e.name == VCardProperty::Photo && is_inline(e)),
        conversation_id: first_x_text(vcard, X_CONVERSATION_ID),
        last_active_at: first_x_text(vcard, X_LAST_ACTIVE).and_then(|t| parse_timestamp(&t)),
        public_key: public_key(vcard),
        owner_identity: first_x_text(vcard, X_IDENTITY),
        drop_urls: vcard
            .entries
            .iter()
            .filter(|e| is_x(e, X_DROP_URL))
            .filter_map(entry_text)
            .collect(),
        module_data: module_data(vcard),
        categories: categories(vcard),
        note: first_text(vcard, &VCardProperty::Note),
        members: members(vcard),
        details: details::extract(vcard),
    }
}

/// The display name a client would show for a card without FN: the name parts, else the
/// company, nickname, first email, first phone number.
pub(super) fn derive_display_name(fields: &ContactFields) -> Option<String> {
    let parts: Vec<&str> = [
        &fields.prefix,
        &fields.first_name,
        &fields.middle_name,
        &fields.last_name,
        &fields.suffix,
    ]
    .into_iter()
    .filter_map(|p| p.as_deref())
    .collect();
    if !parts.is_empty() {
        return Some(parts.join(" "));
    }
    fields
        .company
        .clone()
        .or_else(|| fields.nickname.clone())
        // Protocol: "by default, the display name is just the username".
        .or_else(|| fields.username.clone())
        .or_else(|| fields.emails.first().map(|e| e.address.clone()))
        .or_else(|| fields.phones.first().map(|p| p.number.clone()))
}
