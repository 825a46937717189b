//! The contact details beyond the seed specs that every address book has: birthday and
//! anniversary (dates whose year may be unknown, as vCard allows), websites and related people.
//!
//! They travel together as [`ContactDetails`]: one value in the model, one JSON column in the
//! store (`contacts.details`), one GraphQL object each. A further detail of this kind is added
//! here, in its vCard mapping (`domain::vcard::details`) and in the GraphQL types; the store and
//! the read paths carry it without change.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::contact::{MAX_LIST_ITEMS, MAX_TEXT_LEN, ValidationError};

/// A calendar date whose year may be unknown (RFC 6350 §4.3.1 `--MMDD`; Apple writes such a
/// date as year 1604 with `X-APPLE-OMIT-YEAR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PartialDate {
    pub year: Option<u16>,
    pub month: u8,
    pub day: u8,
}

/// Why a date was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("not a date (expected YYYY-MM-DD or --MM-DD): {0:?}")]
    Syntax(String),
    #[error("no such day: {0}")]
    NoSuchDay(String),
}

fn is_leap(year: u16) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

impl PartialDate {
    /// A checked date: month 1-12, a day that month has (29 February only in a leap year or
    /// when the year is unknown).
    pub fn new(year: Option<u16>, month: u8, day: u8) -> Result<PartialDate, DateError> {
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if year.is_none_or(is_leap) => 29,
            2 => 28,
            _ => 0,
        };
        let date = PartialDate { year, month, day };
        if day == 0 || day > days {
            return Err(DateError::NoSuchDay(date.to_string()));
        }
        Ok(date)
    }

    /// `1990-04-12`, `19900412`, `--04-12` or `--0412` (ISO 8601 extended or basic, RFC 6350
    /// §4.3.1 for the year-less forms). Surrounding blanks are ignored.
    pub fn parse(text: &str) -> Result<PartialDate, DateError> {
        let syntax = || DateError::Syntax(text.chars().take(32).collect());
        let text = text.trim();
        let (year, rest) = match text.strip_prefix("--") {
            Some(rest) => (None, rest),
            None => {
                let year = text.get(..4).ok_or_else(syntax)?;
                if !year.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(syntax());
                }
                let rest = text.get(4..).ok_or_else(syntax)?;
                (Some(year.parse::<u16>().map_err(|_| syntax())?), rest)
            }
        };
        // Year and month-day are joined by '-' in the extended form only.
        let rest = match (year, rest.strip_prefix('-')) {
            (Some(_), Some(after)) => after,
            _ => rest,
        };
        // MMDD or MM-DD: four ASCII digits, read as numbers (no slicing of the text).
        let chars: Vec<char> = rest.chars().take(6).collect();
        let digits: Vec<u8> = match chars.as_slice() {
            [a, b, c, d] | [a, b, '-', c, d] => [a, b, c, d]
                .iter()
                .map(|c| c.to_digit(10).and_then(|d| u8::try_from(d).ok()))
                .collect::<Option<_>>()
                .ok_or_else(syntax)?,
            _ => return Err(syntax()),
        };
        let month = digits[0] * 10 + digits[1];
        let day = digits[2] * 10 + digits[3];
        PartialDate::new(year, month, day)
    }
}

impl fmt::Display for PartialDate {
    /// ISO 8601 extended form; `--MM-DD` without a year.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.year {
            Some(year) => write!(f, "{year:04}-{:02}-{:02}", self.month, self.day),
            None => write!(f, "--{:02}-{:02}", self.month, self.day),
        }
    }
}

/// What a website is: vCard `URL;TYPE=home|work`; anything else is `Other` (with its label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum WebsiteKind {
    Home,
    Work,
    #[default]
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Website {
    pub kind: WebsiteKind,
    pub url: String,
    /// A free label ("Portfolio"; Apple's `X-ABLabel`, Google's "Website 1 - Type").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// How a related person is related: the RFC 6350 §6.6.6 `RELATED` types people use in address
/// books, plus Apple's assistant and manager. Anything else is `Other` with its label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum RelationKind {
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
    Emergency,
    #[default]
    Other,
}

impl RelationKind {
    pub const ALL: [RelationKind; 16] = [
        RelationKind::Spouse,
        RelationKind::Partner,
        RelationKind::Child,
        RelationKind::Parent,
        RelationKind::Mother,
        RelationKind::Father,
        RelationKind::Sibling,
        RelationKind::Brother,
        RelationKind::Sister,
        RelationKind::Friend,
        RelationKind::Relative,
        RelationKind::Assistant,
        RelationKind::Manager,
        RelationKind::Colleague,
        RelationKind::Emergency,
        RelationKind::Other,
    ];

    /// The word used for it in vCard TYPE values, Apple labels (`_$!<Spouse>!$_`) and CSV
    /// files, lower case.
    pub fn word(self) -> &'static str {
        match self {
            RelationKind::Spouse => "spouse",
            RelationKind::Partner => "partner",
            RelationKind::Child => "child",
            RelationKind::Parent => "parent",
            RelationKind::Mother => "mother",
            RelationKind::Father => "father",
            RelationKind::Sibling => "sibling",
            RelationKind::Brother => "brother",
            RelationKind::Sister => "sister",
            RelationKind::Friend => "friend",
            RelationKind::Relative => "relative",
            RelationKind::Assistant => "assistant",
            RelationKind::Manager => "manager",
            RelationKind::Colleague => "colleague",
            RelationKind::Emergency => "emergency",
            RelationKind::Other => "other",
        }
    }

    /// The kind a word names (case-insensitive; RFC 6350's `co-worker` and `kin` included).
    pub fn from_word(word: &str) -> Option<RelationKind> {
        let word = word.trim();
        if word.eq_ignore_ascii_case("co-worker") {
            return Some(RelationKind::Colleague);
        }
        if word.eq_ignore_ascii_case("kin") {
            return Some(RelationKind::Relative);
        }
        if word.eq_ignore_ascii_case("domestic partner") || word.eq_ignore_ascii_case("sweetheart")
        {
            return Some(RelationKind::Partner);
        }
        RelationKind::ALL
            .into_iter()
            .find(|k| k.word().eq_ignore_ascii_case(word))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RelatedPerson {
    pub kind: RelationKind,
    /// The person's name as written (vCard RELATED with a text value, Apple's
    /// `X-ABRELATEDNAMES`).
    pub name: String,
    /// A free label for a relation outside the list ("Godmother").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// Birthday, anniversary, websites and related people of one contact.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ContactDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birthday: Option<PartialDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anniversary: Option<PartialDate>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub websites: Vec<Website>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related_people: Vec<RelatedPerson>,
}

/// A label as the model keeps it: trimmed, `None` when empty or "Other" (Apple's built-in
/// `_$!<Other>!$_`, Google's default), which says no more than no label at all.
pub fn norm_label(label: &Option<String>) -> Option<String> {
    label
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.eq_ignore_ascii_case("other"))
        .map(str::to_owned)
}

/// The rules a text value of the model follows (length, no control characters but line
/// breaks and tabs), shared by every field.
pub(crate) fn check_text(field: &'static str, value: &str) -> Result<(), ValidationError> {
    if value.len() > MAX_TEXT_LEN {
        return Err(ValidationError {
            field,
            message: format!("longer than {MAX_TEXT_LEN} bytes"),
        });
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ValidationError {
            field,
            message: "contains control characters".into(),
        });
    }
    Ok(())
}

pub(crate) fn check_list<T>(field: &'static str, list: &[T]) -> Result<(), ValidationError> {
    if list.len() > MAX_LIST_ITEMS {
        return Err(ValidationError {
            field,
            message: format!("more than {MAX_LIST_ITEMS} entries"),
        });
    }
    Ok(())
}

/// Websites: at most [`MAX_LIST_ITEMS`], each an absolute URL without blanks.
pub(crate) fn check_websites(websites: &[Website]) -> Result<(), ValidationError> {
    check_list("websites", websites)?;
    for site in websites {
        let url = site.url.trim();
        if url.is_empty() || url.contains(char::is_whitespace) || url.len() > MAX_TEXT_LEN {
            return Err(ValidationError {
                field: "websites",
                message: format!(
                    "not a URL: {:?}",
                    site.url.chars().take(64).collect::<String>()
                ),
            });
        }
        check_text("websites", url)?;
        if let Some(label) = &site.label {
            check_text("websites", label)?;
        }
    }
    Ok(())
}

/// Related people: at most [`MAX_LIST_ITEMS`], each with a name.
pub(crate) fn check_related(people: &[RelatedPerson]) -> Result<(), ValidationError> {
    check_list("relatedPeople", people)?;
    for person in people {
        if person.name.trim().is_empty() {
            return Err(ValidationError {
                field: "relatedPeople",
                message: "a related person needs a name".into(),
            });
        }
        check_text("relatedPeople", &person.name)?;
        if let Some(label) = &person.label {
            check_text("relatedPeople", label)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_in_every_form_vcard_uses() {
        let april = |year| PartialDate {
            year,
            month: 4,
            day: 12,
        };
        assert_eq!(PartialDate::parse("1990-04-12"), Ok(april(Some(1990))));
        assert_eq!(PartialDate::parse("19900412"), Ok(april(Some(1990))));
        assert_eq!(PartialDate::parse(" --04-12 "), Ok(april(None)));
        assert_eq!(PartialDate::parse("--0412"), Ok(april(None)));
        assert_eq!(april(None).to_string(), "--04-12");
        assert_eq!(april(Some(7)).to_string(), "0007-04-12");
        for bad in [
            "",
            "1990",
            "1990-4-12",
            "1990-04-31",
            "--02-30",
            "1990-13-01",
            "abcd-01-01",
            "1990-04-12T10:00",
            "--04-1€",
            "€€€€",
        ] {
            assert!(PartialDate::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(PartialDate::parse("--02-29").is_ok());
        assert!(PartialDate::parse("2000-02-29").is_ok());
        assert!(PartialDate::parse("1900-02-29").is_err());
    }

    #[test]
    fn relation_words_round_trip() {
        for kind in RelationKind::ALL {
            assert_eq!(RelationKind::from_word(kind.word()), Some(kind));
        }
        assert_eq!(
            RelationKind::from_word("Co-Worker"),
            Some(RelationKind::Colleague)
        );
        assert_eq!(RelationKind::from_word("godmother"), None);
    }
}
