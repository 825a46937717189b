//! Card reads shaped for CardDAV: the metadata a PROPFIND or sync-collection lists (href, ETag,
//! size, dates) without the card text or child rows, and the stored text by href for GET and
//! multiget. One query per call whatever the number of cards; nothing here parses a vCard.

use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel_async::RunQueryDsl;

use super::query::contains_pattern;
use super::{Principal, Store, StoreResult};
use crate::db::schema::{address_books, contacts};
use crate::domain::vcard::CardVersion;

/// What a listing needs to know about one live card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardMeta {
    pub id: i64,
    /// Resource name inside the address book (decoded).
    pub href: String,
    /// Unquoted strong ETag.
    pub etag: String,
    /// Octets of the stored card text.
    pub size: i64,
    /// Address-book revision of the card's last change.
    pub revision: i64,
    pub updated_at: DateTime<Utc>,
}

/// A live card's metadata and its stored text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardBody {
    pub meta: CardMeta,
    pub vcard: String,
    /// The version `vcard` is written in.
    pub vcard_version: CardVersion,
}

type MetaTuple = (i64, String, String, i32, i64, DateTime<Utc>);
/// Metadata, then a text (`String`, or `Option<String>` where it may be left out) and its
/// version.
type CardTuple<T> = (i64, String, String, i32, i64, DateTime<Utc>, T, CardVersion);
type BodyTuple = CardTuple<String>;

fn meta((id, href, etag, size, revision, updated_at): MetaTuple) -> CardMeta {
    CardMeta {
        id,
        href,
        etag,
        size: i64::from(size),
        revision,
        updated_at,
    }
}

fn body(row: BodyTuple) -> CardBody {
    let (id, href, etag, size, revision, updated_at, vcard, vcard_version) = row;
    CardBody {
        meta: meta((id, href, etag, size, revision, updated_at)),
        vcard,
        vcard_version,
    }
}

/// `octet_length` of a text is read from its header, without de-toasting the value.
const SIZE_SQL: &str = "octet_length(contacts.vcard)";

/// The live cards of one of the principal's address books, ordered by name; only those at
/// `hrefs` when given. Both listing queries (metadata, bodies) select from this one scope.
fn live_cards<'a>(
    principal: &Principal,
    address_book_id: i64,
    hrefs: Option<&'a [String]>,
) -> diesel::dsl::IntoBoxed<'a, diesel::dsl::InnerJoin<contacts::table, address_books::table>, Pg> {
    let mut query = contacts::table
        .inner_join(address_books::table)
        .filter(address_books::user_id.eq(principal.user_id))
        .filter(contacts::address_book_id.eq(address_book_id))
        .filter(contacts::deleted_at.is_null())
        .order((contacts::sort_name, contacts::id))
        .into_boxed();
    if let Some(hrefs) = hrefs {
        query = query.filter(contacts::href.eq_any(hrefs));
    }
    query
}

/// Which cards may satisfy a CardDAV text-match, as needles to look up in `match_text` (already
/// folded with [`crate::domain::text::casemap`]): a card is a candidate when, for at least one
/// group, every needle of the group occurs in its match text. Candidates still get the exact
/// match; this only spares parsing the cards that cannot match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextCandidates {
    pub any_of: Vec<Vec<String>>,
}

/// `match_text LIKE` conditions for [`TextCandidates`], written out flat (`(a AND b) OR (c)`)
/// by one loop: no nesting of boxed expressions per needle, whose depth (and the stack the
/// query builder needs) would grow with the filter. Its text varies with the filter's shape,
/// so it is marked unsafe to cache: hostile shapes cannot pile up prepared statements.
#[derive(Debug, Clone)]
struct MatchTextCandidates {
    /// LIKE patterns, one group per alternative.
    patterns: Vec<Vec<String>>,
}

impl diesel::expression::Expression for MatchTextCandidates {
    type SqlType = diesel::sql_types::Bool;
}

impl<QS> diesel::expression::AppearsOnTable<QS> for MatchTextCandidates {}

impl diesel::expression::ValidGrouping<()> for MatchTextCandidates {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl diesel::query_builder::QueryId for MatchTextCandidates {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::QueryFragment<Pg> for MatchTextCandidates {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, Pg>,
    ) -> QueryResult<()> {
        out.unsafe_to_cache_prepared();
        out.push_sql("(");
        for (i, group) in self.patterns.iter().enumerate() {
            out.push_sql(if i == 0 { "(" } else { " OR (" });
            for (j, pattern) in group.iter().enumerate() {
                if j > 0 {
                    out.push_sql(" AND ");
                }
                out.push_sql("contacts.match_text LIKE ");
                out.push_bind_param::<diesel::sql_types::Text, _>(pattern)?;
            }
            out.push_sql(")");
        }
        out.push_sql(")");
        Ok(())
    }
}

impl Store {
    /// Like [`Store::card_metas`], but only the cards whose match text contains the needles
    /// (one query, served by the trigram index on `match_text`). `None` when the candidates
    /// do not narrow anything (a group without needles admits every card).
    pub async fn card_metas_matching(
        &self,
        principal: &Principal,
        address_book_id: i64,
        candidates: &TextCandidates,
    ) -> StoreResult<Option<Vec<CardMeta>>> {
        if candidates.any_of.iter().any(Vec::is_empty) {
            return Ok(None);
        }
        if candidates.any_of.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let condition = MatchTextCandidates {
            patterns: candidates
                .any_of
                .iter()
                .map(|group| group.iter().map(|n| contains_pattern(n)).collect())
                .collect(),
        };
        let mut conn = self.conn().await?;
        let rows: Vec<MetaTuple> = live_cards(principal, address_book_id, None)
            .filter(condition)
            .select((
                contacts::id,
                contacts::href,
                contacts::etag,
                sql::<Integer>(SIZE_SQL),
                contacts::revision,
                contacts::updated_at,
            ))
            .load(&mut conn)
            .await?;
        Ok(Some(rows.into_iter().map(meta).collect()))
    }

    /// Metadata and stored text of the principal's live cards with these ids in one book, in
    /// no particular order (a slice of a listing; the caller orders it).
    pub async fn card_bodies_by_id(
        &self,
        principal: &Principal,
        address_book_id: i64,
        ids: &[i64],
    ) -> StoreResult<Vec<CardBody>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn().await?;
        let rows: Vec<BodyTuple> = live_cards(principal, address_book_id, None)
            .filter(contacts::id.eq_any(ids))
            .select((
                contacts::id,
                contacts::href,
                contacts::etag,
                sql::<Integer>(SIZE_SQL),
                contacts::revision,
                contacts::updated_at,
                contacts::vcard,
                contacts::vcard_version,
            ))
            .load(&mut conn)
            .await?;
        Ok(rows.into_iter().map(body).collect())
    }

    /// Metadata of the live cards of one of the principal's address books, ordered by name;
    /// only those at `hrefs` when given.
    pub async fn card_metas(
        &self,
        principal: &Principal,
        address_book_id: i64,
        hrefs: Option<&[String]>,
    ) -> StoreResult<Vec<CardMeta>> {
        if hrefs.is_some_and(<[String]>::is_empty) {
            return Ok(Vec::new());
        }
        let mut conn = self.conn().await?;
        let rows: Vec<MetaTuple> = live_cards(principal, address_book_id, hrefs)
            .select((
                contacts::id,
                contacts::href,
                contacts::etag,
                sql::<Integer>(SIZE_SQL),
                contacts::revision,
                contacts::updated_at,
            ))
            .load(&mut conn)
            .await?;
        Ok(rows.into_iter().map(meta).collect())
    }

    /// Metadata of the principal's live cards at `hrefs` in one book (a multiget), with the
    /// stored texts of as many as fit in `text_budget` octets (in href order): one query
    /// answers a usual multiget whole, and what it holds stays bounded whatever the cards'
    /// sizes. A listing reads the texts left out a slice at a time, as for any other card.
    pub async fn card_metas_with_texts(
        &self,
        principal: &Principal,
        address_book_id: i64,
        hrefs: &[String],
        text_budget: i64,
    ) -> StoreResult<(Vec<CardMeta>, Vec<CardBody>)> {
        if hrefs.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let mut conn = self.conn().await?;
        let rows: Vec<CardTuple<Option<String>>> =
            live_cards(principal, address_book_id, Some(hrefs))
                .select((
                    contacts::id,
                    contacts::href,
                    contacts::etag,
                    sql::<Integer>(SIZE_SQL),
                    contacts::revision,
                    contacts::updated_at,
                    // `octet_length` reads sizes from the texts' headers, so only the texts
                    // within the budget are read (and de-toasted) at all.
                    sql::<Nullable<Text>>(
                        "CASE WHEN sum(octet_length(contacts.vcard)) \
                     OVER (ORDER BY contacts.href, contacts.id) <= ",
                    )
                    .bind::<BigInt, _>(text_budget)
                    .sql(" THEN contacts.vcard END"),
                    contacts::vcard_version,
                ))
                .load(&mut conn)
                .await?;
        let mut metas = Vec::with_capacity(rows.len());
        let mut bodies = Vec::new();
        for (id, href, etag, size, revision, updated_at, vcard, vcard_version) in rows {
            let meta = meta((id, href, etag, size, revision, updated_at));
            if let Some(vcard) = vcard {
                bodies.push(CardBody {
                    meta: meta.clone(),
                    vcard,
                    vcard_version,
                });
            }
            metas.push(meta);
        }
        Ok((metas, bodies))
    }

    /// Metadata and stored text of live cards of one of the principal's address books,
    /// ordered by name; only those at `hrefs` when given.
    pub async fn card_bodies(
        &self,
        principal: &Principal,
        address_book_id: i64,
        hrefs: Option<&[String]>,
    ) -> StoreResult<Vec<CardBody>> {
        if hrefs.is_some_and(<[String]>::is_empty) {
            return Ok(Vec::new());
        }
        let mut conn = self.conn().await?;
        let rows: Vec<BodyTuple> = live_cards(principal, address_book_id, hrefs)
            .select((
                contacts::id,
                contacts::href,
                contacts::etag,
                sql::<Integer>(SIZE_SQL),
                contacts::revision,
                contacts::updated_at,
                contacts::vcard,
                contacts::vcard_version,
            ))
            .load(&mut conn)
            .await?;
        Ok(rows.into_iter().map(body).collect())
    }

    /// One live card by address-book slug and resource name, in a single query (CardDAV GET).
    pub async fn card_body_at(
        &self,
        principal: &Principal,
        book_slug: &str,
        href: &str,
    ) -> StoreResult<CardBody> {
        let mut conn = self.conn().await?;
        let row: BodyTuple = contacts::table
            .inner_join(address_books::table)
            .filter(address_books::user_id.eq(principal.user_id))
            .filter(address_books::slug.eq(book_slug))
            .filter(contacts::href.eq(href))
            .filter(contacts::deleted_at.is_null())
            .select((
                contacts::id,
                contacts::href,
                contacts::etag,
                sql::<Integer>(SIZE_SQL),
                contacts::revision,
                contacts::updated_at,
                contacts::vcard,
                contacts::vcard_version,
            ))
            .first(&mut conn)
            .await?;
        Ok(body(row))
    }
}
