//! Input mutation for the fuzz tests of `domain` (test builds only): real text — fixture cards,
//! CSV exports, Drop JSON — damaged the way broken clients, editors and transports damage it.
//! Mutations work at character positions, so every result is still a `String` and reaches the
//! readers' text code rather than stopping at UTF-8 validation.

use proptest::prelude::*;

/// Text that tends to reach the corners of the readers: non-ASCII (multi-byte characters where
/// ASCII prefixes are expected, combining marks, the Greek final sigma), every line-end form,
/// folding, vCard separators and escapes, and the prefixes and parameters the converters act on.
const SNIPPETS: &[&str] = &[
    "€",
    "手机",
    "\u{301}",
    "\u{345}",
    "ς",
    "ΓΙΏΡΓΟΣ",
    "\u{feff}",
    "\u{1F600}",
    "\u{0}",
    "\u{7f}",
    "\r",
    "\n",
    "\r\n",
    "\r\n ",
    "\r\n\t",
    " ",
    ";",
    ":",
    ",",
    ".",
    "=",
    "=\r\n",
    "\\",
    "\\n",
    "\\,",
    "^",
    "^'",
    "\"",
    "tel:",
    "TEL:",
    "tel:12€",
    "geo:",
    "geo:12€",
    "data:",
    "data:image/png;base64,",
    "mailto:",
    "urn:uuid:",
    "BEGIN:VCARD\r\n",
    "END:VCARD\r\n",
    "VERSION:4.0\r\n",
    "VERSION:2.1\r\n",
    "item1.",
    ";TYPE=pref",
    ";PREF=1",
    ";VALUE=uri",
    ";VALUE=text",
    ";ENCODING=b",
    ";ENCODING=QUOTED-PRINTABLE",
    ";QUOTED-PRINTABLE",
    ";CHARSET=UTF-8",
    ";CHARSET=ISO-8859-1",
    ";X-APPLE-OMIT-YEAR=1604",
    "=C3=A9",
    "=E2=82",
    "T10:22:00Z",
    "--0612",
    "1604-06-12",
    "GEO:12€\r\n",
    "TEL:12€\r\n",
    "TEL;TYPE=CELL:手机 138 0013 8000\r\n",
    "TEL;VALUE=uri:tel:12€\r\n",
];

/// One change to a text.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Inserts text at a character position.
    Insert(usize, String),
    /// Deletes up to this many characters from a position.
    Delete(usize, usize),
    /// Replaces the character at a position.
    Replace(usize, char),
    DuplicateLine(usize),
    DeleteLine(usize),
    /// Inserts a line of `count` repetitions of the text after the prefix (a very long line).
    LongLine(usize, String, String, usize),
    /// Folds a line after every `n` characters (deep folding).
    Fold(usize, usize),
    /// Rewrites every line end as this one.
    LineEnds(&'static str),
}

/// Text to insert: from [`SNIPPETS`], from the caller's own list, or any characters.
fn snippet(extra: &'static [&'static str]) -> BoxedStrategy<String> {
    let extra_or_common = if extra.is_empty() { SNIPPETS } else { extra };
    prop_oneof![
        4 => prop::sample::select(SNIPPETS).prop_map(str::to_owned),
        3 => prop::sample::select(extra_or_common).prop_map(str::to_owned),
        1 => "(?s).{1,3}",
        1 => "\\PC{1,6}",
    ]
    .boxed()
}

fn mutation(extra: &'static [&'static str]) -> BoxedStrategy<Mutation> {
    prop_oneof![
        6 => (any::<usize>(), snippet(extra)).prop_map(|(at, s)| Mutation::Insert(at, s)),
        3 => (any::<usize>(), 1..12_usize).prop_map(|(at, n)| Mutation::Delete(at, n)),
        3 => (any::<usize>(), any::<char>()).prop_map(|(at, c)| Mutation::Replace(at, c)),
        2 => any::<usize>().prop_map(Mutation::DuplicateLine),
        2 => any::<usize>().prop_map(Mutation::DeleteLine),
        1 => (
            any::<usize>(),
            prop::sample::select(&["NOTE:", "X-LONG;TYPE=a:", "TEL:", "", "\"a\",\""][..]),
            snippet(extra),
            100..2_000_usize
        )
            .prop_map(|(at, prefix, s, n)| Mutation::LongLine(at, prefix.to_owned(), s, n)),
        1 => (any::<usize>(), 1..8_usize).prop_map(|(at, n)| Mutation::Fold(at, n)),
        1 => prop::sample::select(&["\n", "\r", "\r\n", "\n\r"][..]).prop_map(Mutation::LineEnds),
    ]
    .boxed()
}

/// One to `max` mutations, with `extra` format-specific snippets to insert.
pub fn mutations(
    extra: &'static [&'static str],
    max: usize,
) -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec(mutation(extra), 1..=max)
}

/// Position `seed` picks among `size` positions (`size` > 0). Plain numbers rather than
/// proptest's `Index`, so a failing case shrinks towards position 0 and can be written down.
fn pick(seed: usize, size: usize) -> usize {
    seed % size.max(1)
}

/// Byte offset of the character position `at` picks (the end of the text included).
fn char_offset(text: &str, at: usize) -> usize {
    let position = pick(at, text.chars().count() + 1);
    text.char_indices()
        .nth(position)
        .map_or(text.len(), |(offset, _)| offset)
}

fn lines(text: &str) -> Vec<String> {
    text.split_inclusive('\n').map(str::to_owned).collect()
}

/// `text` with `mutations` applied in order.
pub fn apply(text: &str, mutations: &[Mutation]) -> String {
    let mut text = text.to_owned();
    for mutation in mutations {
        match mutation {
            Mutation::Insert(at, s) => {
                let offset = char_offset(&text, *at);
                text.insert_str(offset, s);
            }
            Mutation::Delete(at, n) => {
                let start = char_offset(&text, *at);
                // Offsets from `char_indices` of the same text: character boundaries.
                let end = text[start..]
                    .char_indices()
                    .nth(*n)
                    .map_or(text.len(), |(i, _)| start + i);
                text.replace_range(start..end, "");
            }
            Mutation::Replace(at, c) => {
                let start = char_offset(&text, *at);
                if let Some(old) = text[start..].chars().next() {
                    text.replace_range(start..start + old.len_utf8(), c.encode_utf8(&mut [0; 4]));
                }
            }
            Mutation::DuplicateLine(at) => {
                let mut all = lines(&text);
                if !all.is_empty() {
                    let i = pick(*at, all.len());
                    let copy = all[i].clone();
                    all.insert(i, copy);
                }
                text = all.concat();
            }
            Mutation::DeleteLine(at) => {
                let mut all = lines(&text);
                if !all.is_empty() {
                    all.remove(pick(*at, all.len()));
                }
                text = all.concat();
            }
            Mutation::LongLine(at, prefix, s, n) => {
                let mut all = lines(&text);
                let i = pick(*at, all.len() + 1);
                all.insert(i, format!("{prefix}{}\r\n", s.repeat(*n)));
                text = all.concat();
            }
            Mutation::Fold(at, n) => {
                let mut all = lines(&text);
                if !all.is_empty() {
                    let i = pick(*at, all.len());
                    let mut folded = String::new();
                    for (k, c) in all[i].chars().enumerate() {
                        if k > 0 && k % n == 0 && c != '\r' && c != '\n' {
                            folded.push_str("\r\n ");
                        }
                        folded.push(c);
                    }
                    all[i] = folded;
                }
                text = all.concat();
            }
            Mutation::LineEnds(end) => {
                text = text.replace("\r\n", "\n").replace('\n', end);
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest! {
        #![proptest_config(crate::fuzzing::config())]

        /// The mutator itself never panics and keeps text (a mutated fixture is still a String
        /// by construction; what matters is that every mutation applies).
        #[test]
        fn fuzz_mutations_apply(text in "\\PC{0,30}", mutations in mutations(&[], 6)) {
            let _ = apply(&text, &mutations);
        }
    }

    #[test]
    fn insertion_and_deletion_work_at_character_positions() {
        assert_eq!(apply("ab", &[Mutation::Insert(2, "€".into())]), "ab€");
        assert_eq!(apply("ab", &[Mutation::Insert(4, "€".into())]), "a€b");
        let first = 0;
        assert_eq!(apply("€ab", &[Mutation::Delete(first, 1)]), "ab");
        assert_eq!(apply("€ab", &[Mutation::Replace(first, 'x')]), "xab");
        assert_eq!(
            apply("A:bcd\r\n", &[Mutation::Fold(first, 2)]),
            "A:\r\n bc\r\n d\r\n"
        );
    }
}
