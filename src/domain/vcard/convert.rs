//! Version conversion between vCard 3.0 (and 2.1) and 4.0. calcard's writer only changes the
//! VERSION line; clients need the real thing (docs/carddav-clients.md §6-8): macOS/iOS reject 4.0,
//! DAVx5 sends 4.0, and both must see the same contact, photo and groups.
//!
//! Legacy (2.1/3.0) -> 4.0: `TYPE=pref` -> `PREF=1`; `X-ADDRESSBOOKSERVER-KIND`/`-MEMBER` ->
//! `KIND`/`MEMBER`; inline binary -> `data:` URI (the legacy `TYPE=JPEG` moves into the URI);
//! `PHOTO;VALUE=uri:...` -> `PHOTO:...` (`TYPE=JPEG` -> `MEDIATYPE=image/jpeg`); EMAIL's
//! meaningless `TYPE=INTERNET` dropped; GEO `lat;lon` -> `geo:lat,lon`.
//!
//! 4.0 -> 3.0: the reverse, plus `TEL;VALUE=uri:tel:+1...` -> `TEL:+1...`. `PREF` becomes
//! `TYPE=pref` on the most preferred property of each name (3.0 has only yes/no), and every
//! EMAIL gets `TYPE=INTERNET` as Apple writes it. `KIND` other than group becomes
//! `X-ADDRESSBOOKSERVER-KIND:<kind>` (as sabre/dav does), so nothing is dropped.
//!
//! Everything else — unknown properties, groups, labels, dates (re-formatted by the writer) —
//! passes through unchanged.

use std::collections::HashMap;

use calcard::vcard::{
    VCardEntry, VCardKind, VCardParameter, VCardParameterName, VCardParameterValue, VCardProperty,
    VCardValue, VCardValueType,
};

use super::extract::{self, is_x, pref_rank};
use super::{CardVersion, RenderVersion};
use crate::domain::text::strip_prefix_ignore_ascii_case;

/// Legacy TYPE tokens for inline media and their MIME types.
const MEDIA_TOKENS: &[(&str, &str)] = &[
    ("JPEG", "image/jpeg"),
    ("JPG", "image/jpeg"),
    ("PNG", "image/png"),
    ("GIF", "image/gif"),
    ("BMP", "image/bmp"),
    ("TIFF", "image/tiff"),
    ("WEBP", "image/webp"),
    ("HEIC", "image/heic"),
    ("PICT", "image/x-pict"),
    ("WAVE", "audio/wav"),
    ("WAV", "audio/wav"),
    ("MP3", "audio/mpeg"),
    ("AAC", "audio/aac"),
    ("PGP", "application/pgp-keys"),
    ("X509", "application/x-x509-user-cert"),
];

/// MIME type for a legacy media TYPE token (`JPEG` -> `image/jpeg`).
pub(super) fn media_type_for_token(token: &str) -> Option<String> {
    MEDIA_TOKENS
        .iter()
        .find(|(t, _)| t.eq_ignore_ascii_case(token.trim()))
        .map(|(_, m)| (*m).to_owned())
}

/// Legacy TYPE token for a MIME type (`image/jpeg` -> `JPEG`, unknown -> upper-case subtype).
fn token_for_media_type(media: &str) -> Option<String> {
    let media = media.split(';').next().unwrap_or_default().trim();
    if media.is_empty() {
        return None;
    }
    MEDIA_TOKENS
        .iter()
        .find(|(_, m)| m.eq_ignore_ascii_case(media))
        .map(|(t, _)| (*t).to_owned())
        .or_else(|| {
            media
                .split('/')
                .nth(1)
                .filter(|s| !s.is_empty())
                .map(str::to_ascii_uppercase)
        })
}

/// MIME type from the first bytes of inline data (for 2.1 photos sent without a type).
pub(super) fn sniff_media_type(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
        Some("image/gif")
    } else {
        None
    }
}

fn is_media_token_param(param: &VCardParameter) -> bool {
    param.name == VCardParameterName::Type
        && matches!(&param.value, VCardParameterValue::Text(t) if media_type_for_token(t).is_some())
}

fn is_type_text(param: &VCardParameter, text: &str) -> bool {
    param.name == VCardParameterName::Type
        && param
            .value
            .as_text()
            .is_some_and(|t| t.eq_ignore_ascii_case(text))
}

fn has_value_type(entry: &VCardEntry, wanted: VCardValueType) -> bool {
    entry.params.iter().any(|p| {
        p.name == VCardParameterName::Value
            && matches!(&p.value, VCardParameterValue::ValueType(v) if *v == wanted)
    })
}

/// Properties whose 4.0 value is a URI by default and whose 3.0 value is inline binary.
fn is_media_property(name: &VCardProperty) -> bool {
    matches!(
        name,
        VCardProperty::Photo | VCardProperty::Logo | VCardProperty::Sound | VCardProperty::Key
    )
}

fn is_date_property(name: &VCardProperty) -> bool {
    matches!(
        name,
        VCardProperty::Bday | VCardProperty::Anniversary | VCardProperty::Deathdate
    )
}

/// Apple's marker for a date without a year (3.0 has no year-less date form).
const APPLE_OMIT_YEAR: &str = "X-APPLE-OMIT-YEAR";
/// The placeholder year Apple and DAVx5 use with it.
const OMITTED_YEAR: u16 = 1604;

fn is_omit_year_param(param: &VCardParameter) -> bool {
    matches!(&param.name, VCardParameterName::Other(n) if n.eq_ignore_ascii_case(APPLE_OMIT_YEAR))
}

/// `BDAY;X-APPLE-OMIT-YEAR=1604:1604-06-12` -> 4.0 `BDAY:--0612`.
fn drop_apple_omit_year(entry: &mut VCardEntry) {
    let Some(omitted) = entry
        .params
        .iter()
        .find(|p| is_omit_year_param(p))
        .and_then(|p| p.value.as_text())
        .and_then(|y| y.trim().parse::<u16>().ok())
    else {
        return;
    };
    let mut dropped = false;
    for value in &mut entry.values {
        if let VCardValue::PartialDateTime(date) = value
            && date.year == Some(omitted)
        {
            date.year = None;
            dropped = true;
        }
    }
    if dropped {
        entry.params.retain(|p| !is_omit_year_param(p));
    }
}

/// 4.0 `BDAY:--0612` -> `BDAY;X-APPLE-OMIT-YEAR=1604:1604-06-12`, which Apple shows as
/// "June 12" and other 3.0 readers at least read as a date.
fn add_apple_omit_year(entry: &mut VCardEntry) {
    let mut added = false;
    for value in &mut entry.values {
        if let VCardValue::PartialDateTime(date) = value
            && date.year.is_none()
            && date.month.is_some()
            && date.day.is_some()
        {
            date.year = Some(OMITTED_YEAR);
            added = true;
        }
    }
    if added && !entry.params.iter().any(is_omit_year_param) {
        entry.params.push(VCardParameter::new(
            VCardParameterName::Other(APPLE_OMIT_YEAR.into()),
            VCardParameterValue::Text(OMITTED_YEAR.to_string()),
        ));
    }
}

/// The entries to write for `to`, converted from `from` when the versions differ.
pub(super) fn convert(
    entries: &[VCardEntry],
    from: CardVersion,
    to: RenderVersion,
) -> Vec<VCardEntry> {
    let entries = entries
        .iter()
        .filter(|e| {
            !matches!(
                e.name,
                VCardProperty::Begin | VCardProperty::End | VCardProperty::Version
            )
        })
        .cloned();
    match (from.is_legacy(), to) {
        (true, RenderVersion::V4) => entries.map(legacy_to_v4).collect(),
        (false, RenderVersion::V3) => {
            let entries: Vec<VCardEntry> = entries.collect();
            let best = best_pref_by_name(&entries);
            let entries = entries
                .into_iter()
                .map(|e| v4_to_legacy(e, &best))
                .collect();
            super::details::to_legacy(entries)
        }
        _ => entries.collect(),
    }
}

fn legacy_to_v4(mut entry: VCardEntry) -> VCardEntry {
    if is_x(&entry, extract::X_AB_KIND) {
        entry.name = VCardProperty::Kind;
        entry.values = entry
            .values
            .into_iter()
            .map(|v| match extract::value_text(&v) {
                Some(text) => match text.trim().to_ascii_lowercase().as_str() {
                    "group" => VCardValue::Kind(VCardKind::Group),
                    "individual" => VCardValue::Kind(VCardKind::Individual),
                    "org" => VCardValue::Kind(VCardKind::Org),
                    "location" => VCardValue::Kind(VCardKind::Location),
                    _ => VCardValue::Text(text),
                },
                None => v,
            })
            .collect();
    } else if is_x(&entry, extract::X_AB_MEMBER) {
        entry.name = VCardProperty::Member;
    }

    // TYPE=pref -> PREF=1
    if entry.params.iter().any(|p| is_type_text(p, "pref")) {
        entry.params.retain(|p| !is_type_text(p, "pref"));
        if !entry
            .params
            .iter()
            .any(|p| p.name == VCardParameterName::Pref)
        {
            entry.params.push(VCardParameter::new(
                VCardParameterName::Pref,
                VCardParameterValue::Integer(1),
            ));
        }
    }

    match entry.name {
        VCardProperty::Email => entry.params.retain(|p| !is_type_text(p, "internet")),
        VCardProperty::Geo => {
            if let Some(VCardValue::Text(text)) = entry.values.first()
                && let Some((lat, lon)) = text.split_once(';')
                && lat.trim().parse::<f64>().is_ok()
                && lon.trim().parse::<f64>().is_ok()
            {
                entry.values = vec![VCardValue::Text(format!(
                    "geo:{},{}",
                    lat.trim(),
                    lon.trim()
                ))];
            }
        }
        _ => {}
    }
    if is_date_property(&entry.name) {
        drop_apple_omit_year(&mut entry);
        // A 3.0 BDAY that is no date ("around 1800", or "2A05-07-13" under VALUE=date) needs
        // VALUE=text to be valid 4.0: with VALUE=date, or none, a 4.0 reader makes a different
        // date of it (year 2), and every conversion after that another one.
        if matches!(entry.values.first(), Some(VCardValue::Text(_)))
            && !has_value_type(&entry, VCardValueType::Text)
        {
            entry.params.retain(|p| p.name != VCardParameterName::Value);
            entry.params.push(VCardParameter::new(
                VCardParameterName::Value,
                VCardParameterValue::ValueType(VCardValueType::Text),
            ));
        }
    }

    if is_media_property(&entry.name) {
        if extract::is_inline(&entry) {
            // The media type lives in the data: URI; a legacy TYPE=JPEG would be read as a
            // 4.0 TYPE (home/work) and means nothing there.
            let token_type = entry
                .params
                .iter()
                .find(|p| is_media_token_param(p))
                .and_then(|p| p.value.as_text())
                .and_then(media_type_for_token);
            for value in &mut entry.values {
                if let VCardValue::Binary(data) = value
                    && data.content_type.is_none()
                {
                    data.content_type = token_type.clone();
                }
            }
            entry.params.retain(|p| !is_media_token_param(p));
        } else if entry.name != VCardProperty::Key || !has_value_type(&entry, VCardValueType::Text)
        {
            // A URI: the default in 4.0, so VALUE=uri goes; TYPE=JPEG becomes MEDIATYPE.
            let media = entry
                .params
                .iter()
                .find(|p| is_media_token_param(p))
                .and_then(|p| p.value.as_text())
                .and_then(media_type_for_token);
            entry.params.retain(|p| {
                let value_uri = p.name == VCardParameterName::Value
                    && p.value == VCardParameterValue::ValueType(VCardValueType::Uri);
                !is_media_token_param(p) && !value_uri
            });
            if let Some(media) = media
                && !entry
                    .params
                    .iter()
                    .any(|p| p.name == VCardParameterName::Mediatype)
            {
                entry.params.push(VCardParameter::new(
                    VCardParameterName::Mediatype,
                    VCardParameterValue::Text(media),
                ));
            }
        }
    }
    entry
}

/// Lowest PREF per property name (with group ignored): the one 3.0 marks `TYPE=pref`.
fn best_pref_by_name(entries: &[VCardEntry]) -> HashMap<String, u32> {
    let mut best: HashMap<String, u32> = HashMap::new();
    for entry in entries {
        if let Some(rank) = pref_rank(entry) {
            let key = entry.name.as_str().to_ascii_uppercase();
            best.entry(key)
                .and_modify(|b| *b = (*b).min(rank))
                .or_insert(rank);
        }
    }
    best
}

fn v4_to_legacy(mut entry: VCardEntry, best: &HashMap<String, u32>) -> VCardEntry {
    let name_key = entry.name.as_str().to_ascii_uppercase();
    let rank = pref_rank(&entry);
    if entry
        .params
        .iter()
        .any(|p| p.name == VCardParameterName::Pref)
    {
        entry.params.retain(|p| p.name != VCardParameterName::Pref);
        let most_preferred = rank.is_some() && best.get(&name_key).copied() == rank;
        if most_preferred && !entry.params.iter().any(|p| is_type_text(p, "pref")) {
            entry.params.push(VCardParameter::new(
                VCardParameterName::Type,
                VCardParameterValue::Text("pref".into()),
            ));
        }
    }

    match entry.name {
        VCardProperty::Kind => {
            entry.name = VCardProperty::Other(extract::X_AB_KIND.into());
            entry.values = entry
                .values
                .iter()
                .map(|v| match v {
                    VCardValue::Kind(kind) => VCardValue::Text(extract::kind_str(*kind).into()),
                    other => other.clone(),
                })
                .collect();
        }
        VCardProperty::Member => {
            entry.name = VCardProperty::Other(extract::X_AB_MEMBER.into());
            entry.params.retain(|p| p.name != VCardParameterName::Value);
        }
        VCardProperty::Email if !entry.params.iter().any(|p| is_type_text(p, "internet")) => {
            entry.params.insert(
                0,
                VCardParameter::new(
                    VCardParameterName::Type,
                    VCardParameterValue::Text("INTERNET".into()),
                ),
            );
        }
        // Prefixes are compared without byte slicing: a stored value such as "12€" has no
        // character boundary at byte 4, and a panic here made the card unservable to every
        // 3.0 client. A value that is not what the conversion expects stays as it is (text).
        VCardProperty::Tel => {
            if let Some(VCardValue::Text(text)) = entry.values.first()
                && let Some(rest) = strip_prefix_ignore_ascii_case(text, "tel:")
                && !rest.is_empty()
            {
                let number = extract::phone_number(&entry).unwrap_or_else(|| rest.to_owned());
                entry.values = vec![VCardValue::Text(number)];
                entry.params.retain(|p| p.name != VCardParameterName::Value);
            }
        }
        VCardProperty::Geo => {
            if let Some(VCardValue::Text(text)) = entry.values.first()
                && let Some(rest) = strip_prefix_ignore_ascii_case(text, "geo:")
                && let Some((lat, lon)) = rest.split(';').next().and_then(|c| c.split_once(','))
            {
                entry.values = vec![VCardValue::Text(format!("{};{}", lat.trim(), lon.trim()))];
            }
        }
        _ => {}
    }
    if is_date_property(&entry.name) {
        add_apple_omit_year(&mut entry);
    }

    if is_media_property(&entry.name) {
        if extract::is_inline(&entry) {
            // 3.0 inline media: ENCODING=b (added by the writer) and TYPE=<token>.
            let token = entry.values.iter().find_map(|v| match v {
                VCardValue::Binary(data) => {
                    data.content_type.as_deref().and_then(token_for_media_type)
                }
                _ => None,
            });
            if let Some(token) = token
                && !entry.params.iter().any(is_media_token_param)
            {
                entry.params.push(VCardParameter::new(
                    VCardParameterName::Type,
                    VCardParameterValue::Text(token),
                ));
            }
            entry
                .params
                .retain(|p| p.name != VCardParameterName::Mediatype);
        } else if !has_value_type(&entry, VCardValueType::Text) {
            // 3.0 PHOTO defaults to binary: a URI must say VALUE=uri.
            let media = entry.params.iter().find_map(|p| match (&p.name, &p.value) {
                (VCardParameterName::Mediatype, VCardParameterValue::Text(m)) => {
                    token_for_media_type(m)
                }
                _ => None,
            });
            entry
                .params
                .retain(|p| p.name != VCardParameterName::Mediatype);
            if let Some(token) = media {
                entry.params.push(VCardParameter::new(
                    VCardParameterName::Type,
                    VCardParameterValue::Text(token),
                ));
            }
            if !has_value_type(&entry, VCardValueType::Uri) {
                entry.params.push(VCardParameter::new(
                    VCardParameterName::Value,
                    VCardParameterValue::ValueType(VCardValueType::Uri),
                ));
            }
        }
    }
    entry
}
