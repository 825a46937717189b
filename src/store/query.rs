//! Contact queries for the API front end: typed filters, orderings and free-text search over
//! the projection (never over vCard text), windows and counts. Phone.com's lookup object is in
//! `lookup`, on the same filters.
//!
//! Search folds case and accents the same way the projection does, so "jose" finds "José"; a
//! query that is a phone number in any format ("+1 (999) 999-9999", "9999999999") matches the
//! digits as entered or the E.164 form.

use chrono::{DateTime, Utc};
use diesel::dsl::exists;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::reads::hydrate;
use super::{ContactRecord, Principal, Store, StoreResult};
use crate::db::models::ContactRow;
use crate::db::schema::{address_books, contact_emails, contact_phones, contacts, group_members};
use crate::domain::contact::CardKind;
use crate::domain::{phone, text};

/// What to order contacts by; ties are broken by id so pages are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContactOrderField {
    /// Last, first, middle name (or display name / company when there is none), folded.
    #[default]
    Name,
    FirstName,
    LastName,
    CreatedAt,
    UpdatedAt,
    LastActiveAt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ContactOrder {
    pub field: ContactOrderField,
    pub descending: bool,
}

/// Which contacts a query returns. Every condition given must hold.
#[derive(Debug, Clone, Default)]
pub struct ContactFilter {
    pub address_book_ids: Option<Vec<i64>>,
    /// Members of this group card.
    pub group_id: Option<i64>,
    pub category: Option<String>,
    /// Individuals only unless asked otherwise.
    pub kind: Option<CardKind>,
    pub has_email: Option<bool>,
    pub has_phone: Option<bool>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    pub updated_after: Option<DateTime<Utc>>,
    pub updated_before: Option<DateTime<Utc>>,
    pub last_active_after: Option<DateTime<Utc>>,
    pub last_active_before: Option<DateTime<Utc>>,
    pub include_deleted: bool,
    /// Free text: any part of a name, nickname, company, username, email, or a phone number.
    pub search: Option<String>,
}

pub(super) type BoxedContacts<'a> = contacts::BoxedQuery<'a, Pg>;

/// Escapes LIKE wildcards so user text matches literally.
pub(super) fn like_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub(super) fn contains_pattern(value: &str) -> String {
    format!("%{}%", like_literal(value))
}

/// The principal's live (or all) contacts matching `filter`, without ordering or paging.
pub(super) fn filtered<'a>(
    principal: &Principal,
    filter: &ContactFilter,
    group: Option<(i64, Vec<String>)>,
) -> BoxedContacts<'a> {
    let owned_books = address_books::table
        .filter(address_books::user_id.eq(principal.user_id))
        .select(address_books::id);
    let mut query = contacts::table
        .filter(contacts::address_book_id.eq_any(owned_books))
        .into_boxed();
    if let Some(books) = &filter.address_book_ids {
        query = query.filter(contacts::address_book_id.eq_any(books.clone()));
    }
    if let Some((book, member_uids)) = group {
        query = query
            .filter(contacts::address_book_id.eq(book))
            .filter(contacts::uid.eq_any(member_uids));
    }
    query = query.filter(contacts::kind.eq(filter.kind.unwrap_or_default()));
    if !filter.include_deleted {
        query = query.filter(contacts::deleted_at.is_null());
    }
    if let Some(category) = &filter.category {
        query = query.filter(contacts::categories.contains(vec![category.clone()]));
    }
    let has_email =
        exists(contact_emails::table.filter(contact_emails::contact_id.eq(contacts::id)));
    match filter.has_email {
        Some(true) => query = query.filter(has_email),
        Some(false) => query = query.filter(diesel::dsl::not(has_email)),
        None => {}
    }
    let has_phone =
        exists(contact_phones::table.filter(contact_phones::contact_id.eq(contacts::id)));
    match filter.has_phone {
        Some(true) => query = query.filter(has_phone),
        Some(false) => query = query.filter(diesel::dsl::not(has_phone)),
        None => {}
    }
    if let Some(t) = filter.created_after {
        query = query.filter(contacts::created_at.ge(t));
    }
    if let Some(t) = filter.created_before {
        query = query.filter(contacts::created_at.lt(t));
    }
    if let Some(t) = filter.updated_after {
        query = query.filter(contacts::updated_at.ge(t));
    }
    if let Some(t) = filter.updated_before {
        query = query.filter(contacts::updated_at.lt(t));
    }
    if let Some(t) = filter.last_active_after {
        query = query.filter(contacts::last_active_at.ge(t));
    }
    if let Some(t) = filter.last_active_before {
        query = query.filter(contacts::last_active_at.lt(t));
    }
    if let Some(search) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        query = apply_search(query, search);
    }
    query
}

// A second name for `contacts`, for the phone search subquery over the same table.
diesel::alias!(contacts as search_matched: SearchMatched);

/// The words a free-text search looks for: the text folded like the projection (case,
/// accents), split at white space, in order and with repeats. The API front end counts these
/// against its limits before searching.
pub fn search_words(search: &str) -> Vec<String> {
    text::fold(search)
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

fn apply_search<'a>(query: BoxedContacts<'a>, search: &str) -> BoxedContacts<'a> {
    // Each condition is `id IN (a UNION b ...)` rather than `a OR EXISTS (b)`: every branch
    // of the union can use its own trigram index, where an OR across tables makes PostgreSQL
    // test every one of the user's contacts in turn.
    let digits = phone::digits(search);
    let looks_like_phone = digits.len() >= 3 && !search.chars().any(char::is_alphabetic);
    if looks_like_phone {
        let pattern = contains_pattern(&digits);
        let by_digits = contact_phones::table
            .filter(contact_phones::digits.like(pattern.clone()))
            .select(contact_phones::contact_id);
        let by_normalized = contact_phones::table
            .filter(contact_phones::normalized.like(pattern.clone()))
            .select(contact_phones::contact_id);
        return query.filter(
            contacts::id.eq_any(
                by_digits.union(by_normalized).union(
                    search_matched
                        .filter(search_matched.field(contacts::search_text).like(pattern))
                        .select(search_matched.field(contacts::id)),
                ),
            ),
        );
    }
    // Every word must appear somewhere: in the folded names/company/username or in an email.
    let mut patterns: Vec<(String, usize)> = Vec::new();
    for word in search_words(search) {
        let pattern = contains_pattern(&word);
        if !patterns.iter().any(|(p, _)| *p == pattern) {
            patterns.push((pattern, longest_alphanumeric_run(&word)));
        }
    }
    // The longest word the trigram indexes can look up finds the candidates; the others are
    // checked on those candidates only.
    let lead = patterns
        .iter()
        .enumerate()
        .filter(|(_, (_, run))| *run >= 3)
        .max_by_key(|(i, (_, run))| (*run, std::cmp::Reverse(*i)))
        .map(|(i, _)| i);
    let lead = lead.map(|i| patterns.remove(i).0);
    let rest: Vec<String> = patterns.into_iter().map(|(p, _)| p).collect();
    if lead.is_none() && rest.is_empty() {
        return query;
    }
    query.filter(MatchesEveryWord { lead, rest })
}

/// pg_trgm looks a LIKE pattern up by the trigrams of its runs of letters and digits: a word
/// without a run of three cannot use the index (the scan would return every row).
fn longest_alphanumeric_run(word: &str) -> usize {
    word.split(|c: char| !c.is_alphanumeric())
        .map(|run| run.chars().count())
        .max()
        .unwrap_or(0)
}

/// The contacts in whose folded search text or email addresses every search pattern occurs.
///
/// `lead` (the pattern the trigram indexes can narrow best, when there is one) finds the
/// candidates: `contacts.id IN (...)`, run as bitmap index scans on `contacts.search_text` and
/// `contact_emails.address_folded`. The `rest` are then checked on those candidates alone
/// (`NOT EXISTS` a pattern the contact lacks): words too short for the index, or further words
/// whose matches across every book would be large to intersect. With no indexable word the
/// check walks the principal's contacts in page order and stops at the page.
///
/// The patterns travel as array parameters, so the SQL text is one of three whatever the
/// words: few prepared statements, and building the query does not nest deeper with each
/// word (a boxed `.filter()` per word did, and enough words overflowed the stack).
#[derive(Debug, Clone, diesel::query_builder::QueryId)]
struct MatchesEveryWord {
    lead: Option<String>,
    rest: Vec<String>,
}

impl diesel::expression::Expression for MatchesEveryWord {
    type SqlType = diesel::sql_types::Bool;
}

impl diesel::expression::AppearsOnTable<contacts::table> for MatchesEveryWord {}

impl diesel::expression::ValidGrouping<()> for MatchesEveryWord {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl diesel::query_builder::QueryFragment<Pg> for MatchesEveryWord {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Array, Text};
        out.push_sql("(");
        if let Some(lead) = &self.lead {
            // Joined against a one-element `unnest` rather than compared with a plain
            // parameter: the planner then drives the page from the (few) matches by primary
            // key, where with a plain parameter it tended to scan the whole book.
            out.push_sql(
                "\"contacts\".\"id\" IN (\
                 SELECT c.id FROM unnest(ARRAY[",
            );
            out.push_bind_param::<Text, _>(lead)?;
            out.push_sql(
                "]) AS w(pattern) JOIN contacts AS c ON c.search_text LIKE w.pattern \
                 UNION SELECT e.contact_id FROM unnest(ARRAY[",
            );
            out.push_bind_param::<Text, _>(lead)?;
            out.push_sql(
                "]) AS w(pattern) JOIN contact_emails AS e ON e.address_folded LIKE w.pattern)",
            );
        }
        if !self.rest.is_empty() {
            if self.lead.is_some() {
                out.push_sql(" AND ");
            }
            out.push_sql("NOT EXISTS (SELECT 1 FROM unnest(");
            out.push_bind_param::<Array<Text>, _>(&self.rest)?;
            out.push_sql(
                "::text[]) AS s(pattern) WHERE NOT (\"contacts\".\"search_text\" LIKE s.pattern \
                 OR EXISTS (SELECT 1 FROM contact_emails AS e \
                 WHERE e.contact_id = \"contacts\".\"id\" AND e.address_folded LIKE s.pattern)))",
            );
        }
        out.push_sql(")");
        Ok(())
    }
}

pub(super) fn ordered(query: BoxedContacts<'_>, order: ContactOrder) -> BoxedContacts<'_> {
    use ContactOrderField::*;
    let query = match (order.field, order.descending) {
        (Name, false) => query.order(contacts::sort_name.asc()),
        (Name, true) => query.order(contacts::sort_name.desc()),
        (FirstName, false) => query.order(contacts::first_name.asc().nulls_last()),
        (FirstName, true) => query.order(contacts::first_name.desc().nulls_last()),
        (LastName, false) => query.order(contacts::last_name.asc().nulls_last()),
        (LastName, true) => query.order(contacts::last_name.desc().nulls_last()),
        (CreatedAt, false) => query.order(contacts::created_at.asc()),
        (CreatedAt, true) => query.order(contacts::created_at.desc()),
        (UpdatedAt, false) => query.order(contacts::updated_at.asc()),
        (UpdatedAt, true) => query.order(contacts::updated_at.desc()),
        (LastActiveAt, false) => query.order(contacts::last_active_at.asc().nulls_last()),
        (LastActiveAt, true) => query.order(contacts::last_active_at.desc().nulls_last()),
    };
    if order.descending {
        query.then_order_by(contacts::id.desc())
    } else {
        query.then_order_by(contacts::id.asc())
    }
}

/// A window of contacts and whether more follow it.
#[derive(Debug, Default)]
pub struct ContactWindow {
    pub records: Vec<ContactRecord>,
    pub more_after: bool,
}

/// What a filter reaches beyond its own conditions.
struct Scope {
    group: Option<(i64, Vec<String>)>,
    /// The one book all matches are in, when there is exactly one (most users have one).
    only_book: Option<i64>,
}

impl Scope {
    fn query<'a>(&self, principal: &Principal, filter: &ContactFilter) -> BoxedContacts<'a> {
        let query = filtered(principal, filter, self.group.clone());
        // Saying `address_book_id = <id>` lets the planner walk the (book, kind, name) index
        // in order and stop at the page, where "any of the user's books" sorts every match.
        match self.only_book {
            Some(book) => query.filter(contacts::address_book_id.eq(book)),
            None => query,
        }
    }
}

/// The principal's contacts matching one filter, with the filter's reach (its group's members,
/// the books in scope) resolved once: a page and its count share that work.
pub struct MatchingContacts<'a> {
    store: &'a Store,
    principal: &'a Principal,
    filter: &'a ContactFilter,
    scope: Scope,
}

impl MatchingContacts<'_> {
    /// A window (`offset`, `limit`) of the matches in `order`. Costs a fixed number of queries
    /// whatever the window size; counts nothing: one extra row says whether more follow.
    pub async fn window(
        &self,
        order: ContactOrder,
        offset: i64,
        limit: i64,
    ) -> StoreResult<ContactWindow> {
        // Even an empty window (`first: 0`) reads one row, to say whether any follow.
        let limit = limit.clamp(0, super::reads::MAX_PAGE_SIZE);
        let mut conn = self.store.conn().await?;
        let mut rows: Vec<ContactRow> =
            ordered(self.scope.query(self.principal, self.filter), order)
                .offset(offset.max(0))
                .limit(limit + 1)
                .select(ContactRow::as_select())
                .load(&mut conn)
                .await?;
        let more_after = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        Ok(ContactWindow {
            records: hydrate(&mut conn, rows).await?,
            more_after,
        })
    }

    /// How many contacts match.
    pub async fn count(&self) -> StoreResult<i64> {
        let mut conn = self.store.conn().await?;
        Ok(self
            .scope
            .query(self.principal, self.filter)
            .count()
            .get_result(&mut conn)
            .await?)
    }
}

impl Store {
    /// The principal's contacts matching `filter`, to page through or count.
    pub async fn contacts_matching<'a>(
        &'a self,
        principal: &'a Principal,
        filter: &'a ContactFilter,
    ) -> StoreResult<MatchingContacts<'a>> {
        Ok(MatchingContacts {
            store: self,
            principal,
            filter,
            scope: self.scope(principal, filter).await?,
        })
    }

    /// One window of the principal's contacts matching `filter` (see
    /// [`MatchingContacts::window`]).
    pub async fn query_contacts(
        &self,
        principal: &Principal,
        filter: &ContactFilter,
        order: ContactOrder,
        offset: i64,
        limit: i64,
    ) -> StoreResult<ContactWindow> {
        self.contacts_matching(principal, filter)
            .await?
            .window(order, offset, limit)
            .await
    }

    /// The books and group members a filter reaches.
    async fn scope(&self, principal: &Principal, filter: &ContactFilter) -> StoreResult<Scope> {
        let group = match filter.group_id {
            Some(group_id) => Some(self.group_member_uids(principal, group_id).await?),
            None => None,
        };
        let mut conn = self.conn().await?;
        let books: Vec<i64> = address_books::table
            .filter(address_books::user_id.eq(principal.user_id))
            .select(address_books::id)
            .load(&mut conn)
            .await?;
        let only_book = match books
            .into_iter()
            .filter(|id| {
                filter
                    .address_book_ids
                    .as_ref()
                    .is_none_or(|ids| ids.contains(id))
            })
            .collect::<Vec<_>>()
            .as_slice()
        {
            [only] if group.is_none() => Some(*only),
            _ => None,
        };
        Ok(Scope { group, only_book })
    }

    /// The book and member UIDs of one of the principal's group cards.
    async fn group_member_uids(
        &self,
        principal: &Principal,
        group_id: i64,
    ) -> StoreResult<(i64, Vec<String>)> {
        let mut conn = self.conn().await?;
        let book: i64 = contacts::table
            .filter(contacts::id.eq(group_id))
            .filter(contacts::kind.eq(CardKind::Group))
            .filter(contacts::deleted_at.is_null())
            .filter(
                contacts::address_book_id.eq_any(
                    address_books::table
                        .filter(address_books::user_id.eq(principal.user_id))
                        .select(address_books::id),
                ),
            )
            .select(contacts::address_book_id)
            .first(&mut conn)
            .await?;
        let uids: Vec<String> = group_members::table
            .filter(group_members::group_id.eq(group_id))
            .select(group_members::member_uid)
            .load(&mut conn)
            .await?;
        Ok((book, uids))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql_of(search: &str) -> String {
        let principal = Principal {
            user_id: 1,
            user_name: "u".into(),
        };
        let filter = ContactFilter {
            search: Some(search.to_owned()),
            ..ContactFilter::default()
        };
        let query = filtered(&principal, &filter, None);
        let text = diesel::debug_query::<Pg, _>(&query).to_string();
        text.split("-- binds").next().unwrap().to_owned()
    }

    #[test]
    fn search_sql_is_one_of_three_texts_whatever_the_words() {
        // Few statements in the prepared-statement cache, and no nesting that grows with the
        // words.
        let lead_and_rest = sql_of("anna maria");
        assert_eq!(lead_and_rest, sql_of("anna maria smith jo"));
        assert_eq!(lead_and_rest, sql_of(&"abc ab ".repeat(4_000)));
        let lead_only = sql_of("anna");
        assert_eq!(lead_only, sql_of("anna anna ANNA"));
        let rest_only = sql_of("ab");
        assert_eq!(rest_only, sql_of(&"ab a ".repeat(4_000)));
        assert_ne!(lead_and_rest, lead_only);
        assert_ne!(lead_and_rest, rest_only);
        assert!(lead_and_rest.contains("unnest("), "{lead_and_rest}");
    }

    #[test]
    fn the_longest_indexable_word_leads() {
        assert_eq!(longest_alphanumeric_run("o'brien"), 5);
        assert_eq!(longest_alphanumeric_run("a.b"), 1);
        assert_eq!(longest_alphanumeric_run("иван"), 4);
        assert_eq!(longest_alphanumeric_run(""), 0);
    }

    #[test]
    fn search_words_fold_and_keep_repeats() {
        assert_eq!(search_words("  José  MÜLLER "), ["jose", "muller"]);
        assert_eq!(search_words("ab ab").len(), 2);
        assert!(search_words("   ").is_empty());
    }
}
