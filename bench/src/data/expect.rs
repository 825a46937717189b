//! Search needles and the answers they must produce, computed from the generated cards.
//!
//! Every query phase compares a server's answer with a set computed here, so the rules
//! mirror what each query means: CardDAV text-match `i;unicode-casemap` + `contains` is
//! "lower-cased value contains lower-cased needle"; Rolodex's GraphQL search also ignores
//! accents, so its needle is chosen where accent folding cannot change the answer.

use std::collections::BTreeSet;

use super::{Card, Script};

/// A needle in another case than stored, and the indices of the cards it must find.
#[derive(Debug, Clone)]
pub struct Needle {
    pub text: String,
    pub expected: BTreeSet<usize>,
}

fn contains_ci(haystack: &str, needle_lower: &str) -> bool {
    haystack.to_lowercase().contains(needle_lower)
}

/// EMAIL text-match: the upper-cased local part of one card's first address (it carries
/// the card number, so about one card matches).
pub fn email(cards: &[Card]) -> Needle {
    let card = &cards[cards.len() / 2];
    let local = card.emails[0]
        .address
        .split('@')
        .next()
        .expect("split yields at least one part");
    let text = local.to_uppercase();
    let lower = text.to_lowercase();
    let expected = cards
        .iter()
        .filter(|c| c.emails.iter().any(|e| contains_ci(&e.address, &lower)))
        .map(|c| c.index)
        .collect();
    Needle { text, expected }
}

/// FN text-match: upper-cased Cyrillic "given family" of one card (a handful match).
pub fn full_name(cards: &[Card]) -> Needle {
    let start = cards.len() / 3;
    let card = cards[start..]
        .iter()
        .chain(&cards[..start])
        .find(|c| c.script == Script::Cyrillic && c.middle.is_none())
        .expect("every few cards has a Cyrillic name without patronymic");
    let text = format!("{} {}", card.given, card.family).to_uppercase();
    let lower = text.to_lowercase();
    let expected = cards
        .iter()
        .filter(|c| contains_ci(&c.full_name, &lower))
        .map(|c| c.index)
        .collect();
    Needle { text, expected }
}

/// Values Rolodex's GraphQL `search` looks at (name parts, nickname, company, e-mail), plus
/// FN and the other ORG/TITLE text in case a server searches those too.
fn searchable(card: &Card) -> impl Iterator<Item = (&str, bool)> {
    let family = std::iter::once((card.family, true));
    let others = [
        Some(card.given),
        card.middle,
        card.prefix,
        card.suffix,
        card.nickname,
        card.org.map(|o| o.0),
        card.org.and_then(|o| o.1),
        card.title,
        Some(card.full_name.as_str()),
    ]
    .into_iter()
    .flatten()
    .chain(card.emails.iter().map(|e| e.address.as_str()))
    .map(|v| (v, false));
    family.chain(others)
}

/// GraphQL search: an upper-cased Cyrillic family name that, case- and accent-folded,
/// occurs in no searchable value except as that exact family name (or inside a full name
/// holding it), so substring, prefix and whole-word matching all give the same answer.
/// Of those, the one matching the most cards that still fit on one page (a handful at
/// N=1,000), or, when none fits, the rarest.
pub fn search(cards: &[Card]) -> Needle {
    let mut families: Vec<&str> = cards
        .iter()
        .filter(|c| c.script == Script::Cyrillic)
        .map(|c| c.family)
        .collect();
    families.sort_unstable();
    families.dedup();
    let values = folded_values(cards);
    let mut best: Option<Needle> = None;
    for family in families {
        if !unambiguous(&values, family) {
            continue;
        }
        let expected: BTreeSet<usize> = cards
            .iter()
            .filter(|c| c.family == family)
            .map(|c| c.index)
            .collect();
        let better = match &best {
            None => true,
            Some(b) => {
                let (new, old) = (expected.len(), b.expected.len());
                match (new <= 100, old <= 100) {
                    (true, true) => new > old,
                    (true, false) => true,
                    (false, true) => false,
                    (false, false) => new < old,
                }
            }
        };
        if better {
            best = Some(Needle {
                text: family.to_uppercase(),
                expected,
            });
        }
    }
    best.expect("some Cyrillic family name is unambiguous under accent folding")
}

/// A searchable value, folded once: (folded, is a family name, the card's family name if
/// the value is that card's full name).
type Folded<'a> = (String, Option<&'a str>, Option<&'a str>);

/// Every distinct non-ASCII searchable value (an ASCII value cannot hold a Cyrillic needle).
fn folded_values(cards: &[Card]) -> Vec<Folded<'_>> {
    let mut distinct = std::collections::HashSet::new();
    for card in cards {
        for (value, is_family) in searchable(card) {
            if value.is_ascii() {
                continue;
            }
            let family = is_family.then_some(value);
            let own_full_name = (value == card.full_name).then_some(card.family);
            distinct.insert((value, family, own_full_name));
        }
    }
    distinct
        .into_iter()
        .map(|(value, family, own)| (fold(value), family, own))
        .collect()
}

fn unambiguous(values: &[Folded<'_>], family: &str) -> bool {
    let needle = fold(family);
    values.iter().all(|(folded, is_family, own_full_name)| {
        if !folded.contains(&needle) {
            return true;
        }
        match (is_family, own_full_name) {
            (Some(value), _) => *value == family,
            // A full name holding this family as one of its words is fine.
            (None, Some(own)) => *own == family,
            (None, None) => false,
        }
    })
}

/// Lower-cases and strips the diacritics the generated data uses (the same equivalences an
/// accent-insensitive search applies: й→и and ё→е in Cyrillic, é→e in Latin, ά→α in Greek).
pub fn fold(value: &str) -> String {
    value
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'ą' => 'a',
            'ç' | 'ć' | 'č' => 'c',
            'é' | 'è' | 'ê' | 'ë' | 'ę' | 'ě' => 'e',
            'í' | 'ì' | 'î' | 'ï' | 'ı' => 'i',
            'ñ' | 'ń' => 'n',
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' => 'o',
            'ú' | 'ù' | 'û' | 'ü' | 'ů' => 'u',
            'ý' | 'ÿ' => 'y',
            'ł' => 'l',
            'ś' | 'š' | 'ş' => 's',
            'ź' | 'ż' | 'ž' => 'z',
            'ř' => 'r',
            'ğ' => 'g',
            'й' => 'и',
            'ё' => 'е',
            'ά' => 'α',
            'έ' => 'ε',
            'ή' => 'η',
            'ί' | 'ϊ' | 'ΐ' => 'ι',
            'ό' => 'ο',
            'ύ' | 'ϋ' | 'ΰ' => 'υ',
            'ώ' => 'ω',
            'ς' => 'σ',
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::generate;

    #[test]
    fn needles_find_something_in_every_size() {
        for n in [1000, 10_000] {
            let cards = generate(n);
            for needle in [email(&cards), full_name(&cards), search(&cards)] {
                assert!(!needle.expected.is_empty(), "{n}: {needle:?}");
                assert_ne!(needle.text, needle.text.to_lowercase());
            }
            assert!(email(&cards).expected.len() <= 3);
        }
    }

    #[test]
    fn needles_are_not_ascii_where_they_must_not_be() {
        let cards = generate(1000);
        assert!(!full_name(&cards).text.is_ascii());
        assert!(!search(&cards).text.is_ascii());
    }
}
