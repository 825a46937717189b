//! The Drop messenger's contact JSON (`{"contacts": [...]}`, the shape of Drop's contact export
//! and sync API) <-> records.
//!
//! Import: `alias` -> FN, `email` -> the primary EMAIL, `phone` -> a mobile TEL,
//! `keys.public_key` (or a top-level `public_key`, as the spec's example writes it) -> KEY,
//! `my_identity` -> X-ROLODEX-IDENTITY, `drop_urls`, `module_data`; `created`/`updated` (seconds,
//! or milliseconds when larger than 10^11, as the spec's own example uses) -> CREATED/REV; `id`
//! -> X-ROLODEX-DROP-ID and, unless the entry carries our `uid` extension, a UID derived from
//! it. An entry whose `deleted` is non-zero is a tombstone. A field of the wrong type makes its
//! entry fail, never the file.
//!
//! Export writes the same shape (timestamps in seconds; the key both as `keys.public_key` and as
//! `public_key`; `uid` as an extension) so a Drop client and this importer both read it.

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::card::{Extra, ExtraKind};
use super::{Entry, FormatError, PatchRecord, Record, derived_uid};
use crate::domain::contact::{ContactFields, ContactPatch, Email, EmailKind, Phone, PhoneKind};

/// vCard property holding a Drop contact's `id`.
pub const X_DROP_ID: &str = "X-ROLODEX-DROP-ID";

/// Timestamps above this are milliseconds (10^11 seconds is the year 5138).
const MILLIS_THRESHOLD: i64 = 100_000_000_000;

/// Every entry of a Drop contacts document. Fails only when the text is not such a document.
pub fn read(text: &str) -> Result<Vec<Entry>, FormatError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let document: Value =
        serde_json::from_str(text).map_err(|e| FormatError::NotJson(e.to_string()))?;
    let contacts = match &document {
        Value::Object(map) => match map.get("contacts") {
            Some(Value::Array(items)) => items,
            _ => return Err(FormatError::NotDropContacts),
        },
        Value::Array(items) => items,
        _ => return Err(FormatError::NotDropContacts),
    };
    Ok(contacts
        .iter()
        .enumerate()
        .map(|(index, value)| {
            let mut repairs = Vec::new();
            let record = contact(value, &mut repairs);
            Entry {
                position: index + 1,
                line: 0,
                record,
                repairs,
            }
        })
        .collect())
}

/// `key` must `expected` (`be a string`), and is `found`.
fn wrong_type(key: &'static str, expected: &'static str, found: &Value) -> FormatError {
    FormatError::WrongType {
        key,
        expected,
        found: found.to_string(),
    }
}

fn string_field(
    object: &Map<String, Value>,
    key: &'static str,
) -> Result<Option<String>, FormatError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
        Some(other) => Err(wrong_type(key, "be a string", other)),
    }
}

/// Seconds or milliseconds since the epoch (a number or numeric string), or RFC 3339 text.
fn timestamp(
    object: &Map<String, Value>,
    key: &'static str,
) -> Result<Option<DateTime<Utc>>, FormatError> {
    let not_a_timestamp = |found: String| FormatError::NotATimestamp { key, found };
    let number = match object.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .ok_or_else(|| not_a_timestamp(n.to_string()))?,
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => match s.trim().parse::<i64>() {
            Ok(n) => n,
            Err(_) => {
                return DateTime::parse_from_rfc3339(s.trim())
                    .map(|t| Some(t.with_timezone(&Utc)))
                    .map_err(|_| not_a_timestamp(format!("{s:?}")));
            }
        },
        Some(other) => return Err(not_a_timestamp(other.to_string())),
    };
    if number == 0 {
        return Ok(None);
    }
    // `unsigned_abs`: `abs` overflows on i64::MIN (a JSON number of -1e307 saturates to it).
    let time = if number.unsigned_abs() > MILLIS_THRESHOLD.unsigned_abs() {
        Utc.timestamp_millis_opt(number).single()
    } else {
        Utc.timestamp_opt(number, 0).single()
    };
    time.map(Some)
        .ok_or(FormatError::TimestampOutOfRange { key, number })
}

fn is_deleted(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !matches!(s.trim(), "" | "0" | "false"),
        Some(_) => true,
    }
}

/// `20150130T081030Z`, as REV/CREATED are written.
pub fn vcard_timestamp(time: DateTime<Utc>) -> String {
    time.format("%Y%m%dT%H%M%SZ").to_string()
}

fn contact(value: &Value, repairs: &mut Vec<String>) -> Result<Record, FormatError> {
    let Value::Object(object) = value else {
        return Err(FormatError::NotAnObject(value.to_string()));
    };
    let id = match object.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.trim().to_owned()),
        Some(other) => return Err(wrong_type("id", "be a number or string", other)),
    };
    let alias = string_field(object, "alias")?;
    let email = string_field(object, "email")?;
    let phone = string_field(object, "phone")?;
    let public_key = match object.get("keys") {
        None | Some(Value::Null) => None,
        Some(Value::Object(keys)) => string_field(keys, "public_key")?,
        Some(other) => return Err(wrong_type("keys", "be an object", other)),
    }
    .map_or_else(|| string_field(object, "public_key"), |k| Ok(Some(k)))?;
    let my_identity = string_field(object, "my_identity")?;
    let drop_urls = match object.get("drop_urls") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.trim().to_owned()),
                    other => Err(wrong_type("drop_urls", "hold strings", other)),
                })
                .filter(|url| url.as_ref().map_or(true, |u| !u.is_empty()))
                .collect::<Result<Vec<String>, FormatError>>()?,
        ),
        Some(other) => return Err(wrong_type("drop_urls", "be an array", other)),
    };
    let module_data = match object.get("module_data") {
        None | Some(Value::Null) => None,
        Some(Value::Object(modules)) => Some(modules.clone()),
        Some(other) => return Err(wrong_type("module_data", "be an object", other)),
    };
    let created = timestamp(object, "created")?;
    let updated = timestamp(object, "updated")?;

    let uid_field = string_field(object, "uid")?;
    // An id this exporter derived from the UID is not a Drop id: exporting again derives it.
    let id = id.filter(|id| {
        uid_field
            .as_deref()
            .is_none_or(|uid| *id != numeric_id(uid).to_string())
    });
    let uid = match (uid_field, &id) {
        (Some(uid), _) => uid,
        (None, Some(id)) => derived_uid(&format!("drop-contact:{id}")),
        (None, None) => {
            let seed = json!([alias, email, phone, public_key, my_identity]).to_string();
            let uid = derived_uid(&format!("drop-contact-content:{seed}"));
            repairs.push(format!(
                "contact has no id: derived UID {uid} from its content"
            ));
            uid
        }
    };
    if is_deleted(object.get("deleted")) {
        return Ok(Record::Tombstone { uid });
    }

    let patch = ContactPatch {
        display_name: alias.map(Some),
        emails: email.map(|address| {
            vec![Email {
                label: None,
                kind: EmailKind::Primary,
                address,
            }]
        }),
        phones: phone.map(|number| {
            vec![Phone {
                label: None,
                kind: PhoneKind::Mobile,
                number,
                normalized: None,
            }]
        }),
        public_key: public_key.map(Some),
        owner_identity: my_identity.map(Some),
        drop_urls,
        module_data,
        ..ContactPatch::default()
    };
    patch.validate()?;
    let mut extras = Vec::new();
    if let Some(id) = id {
        extras.push(Extra::single(X_DROP_ID, id, ExtraKind::Text));
    }
    if let Some(created) = created {
        extras.push(Extra::single(
            "CREATED",
            vcard_timestamp(created),
            ExtraKind::Timestamp,
        ));
    }
    if let Some(updated) = updated {
        extras.push(Extra::single(
            "REV",
            vcard_timestamp(updated),
            ExtraKind::Timestamp,
        ));
    }
    Ok(Record::Patch(Box::new(PatchRecord {
        uid,
        patch,
        extras,
        name_expected: true,
    })))
}

/// One contact to export.
#[derive(Debug, Clone)]
pub struct DropContact<'a> {
    pub uid: &'a str,
    pub fields: &'a ContactFields,
    /// X-ROLODEX-DROP-ID of the card, when it came from Drop.
    pub drop_id: Option<String>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub deleted: Option<DateTime<Utc>>,
}

/// A stable integer id for a card that never had a Drop id (53 bits: exact in JSON numbers).
fn numeric_id(uid: &str) -> i64 {
    let digest = Sha256::digest(uid.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes) & ((1 << 53) - 1)
}

/// A contact as written: fields in the spec's order.
#[derive(Serialize)]
struct Written<'a> {
    id: Value,
    uid: &'a str,
    created: i64,
    updated: i64,
    deleted: i64,
    alias: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    keys: Option<Keys<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    public_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    my_identity: Option<&'a str>,
    drop_urls: &'a [String],
    module_data: &'a Map<String, Value>,
}

#[derive(Serialize)]
struct Keys<'a> {
    public_key: &'a str,
}

#[derive(Serialize)]
struct Document<'a> {
    contacts: Vec<Written<'a>>,
}

fn written<'a>(contact: &'a DropContact<'a>) -> Written<'a> {
    let fields = contact.fields;
    let id = match &contact.drop_id {
        Some(id) => id
            .parse::<i64>()
            .map_or_else(|_| Value::String(id.clone()), Value::from),
        None => Value::from(numeric_id(contact.uid)),
    };
    let email = fields
        .emails
        .iter()
        .find(|e| e.kind == EmailKind::Primary)
        .or_else(|| fields.emails.first());
    let phone = fields
        .phones
        .iter()
        .find(|p| p.kind == PhoneKind::Mobile)
        .or_else(|| fields.phones.first());
    Written {
        id,
        uid: contact.uid,
        created: contact.created.timestamp(),
        updated: contact.updated.timestamp(),
        deleted: contact.deleted.map_or(0, |t| t.timestamp()),
        alias: fields
            .display_name
            .as_deref()
            .or(fields.nickname.as_deref())
            .unwrap_or_default(),
        email: email.map(|e| e.address.as_str()),
        phone: phone.map(|p| p.number.as_str()),
        keys: fields.public_key.as_deref().map(|k| Keys { public_key: k }),
        public_key: fields.public_key.as_deref(),
        my_identity: fields.owner_identity.as_deref(),
        drop_urls: &fields.drop_urls,
        module_data: &fields.module_data,
    }
}

/// The document for `contacts`, pretty-printed, ending with a newline.
pub fn write(contacts: &[DropContact<'_>]) -> String {
    let document = Document {
        contacts: contacts.iter().map(written).collect(),
    };
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}

/// The document [`write`] makes, written a contact at a time (an export streamed a page at a
/// time): the same bytes, as each contact is pretty-printed on its own and indented to its
/// depth in the document (JSON text has no raw line breaks inside strings, so re-indenting by
/// line is exact).
pub struct DropWriter {
    written: usize,
}

impl DropWriter {
    /// Starts the document.
    pub fn start(out: &mut String) -> DropWriter {
        out.push_str("{\n  \"contacts\": [");
        DropWriter { written: 0 }
    }

    /// Appends one contact.
    pub fn contact(&mut self, out: &mut String, contact: &DropContact<'_>) {
        out.push_str(if self.written == 0 { "\n" } else { ",\n" });
        let text = serde_json::to_string_pretty(&written(contact)).unwrap_or_default();
        for (i, line) in text.lines().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str("    ");
            out.push_str(line);
        }
        self.written += 1;
    }

    /// Ends the document, with a newline.
    pub fn finish(self, out: &mut String) {
        out.push_str(if self.written == 0 {
            "]\n}\n"
        } else {
            "\n  ]\n}\n"
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writer_writes_the_same_document_a_contact_at_a_time() {
        let mut fields = ContactFields {
            display_name: Some("Zoë \"Quote\"\nNewline".into()),
            ..ContactFields::default()
        };
        fields.module_data = json!({"person": {"mail": ["a", {"b": []}], "e": {}}})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let other = ContactFields::default();
        let at = DateTime::<Utc>::from_timestamp(1_422_605_430, 0).unwrap();
        let contacts = [
            DropContact {
                uid: "one",
                fields: &fields,
                drop_id: Some("7".into()),
                created: at,
                updated: at,
                deleted: None,
            },
            DropContact {
                uid: "two",
                fields: &other,
                drop_id: None,
                created: at,
                updated: at,
                deleted: Some(at),
            },
        ];
        for n in 0..=contacts.len() {
            let mut out = String::new();
            let mut writer = DropWriter::start(&mut out);
            for contact in &contacts[..n] {
                writer.contact(&mut out, contact);
            }
            writer.finish(&mut out);
            assert_eq!(out, write(&contacts[..n]), "{n} contacts");
        }
    }

    fn patch_of(entry: &Entry) -> &PatchRecord {
        match &entry.record {
            Ok(Record::Patch(p)) => p,
            other => panic!("expected a patch record, got {other:?}"),
        }
    }

    #[test]
    fn reads_the_spec_example_with_milliseconds() {
        let text = r#"{"contacts": [{
            "id": 7, "updated": 1422605430969, "created": 1422605430, "deleted": 0,
            "alias": "Alice", "email": "alice@example.org", "phone": "+49123456789012",
            "public_key": "feffe992", "my_identity": "8520f009",
            "drop_urls": ["example.org/jkl"],
            "module_data": {"person": {"mail_address": "example@example.org"}}
        }, {"id": 8, "deleted": 1422605431}, "nonsense", {"id": 9, "email": 5}]}"#;
        let entries = read(text).unwrap();
        assert_eq!(entries.len(), 4);
        let alice = patch_of(&entries[0]);
        assert_eq!(alice.uid, derived_uid("drop-contact:7"));
        assert_eq!(alice.patch.display_name, Some(Some("Alice".into())));
        assert_eq!(alice.patch.public_key, Some(Some("feffe992".into())));
        assert_eq!(alice.patch.owner_identity, Some(Some("8520f009".into())));
        assert_eq!(alice.patch.drop_urls, Some(vec!["example.org/jkl".into()]));
        assert_eq!(
            alice.patch.module_data.as_ref().unwrap()["person"]["mail_address"],
            "example@example.org"
        );
        let value = |name: &str| {
            alice
                .extras
                .iter()
                .find(|e| e.name == name)
                .map(|e| e.values[0].clone())
        };
        assert_eq!(value("REV").as_deref(), Some("20150130T081030Z"));
        assert_eq!(value("CREATED").as_deref(), Some("20150130T081030Z"));
        assert_eq!(value(X_DROP_ID).as_deref(), Some("7"));
        assert!(matches!(
            &entries[1].record,
            Ok(Record::Tombstone { uid }) if *uid == derived_uid("drop-contact:8")
        ));
        assert!(entries[2].record.is_err());
        assert!(
            entries[3]
                .record
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("email")
        );
        assert!(read("[1, 2").is_err());
        assert!(read("{\"people\": []}").is_err());
    }

    #[test]
    fn keys_object_and_uid_extension() {
        let text =
            r#"{"contacts": [{"uid": "abc", "keys": {"public_key": "k1"}, "public_key": "k2"}]}"#;
        let entries = read(text).unwrap();
        let record = patch_of(&entries[0]);
        assert_eq!(record.uid, "abc");
        assert_eq!(record.patch.public_key, Some(Some("k1".into())));
    }

    #[test]
    fn writes_what_it_reads() {
        let mut fields = ContactFields {
            display_name: Some("Alice".into()),
            public_key: Some("feff".into()),
            owner_identity: Some("8520".into()),
            drop_urls: vec!["example.org/jkl".into()],
            ..ContactFields::default()
        };
        fields.emails.push(Email {
            label: None,
            kind: EmailKind::Primary,
            address: "alice@example.org".into(),
        });
        fields
            .module_data
            .insert("person".into(), json!({"mail_address": "m@example.org"}));
        let time = Utc.timestamp_opt(1_422_605_430, 0).unwrap();
        let text = write(&[DropContact {
            uid: "u-1",
            fields: &fields,
            drop_id: Some("7".into()),
            created: time,
            updated: time,
            deleted: None,
        }]);
        let document: Value = serde_json::from_str(&text).unwrap();
        let alice = &document["contacts"][0];
        assert_eq!(alice["id"], 7);
        assert_eq!(alice["updated"], 1_422_605_430);
        assert_eq!(alice["deleted"], 0);
        assert_eq!(alice["keys"]["public_key"], "feff");
        let entries = read(&text).unwrap();
        let record = patch_of(&entries[0]);
        assert_eq!(record.uid, "u-1");
        assert_eq!(
            record.patch.emails.as_ref().unwrap()[0].address,
            "alice@example.org"
        );
        assert_eq!(record.patch.module_data, Some(fields.module_data.clone()));
    }

    #[test]
    fn timestamps_at_the_edge_of_i64_fail_their_entry_only() {
        // Found by fuzz_drop_contacts_of_any_shape: -1e307 saturates to i64::MIN, whose `abs`
        // overflowed (a panic in debug builds) instead of reporting a bad timestamp.
        let text = r#"{"contacts": [
            {"id": 1, "created": -2.367499366475202e307},
            {"id": 2, "updated": "-9223372036854775808"},
            {"id": 3, "created": -9223372036854775808},
            {"id": 4, "alias": "Fine"}
        ]}"#;
        let entries = read(text).unwrap();
        assert_eq!(entries.len(), 4);
        for entry in &entries[..3] {
            let error = entry.record.as_ref().unwrap_err().to_string();
            assert!(error.contains("out of range"), "{error}");
        }
        assert!(entries[3].record.is_ok());
    }
}
