//! A minimal PNG encoder for the inline contact photos: small RGB avatars (a background
//! with a centred square), 148-268 bytes, valid enough for any decoder.
//!
//! The pixel data goes into zlib "stored" (uncompressed) blocks so the size depends only on
//! the dimensions and no compressor crate is needed.

use crate::rng::SplitMix64;

/// A `side`×`side` avatar (side in 5..=8) with colours drawn from `rng`.
pub fn avatar(rng: &mut SplitMix64) -> Vec<u8> {
    let side = rng.range(5, 8) as usize;
    let background = [
        rng.below(256) as u8,
        rng.below(256) as u8,
        rng.below(256) as u8,
    ];
    let foreground = [
        255 - background[0],
        255 - background[1],
        255 - background[2],
    ];
    let margin = side / 4;
    let mut raw = Vec::with_capacity(side * (1 + 3 * side));
    for y in 0..side {
        raw.push(0); // filter type "None" for every scanline
        for x in 0..side {
            let inside =
                (margin..side - margin).contains(&x) && (margin..side - margin).contains(&y);
            raw.extend_from_slice(if inside { &foreground } else { &background });
        }
    }
    encode_rgb(side as u32, side as u32, &raw)
}

/// A PNG of 8-bit RGB pixels; `filtered` holds each scanline prefixed by its filter byte.
fn encode_rgb(width: u32, height: u32, filtered: &[u8]) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    // bit depth 8, colour type 2 (RGB), compression 0, filter 0, no interlace
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &zlib_stored(filtered));
    chunk(&mut png, b"IEND", &[]);
    png
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A zlib stream of stored blocks (each at most 65,535 bytes).
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = if data.is_empty() {
        vec![&[]]
    } else {
        data.chunks(65_535).collect()
    };
    for (i, block) in blocks.iter().enumerate() {
        let last = i + 1 == blocks.len();
        out.push(u8::from(last));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_reference_values() {
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    }

    #[test]
    fn avatars_are_small_pngs() {
        for seed in 0..50 {
            let png = avatar(&mut SplitMix64::new(seed));
            assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
            assert!((100..=300).contains(&png.len()), "{} bytes", png.len());
            assert!(png.ends_with(&[0xAE, 0x42, 0x60, 0x82]));
        }
    }
}
