//! Phone numbers: E.164 normalization (with the `phonenumber` crate's metadata) and the
//! digits-only form used for search. The number as entered is always kept verbatim in the card;
//! both forms here are derived from it and never written back.
//!
//! Normalization deliberately does not require the number to be *valid* (an assigned range):
//! Phone.com's own example normalizes "(999) 999-9999" to "+19999999999". A number normalizes
//! when it splits into a known country calling code plus a national number whose length is
//! possible for that code, and — for numbers written without a country code — whose shape
//! matches the default region's numbering plan (so "030 1234567" is not turned into a US number).

use phonenumber::country::{self, Source};
use phonenumber::metadata::DATABASE;

use crate::domain::text::strip_prefix_ignore_ascii_case;

/// Region assumed for numbers written without a country code.
pub const DEFAULT_REGION: &str = "US";

/// ITU-T E.164: at most 15 digits including the country code.
const MAX_E164_DIGITS: usize = 15;

/// The E.164 form (`+<country code><national number>`) of `number`, read with `default_region`
/// (an ISO 3166 alpha-2 code such as "US" or "DE", any case) when it has no `+` or
/// international dialling prefix. Accepts `tel:` URIs. Extensions ("x123", ";ext=123") are not
/// part of E.164 and are left out. `None` when the text is not a plausible phone number.
pub fn normalize_e164(number: &str, default_region: &str) -> Option<String> {
    let core = strip_extension(number);
    let all_digits = digits(core);
    if all_digits.is_empty() || all_digits.len() > MAX_E164_DIGITS + 4 {
        return None;
    }
    // A label may come first ("手机 +86 138 0013 8000", as Android exports write it): what
    // counts is whether the number itself starts with "+".
    if core.chars().find(|c| c.is_ascii_digit() || *c == '+') == Some('+') {
        // Written with its country code: the digits are the E.164 number. (The parser's
        // national-prefix stripping would wrongly drop digits of some "+" numbers, e.g. the "1"
        // of "+49 170 ..." or of "+86 138 ...", so it is not consulted here.)
        return plus_form(&all_digits);
    }
    let region = default_region
        .trim()
        .to_ascii_uppercase()
        .parse::<country::Id>()
        .ok();
    // The parser has panicked on odd input in past releases; one bad number must never take
    // down an import, so a panic counts as "does not parse".
    let parsed = std::panic::catch_unwind(|| phonenumber::parse(region, core))
        .ok()?
        .ok()?;
    let code = parsed.code().value();
    let national = parsed.national().to_string();
    let plausible = match parsed.code().source() {
        Source::Plus | Source::Idd => length_possible(code, national.len()),
        Source::Number | Source::Default => national_shape_ok(code, &national),
    };
    let e164 = format!("+{code}{national}");
    (plausible && e164.len() - 1 <= MAX_E164_DIGITS).then_some(e164)
}

/// The ASCII digits of `number`, in order ("+1 (415) 555-0100" -> "14155550100"). Used for
/// format-independent phone search.
pub fn digits(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}

/// The dialable part of a number: without a `tel:` scheme, URI parameters (`;ext=`,
/// `;phone-context=`), or a trailing extension written as "x12", "ext. 12" or "#12".
fn strip_extension(number: &str) -> &str {
    let text = number.trim();
    // Not `text[..4]`: a label such as "手机 138..." has no character boundary at byte 4.
    let text = strip_prefix_ignore_ascii_case(text, "tel:").unwrap_or(text);
    let mut seen_digit = false;
    for (index, c) in text.char_indices() {
        if c.is_ascii_digit() {
            seen_digit = true;
        } else if matches!(c, ';' | ',' | '#')
            || (seen_digit && matches!(c.to_ascii_lowercase(), 'x' | 'e'))
        {
            // `index` comes from `char_indices`: a character boundary.
            return text[..index].trim_end();
        }
    }
    text
}

/// `+` followed by `digits` when they start with a known country code and the rest has a
/// possible national length for it.
fn plus_form(digits: &str) -> Option<String> {
    if digits.len() > MAX_E164_DIGITS {
        return None;
    }
    (1..=3.min(digits.len())).find_map(|split| {
        let code = digits.get(..split)?.parse::<u16>().ok()?;
        DATABASE.by_code(&code)?;
        length_possible(code, digits.len() - split).then(|| format!("+{digits}"))
    })
}

/// Whether some region using `code` allows national numbers of `len` digits.
fn length_possible(code: u16, len: usize) -> bool {
    let Some(regions) = DATABASE.by_code(&code) else {
        return false;
    };
    regions.iter().any(|meta| {
        let lengths = meta.descriptors().general().possible_length();
        // Metadata without length data: fall back to "at least a few digits".
        if lengths.is_empty() {
            len >= 4
        } else {
            lengths.iter().any(|&l| usize::from(l) == len)
        }
    })
}

/// For numbers written in national format: the length is possible and the digits fit the
/// region's general numbering pattern.
fn national_shape_ok(code: u16, national: &str) -> bool {
    length_possible(code, national.len())
        && DATABASE.by_code(&code).is_some_and(|regions| {
            regions
                .iter()
                .any(|meta| meta.descriptors().general().is_match(national))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn phone_com_example_normalizes_even_though_999_is_not_an_area_code() {
        assert_eq!(
            normalize_e164("(999) 999-9999", "US").as_deref(),
            Some("+19999999999")
        );
    }

    #[test]
    fn numbers_with_a_country_code_keep_every_digit() {
        assert_eq!(
            normalize_e164("+49123456789012", "US").as_deref(),
            Some("+49123456789012")
        );
        assert_eq!(
            normalize_e164("+49 170 1234567", DEFAULT_REGION).as_deref(),
            Some("+491701234567")
        );
        assert_eq!(
            normalize_e164("+1 415 555 0100", "US").as_deref(),
            Some("+14155550100")
        );
        assert_eq!(
            normalize_e164("+44 20 7946 0958", "US").as_deref(),
            Some("+442079460958")
        );
    }

    #[test]
    fn international_dialling_prefix_of_the_region_is_understood() {
        assert_eq!(
            normalize_e164("011 44 20 7946 0958", "US").as_deref(),
            Some("+442079460958")
        );
        assert_eq!(
            normalize_e164("0044 20 7946 0958", "DE").as_deref(),
            Some("+442079460958")
        );
    }

    #[test]
    fn us_formats_with_trunk_prefix_and_punctuation() {
        assert_eq!(
            normalize_e164("1-800-759-3000", "US").as_deref(),
            Some("+18007593000")
        );
        assert_eq!(
            normalize_e164("415.555.0100", "US").as_deref(),
            Some("+14155550100")
        );
        assert_eq!(
            normalize_e164("(415) 555-0101 x12", "US").as_deref(),
            Some("+14155550101")
        );
    }

    #[test]
    fn default_region_is_used_for_national_numbers() {
        assert_eq!(
            normalize_e164("030 1234567", "DE").as_deref(),
            Some("+49301234567")
        );
        assert_eq!(
            normalize_e164("030 1234567", "de").as_deref(),
            Some("+49301234567")
        );
        // A German national number does not fit the US plan: no made-up "+1030...".
        assert_eq!(normalize_e164("030 1234567", "US"), None);
        // Seven-digit local numbers have no area code, so no full E.164 form.
        assert_eq!(normalize_e164("555-0100", "US"), None);
    }

    #[test]
    fn tel_uris_parse() {
        assert_eq!(
            normalize_e164("tel:+1-415-555-0145", "US").as_deref(),
            Some("+14155550145")
        );
        assert_eq!(
            normalize_e164("tel:+1-415-555-0145;ext=7", "US").as_deref(),
            Some("+14155550145")
        );
    }

    #[test]
    fn garbage_does_not_normalize() {
        for input in [
            "",
            "   ",
            "hello",
            "call me",
            "+",
            "12",
            "++++----",
            "abc123",
            "+999 1234567",
        ] {
            assert_eq!(normalize_e164(input, "US"), None, "input {input:?}");
        }
        assert_eq!(normalize_e164(&"9".repeat(200), "US"), None);
        assert_eq!(normalize_e164("+1234567890123456789", "US"), None);
    }

    #[test]
    fn unknown_region_still_handles_plus_numbers() {
        assert_eq!(
            normalize_e164("+49123456789012", "not-a-region").as_deref(),
            Some("+49123456789012")
        );
    }

    #[test]
    fn digits_keeps_ascii_digits_only() {
        assert_eq!(digits("+1 (415) 555-0100"), "14155550100");
        assert_eq!(digits("tel:+49-30-1234567;ext=12"), "4930123456712");
        assert_eq!(digits("no digits"), "");
        // Arabic-Indic digits are not ASCII digits.
        assert_eq!(digits("٣٤٥"), "");
    }

    /// Issue 11: a number with a non-ASCII character around byte 4 panicked (`text[..4]` in
    /// `strip_extension`), taking the whole PUT down.
    #[test]
    fn non_ascii_at_byte_four_does_not_panic() {
        assert_eq!(normalize_e164("12€", "US"), None);
        assert_eq!(digits("12€"), "12");
        assert_eq!(normalize_e164("tel:12€", "US"), None);
        assert_eq!(normalize_e164("€", "US"), None);
    }

    /// Issue 11: Android exports label numbers in the value ("手机" is "mobile phone").
    #[test]
    fn labelled_numbers_from_android_exports_normalize() {
        assert_eq!(
            normalize_e164("手机 138 0013 8000", "CN").as_deref(),
            Some("+8613800138000")
        );
        assert_eq!(digits("手机 138 0013 8000"), "13800138000");
        // The country code after the label is the number's own: every digit is kept.
        assert_eq!(
            normalize_e164("手机 +86 138 0013 8000", "US").as_deref(),
            Some("+8613800138000")
        );
        assert_eq!(
            normalize_e164("Mobil: +49 170 1234567", "US").as_deref(),
            Some("+491701234567")
        );
    }

    proptest! {
        #![proptest_config(crate::fuzzing::config())]

        /// Any text, with or without a region, normalizes or does not; nothing panics. A
        /// result is always "+" and at most 15 ASCII digits, all of them digits of the input.
        #[test]
        fn fuzz_normalize_never_panics(
            number in prop_oneof![
                "\\PC{0,40}",
                "(tel:|TEL:|\\+|00|011)?[0-9 ()./€手机xX#;,=+-]{0,30}",
                "[0-9 +()-]{4,20}(x|ext\\.? ?|;ext=|#)[0-9]{1,5}",
            ],
            region in prop_oneof![Just("US".to_owned()), Just("DE".to_owned()), Just("CN".to_owned()), "\\PC{0,4}"],
        ) {
            let input_digits = digits(&number);
            if let Some(e164) = normalize_e164(&number, &region) {
                let rest = e164.strip_prefix('+');
                prop_assert!(rest.is_some_and(|r| !r.is_empty() && r.len() <= MAX_E164_DIGITS));
                prop_assert!(rest.is_some_and(|r| r.bytes().all(|b| b.is_ascii_digit())));
            }
            prop_assert!(input_digits.bytes().all(|b| b.is_ascii_digit()));
            prop_assert_eq!(input_digits.len(), number.chars().filter(char::is_ascii_digit).count());
        }

        /// A number that normalizes still normalizes, to the same E.164, with a label or a
        /// stray non-ASCII character in front, and as a `tel:` URI.
        #[test]
        fn fuzz_labels_do_not_change_a_plus_number(
            national in "[1-9][0-9]{6,11}",
            label in "(手机|Mobil:|€|Tél\\.|) ?",
        ) {
            let number = format!("+49 {national}");
            let expected = normalize_e164(&number, "US");
            prop_assert_eq!(normalize_e164(&format!("{label}{number}"), "US"), expected.clone());
            prop_assert_eq!(normalize_e164(&format!("tel:{number}"), "US"), expected);
        }
    }
}
