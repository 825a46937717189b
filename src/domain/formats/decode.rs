//! Bytes of an import file -> text. Exports come as UTF-8 (with or without a byte-order mark),
//! UTF-16 (older Google CSV exports, some Outlook versions) or, from Windows tools, the
//! Windows-1252 code page. The decoder says which it used when that was a guess.

/// Windows-1252 characters for bytes 0x80..=0x9F (the rest of the page is Latin-1).
const CP1252_HIGH: [char; 32] = [
    '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž', '\u{8f}',
    '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}', 'ž', 'Ÿ',
];

/// The text of `bytes`, and a note when the encoding was not UTF-8.
pub fn decode(bytes: &[u8]) -> (String, Option<&'static str>) {
    // A loop, not recursion: a file of nothing but byte-order marks must not overflow the stack.
    let mut bytes = bytes;
    while let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        bytes = rest;
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return (utf16(rest, u16::from_le_bytes), Some("decoded as UTF-16LE"));
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return (utf16(rest, u16::from_be_bytes), Some("decoded as UTF-16BE"));
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        // UTF-16 without a mark: ASCII text with every other byte zero.
        if looks_like_utf16le(bytes) {
            return (
                utf16(bytes, u16::from_le_bytes),
                Some("decoded as UTF-16LE"),
            );
        }
        return (text.to_owned(), None);
    }
    if looks_like_utf16le(bytes) {
        return (
            utf16(bytes, u16::from_le_bytes),
            Some("decoded as UTF-16LE"),
        );
    }
    let text = bytes
        .iter()
        .map(|&b| match b {
            0x80..=0x9F => CP1252_HIGH[usize::from(b - 0x80)],
            _ => char::from(b),
        })
        .collect();
    (text, Some("not UTF-8: decoded as Windows-1252"))
}

fn looks_like_utf16le(bytes: &[u8]) -> bool {
    let sample = bytes.get(..200).unwrap_or(bytes);
    sample.len() >= 4
        && sample.len() % 2 == 0
        && sample
            .chunks_exact(2)
            .all(|pair| matches!(pair, [low, 0] if *low != 0))
}

fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> String {
    // `chunks_exact(2)`: every pair has two bytes; an odd last byte (half a code unit) is
    // dropped.
    let units = bytes.chunks_exact(2).map(|pair| unit([pair[0], pair[1]]));
    char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn utf8_with_and_without_bom() {
        assert_eq!(decode("Zoë".as_bytes()), ("Zoë".to_owned(), None));
        assert_eq!(decode(b"\xEF\xBB\xBFZo\xC3\xAB").0, "Zoë");
    }

    #[test]
    fn utf16_with_bom() {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in "Name,Zoë\r\n".encode_utf16() {
            bytes.extend(unit.to_le_bytes());
        }
        assert_eq!(decode(&bytes).0, "Name,Zoë\r\n");
        let mut be = vec![0xFE, 0xFF];
        for unit in "Ünal".encode_utf16() {
            be.extend(unit.to_be_bytes());
        }
        assert_eq!(decode(&be).0, "Ünal");
    }

    #[test]
    fn windows_1252_fallback() {
        let (text, note) = decode(b"M\xFCller \x80 \x93quoted\x94");
        assert_eq!(text, "Müller € “quoted”");
        assert!(note.is_some());
    }

    #[test]
    fn a_file_of_byte_order_marks_does_not_overflow_the_stack() {
        // `decode` recursed once per leading UTF-8 byte-order mark: a 3 MB upload of them
        // overflows the stack of a debug build (an optimized one may turn the tail call into a
        // loop, but nothing guaranteed it), and a stack overflow aborts the whole server.
        let mut bytes = b"\xEF\xBB\xBF".repeat(1_000_000);
        bytes.extend(b"BEGIN:VCARD");
        assert_eq!(decode(&bytes), ("BEGIN:VCARD".to_owned(), None));
    }
}
