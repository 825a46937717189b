//! Merging duplicate cards into one, at the level of vCard properties so that nothing a client
//! stored is lost: the primary card keeps its UID and everything it has; from the others,
//!
//! - emails (case-insensitively), phone numbers (by E.164, else by digits), addresses, URLs,
//!   instant-messaging handles, related people, dates and every other repeatable property are
//!   added unless the merged card already has the same value;
//! - categories are unioned;
//! - a property the primary lacks (FN, N, ORG, TITLE, BDAY, PHOTO, NICKNAME, …) is taken from
//!   the first card that has it: so the primary's photo wins, else the first photo;
//! - notes are joined;
//! - Apple's `itemN.` groups travel whole (the property with its `X-ABLabel`), renamed to a
//!   group number the merged card does not use yet;
//! - properties only a client knows (`X-…`) are kept, without exact repeats.
//!
//! The other cards are converted to the primary's version first, and a property taken from them
//! is never marked preferred (the primary's preferences stand).

use std::collections::HashSet;

use calcard::vcard::{VCardEntry, VCardProperty, VCardValue};

use super::convert::convert;
use super::edit::{is_group_helper, set_pref};
use super::extract::{email_address, phone_number};
use super::{Card, CardVersion, RenderVersion, write};
use crate::domain::{phone, text};

/// Properties that identify or describe the card itself, never taken from another card.
const OWN: [&str; 7] = [
    "VERSION",
    "UID",
    "PRODID",
    "REV",
    "KIND",
    "X-ADDRESSBOOKSERVER-KIND",
    "MEMBER",
];

/// Properties a card has at most one of: taken from another card only when missing.
const SINGLE: [&str; 21] = [
    "FN",
    "N",
    "NICKNAME",
    "ORG",
    "TITLE",
    "ROLE",
    "BDAY",
    "ANNIVERSARY",
    "GENDER",
    "PHOTO",
    "LOGO",
    "SOUND",
    "TZ",
    "GEO",
    "SORT-STRING",
    "X-PHONETIC-FIRST-NAME",
    "X-PHONETIC-MIDDLE-NAME",
    "X-PHONETIC-LAST-NAME",
    "X-ANNIVERSARY",
    "X-MAIDENNAME",
    "X-ROLODEX-USERNAME",
];

/// One property, or an `itemN.` group of properties that belong together.
struct Unit {
    entries: Vec<VCardEntry>,
}

impl Unit {
    /// The property that gives the unit its meaning (not a label helper).
    fn main(&self) -> &VCardEntry {
        self.entries
            .iter()
            .find(|e| !is_group_helper(e))
            .unwrap_or(&self.entries[0])
    }
}

fn name_of(entry: &VCardEntry) -> String {
    write::view(entry).name
}

/// What makes two values of a repeatable property the same.
fn identity(entry: &VCardEntry) -> String {
    let view = write::view(entry);
    let value = match view.name.as_str() {
        "EMAIL" => email_address(entry)
            .map(|a| text::fold(&a))
            .unwrap_or_default(),
        "TEL" => phone_number(entry)
            .map(|n| {
                phone::normalize_e164(&n, phone::DEFAULT_REGION)
                    .unwrap_or_else(|| phone::digits(&n))
            })
            .unwrap_or_default(),
        _ => text::fold(&view.value),
    };
    format!("{}:{value}", view.name)
}

/// The target version for a merge into a card written in `version` (2.1 is written as 3.0).
fn target(version: CardVersion) -> RenderVersion {
    if version.is_legacy() {
        RenderVersion::V3
    } else {
        RenderVersion::V4
    }
}

/// Splits entries into units, keeping order: a group's entries form one unit at the place of
/// its first entry.
fn units(entries: Vec<VCardEntry>) -> Vec<Unit> {
    let mut out: Vec<Unit> = Vec::new();
    let mut group_at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for entry in entries {
        match entry.group.as_ref().map(|g| g.to_ascii_lowercase()) {
            Some(group) => match group_at.get(&group) {
                Some(&at) => out[at].entries.push(entry),
                None => {
                    group_at.insert(group, out.len());
                    out.push(Unit {
                        entries: vec![entry],
                    });
                }
            },
            None => out.push(Unit {
                entries: vec![entry],
            }),
        }
    }
    out
}

/// `primary` with what `others` add, written in the primary's version (3.0 for a 2.1 card).
pub(super) fn merge(primary: &Card, others: &[Card]) -> Card {
    let version = target(primary.version);
    let legacy = version == RenderVersion::V3;
    let mut merged = convert(&primary.vcard.entries, primary.version, version);
    let mut names: HashSet<String> = merged.iter().map(name_of).collect();
    let mut identities: HashSet<String> = merged.iter().map(identity).collect();
    let mut groups: HashSet<String> = merged
        .iter()
        .filter_map(|e| e.group.as_ref().map(|g| g.to_ascii_lowercase()))
        .collect();
    let mut next_group = 1usize;

    for other in others {
        for mut unit in units(convert(&other.vcard.entries, other.version, version)) {
            let main = unit.main();
            let name = name_of(main);
            if OWN.contains(&name.as_str()) {
                continue;
            }
            if name == "CATEGORIES" {
                add_categories(&mut merged, main);
                names.insert(name);
                continue;
            }
            if name == "NOTE" {
                if append_note(&mut merged, main) {
                    continue;
                }
            } else if SINGLE.contains(&name.as_str()) {
                if names.contains(&name) {
                    continue;
                }
            } else if identities.contains(&identity(main)) {
                continue;
            }
            if unit.entries[0].group.is_some() {
                let fresh = loop {
                    let candidate = format!("item{next_group}");
                    next_group += 1;
                    if !groups.contains(&candidate) {
                        break candidate;
                    }
                };
                groups.insert(fresh.clone());
                for entry in &mut unit.entries {
                    entry.group = Some(fresh.clone());
                }
            }
            for entry in &mut unit.entries {
                set_pref(entry, legacy, false);
                names.insert(name_of(entry));
                identities.insert(identity(entry));
            }
            merged.extend(unit.entries);
        }
    }
    let mut vcard = primary.vcard.clone();
    vcard.entries = merged;
    Card {
        vcard,
        version: version.card_version(),
    }
}

/// Adds `from`'s categories to the merged card's first CATEGORIES (or adds one).
fn add_categories(merged: &mut Vec<VCardEntry>, from: &VCardEntry) {
    let values = |entry: &VCardEntry| -> Vec<String> {
        entry
            .values
            .iter()
            .filter_map(|v| match v {
                VCardValue::Text(t) => Some(vec![t.clone()]),
                VCardValue::Component(items) => Some(items.clone()),
                _ => None,
            })
            .flatten()
            .flat_map(|t| {
                t.split(',')
                    .map(|s| s.trim().to_owned())
                    .collect::<Vec<_>>()
            })
            .filter(|t| !t.is_empty())
            .collect()
    };
    let incoming = values(from);
    match merged
        .iter_mut()
        .find(|e| e.name == VCardProperty::Categories)
    {
        Some(existing) => {
            let mut all = values(existing);
            for value in incoming {
                if !all.iter().any(|v| text::fold(v) == text::fold(&value)) {
                    all.push(value);
                }
            }
            existing.values = vec![VCardValue::Component(all)];
        }
        None if !incoming.is_empty() => {
            let mut entry = from.clone();
            entry.group = None;
            merged.push(entry);
        }
        None => {}
    }
}

/// Joins `from`'s note to the merged card's note (a blank line between); false when the
/// merged card has no note yet (the caller then adds this one). A note already contained is
/// not repeated.
fn append_note(merged: &mut [VCardEntry], from: &VCardEntry) -> bool {
    let note_of = |entry: &VCardEntry| write::view(entry).value;
    let Some(existing) = merged.iter_mut().find(|e| e.name == VCardProperty::Note) else {
        return false;
    };
    let (current, incoming) = (note_of(existing), note_of(from));
    if incoming.trim().is_empty() || current.contains(incoming.trim()) {
        return true;
    }
    existing.values = vec![VCardValue::Text(format!(
        "{}\n\n{}",
        current.trim_end(),
        incoming.trim()
    ))];
    true
}

#[cfg(test)]
mod tests {
    use crate::domain::vcard::{RenderVersion, parse_one};

    fn merged(primary: &str, others: &[&str]) -> String {
        let primary = parse_one(primary).unwrap();
        let others: Vec<_> = others.iter().map(|t| parse_one(t).unwrap()).collect();
        let card = primary.merged_with(&others);
        let version = if card.version().is_legacy() {
            RenderVersion::V3
        } else {
            RenderVersion::V4
        };
        let text = card.render(version);
        parse_one(&text).expect("the merged card parses");
        text
    }

    const GOOGLE: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:google-1\r\nFN:Maria García\r\nN:García;Maria;;;\r\nEMAIL;TYPE=INTERNET:MARIA.GARCIA@EXAMPLE.ORG\r\nTEL;TYPE=WORK:(415) 555-0101\r\nCATEGORIES:Friends\r\nNOTE:Met at the conference\r\nX-GOOGLE-THING:keep me\r\nEND:VCARD\r\n";
    const IPHONE: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:iphone-1\r\nFN:Maria Garcia\r\nN:Garcia;Maria;;;\r\nitem1.EMAIL;TYPE=INTERNET,pref:maria.garcia@example.org\r\nitem1.X-ABLabel:_$!<Work>!$_\r\nitem2.EMAIL;TYPE=INTERNET:maria@home.example\r\nitem2.X-ABLabel:personal\r\nTEL;TYPE=CELL:+1 415 555 0101\r\nTEL;TYPE=CELL:+1 415 555 0199\r\nORG:Acme;\r\nCATEGORIES:Friends,Work\r\nNOTE:Prefers email\r\nPHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQ\r\nX-CUSTOM:phone only\r\nEND:VCARD\r\n";

    #[test]
    fn nothing_is_lost_and_nothing_is_doubled() {
        let text = merged(GOOGLE, &[IPHONE]);
        assert!(
            text.contains("UID:google-1"),
            "the primary keeps its UID:\n{text}"
        );
        assert!(!text.contains("iphone-1"));
        assert_eq!(text.matches("FN:").count(), 1);
        assert!(text.contains("FN:Maria García"), "the primary's name stays");
        // The same address in other case is one email; the personal one is added, with its
        // label, under a group name of its own.
        assert_eq!(
            text.to_lowercase()
                .matches("maria.garcia@example.org")
                .count(),
            1
        );
        assert!(text.contains("maria@home.example"));
        assert!(text.contains("X-ABLabel:personal"));
        // +1 415 555 0101 is (415) 555-0101; 0199 is new.
        assert_eq!(text.matches("0101").count(), 1, "{text}");
        assert!(text.contains("+1 415 555 0199"));
        assert!(text.contains("ORG:Acme"), "a missing field is filled");
        assert!(
            text.contains("Friends,Work")
                || text.contains("Friends\\,Work")
                || text.contains("CATEGORIES:Friends,Work"),
            "{text}"
        );
        assert!(text.contains("Met at the conference"));
        assert!(text.contains("Prefers email"));
        assert!(text.contains("PHOTO"), "the only photo is taken");
        assert!(text.contains("X-GOOGLE-THING:keep me"));
        assert!(text.contains("X-CUSTOM:phone only"));
        // The taken email is not preferred over the primary's.
        assert!(!text.contains("pref"), "{text}");
    }

    #[test]
    fn the_primary_photo_wins_and_versions_are_converted() {
        let primary = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:p\r\nFN:P\r\nPHOTO:data:image/png;base64,iVBORw0KGgo=\r\nEND:VCARD\r\n";
        let other = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:o\r\nFN:O\r\nPHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQ\r\nEMAIL:o@example.org\r\nEND:VCARD\r\n";
        let text = merged(primary, &[other]);
        assert!(text.contains("VERSION:4.0"));
        assert_eq!(text.matches("PHOTO").count(), 1);
        assert!(text.contains("iVBORw0KGgo"));
        assert!(text.contains("EMAIL:o@example.org"));
    }

    #[test]
    fn merging_a_card_with_itself_changes_nothing_visible() {
        let once = merged(IPHONE, &[]);
        let twice = merged(IPHONE, &[IPHONE]);
        assert_eq!(once, twice);
    }
}
