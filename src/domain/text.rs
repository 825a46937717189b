//! Text folding for search and ordering: lower case, accents removed, whitespace collapsed, so
//! "José Müller" is found by "jose muller". Done in Rust so the database needs no `unaccent`.
//! Also the one safe way to test a scheme-like prefix (`tel:`, `geo:`) on arbitrary text.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// `text` compared under the `i;unicode-casemap` collation (RFC 5051 as CardDAV uses it): case
/// folded over all of Unicode and compatibility-decomposed (NFKD), so `É` = `é` and `ﬁ` = `fi`,
/// but accents stay (`é` ≠ `e`).
pub fn casemap(text: &str) -> String {
    if text.is_ascii() {
        text.to_ascii_lowercase()
    } else {
        text.chars().flat_map(char::to_lowercase).nfkd().collect()
    }
}

/// Case- and accent-folded form of `text`.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last_space = true;
    for c in text.nfkd().filter(|c| !is_combining_mark(*c)) {
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
                last_space = true;
            }
            continue;
        }
        // Letters without a decomposition that still carry a "base" letter users type instead.
        match c {
            'ß' => out.push_str("ss"),
            'æ' | 'Æ' => out.push_str("ae"),
            'ø' | 'Ø' => out.push('o'),
            'ł' | 'Ł' => out.push('l'),
            'đ' | 'Đ' => out.push('d'),
            'œ' | 'Œ' => out.push_str("oe"),
            _ => out.extend(c.to_lowercase()),
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

    #[test]
    fn folds_case_accents_and_space() {
        assert_eq!(fold("  José   MÜLLER "), "jose muller");
        assert_eq!(fold("Straße"), "strasse");
        assert_eq!(fold("Łódź"), "lodz");
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
}
