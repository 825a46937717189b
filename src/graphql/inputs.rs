//! Input types and their translation to the store's model: contact values for create/replace,
//! partial patches (absent = untouched, null = cleared), filters, orderings and the lookup
//! object.

use async_graphql::{
    Enum, InputObject, InputValueError, InputValueResult, Json, MaybeUndefined, Scalar, ScalarType,
    Value,
};
use chrono::{DateTime, Utc};

use super::details::{self, RelatedPersonInput, WebsiteInput};
use super::errors::validation;
use super::types::{AddressType, EmailType, PhoneType};
use crate::domain::contact::{
    Address, ContactDetails, ContactFields, ContactPatch, Email, PartialDate, Phone,
};
use crate::store::{ContactLookup, ContactOrder, ContactOrderField};

#[derive(InputObject)]
/// An email address.
pub struct EmailInput {
    #[graphql(name = "type", default_with = "EmailType::Primary")]
    /// Primary (default) or alternate.
    pub kind: EmailType,
    /// The address.
    pub email: String,
    /// A free label ("Work", "University").
    pub label: Option<String>,
}

#[derive(InputObject)]
/// A phone number.
pub struct PhoneInput {
    #[graphql(name = "type", default_with = "PhoneType::Home")]
    /// Home (default), business, mobile, fax, pager or other.
    pub kind: PhoneType,
    /// The number in any format; US numbers need no country code, others use E.164.
    pub number: String,
    /// A free label ("Boat").
    pub label: Option<String>,
}

#[derive(InputObject)]
/// A postal address.
pub struct AddressInput {
    #[graphql(name = "type", default_with = "AddressType::Home")]
    /// Home (default), business or other.
    pub kind: AddressType,
    /// House number and street.
    pub street: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State or province.
    pub state: Option<String>,
    /// ZIP or postal code.
    pub zip: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// A free label ("Summer house").
    pub label: Option<String>,
}

fn emails(list: Vec<EmailInput>) -> Vec<Email> {
    list.into_iter()
        .map(|e| Email {
            kind: e.kind.into(),
            address: e.email.trim().to_owned(),
            label: text(e.label),
        })
        .collect()
}

fn phones(list: Vec<PhoneInput>) -> Vec<Phone> {
    list.into_iter()
        .map(|p| Phone {
            kind: p.kind.into(),
            number: p.number.trim().to_owned(),
            normalized: None,
            label: text(p.label),
        })
        .collect()
}

fn addresses(list: Vec<AddressInput>) -> Vec<Address> {
    list.into_iter()
        .map(|a| Address {
            kind: a.kind.into(),
            street: a.street,
            city: a.city,
            state: a.state,
            zip: a.zip,
            country: a.country,
            label: text(a.label),
        })
        .collect()
}

fn module_data(
    value: Option<Json<serde_json::Value>>,
) -> async_graphql::Result<serde_json::Map<String, serde_json::Value>> {
    match value.map(|j| j.0) {
        None | Some(serde_json::Value::Null) => Ok(serde_json::Map::new()),
        Some(serde_json::Value::Object(map)) => {
            if let Some((module, _)) = map.iter().find(|(_, v)| !v.is_object()) {
                return Err(validation(
                    "moduleData",
                    &format!("module {module:?} must map to an object"),
                ));
            }
            Ok(map)
        }
        Some(_) => Err(validation(
            "moduleData",
            "must be an object of module objects",
        )),
    }
}

/// Empty strings mean "no value": forms often send "" for a blank field.
fn text(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

#[derive(InputObject, Default)]
/// All values of a contact (create, and full replace where absent fields are cleared).
pub struct ContactInput {
    /// Display name (FN); derived from the name parts, company, username or email when absent.
    pub display_name: Option<String>,
    /// Salutation.
    pub prefix: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Middle name.
    pub middle_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Suffix.
    pub suffix: Option<String>,
    /// Phonetic first name.
    pub phonetic_first_name: Option<String>,
    /// Phonetic middle name.
    pub phonetic_middle_name: Option<String>,
    /// Phonetic last name.
    pub phonetic_last_name: Option<String>,
    /// Nickname.
    pub nickname: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// Job title.
    pub job_title: Option<String>,
    /// Email addresses.
    pub emails: Option<Vec<EmailInput>>,
    /// Phone numbers.
    pub phone_numbers: Option<Vec<PhoneInput>>,
    /// Postal addresses.
    pub addresses: Option<Vec<AddressInput>>,
    /// Chat username.
    pub username: Option<String>,
    /// Avatar image URL.
    pub avatar_url: Option<String>,
    /// Conversation id.
    pub conversation_id: Option<String>,
    /// Last activity time.
    pub last_active_at: Option<DateTime<Utc>>,
    /// Public key.
    pub public_key: Option<String>,
    /// Owning identity's key id.
    pub owner_identity: Option<String>,
    /// Drop URLs.
    pub drop_urls: Option<Vec<String>>,
    /// Module data: module name -> object.
    pub module_data: Option<Json<serde_json::Value>>,
    /// Labels.
    pub categories: Option<Vec<String>>,
    /// Note.
    pub note: Option<String>,
    /// Birthday (`1990-04-12`, or `--04-12` without the year).
    pub birthday: Option<PartialDate>,
    /// Anniversary.
    pub anniversary: Option<PartialDate>,
    /// Websites.
    pub websites: Option<Vec<WebsiteInput>>,
    /// Related people (spouse, child, assistant, ...).
    pub related_people: Option<Vec<RelatedPersonInput>>,
}

impl ContactInput {
    pub fn into_fields(self) -> async_graphql::Result<ContactFields> {
        Ok(ContactFields {
            display_name: text(self.display_name),
            prefix: text(self.prefix),
            first_name: text(self.first_name),
            middle_name: text(self.middle_name),
            last_name: text(self.last_name),
            suffix: text(self.suffix),
            phonetic_first_name: text(self.phonetic_first_name),
            phonetic_middle_name: text(self.phonetic_middle_name),
            phonetic_last_name: text(self.phonetic_last_name),
            nickname: text(self.nickname),
            company: text(self.company),
            department: text(self.department),
            job_title: text(self.job_title),
            emails: emails(self.emails.unwrap_or_default()),
            phones: phones(self.phone_numbers.unwrap_or_default()),
            addresses: addresses(self.addresses.unwrap_or_default()),
            username: text(self.username),
            avatar_url: text(self.avatar_url),
            conversation_id: text(self.conversation_id),
            last_active_at: self.last_active_at,
            public_key: text(self.public_key),
            owner_identity: text(self.owner_identity),
            drop_urls: self.drop_urls.unwrap_or_default(),
            module_data: module_data(self.module_data)?,
            categories: self.categories.unwrap_or_default(),
            note: text(self.note),
            details: ContactDetails {
                birthday: self.birthday,
                anniversary: self.anniversary,
                websites: details::websites(self.websites.unwrap_or_default()),
                related_people: details::related_people(self.related_people.unwrap_or_default()),
            },
            ..ContactFields::default()
        })
    }
}

fn maybe(value: MaybeUndefined<String>) -> Option<Option<String>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(text(Some(v))),
    }
}

#[derive(InputObject, Default)]
/// A partial update: fields left out stay as they are; fields set to null are cleared; lists
/// given replace the whole list.
pub struct ContactPatchInput {
    /// Display name.
    pub display_name: MaybeUndefined<String>,
    /// Salutation.
    pub prefix: MaybeUndefined<String>,
    /// First name.
    pub first_name: MaybeUndefined<String>,
    /// Middle name.
    pub middle_name: MaybeUndefined<String>,
    /// Last name.
    pub last_name: MaybeUndefined<String>,
    /// Suffix.
    pub suffix: MaybeUndefined<String>,
    /// Phonetic first name.
    pub phonetic_first_name: MaybeUndefined<String>,
    /// Phonetic middle name.
    pub phonetic_middle_name: MaybeUndefined<String>,
    /// Phonetic last name.
    pub phonetic_last_name: MaybeUndefined<String>,
    /// Nickname.
    pub nickname: MaybeUndefined<String>,
    /// Company.
    pub company: MaybeUndefined<String>,
    /// Department.
    pub department: MaybeUndefined<String>,
    /// Job title.
    pub job_title: MaybeUndefined<String>,
    /// Replaces all email addresses.
    pub emails: MaybeUndefined<Vec<EmailInput>>,
    /// Replaces all phone numbers.
    pub phone_numbers: MaybeUndefined<Vec<PhoneInput>>,
    /// Replaces all postal addresses.
    pub addresses: MaybeUndefined<Vec<AddressInput>>,
    /// Chat username.
    pub username: MaybeUndefined<String>,
    /// Avatar image URL.
    pub avatar_url: MaybeUndefined<String>,
    /// Conversation id.
    pub conversation_id: MaybeUndefined<String>,
    /// Last activity time.
    pub last_active_at: MaybeUndefined<DateTime<Utc>>,
    /// Public key.
    pub public_key: MaybeUndefined<String>,
    /// Owning identity's key id.
    pub owner_identity: MaybeUndefined<String>,
    /// Replaces all Drop URLs.
    pub drop_urls: MaybeUndefined<Vec<String>>,
    /// Replaces all module data.
    pub module_data: MaybeUndefined<Json<serde_json::Value>>,
    /// Replaces all labels.
    pub categories: MaybeUndefined<Vec<String>>,
    /// Note.
    pub note: MaybeUndefined<String>,
    /// Birthday.
    pub birthday: MaybeUndefined<PartialDate>,
    /// Anniversary.
    pub anniversary: MaybeUndefined<PartialDate>,
    /// Replaces all websites.
    pub websites: MaybeUndefined<Vec<WebsiteInput>>,
    /// Replaces all related people.
    pub related_people: MaybeUndefined<Vec<RelatedPersonInput>>,
}

fn maybe_value<T>(value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

fn maybe_list<T, U>(
    value: MaybeUndefined<Vec<T>>,
    map: impl FnOnce(Vec<T>) -> Vec<U>,
) -> Option<Vec<U>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(Vec::new()),
        MaybeUndefined::Value(v) => Some(map(v)),
    }
}

impl ContactPatchInput {
    pub fn into_patch(self) -> async_graphql::Result<ContactPatch> {
        let module_data = match self.module_data {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(serde_json::Map::new()),
            MaybeUndefined::Value(v) => Some(module_data(Some(v))?),
        };
        Ok(ContactPatch {
            display_name: maybe(self.display_name),
            prefix: maybe(self.prefix),
            first_name: maybe(self.first_name),
            middle_name: maybe(self.middle_name),
            last_name: maybe(self.last_name),
            suffix: maybe(self.suffix),
            phonetic_first_name: maybe(self.phonetic_first_name),
            phonetic_middle_name: maybe(self.phonetic_middle_name),
            phonetic_last_name: maybe(self.phonetic_last_name),
            nickname: maybe(self.nickname),
            company: maybe(self.company),
            department: maybe(self.department),
            job_title: maybe(self.job_title),
            emails: maybe_list(self.emails, emails),
            phones: maybe_list(self.phone_numbers, phones),
            addresses: maybe_list(self.addresses, addresses),
            username: maybe(self.username),
            avatar_url: maybe(self.avatar_url),
            conversation_id: maybe(self.conversation_id),
            last_active_at: maybe_value(self.last_active_at),
            public_key: maybe(self.public_key),
            owner_identity: maybe(self.owner_identity),
            drop_urls: maybe_list(self.drop_urls, |v| v),
            module_data,
            categories: maybe_list(self.categories, |v| v),
            note: maybe(self.note),
            birthday: maybe_value(self.birthday),
            anniversary: maybe_value(self.anniversary),
            websites: maybe_list(self.websites, details::websites),
            related_people: maybe_list(self.related_people, details::related_people),
            ..ContactPatch::default()
        })
    }
}

#[derive(InputObject, Default)]
/// Conditions on contacts; all given must hold.
pub struct ContactFilterInput {
    /// Only these address books.
    pub address_book_ids: Option<Vec<async_graphql::ID>>,
    /// Only members of this group.
    pub group_id: Option<async_graphql::ID>,
    /// Only contacts with this label (vCard CATEGORIES).
    pub category: Option<String>,
    /// With (true) or without (false) an email address.
    pub has_email: Option<bool>,
    /// With (true) or without (false) a phone number.
    pub has_phone: Option<bool>,
    /// Created at or after.
    pub created_after: Option<DateTime<Utc>>,
    /// Created before.
    pub created_before: Option<DateTime<Utc>>,
    /// Changed at or after.
    pub updated_after: Option<DateTime<Utc>>,
    /// Changed before.
    pub updated_before: Option<DateTime<Utc>>,
    /// Last active at or after.
    pub last_active_after: Option<DateTime<Utc>>,
    /// Last active before.
    pub last_active_before: Option<DateTime<Utc>>,
    /// Also return deleted contacts (tombstones, with `deletedAt` set).
    #[graphql(default = false)]
    pub include_deleted: bool,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
#[graphql(remote = "ContactOrderField")]
/// What to sort contacts by.
pub enum ContactOrderFieldInput {
    /// Last, first, middle name (display name or company when there is none).
    #[default]
    Name,
    /// First name.
    FirstName,
    /// Last name.
    LastName,
    /// Creation time.
    CreatedAt,
    /// Last change.
    UpdatedAt,
    /// Last activity.
    LastActiveAt,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
/// Sort direction.
pub enum OrderDirection {
    #[default]
    /// Ascending.
    Asc,
    /// Descending.
    Desc,
}

#[derive(InputObject, Default)]
/// Sort order of contacts (ties broken by id).
pub struct ContactOrderInput {
    /// Field to sort by.
    #[graphql(default)]
    pub field: ContactOrderFieldInput,
    /// Direction.
    #[graphql(default)]
    pub direction: OrderDirection,
}

impl From<ContactOrderInput> for ContactOrder {
    fn from(input: ContactOrderInput) -> Self {
        ContactOrder {
            field: input.field.into(),
            descending: input.direction == OrderDirection::Desc,
        }
    }
}

/// Phone.com's contact lookup object. Either an object with any of `id`, `prefix`,
/// `first_name` (or `firstName`), `middle_name`, `last_name`, `suffix`, `nickname`, `company` —
/// all given must match — or a single scalar (string or number) that matches if it equals the
/// id or any one of those fields. Matching ignores case.
pub enum ContactLookupValue {
    Fields(ContactLookup),
    Scalar(String),
}

/// Phone.com's contact lookup: an object with any of `id`, `prefix`, `first_name`,
/// `middle_name`, `last_name`, `suffix`, `nickname`, `company` (all given must match), or one
/// scalar (string or number) matching the id or any of those fields. Case is ignored.
#[Scalar(name = "ContactLookup")]
impl ScalarType for ContactLookupValue {
    fn parse(value: Value) -> InputValueResult<Self> {
        match value {
            Value::String(s) => Ok(ContactLookupValue::Scalar(s)),
            Value::Number(n) => Ok(ContactLookupValue::Scalar(n.to_string())),
            Value::Object(map) => {
                let mut lookup = ContactLookup::default();
                let mut any = false;
                for (key, value) in map {
                    let text = match value {
                        Value::String(s) => s,
                        Value::Number(n) => n.to_string(),
                        Value::Null => continue,
                        other => {
                            return Err(InputValueError::custom(format!(
                                "lookup field {key} must be a string, got {other}"
                            )));
                        }
                    };
                    any = true;
                    match key.as_str() {
                        "id" => {
                            let id = text.parse::<i64>().ok().or_else(|| {
                                super::ids::decode(&async_graphql::ID(text.clone())).map(|(_, n)| n)
                            });
                            lookup.id = Some(id.ok_or_else(|| {
                                InputValueError::custom("lookup id is not a contact id")
                            })?);
                        }
                        "prefix" => lookup.prefix = Some(text),
                        "first_name" | "firstName" => lookup.first_name = Some(text),
                        "middle_name" | "middleName" => lookup.middle_name = Some(text),
                        "last_name" | "lastName" => lookup.last_name = Some(text),
                        "suffix" => lookup.suffix = Some(text),
                        "nickname" => lookup.nickname = Some(text),
                        "company" => lookup.company = Some(text),
                        other => {
                            return Err(InputValueError::custom(format!(
                                "unknown lookup field {other}"
                            )));
                        }
                    }
                }
                if !any {
                    return Err(InputValueError::custom("the lookup object is empty"));
                }
                Ok(ContactLookupValue::Fields(lookup))
            }
            other => Err(InputValueError::custom(format!(
                "a lookup is an object or a scalar, got {other}"
            ))),
        }
    }

    fn to_value(&self) -> Value {
        match self {
            ContactLookupValue::Scalar(s) => Value::String(s.clone()),
            ContactLookupValue::Fields(_) => Value::Object(Default::default()),
        }
    }
}
