//! The contact model: every field of the three seed specs (Phone.com address book, Protocol chat
//! contacts, Drop messenger contacts) as one typed record, the partial patch that GraphQL and the
//! importers apply to it, and the validation rules both share.
//!
//! The stored vCard is the wire truth; [`ContactFields`] is the projection of it that the store
//! writes into typed columns. `domain::vcard` maps between the two.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use super::details::{
    ContactDetails, PartialDate, RelatedPerson, RelationKind, Website, WebsiteKind,
};
use super::details::{check_list, check_related, check_text, check_websites};

/// Whether a card is a person/organization or a contact group (groups are cards too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum CardKind {
    #[default]
    Individual,
    Group,
}

/// Phone.com email types: `primary` or `alternate`. In vCard, primary is `PREF=1` (4.0) or
/// `TYPE=pref` (3.0); a card's first email is primary when none is marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum EmailKind {
    #[default]
    Primary,
    Alternate,
}

/// Phone.com phone types plus `Other` for vCard TEL types outside that list (e.g. only `VOICE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum PhoneKind {
    #[default]
    Home,
    Business,
    Mobile,
    Fax,
    Pager,
    Other,
}

/// Phone.com address types plus `Other` for ADR without HOME/WORK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum AddressKind {
    #[default]
    Home,
    Business,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Email {
    pub kind: EmailKind,
    pub address: String,
    /// A free label ("Work", "Old school address"; Apple's `X-ABLabel`, Google's "E-mail 1 -
    /// Label").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Phone {
    pub kind: PhoneKind,
    /// The number as entered (kept verbatim in the card).
    pub number: String,
    /// E.164 form when the number can be parsed (read-only; derived, never stored in the card).
    pub normalized: Option<String>,
    /// A free label, as for [`Email::label`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Address {
    pub kind: AddressKind,
    pub street: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip: Option<String>,
    pub country: Option<String>,
    /// A free label, as for [`Email::label`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// Everything the typed columns hold about one card. Extracted from a parsed vCard; never the
/// source of truth on its own.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ContactFields {
    pub kind: CardKind,
    /// vCard UID, without a `urn:uuid:` prefix stripped or added: exactly as in the card.
    pub uid: Option<String>,
    /// FN. Doubles as Protocol's `display_name` and Drop's `alias`.
    pub display_name: Option<String>,
    pub prefix: Option<String>,
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    pub suffix: Option<String>,
    pub phonetic_first_name: Option<String>,
    pub phonetic_middle_name: Option<String>,
    pub phonetic_last_name: Option<String>,
    pub nickname: Option<String>,
    pub company: Option<String>,
    pub department: Option<String>,
    pub job_title: Option<String>,
    pub emails: Vec<Email>,
    pub phones: Vec<Phone>,
    pub addresses: Vec<Address>,
    pub username: Option<String>,
    /// PHOTO when it is a URI (not inline data).
    pub avatar_url: Option<String>,
    /// True when the card carries an inline (binary/data:) PHOTO.
    pub has_inline_photo: bool,
    pub conversation_id: Option<String>,
    pub last_active_at: Option<DateTime<Utc>>,
    pub public_key: Option<String>,
    pub owner_identity: Option<String>,
    pub drop_urls: Vec<String>,
    /// Drop's `module_data`: module name -> module-defined JSON object.
    pub module_data: Map<String, Value>,
    pub categories: Vec<String>,
    pub note: Option<String>,
    /// For group cards: member references as written in the card (usually `urn:uuid:<uid>`).
    pub members: Vec<String>,
    /// Birthday, anniversary, websites, related people.
    #[serde(default)]
    pub details: ContactDetails,
}

/// A partial update. `None` leaves a field untouched; `Some(None)` / `Some(vec![])` clears it.
/// Applied to the parsed card so that every property the patch does not name (including unknown
/// X- properties and Apple `itemN.` groups) survives byte-for-byte in meaning.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ContactPatch {
    pub kind: Option<CardKind>,
    pub display_name: Option<Option<String>>,
    pub prefix: Option<Option<String>>,
    pub first_name: Option<Option<String>>,
    pub middle_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub suffix: Option<Option<String>>,
    pub phonetic_first_name: Option<Option<String>>,
    pub phonetic_middle_name: Option<Option<String>>,
    pub phonetic_last_name: Option<Option<String>>,
    pub nickname: Option<Option<String>>,
    pub company: Option<Option<String>>,
    pub department: Option<Option<String>>,
    pub job_title: Option<Option<String>>,
    pub emails: Option<Vec<Email>>,
    pub phones: Option<Vec<Phone>>,
    pub addresses: Option<Vec<Address>>,
    pub username: Option<Option<String>>,
    pub avatar_url: Option<Option<String>>,
    pub conversation_id: Option<Option<String>>,
    pub last_active_at: Option<Option<DateTime<Utc>>>,
    pub public_key: Option<Option<String>>,
    pub owner_identity: Option<Option<String>>,
    pub drop_urls: Option<Vec<String>>,
    pub module_data: Option<Map<String, Value>>,
    pub categories: Option<Vec<String>>,
    pub note: Option<Option<String>>,
    pub members: Option<Vec<String>>,
    pub birthday: Option<Option<PartialDate>>,
    pub anniversary: Option<Option<PartialDate>>,
    pub websites: Option<Vec<Website>>,
    pub related_people: Option<Vec<RelatedPerson>>,
}

impl ContactPatch {
    /// A patch that sets every model field to the given values, clearing whatever is absent:
    /// Phone.com's full replace. Unknown vCard properties still survive.
    pub fn replace_all(fields: &ContactFields) -> ContactPatch {
        ContactPatch {
            kind: Some(fields.kind),
            display_name: Some(fields.display_name.clone()),
            prefix: Some(fields.prefix.clone()),
            first_name: Some(fields.first_name.clone()),
            middle_name: Some(fields.middle_name.clone()),
            last_name: Some(fields.last_name.clone()),
            suffix: Some(fields.suffix.clone()),
            phonetic_first_name: Some(fields.phonetic_first_name.clone()),
            phonetic_middle_name: Some(fields.phonetic_middle_name.clone()),
            phonetic_last_name: Some(fields.phonetic_last_name.clone()),
            nickname: Some(fields.nickname.clone()),
            company: Some(fields.company.clone()),
            department: Some(fields.department.clone()),
            job_title: Some(fields.job_title.clone()),
            emails: Some(fields.emails.clone()),
            phones: Some(fields.phones.clone()),
            addresses: Some(fields.addresses.clone()),
            username: Some(fields.username.clone()),
            avatar_url: Some(fields.avatar_url.clone()),
            conversation_id: Some(fields.conversation_id.clone()),
            last_active_at: Some(fields.last_active_at),
            public_key: Some(fields.public_key.clone()),
            owner_identity: Some(fields.owner_identity.clone()),
            drop_urls: Some(fields.drop_urls.clone()),
            module_data: Some(fields.module_data.clone()),
            categories: Some(fields.categories.clone()),
            note: Some(fields.note.clone()),
            members: Some(fields.members.clone()),
            birthday: Some(fields.details.birthday),
            anniversary: Some(fields.details.anniversary),
            websites: Some(fields.details.websites.clone()),
            related_people: Some(fields.details.related_people.clone()),
        }
    }
}

/// A rule a model value broke, naming the field so front ends can point at it
/// (GraphQL `extensions.field`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: &'static str,
    pub message: String,
}

/// Phone.com allows at most two emails per contact; we accept more (vCards from phones carry
/// more) but keep the limit generous and bounded so a single card cannot grow without end.
pub const MAX_LIST_ITEMS: usize = 200;
/// Longest single text value we accept in a model field.
pub const MAX_TEXT_LEN: usize = 4096;

impl ContactPatch {
    /// Checks the values a patch sets: lengths, non-empty addresses/numbers, URL shape.
    pub fn validate(&self) -> Result<(), ValidationError> {
        fn text(
            field: &'static str,
            value: &Option<Option<String>>,
        ) -> Result<(), ValidationError> {
            match value {
                Some(Some(v)) => check_text(field, v),
                _ => Ok(()),
            }
        }
        fn list<T>(field: &'static str, value: &Option<Vec<T>>) -> Result<(), ValidationError> {
            value.as_deref().map_or(Ok(()), |v| check_list(field, v))
        }
        for (field, value) in [
            ("displayName", &self.display_name),
            ("prefix", &self.prefix),
            ("firstName", &self.first_name),
            ("middleName", &self.middle_name),
            ("lastName", &self.last_name),
            ("suffix", &self.suffix),
            ("phoneticFirstName", &self.phonetic_first_name),
            ("phoneticMiddleName", &self.phonetic_middle_name),
            ("phoneticLastName", &self.phonetic_last_name),
            ("nickname", &self.nickname),
            ("company", &self.company),
            ("department", &self.department),
            ("jobTitle", &self.job_title),
            ("username", &self.username),
            ("avatarUrl", &self.avatar_url),
            ("conversationId", &self.conversation_id),
            ("publicKey", &self.public_key),
            ("ownerIdentity", &self.owner_identity),
        ] {
            text(field, value)?;
        }
        list("emails", &self.emails)?;
        list("phones", &self.phones)?;
        list("addresses", &self.addresses)?;
        list("dropUrls", &self.drop_urls)?;
        list("categories", &self.categories)?;
        list("members", &self.members)?;
        if let Some(websites) = &self.websites {
            check_websites(websites)?;
        }
        if let Some(people) = &self.related_people {
            check_related(people)?;
        }
        let labels = (self.emails.iter().flatten().map(|e| &e.label))
            .chain(self.phones.iter().flatten().map(|p| &p.label))
            .chain(self.addresses.iter().flatten().map(|a| &a.label));
        for label in labels.flatten() {
            check_text("label", label)?;
        }
        if let Some(emails) = &self.emails {
            for email in emails {
                let address = email.address.trim();
                if address.is_empty() || address.len() > 320 {
                    return Err(ValidationError {
                        field: "emails",
                        message: format!("invalid email address {:?}", email.address),
                    });
                }
            }
        }
        if let Some(phones) = &self.phones {
            for phone in phones {
                if !phone.number.chars().any(|c| c.is_ascii_digit()) || phone.number.len() > 64 {
                    return Err(ValidationError {
                        field: "phones",
                        message: format!("invalid phone number {:?}", phone.number),
                    });
                }
            }
        }
        if let Some(Some(url)) = &self.avatar_url
            && (!url.contains(':') || url.contains(char::is_whitespace))
        {
            return Err(ValidationError {
                field: "avatarUrl",
                message: format!("not an absolute URL: {url:?}"),
            });
        }
        Ok(())
    }
}
