//! The benchmark's contacts: card `i` is generated from `i` and a fixed seed alone (so a
//! smaller N is a prefix of a larger one) and rendered as vCard 3.0 text.

pub mod expect;
mod names;
mod png;
mod vcard;

pub use vcard::unfold;

use names::{Family, Place, Word};

use crate::rng::SplitMix64;

/// Changing this changes every generated card (and so every figure): keep it fixed.
const SEED: u64 = 0x526F_6C6F_6465_7821; // "Rolodex!"

/// Writing system of a card's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    Latin,
    Cyrillic,
    Greek,
    Chinese,
    Japanese,
    Arabic,
}

#[derive(Debug, Clone)]
pub struct Email {
    pub types: &'static str,
    pub address: String,
}

#[derive(Debug, Clone)]
pub struct Tel {
    pub types: &'static str,
    pub number: String,
}

#[derive(Debug, Clone)]
pub struct Adr {
    pub types: &'static str,
    pub street: String,
    pub city: &'static str,
    pub region: &'static str,
    pub zip: String,
    pub country: &'static str,
}

/// One generated contact, with the values validation needs kept as fields.
#[derive(Debug, Clone)]
pub struct Card {
    pub index: usize,
    pub uid: String,
    pub script: Script,
    pub prefix: Option<&'static str>,
    pub given: &'static str,
    pub middle: Option<&'static str>,
    pub family: &'static str,
    pub suffix: Option<&'static str>,
    pub full_name: String,
    pub nickname: Option<&'static str>,
    pub org: Option<(&'static str, Option<&'static str>)>,
    pub title: Option<&'static str>,
    pub emails: Vec<Email>,
    pub tels: Vec<Tel>,
    pub adrs: Vec<Adr>,
    pub birthday: Option<String>,
    pub categories: Vec<&'static str>,
    pub note: Option<String>,
    pub photo_png: Option<Vec<u8>>,
}

impl Card {
    /// The resource name the benchmark PUTs the card under (UIDs are URL-safe).
    pub fn file_name(&self) -> String {
        format!("{}.vcf", self.uid)
    }

    pub fn vcard(&self) -> String {
        self.render(self.note.as_deref())
    }

    /// The card with its NOTE replaced: what the update phases write.
    pub fn vcard_with_note(&self, note: &str) -> String {
        self.render(Some(note))
    }
}

/// Cards `0..n`.
pub fn generate(n: usize) -> Vec<Card> {
    (0..n).map(card).collect()
}

/// Card number `index`: a function of the index and [`SEED`] only.
pub fn card(index: usize) -> Card {
    let mut rng = SplitMix64::for_item(SEED, index as u64);
    let script = match rng.below(100) {
        0..=39 => Script::Latin,
        40..=59 => Script::Cyrillic,
        60..=69 => Script::Greek,
        70..=77 => Script::Chinese,
        78..=84 => Script::Japanese,
        _ => Script::Arabic,
    };
    let female = rng.chance(50);
    let name = pick_name(&mut rng, script, female);
    let prefix = (script == Script::Latin && rng.chance(8)).then(|| *rng.pick(names::PREFIXES));
    let suffix = (script == Script::Latin && rng.chance(4)).then(|| *rng.pick(names::SUFFIXES));
    let full_name = full_name(script, prefix, &name, suffix);
    let uid = format!("bench-{index:07}-{:08x}", rng.next_u64() as u32);

    let org = rng.chance(70).then(|| {
        let company = rng.pick(names::COMPANIES);
        let department = rng.chance(50).then(|| *rng.pick(names::DEPARTMENTS));
        (company, department)
    });
    let title = (org.is_some() && rng.chance(60)).then(|| *rng.pick(names::TITLES));

    // The first address carries the card number so an e-mail needle matches ~one card.
    let mut emails = vec![Email {
        types: "INTERNET,HOME,PREF",
        address: format!(
            "{}.{}.{index}@{}",
            name.given.1,
            name.family.1,
            rng.pick(names::PERSONAL_DOMAINS)
        ),
    }];
    if let Some((company, _)) = org {
        if rng.chance(70) {
            emails.push(Email {
                types: "INTERNET,WORK",
                address: format!("{}{}@{}", &name.given.1[..1], name.family.1, company.1),
            });
        }
    }
    if rng.chance(15) {
        emails.push(Email {
            types: "INTERNET",
            address: format!("{}{}@example.net", name.family.1, rng.range(1, 99)),
        });
    }

    let places = places(script);
    let home = rng.pick(places);
    let mut tels = vec![Tel {
        types: "CELL,VOICE",
        number: fill_digits(&mut rng, home.phone),
    }];
    for types in ["HOME,VOICE", "WORK,VOICE"] {
        if rng.chance(35) {
            let place = rng.pick(places);
            tels.push(Tel {
                types,
                number: fill_digits(&mut rng, place.phone),
            });
        }
    }

    let mut adrs = Vec::new();
    if rng.chance(60) {
        adrs.push(address(&mut rng, "HOME", home));
    }
    if org.is_some() && rng.chance(30) {
        let place = rng.pick(places);
        adrs.push(address(&mut rng, "WORK", place));
    }

    let birthday = rng.chance(30).then(|| {
        format!(
            "{}-{:02}-{:02}",
            rng.range(1950, 2005),
            rng.range(1, 12),
            rng.range(1, 28)
        )
    });
    let mut categories = Vec::new();
    if rng.chance(20) {
        categories.push(*rng.pick(names::CATEGORIES));
        if rng.chance(30) {
            let second = *rng.pick(names::CATEGORIES);
            if second != categories[0] {
                categories.push(second);
            }
        }
    }
    let note = rng.chance(60).then(|| rng.pick(names::NOTES).to_string());
    let photo_png = rng.chance(10).then(|| png::avatar(&mut rng));
    let nickname = rng.chance(15).then(|| *rng.pick(names::NICKNAMES));

    Card {
        index,
        uid,
        script,
        prefix,
        given: name.given.0,
        middle: name.middle.map(|m| m.0),
        family: name.family.0,
        suffix,
        full_name,
        nickname,
        org: org.map(|(company, department)| (company.0, department)),
        title,
        emails,
        tels,
        adrs,
        birthday,
        categories,
        note,
        photo_png,
    }
}

struct Name {
    given: Word,
    middle: Option<Word>,
    family: Word,
}

fn gendered(family: &Family, female: bool) -> Word {
    if female {
        family.1
    } else {
        family.0
    }
}

fn pick_name(rng: &mut SplitMix64, script: Script, female: bool) -> Name {
    match script {
        Script::Latin => Name {
            given: *rng.pick(names::LATIN_GIVEN),
            middle: rng.chance(20).then(|| *rng.pick(names::LATIN_MIDDLE)),
            family: gendered(rng.pick(names::LATIN_FAMILY), female),
        },
        Script::Cyrillic => {
            let given = if female {
                *rng.pick(names::CYRILLIC_GIVEN_FEMALE)
            } else {
                *rng.pick(names::CYRILLIC_GIVEN_MALE)
            };
            let middle = rng
                .chance(25)
                .then(|| gendered(rng.pick(names::CYRILLIC_MIDDLE), female));
            let family = gendered(rng.pick(names::CYRILLIC_FAMILY), female);
            Name {
                given,
                middle,
                family,
            }
        }
        Script::Greek => {
            let given = if female {
                *rng.pick(names::GREEK_GIVEN_FEMALE)
            } else {
                *rng.pick(names::GREEK_GIVEN_MALE)
            };
            let family = gendered(rng.pick(names::GREEK_FAMILY), female);
            Name {
                given,
                middle: None,
                family,
            }
        }
        Script::Chinese => Name {
            given: *rng.pick(names::CHINESE_GIVEN),
            middle: None,
            family: *rng.pick(names::CHINESE_FAMILY),
        },
        Script::Japanese => Name {
            given: *rng.pick(names::JAPANESE_GIVEN),
            middle: None,
            family: *rng.pick(names::JAPANESE_FAMILY),
        },
        Script::Arabic => Name {
            given: *rng.pick(names::ARABIC_GIVEN),
            middle: None,
            family: *rng.pick(names::ARABIC_FAMILY),
        },
    }
}

fn full_name(script: Script, prefix: Option<&str>, name: &Name, suffix: Option<&str>) -> String {
    match script {
        Script::Chinese => format!("{}{}", name.family.0, name.given.0),
        Script::Japanese => format!("{} {}", name.family.0, name.given.0),
        _ => {
            let mut parts: Vec<&str> = Vec::new();
            parts.extend(prefix);
            parts.push(name.given.0);
            parts.extend(name.middle.map(|m| m.0));
            parts.push(name.family.0);
            parts.extend(suffix);
            parts.join(" ")
        }
    }
}

fn places(script: Script) -> &'static [Place] {
    match script {
        Script::Latin => names::LATIN_PLACES,
        Script::Cyrillic => names::CYRILLIC_PLACES,
        Script::Greek => names::GREEK_PLACES,
        Script::Chinese => names::CHINESE_PLACES,
        Script::Japanese => names::JAPANESE_PLACES,
        Script::Arabic => names::ARABIC_PLACES,
    }
}

fn address(rng: &mut SplitMix64, types: &'static str, place: &Place) -> Adr {
    let street = *rng.pick(place.streets);
    let number = rng.range(1, 240);
    Adr {
        types,
        street: format!("{street} {number}"),
        city: place.city,
        region: place.region,
        zip: fill_digits(rng, place.zip),
        country: place.country,
    }
}

/// Replaces each `#` of a pattern with a random digit.
fn fill_digits(rng: &mut SplitMix64, pattern: &str) -> String {
    pattern
        .chars()
        .map(|c| {
            if c == '#' {
                char::from(b'0' + rng.below(10) as u8)
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards_depend_only_on_their_index() {
        let small = generate(50);
        let again = card(42);
        assert_eq!(small[42].vcard(), again.vcard());
    }

    #[test]
    fn lines_are_folded_within_75_octets() {
        for card in generate(300) {
            for line in card.vcard().split("\r\n") {
                assert!(line.len() <= 75, "{line}");
            }
            assert!(unfold(&card.vcard()).contains(&format!("UID:{}", card.uid)));
        }
    }

    #[test]
    fn the_mix_has_every_script_and_some_photos() {
        let cards = generate(1000);
        let photos = cards.iter().filter(|c| c.photo_png.is_some()).count();
        assert!((60..=140).contains(&photos), "{photos} photos");
        for script in [
            Script::Latin,
            Script::Cyrillic,
            Script::Greek,
            Script::Chinese,
            Script::Japanese,
            Script::Arabic,
        ] {
            assert!(cards.iter().any(|c| c.script == script), "{script:?}");
        }
    }
}
