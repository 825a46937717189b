//! Column types of the domain's enums: how each is stored and read back. Every enum column of
//! the schema is declared here once, as a table of (variant, stored value), and nowhere else
//! spells the stored values.
//!
//! The kinds are `TEXT` columns with a `CHECK (kind IN (...))` since migration 000002, so the
//! stored words stay what they always were and no migration rewrites a row. The vCard version
//! is a `SMALLINT` (21, 30, 40), checked since migration 000013. A stored value outside the
//! table (a row written by a newer version, or edited by hand) fails the read with
//! [`UnknownStoredValue`], a deserialization error naming the column type and the value:
//! never a panic, and never a silent default that a later write would store back.
//!
//! The types live in `domain` (which knows nothing of diesel); the diesel traits are implemented
//! here, on proxies marked `foreign_derive`, so the domain stays free of the database.

use std::io::Write;

use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{SmallInt, Text};

use crate::domain::change::ChangeOp;
use crate::domain::contact::{AddressKind, CardKind, EmailKind, PhoneKind};
use crate::domain::principal::CredentialKind;
use crate::domain::vcard::CardVersion;

/// A stored value that names no variant of the column's type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored {column_type} value {value:?} is not one this version knows")]
pub struct UnknownStoredValue {
    /// The Rust type the column holds (`EmailKind`, `CardVersion`, ...).
    pub column_type: &'static str,
    /// The stored value, as text.
    pub value: String,
}

/// An enum stored as one word of a checked `TEXT` column.
pub trait StoredWord: Sized + Copy + 'static {
    /// Every variant with its stored word, in declaration order.
    const WORDS: &'static [(Self, &'static str)];

    /// The word stored for this value.
    fn stored_word(self) -> &'static str;

    /// The value a stored word names.
    fn from_stored_word(word: &str) -> Result<Self, UnknownStoredValue>;
}

/// Declares a text-stored enum: its word table, the diesel traits, and the proxy that gives the
/// type `AsExpression<Text>` (also for `Nullable<Text>` and references) and `Queryable`.
macro_rules! stored_words {
    ($ty:ident via $proxy:ident { $($variant:ident => $word:literal),+ $(,)? }) => {
        impl StoredWord for $ty {
            const WORDS: &'static [(Self, &'static str)] = &[$(($ty::$variant, $word)),+];

            fn stored_word(self) -> &'static str {
                match self {
                    $($ty::$variant => $word,)+
                }
            }

            fn from_stored_word(word: &str) -> Result<Self, UnknownStoredValue> {
                match word {
                    $($word => Ok($ty::$variant),)+
                    other => Err(UnknownStoredValue {
                        column_type: stringify!($ty),
                        value: other.to_owned(),
                    }),
                }
            }
        }

        #[derive(AsExpression, FromSqlRow)]
        #[diesel(foreign_derive, sql_type = Text)]
        #[allow(dead_code)]
        struct $proxy($ty);

        impl ToSql<Text, Pg> for $ty {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                out.write_all(self.stored_word().as_bytes())?;
                Ok(IsNull::No)
            }
        }

        impl FromSql<Text, Pg> for $ty {
            fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
                let word = std::str::from_utf8(value.as_bytes())?;
                Ok(<$ty as StoredWord>::from_stored_word(word)?)
            }
        }
    };
}

stored_words!(CardKind via CardKindColumn {
    Individual => "individual",
    Group => "group",
});

stored_words!(EmailKind via EmailKindColumn {
    Primary => "primary",
    Alternate => "alternate",
});

stored_words!(PhoneKind via PhoneKindColumn {
    Home => "home",
    Business => "business",
    Mobile => "mobile",
    Fax => "fax",
    Pager => "pager",
    Other => "other",
});

stored_words!(AddressKind via AddressKindColumn {
    Home => "home",
    Business => "business",
    Other => "other",
});

stored_words!(CredentialKind via CredentialKindColumn {
    Token => "token",
    AppPassword => "app_password",
});

stored_words!(ChangeOp via ChangeOpColumn {
    Put => "put",
    Delete => "delete",
});

/// `contacts.vcard_version`: the version's number without its dot (2.1 -> 21), a `SMALLINT`.
pub fn card_version_code(version: CardVersion) -> i16 {
    match version {
        CardVersion::V2_1 => 21,
        CardVersion::V3 => 30,
        CardVersion::V4 => 40,
    }
}

/// The version a stored `contacts.vcard_version` code names.
pub fn card_version_from_code(code: i16) -> Result<CardVersion, UnknownStoredValue> {
    match code {
        21 => Ok(CardVersion::V2_1),
        30 => Ok(CardVersion::V3),
        40 => Ok(CardVersion::V4),
        other => Err(UnknownStoredValue {
            column_type: "CardVersion",
            value: other.to_string(),
        }),
    }
}

#[derive(AsExpression, FromSqlRow)]
#[diesel(foreign_derive, sql_type = SmallInt)]
#[allow(dead_code)]
struct CardVersionColumn(CardVersion);

impl ToSql<SmallInt, Pg> for CardVersion {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        // PostgreSQL's binary int2: two bytes, network order.
        out.write_all(&card_version_code(*self).to_be_bytes())?;
        Ok(IsNull::No)
    }
}

impl FromSql<SmallInt, Pg> for CardVersion {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        let code = <i16 as FromSql<SmallInt, Pg>>::from_sql(value)?;
        Ok(card_version_from_code(code)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<T: StoredWord + PartialEq + std::fmt::Debug>() {
        for (value, word) in T::WORDS {
            assert_eq!(value.stored_word(), *word);
            assert_eq!(T::from_stored_word(word), Ok(*value));
        }
    }

    #[test]
    fn every_stored_word_reads_back_as_its_variant() {
        round_trips::<CardKind>();
        round_trips::<EmailKind>();
        round_trips::<PhoneKind>();
        round_trips::<AddressKind>();
        round_trips::<CredentialKind>();
        round_trips::<ChangeOp>();
    }

    #[test]
    fn an_unknown_stored_value_is_a_typed_error() {
        let error = EmailKind::from_stored_word("Primary").unwrap_err();
        assert_eq!(
            error,
            UnknownStoredValue {
                column_type: "EmailKind",
                value: "Primary".into()
            }
        );
        assert_eq!(
            card_version_from_code(22).unwrap_err().to_string(),
            "stored CardVersion value \"22\" is not one this version knows"
        );
        for version in [CardVersion::V2_1, CardVersion::V3, CardVersion::V4] {
            assert_eq!(
                card_version_from_code(card_version_code(version)),
                Ok(version)
            );
        }
    }
}
