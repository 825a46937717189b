//! Text folding for search and ordering: lower case, accents removed, whitespace collapsed, so
//! "José Müller" is found by "jose muller". Done in Rust so the database needs no `unaccent`.
//! Also the one safe way to test a scheme-like prefix (`tel:`, `geo:`) on arbitrary text.
//!
//! Case is folded per character as the lower case of its upper case ([`caseless`]), not by plain
//! lower-casing: lower-casing leaves the Greek final sigma `ς` apart from `σ` (both upper-case to
//! `Σ`), so "ΓΙΏΡΓΟΣ" never found "Γιώργος". RFC 5051 (`i;unicode-casemap`) compares title
//! case, under which every case variant of a letter is one; lower(upper(c)) puts the same
//! letters together and yields the lower-case form people type.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The case-insensitive form of one character: the lower case of its upper case, so every
/// variant of a letter maps to one form — `σ`, `ς`, `Σ` -> `σ`; `ſ`, `S` -> `s`; the Kelvin sign
/// `K` -> `k`; `ı` -> `i`; `ϐ` -> `β`, `ϑ` -> `θ`, `ϕ` -> `φ`, `ϖ` -> `π`, `ϰ` -> `κ`,
/// `ϱ` -> `ρ`, `ϵ` -> `ε`; the iota subscript U+0345 -> `ι` (its upper case is `Ι`, which is how
/// "ᾳ" upper-cases to "ΑΙ").
///
/// A character whose upper case is several characters (`ß` -> "SS", `ŉ` -> "ʼN") keeps its own
/// lower case, as RFC 5051's one-to-one mappings do: `ß` does not become "ss" here.
fn caseless(c: char) -> std::char::ToLowercase {
    let mut upper = c.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(single), None) => single.to_lowercase(),
        _ => c.to_lowercase(),
    }
}

/// `text` compared under the `i;unicode-casemap` collation (RFC 5051 as CardDAV uses it): case
/// folded over all of Unicode (see [`caseless`]) and compatibility-decomposed (NFKD), so
/// `É` = `é`, `ﬁ` = `fi`, `℡` = `tel` and `ς` = `σ`, but accents stay (`é` ≠ `e`).
///
/// NFKD runs before the case fold too: a compatibility character can decompose into capitals
/// (`℡` -> "TEL"), which must be folded like any others. Idempotent: the form of a form is
/// itself, so stored match text and a needle folded again still compare.
pub fn casemap(text: &str) -> String {
    if text.is_ascii() {
        text.to_ascii_lowercase()
    } else {
        text.nfkd().flat_map(caseless).nfkd().collect()
    }
}

/// Case- and accent-folded form of `text`.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last_space = true;
    // Case is folded before the marks go: the iota subscript (U+0345) is a combining mark that
    // folds to the letter ι, as "ᾳ" upper-cases to "ΑΙ".
    for c in text
        .nfkd()
        .flat_map(caseless)
        .filter(|c| !is_combining_mark(*c))
    {
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
                last_space = true;
            }
            continue;
        }
        // Letters without a decomposition that still carry a "base" letter users type instead
        // (upper-case forms were folded to these above).
        match c {
            'ß' => out.push_str("ss"),
            'æ' => out.push_str("ae"),
            'ø' => out.push('o'),
            'ł' => out.push('l'),
            'đ' => out.push('d'),
            'œ' => out.push_str("oe"),
            _ => out.push(c),
        }
        last_space = false;
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// Folds several optional parts and joins the non-empty ones with single spaces.
pub fn fold_join<'a>(parts: impl IntoIterator<Item = Option<&'a str>>) -> String {
    let mut out = String::new();
    for part in parts.into_iter().flatten() {
        let folded = fold(part);
        if folded.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&folded);
    }
    out
}

/// `text` after `prefix` when it starts with it, ASCII letters compared in any case (`TEL:`,
/// `mailto:`, `geo:`). `None` otherwise — also when `prefix.len()` bytes of `text` end inside a
/// multi-byte character (`"12€"` against `"tel:"`), where slicing by that length would panic.
pub fn strip_prefix_ignore_ascii_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let (head, rest) = text.split_at_checked(prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn folds_case_accents_and_space() {
        assert_eq!(fold("  José   MÜLLER "), "jose muller");
        assert_eq!(fold("Straße"), "strasse");
        assert_eq!(fold("STRAẞE"), "strasse");
        assert_eq!(fold("Łódź"), "lodz");
        assert_eq!(fold("ØRSTED Æble ŒUVRE"), "orsted aeble oeuvre");
        assert_eq!(fold("Ｆｕｌｌ"), "full");
        assert_eq!(fold("李小龍"), "李小龍");
    }

    #[test]
    fn joins_non_empty_parts() {
        assert_eq!(
            fold_join([Some("Émile"), None, Some(" "), Some("Zola")]),
            "emile zola"
        );
    }

    /// Issue 11: an upper-case Greek name with a final sigma found nothing, in CardDAV
    /// text-match (casemap) and in GraphQL search (fold).
    #[test]
    fn upper_case_greek_with_final_sigma_matches_the_lower_case_name() {
        assert_eq!(casemap("ΓΙΏΡΓΟΣ"), casemap("Γιώργος"));
        assert_eq!(casemap("Γιώργοσ"), casemap("Γιώργος"));
        assert!(casemap("Γιώργος Παπαδόπουλος").contains(&casemap("ΓΙΏΡΓΟΣ")));
        assert!(casemap("ΓΙΏΡΓΟΣ ΠΑΠΑΔΌΠΟΥΛΟΣ").contains(&casemap("Γιώργος")));
        // The accent stays under casemap: ώ is not ω.
        assert_ne!(casemap("ΓΙΩΡΓΟΣ"), casemap("Γιώργος"));

        assert_eq!(fold("ΓΙΏΡΓΟΣ"), "γιωργοσ");
        assert_eq!(fold("Γιώργος"), "γιωργοσ");
        assert_eq!(fold("ΓΙΩΡΓΟΣ ΠΑΠΑΔΟΠΟΥΛΟΣ"), fold("Γιώργος Παπαδόπουλος"));
        assert_eq!(fold_join([Some("ΟΔΥΣΣΕΥΣ")]), fold("Οδυσσεύς"));
    }

    #[test]
    fn every_case_variant_of_a_letter_is_one() {
        for variants in [
            &["σ", "ς", "Σ"][..],
            &["s", "ſ", "S"],
            &["β", "ϐ", "Β"],
            &["θ", "ϑ", "Θ", "ϴ"],
            &["φ", "ϕ", "Φ"],
            &["π", "ϖ", "Π"],
            &["κ", "ϰ", "Κ"],
            &["ρ", "ϱ", "Ρ"],
            &["ε", "ϵ", "Ε"],
            &["k", "K", "\u{212A}"],
            &["å", "Å", "\u{212B}"],
            &["ω", "Ω", "\u{2126}"],
            &["μ", "µ", "Μ"],
            &["i", "I", "ı"],
            &["в", "В", "ᲀ"],
            &["ǆ", "ǅ", "Ǆ"],
            &["ß", "ẞ"],
            &["αι", "ᾳ", "ΑΙ", "ᾼ"],
        ] {
            let casemapped: Vec<String> = variants.iter().map(|v| casemap(v)).collect();
            assert!(
                casemapped.iter().all(|c| *c == casemapped[0]),
                "casemap {variants:?} -> {casemapped:?}"
            );
            let folded: Vec<String> = variants.iter().map(|v| fold(v)).collect();
            assert!(
                folded.iter().all(|f| *f == folded[0]),
                "fold {variants:?} -> {folded:?}"
            );
        }
    }

    #[test]
    fn casemap_decomposes_compatibility_characters_before_folding_case() {
        assert_eq!(casemap("℡"), "tel");
        assert_eq!(casemap("ﬁ"), "fi");
        assert_eq!(casemap("É"), casemap("é"));
        assert_ne!(casemap("é"), "e");
        assert_eq!(casemap("MÜLLER"), casemap("müller"));
    }

    /// Over every character of the planes that have cased letters or decompositions (BMP and
    /// SMP; the rest are CJK ideographs, tags and private use): a character and its upper and
    /// lower case fold alike (when its upper case is one character), and folding a folded form
    /// changes nothing.
    #[test]
    fn every_character_folds_like_its_case_variants_and_idempotently() {
        let mut text = String::new();
        for c in (0..=0x1FFFF_u32).filter_map(char::from_u32) {
            text.clear();
            text.push(c);
            let mapped = casemap(&text);
            assert_eq!(
                casemap(&mapped),
                mapped,
                "casemap of U+{:04X}",
                u32::from(c)
            );
            let folded = fold(&text);
            assert_eq!(fold(&folded), folded, "fold of U+{:04X}", u32::from(c));
            let upper: String = c.to_uppercase().collect();
            let lower: String = c.to_lowercase().collect();
            if upper.chars().count() == 1 {
                for other in [&upper, &lower] {
                    assert_eq!(casemap(other), mapped, "casemap of U+{:04X}", u32::from(c));
                    assert_eq!(fold(other), folded, "fold of U+{:04X}", u32::from(c));
                }
            }
        }
    }

    #[test]
    fn prefixes_compare_ascii_case_insensitively_on_any_text() {
        assert_eq!(strip_prefix_ignore_ascii_case("TEL:+1", "tel:"), Some("+1"));
        assert_eq!(strip_prefix_ignore_ascii_case("tel:", "tel:"), Some(""));
        assert_eq!(strip_prefix_ignore_ascii_case("tel", "tel:"), None);
        // Byte 4 is inside "€": no match, no panic.
        assert_eq!(strip_prefix_ignore_ascii_case("12€", "tel:"), None);
        assert_eq!(strip_prefix_ignore_ascii_case("手机 138", "tel:"), None);
        assert_eq!(strip_prefix_ignore_ascii_case("télé", "tel:"), None);
    }

    proptest! {
        #![proptest_config(crate::fuzzing::config())]

        /// Folding a folded form changes nothing, whatever the text.
        #[test]
        fn fuzz_folds_are_idempotent(text in "\\PC{0,40}") {
            let mapped = casemap(&text);
            prop_assert_eq!(casemap(&mapped), mapped.clone());
            let folded = fold(&text);
            prop_assert_eq!(fold(&folded), folded.clone());
            prop_assert!(!folded.starts_with(' ') && !folded.ends_with(' '));
            prop_assert!(!folded.contains("  "));
        }

        /// Greek text folds the same in upper case, lower case and as written (final sigma,
        /// accents, breathings, iota subscript).
        #[test]
        fn fuzz_greek_case_does_not_matter(text in "[\u{0386}-\u{03CE}\u{1F00}-\u{1FFC} ]{0,24}") {
            let upper = text.to_uppercase();
            let lower = text.to_lowercase();
            prop_assert_eq!(casemap(&upper), casemap(&lower));
            prop_assert_eq!(casemap(&text), casemap(&lower));
            prop_assert_eq!(fold(&upper), fold(&lower));
            prop_assert_eq!(fold(&text), fold(&lower));
        }

        /// The prefix helper never panics and agrees with a char-wise comparison.
        #[test]
        fn fuzz_prefix_matches_charwise(text in "\\PC{0,12}", prefix in "[a-zA-Z:]{0,6}") {
            let expected = text.to_ascii_lowercase().starts_with(&prefix.to_ascii_lowercase());
            let stripped = strip_prefix_ignore_ascii_case(&text, &prefix);
            prop_assert_eq!(stripped.is_some(), expected);
            if let Some(rest) = stripped {
                prop_assert_eq!(rest.len() + prefix.len(), text.len());
            }
        }
    }
}
