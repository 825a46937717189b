//! The projection: how a card's extracted [`ContactFields`] become typed columns and child rows,
//! and how rows become fields again on read paths (so reads never parse vCards).

use chrono::Utc;
use serde::Deserialize;

use crate::db::models::{
    AddressRow, ContactProjection, ContactWrite, EmailRow, GroupMemberRow, PhoneRow,
};
use crate::domain::contact::{Address, ContactDetails, ContactFields, Email, Phone};
use crate::domain::vcard::CardVersion;
use crate::domain::{phone, text};

/// Identity and storage values of a write, beside the extracted fields.
pub(super) struct StoredCard<'a> {
    pub uid: &'a str,
    pub href: &'a str,
    pub vcard: &'a str,
    pub vcard_version: CardVersion,
    pub etag: &'a str,
    pub revision: i64,
    /// [`crate::domain::vcard::Card::match_text`] of the stored card.
    pub match_text: &'a str,
}

/// Child rows of one or more contacts.
#[derive(Default)]
pub(super) struct ChildRows {
    pub emails: Vec<EmailRow>,
    pub phones: Vec<PhoneRow>,
    pub addresses: Vec<AddressRow>,
    pub members: Vec<GroupMemberRow>,
}

impl ChildRows {
    /// Adds another contact's rows, for one insert per table over a whole batch.
    pub(super) fn append(&mut self, other: ChildRows) {
        self.emails.extend(other.emails);
        self.phones.extend(other.phones);
        self.addresses.extend(other.addresses);
        self.members.extend(other.members);
    }
}

/// The folded columns of a contact: `search_text` (names, nickname, company, title, username)
/// and `sort_name` ("last first middle", else display name, company, username). Shared by writes
/// and by the re-index of old rows, so both compute exactly the same values.
pub(super) fn folded_names(fields: &ContactFields) -> (String, String) {
    let search_text = text::fold_join(
        [
            &fields.display_name,
            &fields.prefix,
            &fields.first_name,
            &fields.middle_name,
            &fields.last_name,
            &fields.suffix,
            &fields.nickname,
            &fields.phonetic_first_name,
            &fields.phonetic_middle_name,
            &fields.phonetic_last_name,
            &fields.company,
            &fields.department,
            &fields.job_title,
            &fields.username,
        ]
        .into_iter()
        .map(|v| v.as_deref()),
    );
    let mut sort_name = text::fold_join([
        fields.last_name.as_deref(),
        fields.first_name.as_deref(),
        fields.middle_name.as_deref(),
    ]);
    if sort_name.is_empty() {
        sort_name = text::fold_join([
            fields.display_name.as_deref(),
            fields.company.as_deref(),
            fields.username.as_deref(),
        ]);
    }
    (search_text, sort_name)
}

/// `contact_emails.address_folded`: the address under the same fold as the search words it is
/// matched against (`text::fold`), so "josé" and "ΓΙΏΡΓΟΣ" find "josé@…" and "γιώργος@…".
pub(super) fn folded_address(address: &str) -> String {
    text::fold(address)
}

pub(super) fn contact_write(card: &StoredCard<'_>, fields: &ContactFields) -> ContactWrite {
    ContactWrite {
        uid: card.uid.to_owned(),
        href: card.href.to_owned(),
        vcard: card.vcard.to_owned(),
        vcard_version: card.vcard_version,
        etag: card.etag.to_owned(),
        revision: card.revision,
        updated_at: Utc::now(),
        match_text: Some(card.match_text.to_owned()),
        projection: projection(fields),
    }
}

/// The projection columns of a card's fields.
fn projection(fields: &ContactFields) -> ContactProjection {
    let (search_text, sort_name) = folded_names(fields);
    ContactProjection {
        kind: fields.kind,
        display_name: fields.display_name.clone(),
        prefix: fields.prefix.clone(),
        first_name: fields.first_name.clone(),
        middle_name: fields.middle_name.clone(),
        last_name: fields.last_name.clone(),
        suffix: fields.suffix.clone(),
        phonetic_first_name: fields.phonetic_first_name.clone(),
        phonetic_middle_name: fields.phonetic_middle_name.clone(),
        phonetic_last_name: fields.phonetic_last_name.clone(),
        nickname: fields.nickname.clone(),
        company: fields.company.clone(),
        department: fields.department.clone(),
        job_title: fields.job_title.clone(),
        username: fields.username.clone(),
        avatar_url: fields.avatar_url.clone(),
        has_inline_photo: fields.has_inline_photo,
        conversation_id: fields.conversation_id.clone(),
        last_active_at: fields.last_active_at,
        public_key: fields.public_key.clone(),
        owner_identity: fields.owner_identity.clone(),
        drop_urls: fields.drop_urls.clone(),
        module_data: serde_json::Value::Object(fields.module_data.clone()),
        categories: fields.categories.clone(),
        note: fields.note.clone(),
        search_text,
        sort_name,
        details: Some(details_json(&fields.details)),
    }
}

/// `urn:uuid:abc` -> `abc`; a bare UID stays as it is. Members are joined by UID.
pub(crate) fn member_uid(member_ref: &str) -> &str {
    let trimmed = member_ref.trim();
    match trimmed.get(..9) {
        Some(prefix) if prefix.eq_ignore_ascii_case("urn:uuid:") => &trimmed[9..],
        _ => trimmed,
    }
}

pub(super) fn child_rows(contact_id: i64, fields: &ContactFields) -> ChildRows {
    let position = |i: usize| i32::try_from(i).unwrap_or(i32::MAX);
    ChildRows {
        emails: fields
            .emails
            .iter()
            .enumerate()
            .map(|(i, e)| EmailRow {
                contact_id,
                position: position(i),
                kind: e.kind,
                address: e.address.clone(),
                address_folded: folded_address(&e.address),
                label: e.label.clone(),
            })
            .collect(),
        phones: fields
            .phones
            .iter()
            .enumerate()
            .map(|(i, p)| PhoneRow {
                contact_id,
                position: position(i),
                kind: p.kind,
                number: p.number.clone(),
                normalized: p
                    .normalized
                    .clone()
                    .or_else(|| phone::normalize_e164(&p.number, phone::DEFAULT_REGION)),
                digits: phone::digits(&p.number),
                label: p.label.clone(),
            })
            .collect(),
        addresses: fields
            .addresses
            .iter()
            .enumerate()
            .map(|(i, a)| AddressRow {
                contact_id,
                position: position(i),
                kind: a.kind,
                street: a.street.clone(),
                city: a.city.clone(),
                state: a.state.clone(),
                zip: a.zip.clone(),
                country: a.country.clone(),
                label: a.label.clone(),
            })
            .collect(),
        members: fields
            .members
            .iter()
            .enumerate()
            .map(|(i, m)| GroupMemberRow {
                group_id: contact_id,
                position: position(i),
                member_ref: m.clone(),
                member_uid: member_uid(m).to_owned(),
            })
            .collect(),
    }
}

/// Rebuilds the fields from a row and its children (children must be in position order).
pub(super) fn fields_from_rows(
    uid: &str,
    row: &ContactProjection,
    emails: &[&EmailRow],
    phones: &[&PhoneRow],
    addresses: &[&AddressRow],
    members: &[&GroupMemberRow],
) -> ContactFields {
    ContactFields {
        kind: row.kind,
        uid: Some(uid.to_owned()),
        display_name: row.display_name.clone(),
        prefix: row.prefix.clone(),
        first_name: row.first_name.clone(),
        middle_name: row.middle_name.clone(),
        last_name: row.last_name.clone(),
        suffix: row.suffix.clone(),
        phonetic_first_name: row.phonetic_first_name.clone(),
        phonetic_middle_name: row.phonetic_middle_name.clone(),
        phonetic_last_name: row.phonetic_last_name.clone(),
        nickname: row.nickname.clone(),
        company: row.company.clone(),
        department: row.department.clone(),
        job_title: row.job_title.clone(),
        emails: emails
            .iter()
            .map(|e| Email {
                kind: e.kind,
                address: e.address.clone(),
                label: e.label.clone(),
            })
            .collect(),
        phones: phones
            .iter()
            .map(|p| Phone {
                kind: p.kind,
                number: p.number.clone(),
                normalized: p.normalized.clone(),
                label: p.label.clone(),
            })
            .collect(),
        addresses: addresses
            .iter()
            .map(|a| Address {
                kind: a.kind,
                street: a.street.clone(),
                city: a.city.clone(),
                state: a.state.clone(),
                zip: a.zip.clone(),
                country: a.country.clone(),
                label: a.label.clone(),
            })
            .collect(),
        username: row.username.clone(),
        avatar_url: row.avatar_url.clone(),
        has_inline_photo: row.has_inline_photo,
        conversation_id: row.conversation_id.clone(),
        last_active_at: row.last_active_at,
        public_key: row.public_key.clone(),
        owner_identity: row.owner_identity.clone(),
        drop_urls: row.drop_urls.clone(),
        module_data: match &row.module_data {
            serde_json::Value::Object(map) => map.clone(),
            _ => serde_json::Map::new(),
        },
        categories: row.categories.clone(),
        note: row.note.clone(),
        members: members.iter().map(|m| m.member_ref.clone()).collect(),
        details: row
            .details
            .as_ref()
            .and_then(|json| ContactDetails::deserialize(json).ok())
            .unwrap_or_default(),
    }
}

/// The `contacts.details` column of a contact.
pub(super) fn details_json(details: &ContactDetails) -> serde_json::Value {
    // A struct of strings, numbers and lists always serializes.
    serde_json::to_value(details).unwrap_or_default()
}
