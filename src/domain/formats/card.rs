//! Model records (CSV rows, Drop contacts) -> cards. A record is a [`ContactPatch`] naming only
//! the fields its format carries, applied to the stored card with the same UID (so everything
//! else a client stored there — photos, labels, unknown properties — survives) or to a new
//! vCard 4.0. Lists that a format carries only in part (Drop has one email, one phone) never
//! shrink a card: values already present leave the list alone, new ones are added in front.
//! Properties outside the model (REV, CREATED, the Drop id) travel as [`Extra`]s.

use chrono::{DateTime, Utc};

use super::PatchRecord;
use crate::domain::contact::{
    Address, ContactFields, ContactPatch, Email, EmailKind, Phone, RelatedPerson, Website,
};
use crate::domain::phone;
use crate::domain::vcard::{self, Card, CardVersion, RenderVersion, VCardError};

/// A property outside the model that a record sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extra {
    /// Upper-case property name (`REV`, `URL`, `X-ROLODEX-DROP-ID`).
    pub name: &'static str,
    /// One value for single-valued kinds, any number for lists.
    pub values: Vec<String>,
    pub kind: ExtraKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtraKind {
    /// Text, escaped; a list (existing values are kept).
    Text,
    /// A URI; a list (existing values are kept).
    Uri,
    /// A timestamp (`20150130T081030Z`); single; compared by its digits.
    Timestamp,
    /// A date (`1980-01-02`, `--01-02`); single; compared by its digits.
    Date,
}

impl Extra {
    pub fn single(name: &'static str, value: String, kind: ExtraKind) -> Extra {
        Extra {
            name,
            values: vec![value],
            kind,
        }
    }
}

/// A card built from a record, and whether FN had to be derived.
#[derive(Debug)]
pub struct BuiltCard {
    pub card: Card,
    pub derived_display_name: bool,
}

/// The version an imported card is stored in: 4.0 stays 4.0, 2.1 and 3.0 are stored as 3.0.
pub fn stored_version(card: &Card) -> RenderVersion {
    if card.version() == CardVersion::V4 {
        RenderVersion::V4
    } else {
        RenderVersion::V3
    }
}

/// What the store knows about a stored card beyond its text: when it was created and last
/// written (the times an export reports for a card without CREATED/REV) and the names of the
/// groups it is a member of (which a CSV export writes as labels).
#[derive(Debug, Clone)]
pub struct Stored {
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub group_names: Vec<String>,
}

/// Applies `record` to `base` (the stored card with the record's UID, and what the store knows
/// about it) or to a new 4.0 card.
pub fn build(base: Option<(Card, &Stored)>, record: &PatchRecord) -> Result<BuiltCard, VCardError> {
    let mut patch = record.patch.clone();
    let mut extras = record.extras.clone();
    let (mut card, had_name) = match base {
        Some((card, stored)) => {
            let fields = card.extract();
            // Labels that are the card's groups (a CSV export writes them) are not categories.
            if let Some(categories) = &mut patch.categories {
                categories.retain(|c| {
                    fields.categories.iter().any(|f| f.eq_ignore_ascii_case(c))
                        || !stored.group_names.iter().any(|g| g.eq_ignore_ascii_case(c))
                });
                if categories.is_empty() {
                    patch.categories = None;
                }
            }
            merge_lists(&mut patch, &fields);
            drop_implicit_times(&card, stored, &mut extras);
            (card, fields.display_name.is_some())
        }
        None => (Card::new(RenderVersion::V4, &record.uid), false),
    };
    card.apply_patch(&patch);
    card.ensure_display_name();
    let names_it = matches!(patch.display_name, Some(Some(_)));
    let derived_display_name = !had_name && !names_it && card.extract().display_name.is_some();
    let card = apply_extras(card, &extras)?;
    Ok(BuiltCard {
        card,
        derived_display_name,
    })
}

/// Lists the record carries only in part: unchanged when every value is already on the card,
/// else the record's values first, then the card's other values.
fn merge_lists(patch: &mut ContactPatch, existing: &ContactFields) {
    if let Some(emails) = patch.emails.take() {
        let key = |e: &Email| e.address.trim().to_lowercase();
        patch.emails = union(emails, &existing.emails, key).map(|mut all| {
            let primary = all.iter().position(|e| e.kind == EmailKind::Primary);
            for (i, email) in all.iter_mut().enumerate() {
                if primary.is_some_and(|p| p != i) {
                    email.kind = EmailKind::Alternate;
                }
            }
            all
        });
    }
    if let Some(phones) = patch.phones.take() {
        let key = |p: &Phone| phone::digits(&p.number);
        patch.phones = union(phones, &existing.phones, key);
    }
    if let Some(addresses) = patch.addresses.take() {
        let key = |a: &Address| {
            [&a.street, &a.city, &a.state, &a.zip, &a.country]
                .map(|v| v.as_deref().unwrap_or_default().trim().to_lowercase())
        };
        patch.addresses = union(addresses, &existing.addresses, key);
    }
    if let Some(categories) = patch.categories.take() {
        patch.categories = union(categories, &existing.categories, |c: &String| {
            c.to_lowercase()
        });
    }
    if let Some(websites) = patch.websites.take() {
        let key = |w: &Website| w.url.trim().to_lowercase();
        patch.websites = union(websites, &existing.details.websites, key);
    }
    if let Some(people) = patch.related_people.take() {
        let key = |p: &RelatedPerson| p.name.trim().to_lowercase();
        patch.related_people = union(people, &existing.details.related_people, key);
    }
}

/// A CREATED/REV the card does not have, equal (to the second) to the server's time for it:
/// what an export of this card wrote, not news; storing it would change the card for nothing.
fn drop_implicit_times(card: &Card, times: &Stored, extras: &mut Vec<Extra>) {
    let properties = card.properties();
    extras.retain(|extra| {
        let implicit = match extra.name {
            "CREATED" => times.created,
            "REV" => times.updated,
            _ => return true,
        };
        let present = properties.iter().any(|p| p.name == extra.name);
        present
            || extra.values.first().map(|v| digits(v)) != Some(digits(&vcard_timestamp(implicit)))
    });
}

fn vcard_timestamp(time: DateTime<Utc>) -> String {
    time.format("%Y%m%dT%H%M%SZ").to_string()
}

fn union<T: Clone, K: PartialEq>(
    incoming: Vec<T>,
    existing: &[T],
    key: impl Fn(&T) -> K,
) -> Option<Vec<T>> {
    let existing_keys: Vec<K> = existing.iter().map(&key).collect();
    if incoming.iter().all(|v| existing_keys.contains(&key(v))) {
        return None;
    }
    let incoming_keys: Vec<K> = incoming.iter().map(&key).collect();
    let mut all = incoming;
    all.extend(
        existing
            .iter()
            .filter(|v| !incoming_keys.contains(&key(v)))
            .cloned(),
    );
    Some(all)
}

fn digits(value: &str) -> String {
    value.chars().filter(char::is_ascii_digit).collect()
}

/// Sets the extras that differ from what the card says. The card is rendered, the properties
/// rewritten in place (or added before END), and the text parsed again.
fn apply_extras(card: Card, extras: &[Extra]) -> Result<Card, VCardError> {
    let properties = card.properties();
    let mut pending: Vec<(&Extra, Vec<String>)> = Vec::new();
    for extra in extras.iter().filter(|e| !e.values.is_empty()) {
        let existing: Vec<&str> = properties
            .iter()
            .filter(|p| p.name == extra.name)
            .map(|p| p.value.as_str())
            .collect();
        match extra.kind {
            ExtraKind::Timestamp | ExtraKind::Date => {
                // Single-valued: the first value counts (the filter above left no empty list).
                let wanted: Vec<String> = extra.values.iter().take(1).cloned().collect();
                let same = match (existing.as_slice(), wanted.first()) {
                    ([only], Some(value)) => digits(only) == digits(value),
                    _ => false,
                };
                if !same {
                    pending.push((extra, wanted));
                }
            }
            ExtraKind::Text | ExtraKind::Uri => {
                if extra.values.iter().any(|v| !existing.contains(&v.as_str())) {
                    let mut values = extra.values.clone();
                    values.extend(
                        existing
                            .iter()
                            .filter(|v| !extra.values.iter().any(|n| n == *v))
                            .map(|v| (*v).to_owned()),
                    );
                    pending.push((extra, values));
                }
            }
        }
    }
    if pending.is_empty() {
        return Ok(card);
    }
    let text = card.render(stored_version(&card));
    vcard::parse_one(&rewrite(&text, &pending))
}

fn escape(value: &str, kind: ExtraKind) -> String {
    match kind {
        ExtraKind::Text => value
            .replace('\\', "\\\\")
            .replace(',', "\\,")
            .replace(';', "\\;")
            .replace("\r\n", "\\n")
            .replace('\n', "\\n"),
        // ISO 8601 basic form: 4.0 reads `1815-12-10` as a reduced `1815-12`.
        ExtraKind::Date => match value.strip_prefix("--") {
            Some(rest) => format!("--{}", digits(rest)),
            None => digits(value),
        },
        ExtraKind::Uri | ExtraKind::Timestamp => value.replace(['\r', '\n'], ""),
    }
}

/// Property name of a (first physical) line: `item1.URL;TYPE=x:...` -> `URL`.
fn line_name(line: &str) -> String {
    let head = line.split([':', ';']).next().unwrap_or_default();
    let name = head.rsplit('.').next().unwrap_or(head);
    name.trim().to_ascii_uppercase()
}

fn rewrite(text: &str, pending: &[(&Extra, Vec<String>)]) -> String {
    // Logical lines: a physical line plus its continuations.
    let mut logical: Vec<String> = Vec::new();
    for physical in text.split_inclusive('\n') {
        match logical.last_mut() {
            Some(last) if physical.starts_with([' ', '\t']) => last.push_str(physical),
            _ => logical.push(physical.to_owned()),
        }
    }
    let mut out: Vec<String> = Vec::with_capacity(logical.len() + pending.len());
    let mut placed = vec![false; pending.len()];
    for line in logical {
        let name = line_name(&line);
        if name == "END" {
            for (i, (extra, values)) in pending.iter().enumerate() {
                if !placed[i] {
                    push_lines(&mut out, extra, values);
                }
            }
            placed.fill(true);
            out.push(line);
            continue;
        }
        match pending.iter().position(|(e, _)| e.name == name) {
            Some(i) => {
                if !placed[i] {
                    push_lines(&mut out, pending[i].0, &pending[i].1);
                    placed[i] = true;
                }
            }
            None => out.push(line),
        }
    }
    out.concat()
}

fn push_lines(out: &mut Vec<String>, extra: &Extra, values: &[String]) {
    for value in values {
        out.push(format!("{}:{}\r\n", extra.name, escape(value, extra.kind)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times() -> Stored {
        Stored {
            created: Utc::now(),
            updated: Utc::now(),
            group_names: Vec::new(),
        }
    }

    fn record(patch: ContactPatch, extras: Vec<Extra>) -> PatchRecord {
        PatchRecord {
            uid: "u-1".into(),
            patch,
            extras,
            name_expected: false,
        }
    }

    #[test]
    fn new_card_with_extras() {
        let patch = ContactPatch {
            first_name: Some(Some("Ada".into())),
            last_name: Some(Some("Lovelace".into())),
            ..ContactPatch::default()
        };
        let built = build(
            None,
            &record(
                patch,
                vec![
                    Extra::single("BDAY", "1815-12-10".into(), ExtraKind::Date),
                    Extra {
                        name: "URL",
                        values: vec!["https://example.org/a,b".into()],
                        kind: ExtraKind::Uri,
                    },
                    Extra::single("X-ROLODEX-DROP-ID", "42;x".into(), ExtraKind::Text),
                    Extra::single("REV", "20150130T081030Z".into(), ExtraKind::Timestamp),
                ],
            ),
        )
        .unwrap();
        assert!(built.derived_display_name);
        let text = built.card.render(RenderVersion::V4);
        assert!(text.contains("FN:Ada Lovelace"), "{text}");
        let props = built.card.properties();
        let value = |name: &str| {
            props
                .iter()
                .find(|p| p.name == name)
                .map(|p| p.value.clone())
                .unwrap_or_default()
        };
        let text2 = built.card.render(RenderVersion::V4);
        assert_eq!(digits(&value("BDAY")), "18151210", "{text2}");
        assert_eq!(value("URL"), "https://example.org/a,b");
        assert_eq!(value("X-ROLODEX-DROP-ID"), "42;x");
        assert_eq!(digits(&value("REV")), "20150130081030");
        assert_eq!(built.card.uid().as_deref(), Some("u-1"));

        // Applying the same record to the stored card changes nothing.
        let stored = vcard::parse_one(&text).unwrap();
        let again = build(
            Some((stored, &times())),
            &record(
                ContactPatch {
                    first_name: Some(Some("Ada".into())),
                    ..ContactPatch::default()
                },
                vec![Extra::single(
                    "REV",
                    "20150130T081030Z".into(),
                    ExtraKind::Timestamp,
                )],
            ),
        )
        .unwrap();
        assert_eq!(again.card.render(RenderVersion::V4), text);
    }

    #[test]
    fn partial_lists_never_shrink_a_card() {
        let stored = vcard::parse_one(
            "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u-1\r\nFN:Bo\r\nREV:2020-01-01T00:00:00Z\r\nEMAIL;TYPE=pref:a@x.org\r\nEMAIL:b@x.org\r\nEND:VCARD\r\n",
        )
        .unwrap();
        let text = stored.render(RenderVersion::V3);
        let same = ContactPatch {
            emails: Some(vec![Email {
                label: None,
                kind: EmailKind::Primary,
                address: "B@x.org".into(),
            }]),
            ..ContactPatch::default()
        };
        let built = build(Some((stored.clone(), &times())), &record(same, vec![])).unwrap();
        assert_eq!(built.card.render(RenderVersion::V3), text);

        let new = ContactPatch {
            emails: Some(vec![Email {
                label: None,
                kind: EmailKind::Primary,
                address: "c@x.org".into(),
            }]),
            ..ContactPatch::default()
        };
        let built = build(
            Some((stored, &times())),
            &record(
                new,
                vec![Extra::single(
                    "REV",
                    "20240101T000000Z".into(),
                    ExtraKind::Timestamp,
                )],
            ),
        )
        .unwrap();
        let emails: Vec<String> = built
            .card
            .extract()
            .emails
            .into_iter()
            .map(|e| e.address)
            .collect();
        assert_eq!(emails, vec!["c@x.org", "a@x.org", "b@x.org"]);
        let rendered = built.card.render(RenderVersion::V3);
        // REV rewritten in place, not appended.
        let rev = rendered.find("REV:").unwrap();
        assert!(rev < rendered.find("EMAIL").unwrap(), "{rendered}");
        assert!(rendered.contains("2024"), "{rendered}");
    }
}
