//! GraphQL shapes of the contact details (`domain::details`): the `PartialDate` scalar, the
//! website and related-person objects and their inputs.

use async_graphql::{
    Enum, InputObject, InputValueError, InputValueResult, Scalar, ScalarType, SimpleObject, Value,
};

use crate::domain::details::{PartialDate, RelatedPerson, RelationKind, Website, WebsiteKind};

/// A date whose year may be unknown: `1990-04-12`, or `--04-12` without a year (ISO 8601 and
/// RFC 6350 §4.3.1). Also read: `19900412`, `--0412`.
#[Scalar(name = "PartialDate")]
impl ScalarType for PartialDate {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => PartialDate::parse(text).map_err(InputValueError::custom),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.to_string())
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "WebsiteKind")]
/// What a website is.
pub enum WebsiteType {
    /// Personal.
    Home,
    /// Work.
    Work,
    /// Anything else; see the label.
    Other,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "RelationKind")]
/// How a person is related to the contact (RFC 6350 §6.6.6 types and Apple's labels).
pub enum RelationType {
    Spouse,
    Partner,
    Child,
    Parent,
    Mother,
    Father,
    Sibling,
    Brother,
    Sister,
    Friend,
    Relative,
    Assistant,
    Manager,
    Colleague,
    /// Whom to call in an emergency.
    Emergency,
    /// Anything else; see the label.
    Other,
}

#[derive(SimpleObject)]
#[graphql(name = "Website")]
/// A website of a contact.
pub struct WebsiteObject {
    #[graphql(name = "type")]
    /// Home, work or other.
    pub kind: WebsiteType,
    /// The URL.
    pub url: String,
    /// A free label ("Portfolio").
    pub label: Option<String>,
}

impl From<&Website> for WebsiteObject {
    fn from(site: &Website) -> Self {
        WebsiteObject {
            kind: site.kind.into(),
            url: site.url.clone(),
            label: site.label.clone(),
        }
    }
}

#[derive(SimpleObject)]
#[graphql(name = "RelatedPerson")]
/// A person related to the contact, by name.
pub struct RelatedPersonObject {
    #[graphql(name = "type")]
    /// How they are related.
    pub kind: RelationType,
    /// Their name.
    pub name: String,
    /// A free label for a relation outside the list ("Godmother").
    pub label: Option<String>,
}

impl From<&RelatedPerson> for RelatedPersonObject {
    fn from(person: &RelatedPerson) -> Self {
        RelatedPersonObject {
            kind: person.kind.into(),
            name: person.name.clone(),
            label: person.label.clone(),
        }
    }
}

#[derive(InputObject)]
/// A website.
pub struct WebsiteInput {
    #[graphql(name = "type", default_with = "WebsiteType::Other")]
    /// Home, work or other (default).
    pub kind: WebsiteType,
    /// The URL.
    pub url: String,
    /// A free label.
    pub label: Option<String>,
}

#[derive(InputObject)]
/// A related person.
pub struct RelatedPersonInput {
    #[graphql(name = "type", default_with = "RelationType::Other")]
    /// How they are related (default: other).
    pub kind: RelationType,
    /// Their name.
    pub name: String,
    /// A free label.
    pub label: Option<String>,
}

pub(super) fn websites(list: Vec<WebsiteInput>) -> Vec<Website> {
    list.into_iter()
        .map(|w| Website {
            kind: w.kind.into(),
            url: w.url.trim().to_owned(),
            label: w.label,
        })
        .collect()
}

pub(super) fn related_people(list: Vec<RelatedPersonInput>) -> Vec<RelatedPerson> {
    list.into_iter()
        .map(|p| RelatedPerson {
            kind: p.kind.into(),
            name: p.name.trim().to_owned(),
            label: p.label,
        })
        .collect()
}
