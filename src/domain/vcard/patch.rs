//! Model -> card: applies a [`ContactPatch`] to the parsed properties.
//!
//! Rules: a field the patch does not name is not touched; a field whose new value equals what
//! the card already says is not touched either (so a full replace with unchanged values keeps
//! the card as it was). A changed field replaces only its own properties and keeps what it can
//! of them: the other N/ORG components, an edited email's or address's group (`item1.` with
//! its `X-ABLabel`) and parameters, an address's PO box and extended component. A property
//! group left without its main property loses its Apple helpers (`X-ABLabel`, `X-ABADR`).

use calcard::common::PartialDateTime;
use calcard::vcard::{
    VCard, VCardEntry, VCardKind, VCardParameter, VCardParameterName, VCardParameterValue,
    VCardProperty, VCardType, VCardValue, VCardValueType,
};
use chrono::{Datelike, SecondsFormat, Timelike, Utc};

use super::CardVersion;
use super::details;
use super::edit::{
    default_position, drop_orphan_groups, drop_value_param, insert_at, new_entry, reconcile,
    remove_where, replace_all, set_kind_types, set_pref, set_single, set_x_list, set_x_single,
    text_value, x_name,
};
use super::extract::{self, is_x};
use crate::domain::contact::{
    Address, AddressKind, CardKind, ContactPatch, Email, EmailKind, Phone, PhoneKind,
    RelatedPerson, Website,
};
use crate::domain::details::norm_label;

/// Trimmed, `None` when empty: the form `extract` reports, so comparisons are fair.
fn norm(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

fn phone_types(kind: PhoneKind) -> Vec<VCardType> {
    match kind {
        PhoneKind::Home => vec![VCardType::Home],
        PhoneKind::Business => vec![VCardType::Work],
        PhoneKind::Mobile => vec![VCardType::Cell],
        PhoneKind::Fax => vec![VCardType::Fax],
        PhoneKind::Pager => vec![VCardType::Pager],
        PhoneKind::Other => Vec::new(),
    }
}

fn address_types(kind: AddressKind) -> Vec<VCardType> {
    match kind {
        AddressKind::Home => vec![VCardType::Home],
        AddressKind::Business => vec![VCardType::Work],
        AddressKind::Other => Vec::new(),
    }
}

fn set_emails(vcard: &mut VCard, legacy: bool, emails: &[Email]) {
    let emails: Vec<Email> = emails
        .iter()
        .map(|e| Email {
            address: e.address.trim().to_owned(),
            ..e.clone()
        })
        .filter(|e| !e.address.is_empty())
        .collect();
    // One primary: the first one marked so.
    let primary = emails.iter().position(|e| e.kind == EmailKind::Primary);
    reconcile(
        vcard,
        |e| e.name == VCardProperty::Email,
        &emails,
        |email, entry| {
            extract::email_address(entry).is_some_and(|a| a.eq_ignore_ascii_case(&email.address))
        },
        |entry, email, i| {
            if extract::email_address(entry).as_deref() != Some(email.address.as_str()) {
                entry.values = text_value(&email.address);
                drop_value_param(entry);
            }
            set_pref(entry, legacy, primary == Some(i));
        },
        |email, i| {
            let mut params = Vec::new();
            if legacy {
                params.push(VCardParameter::new(
                    VCardParameterName::Type,
                    VCardParameterValue::Text("INTERNET".into()),
                ));
            }
            let mut entry = new_entry(VCardProperty::Email, params, &email.address);
            set_pref(&mut entry, legacy, primary == Some(i));
            entry
        },
    );
    let labels: Vec<Option<String>> = emails.iter().map(|e| e.label.clone()).collect();
    details::set_labels(vcard, |e| e.name == VCardProperty::Email, &labels);
}

fn set_phones(vcard: &mut VCard, phones: &[Phone]) {
    let phones: Vec<Phone> = phones
        .iter()
        .map(|p| Phone {
            number: p.number.trim().to_owned(),
            normalized: None,
            ..p.clone()
        })
        .filter(|p| !p.number.is_empty())
        .collect();
    reconcile(
        vcard,
        |e| e.name == VCardProperty::Tel,
        &phones,
        |phone, entry| extract::phone_number(entry).as_deref() == Some(phone.number.as_str()),
        |entry, phone, _| {
            if extract::phone_number(entry).as_deref() != Some(phone.number.as_str()) {
                entry.values = text_value(&phone.number);
                drop_value_param(entry);
            }
            if extract::phone_kind(entry) != phone.kind {
                set_kind_types(entry, &phone_types(phone.kind));
            }
        },
        |phone, _| {
            let params = phone_types(phone.kind)
                .into_iter()
                .map(|t| VCardParameter::new(VCardParameterName::Type, t))
                .collect();
            new_entry(VCardProperty::Tel, params, &phone.number)
        },
    );
    let labels: Vec<Option<String>> = phones.iter().map(|p| p.label.clone()).collect();
    details::set_labels(vcard, |e| e.name == VCardProperty::Tel, &labels);
}

fn address_parts(address: &Address) -> [String; 5] {
    [
        &address.street,
        &address.city,
        &address.state,
        &address.zip,
        &address.country,
    ]
    .map(|part| norm(part).unwrap_or_default())
}

fn same_place(a: &Address, b: &Address) -> bool {
    address_parts(a) == address_parts(b)
}

fn set_addresses(vcard: &mut VCard, addresses: &[Address]) {
    let addresses: Vec<Address> = addresses
        .iter()
        .filter(|a| address_parts(a).iter().any(|p| !p.is_empty()))
        .cloned()
        .collect();
    reconcile(
        vcard,
        |e| e.name == VCardProperty::Adr,
        &addresses,
        |address, entry| extract::address(entry, None).is_some_and(|old| same_place(&old, address)),
        |entry, address, _| {
            let unchanged =
                extract::address(entry, None).is_some_and(|old| same_place(&old, address));
            if !unchanged {
                // Keep PO box and extended address (components 0 and 1) and anything past
                // the country; replace street..country.
                let mut values = entry.values.clone();
                if values.len() < 7 {
                    values.resize(7, VCardValue::Text(String::new()));
                }
                for (offset, part) in address_parts(address).into_iter().enumerate() {
                    values[2 + offset] = VCardValue::Text(part);
                }
                entry.values = values;
            }
            if extract::address_kind(entry) != address.kind {
                set_kind_types(entry, &address_types(address.kind));
            }
        },
        |address, _| {
            let mut values = vec![
                VCardValue::Text(String::new()),
                VCardValue::Text(String::new()),
            ];
            values.extend(address_parts(address).map(VCardValue::Text));
            VCardEntry {
                group: None,
                name: VCardProperty::Adr,
                params: address_types(address.kind)
                    .into_iter()
                    .map(|t| VCardParameter::new(VCardParameterName::Type, t))
                    .collect(),
                values,
            }
        },
    );
    let labels: Vec<Option<String>> = addresses.iter().map(|a| a.label.clone()).collect();
    details::set_labels(vcard, |e| e.name == VCardProperty::Adr, &labels);
}

/// Sets some of the components of the main N (index, new value), keeping the others.
fn set_n(vcard: &mut VCard, changes: &[(usize, Option<String>)]) {
    let index = match extract::main_n_index(vcard) {
        Some(index) => index,
        None => {
            if changes.iter().all(|(_, v)| v.is_none()) {
                return;
            }
            let entry = VCardEntry {
                group: None,
                name: VCardProperty::N,
                params: Vec::new(),
                values: vec![VCardValue::Text(String::new()); 5],
            };
            let at = default_position(vcard, &VCardProperty::N)
                .unwrap_or(vcard.entries.len())
                .min(vcard.entries.len());
            vcard.entries.insert(at, entry);
            at
        }
    };
    if let Some(entry) = vcard.entries.get_mut(index) {
        set_components(entry, changes, 5);
    }
}

fn set_components(entry: &mut VCardEntry, changes: &[(usize, Option<String>)], min_len: usize) {
    if entry.values.len() < min_len {
        entry
            .values
            .resize(min_len, VCardValue::Text(String::new()));
    }
    for (index, value) in changes {
        if let Some(slot) = entry.values.get_mut(*index) {
            *slot = VCardValue::Text(value.clone().unwrap_or_default());
        }
    }
}

fn set_org(vcard: &mut VCard, company: Option<Option<String>>, department: Option<Option<String>>) {
    let changes: Vec<(usize, Option<String>)> = [(0, company), (1, department)]
        .into_iter()
        .filter_map(|(i, v)| v.map(|v| (i, v)))
        .collect();
    let index = vcard
        .entries
        .iter()
        .position(|e| e.name == VCardProperty::Org);
    let index = match index {
        Some(index) => index,
        None => {
            if changes.iter().all(|(_, v)| v.is_none()) {
                return;
            }
            vcard.entries.push(VCardEntry {
                group: None,
                name: VCardProperty::Org,
                params: Vec::new(),
                values: Vec::new(),
            });
            vcard.entries.len() - 1
        }
    };
    let Some(entry) = vcard.entries.get_mut(index) else {
        return;
    };
    set_components(entry, &changes, 2);
    // "ORG:Company;" -> "ORG:Company"; an ORG with nothing left goes away.
    while entry.values.len() > 1
        && entry
            .values
            .last()
            .and_then(extract::value_text)
            .is_some_and(|t| t.trim().is_empty())
    {
        entry.values.pop();
    }
    if extract::components(entry, ", ")
        .iter()
        .all(|c| c.is_empty())
    {
        vcard.entries.remove(index);
    }
}

fn set_phonetic(vcard: &mut VCard, changes: &[(&str, usize, Option<String>)]) {
    // An RFC 9554 phonetic N is edited in place when the card uses it and not Apple's
    // properties; otherwise Apple's X-PHONETIC-* properties carry the values.
    let uses_x = vcard.entries.iter().any(|e| {
        [
            extract::X_PHONETIC_FIRST,
            extract::X_PHONETIC_MIDDLE,
            extract::X_PHONETIC_LAST,
        ]
        .iter()
        .any(|n| is_x(e, n))
    });
    if !uses_x && let Some(index) = extract::phonetic_n_index(vcard) {
        let n_changes: Vec<(usize, Option<String>)> =
            changes.iter().map(|(_, i, v)| (*i, v.clone())).collect();
        if let Some(entry) = vcard.entries.get_mut(index) {
            set_components(entry, &n_changes, 5);
        }
        return;
    }
    for (name, _, value) in changes {
        set_x_single(vcard, name, value.as_deref());
    }
}

fn set_kind(vcard: &mut VCard, legacy: bool, kind: CardKind) {
    let entries = match kind {
        CardKind::Individual => Vec::new(),
        CardKind::Group if legacy => {
            vec![new_entry(x_name(extract::X_AB_KIND), Vec::new(), "group")]
        }
        CardKind::Group => vec![VCardEntry {
            group: None,
            name: VCardProperty::Kind,
            params: Vec::new(),
            values: vec![VCardValue::Kind(VCardKind::Group)],
        }],
    };
    replace_all(
        vcard,
        |e| e.name == VCardProperty::Kind || is_x(e, extract::X_AB_KIND),
        entries,
    );
}

fn set_members(vcard: &mut VCard, legacy: bool, members: &[String]) {
    let entries = members
        .iter()
        .map(|m| m.trim())
        .filter(|m| !m.is_empty())
        .map(|m| {
            if legacy {
                new_entry(x_name(extract::X_AB_MEMBER), Vec::new(), m)
            } else {
                new_entry(VCardProperty::Member, Vec::new(), m)
            }
        })
        .collect();
    replace_all(
        vcard,
        |e| e.name == VCardProperty::Member || is_x(e, extract::X_AB_MEMBER),
        entries,
    );
}

fn set_categories(vcard: &mut VCard, categories: &[String]) {
    let values: Vec<VCardValue> = categories
        .iter()
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
        .map(|c| VCardValue::Text(c.to_owned()))
        .collect();
    let entries = if values.is_empty() {
        Vec::new()
    } else {
        vec![VCardEntry {
            group: None,
            name: VCardProperty::Categories,
            params: Vec::new(),
            values,
        }]
    };
    replace_all(vcard, |e| e.name == VCardProperty::Categories, entries);
}

fn set_modules(vcard: &mut VCard, modules: &serde_json::Map<String, serde_json::Value>) {
    let entries = modules
        .iter()
        .map(|(name, value)| {
            let param = VCardParameter::new(
                VCardParameterName::Other(extract::MODULE_PARAM.into()),
                VCardParameterValue::Text(name.clone()),
            );
            // Compact JSON has no raw line breaks; the writer escapes backslashes and the
            // parser unescapes them, so the text round-trips exactly.
            new_entry(x_name(extract::X_MODULE), vec![param], &value.to_string())
        })
        .collect();
    replace_all(vcard, |e| is_x(e, extract::X_MODULE), entries);
}

/// `scheme:` at the start: a URI rather than key material.
fn looks_like_uri(text: &str) -> bool {
    let Some((scheme, _)) = text.split_once(':') else {
        return false;
    };
    !scheme.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !text.contains(char::is_whitespace)
}

fn set_key(vcard: &mut VCard, legacy: bool, key: Option<&str>) {
    let entries = key
        .map(|key| {
            if looks_like_uri(key) {
                let params = if legacy {
                    vec![VCardParameter::new(
                        VCardParameterName::Value,
                        VCardValueType::Uri,
                    )]
                } else {
                    Vec::new()
                };
                new_entry(VCardProperty::Key, params, key)
            } else {
                new_entry(
                    VCardProperty::Key,
                    vec![VCardParameter::new(
                        VCardParameterName::Value,
                        VCardValueType::Text,
                    )],
                    key,
                )
            }
        })
        .into_iter()
        .collect();
    replace_all(vcard, |e| e.name == VCardProperty::Key, entries);
}

/// Replaces URI photos; inline photos (not a model field) stay, after the new URI photo.
fn set_avatar(vcard: &mut VCard, legacy: bool, url: Option<&str>) {
    let first_photo = vcard
        .entries
        .iter()
        .position(|e| e.name == VCardProperty::Photo);
    let (removed_at, groups) = remove_where(vcard, |e| {
        e.name == VCardProperty::Photo && !extract::is_inline(e)
    });
    if let Some(url) = url {
        let params = if legacy {
            vec![VCardParameter::new(
                VCardParameterName::Value,
                VCardValueType::Uri,
            )]
        } else {
            Vec::new()
        };
        let at = first_photo.or(removed_at);
        insert_at(
            vcard,
            at,
            vec![new_entry(VCardProperty::Photo, params, url)],
        );
    }
    drop_orphan_groups(vcard, &groups);
}

fn bump_rev(vcard: &mut VCard) {
    let now = Utc::now();
    let stamp = PartialDateTime {
        year: u16::try_from(now.year()).ok(),
        month: u8::try_from(now.month()).ok(),
        day: u8::try_from(now.day()).ok(),
        hour: u8::try_from(now.hour()).ok(),
        minute: u8::try_from(now.minute()).ok(),
        second: u8::try_from(now.second()).ok(),
        tz_hour: Some(0),
        tz_minute: Some(0),
        tz_minus: false,
    };
    for entry in vcard
        .entries
        .iter_mut()
        .filter(|e| e.name == VCardProperty::Rev)
    {
        entry.values = vec![VCardValue::PartialDateTime(stamp.clone())];
        entry.params.retain(|p| p.name != VCardParameterName::Value);
    }
}

/// Adds FN when missing (see [`super::Card::ensure_display_name`]).
pub(super) fn ensure_display_name(vcard: &mut VCard) -> bool {
    let fields = extract::extract(vcard);
    if fields.display_name.is_some() {
        return false;
    }
    let Some(name) = extract::derive_display_name(&fields) else {
        return false;
    };
    // An FN that is present but empty is filled in place.
    set_single(vcard, &VCardProperty::Fn, Some(&name));
    true
}

/// Applies `patch`; see the module docs. Returns whether anything changed.
pub(super) fn apply(vcard: &mut VCard, version: CardVersion, patch: &ContactPatch) -> bool {
    let legacy = version.is_legacy();
    let before = extract::extract(vcard);
    let derived_before = extract::derive_display_name(&before);
    let mut changed = false;

    if let Some(kind) = patch.kind
        && kind != before.kind
    {
        set_kind(vcard, legacy, kind);
        changed = true;
    }

    let n_changes: Vec<(usize, Option<String>)> = [
        (extract::N_PREFIX, &patch.prefix, &before.prefix),
        (extract::N_GIVEN, &patch.first_name, &before.first_name),
        (
            extract::N_ADDITIONAL,
            &patch.middle_name,
            &before.middle_name,
        ),
        (extract::N_FAMILY, &patch.last_name, &before.last_name),
        (extract::N_SUFFIX, &patch.suffix, &before.suffix),
    ]
    .into_iter()
    .filter_map(|(index, new, old)| {
        let new = norm(new.as_ref()?);
        (new != *old).then_some((index, new))
    })
    .collect();
    if !n_changes.is_empty() {
        set_n(vcard, &n_changes);
        changed = true;
    }

    let phonetic_changes: Vec<(&str, usize, Option<String>)> = [
        (
            extract::X_PHONETIC_FIRST,
            extract::N_GIVEN,
            &patch.phonetic_first_name,
            &before.phonetic_first_name,
        ),
        (
            extract::X_PHONETIC_MIDDLE,
            extract::N_ADDITIONAL,
            &patch.phonetic_middle_name,
            &before.phonetic_middle_name,
        ),
        (
            extract::X_PHONETIC_LAST,
            extract::N_FAMILY,
            &patch.phonetic_last_name,
            &before.phonetic_last_name,
        ),
    ]
    .into_iter()
    .filter_map(|(name, index, new, old)| {
        let new = norm(new.as_ref()?);
        (new != *old).then_some((name, index, new))
    })
    .collect();
    if !phonetic_changes.is_empty() {
        set_phonetic(vcard, &phonetic_changes);
        changed = true;
    }

    if let Some(new) = &patch.nickname
        && norm(new) != before.nickname
    {
        // The model's nickname is every NICKNAME value joined, so all of them are replaced.
        let entries = norm(new)
            .map(|n| new_entry(VCardProperty::Nickname, Vec::new(), &n))
            .into_iter()
            .collect();
        replace_all(vcard, |e| e.name == VCardProperty::Nickname, entries);
        changed = true;
    }

    let company = patch
        .company
        .as_ref()
        .map(norm)
        .filter(|new| *new != before.company);
    let department = patch
        .department
        .as_ref()
        .map(norm)
        .filter(|new| *new != before.department);
    if company.is_some() || department.is_some() {
        set_org(vcard, company, department);
        changed = true;
    }

    if let Some(new) = &patch.job_title
        && norm(new) != before.job_title
    {
        set_single(vcard, &VCardProperty::Title, norm(new).as_deref());
        changed = true;
    }

    if let Some(emails) = &patch.emails
        && !same_emails(emails, &before.emails)
    {
        set_emails(vcard, legacy, emails);
        changed = true;
    }

    if let Some(phones) = &patch.phones {
        let same = phones.len() == before.phones.len()
            && phones.iter().zip(&before.phones).all(|(a, b)| {
                a.kind == b.kind && a.number.trim() == b.number && norm_label(&a.label) == b.label
            });
        if !same {
            set_phones(vcard, phones);
            changed = true;
        }
    }

    if let Some(addresses) = &patch.addresses {
        let same = addresses.len() == before.addresses.len()
            && addresses.iter().zip(&before.addresses).all(|(a, b)| {
                a.kind == b.kind && same_place(a, b) && norm_label(&a.label) == b.label
            });
        if !same {
            set_addresses(vcard, addresses);
            changed = true;
        }
    }

    for (name, new, old) in [
        (extract::X_USERNAME, &patch.username, &before.username),
        (
            extract::X_CONVERSATION_ID,
            &patch.conversation_id,
            &before.conversation_id,
        ),
        (
            extract::X_IDENTITY,
            &patch.owner_identity,
            &before.owner_identity,
        ),
    ] {
        if let Some(new) = new
            && norm(new) != *old
        {
            set_x_single(vcard, name, norm(new).as_deref());
            changed = true;
        }
    }

    if let Some(new) = &patch.avatar_url
        && norm(new) != before.avatar_url
    {
        set_avatar(vcard, legacy, norm(new).as_deref());
        changed = true;
    }

    if let Some(new) = &patch.last_active_at
        && *new != before.last_active_at
    {
        let text = new.map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true));
        set_x_single(vcard, extract::X_LAST_ACTIVE, text.as_deref());
        changed = true;
    }

    if let Some(new) = &patch.public_key
        && norm(new) != before.public_key
    {
        set_key(vcard, legacy, norm(new).as_deref());
        changed = true;
    }

    if let Some(urls) = &patch.drop_urls
        && !same_list(urls, &before.drop_urls)
    {
        set_x_list(vcard, extract::X_DROP_URL, urls);
        changed = true;
    }

    if let Some(modules) = &patch.module_data
        && *modules != before.module_data
    {
        set_modules(vcard, modules);
        changed = true;
    }

    if let Some(categories) = &patch.categories
        && !same_list(categories, &before.categories)
    {
        set_categories(vcard, categories);
        changed = true;
    }

    if let Some(new) = &patch.note {
        // Notes keep inner line breaks; only surrounding blanks are ignored.
        if norm(new) != before.note {
            set_single(vcard, &VCardProperty::Note, norm(new).as_deref());
            changed = true;
        }
    }

    if let Some(members) = &patch.members
        && !same_list(members, &before.members)
    {
        set_members(vcard, legacy, members);
        changed = true;
    }

    if let Some(new) = patch.birthday
        && new != before.details.birthday
    {
        details::set_birthday(vcard, legacy, new);
        changed = true;
    }

    if let Some(new) = patch.anniversary
        && new != before.details.anniversary
    {
        details::set_anniversary(vcard, legacy, new);
        changed = true;
    }

    if let Some(websites) = &patch.websites
        && !same_websites(websites, &before.details.websites)
    {
        details::set_websites(vcard, websites);
        changed = true;
    }

    if let Some(people) = &patch.related_people
        && !same_related(people, &before.details.related_people)
    {
        details::set_related(vcard, legacy, people);
        changed = true;
    }

    // FN: an explicit value wins; a cleared one falls back to the derived name; otherwise an
    // FN that was derived from the other fields (or missing) follows them.
    let after = if changed {
        extract::extract(vcard)
    } else {
        before.clone()
    };
    let wanted_fn = match &patch.display_name {
        Some(explicit) => norm(explicit).or_else(|| extract::derive_display_name(&after)),
        None if changed
            && (before.display_name.is_none() || before.display_name == derived_before) =>
        {
            extract::derive_display_name(&after).or(before.display_name.clone())
        }
        None => before.display_name.clone(),
    };
    if wanted_fn != before.display_name {
        set_single(vcard, &VCardProperty::Fn, wanted_fn.as_deref());
        changed = true;
    }

    if changed {
        bump_rev(vcard);
    }
    changed
}

fn same_list(new: &[String], old: &[String]) -> bool {
    let new: Vec<&str> = new
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    new.len() == old.len() && new.iter().zip(old).all(|(a, b)| *a == b)
}

fn same_emails(new: &[Email], old: &[Email]) -> bool {
    let new: Vec<&Email> = new
        .iter()
        .filter(|e| !e.address.trim().is_empty())
        .collect();
    new.len() == old.len()
        && new.iter().zip(old).all(|(a, b)| {
            a.kind == b.kind && a.address.trim() == b.address && norm_label(&a.label) == b.label
        })
}

fn same_websites(new: &[Website], old: &[Website]) -> bool {
    let new: Vec<&Website> = new.iter().filter(|w| !w.url.trim().is_empty()).collect();
    new.len() == old.len()
        && new.iter().zip(old).all(|(a, b)| {
            a.kind == b.kind && a.url.trim() == b.url && norm_label(&a.label) == b.label
        })
}

fn same_related(new: &[RelatedPerson], old: &[RelatedPerson]) -> bool {
    let new: Vec<&RelatedPerson> = new.iter().filter(|p| !p.name.trim().is_empty()).collect();
    new.len() == old.len()
        && new.iter().zip(old).all(|(a, b)| {
            a.kind == b.kind && a.name.trim() == b.name && norm_label(&a.label) == b.label
        })
}
