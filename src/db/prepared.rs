//! Hand-written SQL that PostgreSQL parses and plans once per connection.
//!
//! `diesel::sql_query` marks every statement "unsafe to cache", so a raw statement on a hot
//! path (the write path's card lock, its revision commit, the child rows) is parsed, analysed
//! and planned again on every call: about a third of the database's CPU per PUT when measured.
//! A [`Prepared`] statement has fixed text, so diesel keeps it in the connection's statement
//! cache, keyed by that text, and PostgreSQL reuses the plan.
//!
//! The text uses PostgreSQL's `$n` placeholders; each occurrence binds the n-th value given to
//! [`Prepared::bind`] (diesel numbers parameters itself, so a value used twice is sent twice).

use diesel::QueryResult;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Untyped};

/// One bound value with its SQL type, type-erased so a statement can hold a list of them.
trait Bind: Send {
    fn push<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()>;
}

struct TypedBind<ST, V> {
    value: V,
    sql_type: std::marker::PhantomData<fn() -> ST>,
}

impl<ST, V> Bind for TypedBind<ST, V>
where
    Pg: HasSqlType<ST>,
    V: ToSql<ST, Pg> + Send,
{
    fn push<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_bind_param::<ST, V>(&self.value)
    }
}

/// A statement with fixed text and `$n` placeholders, cached as a prepared statement.
/// Load rows from it with `diesel::QueryableByName` types, as from `sql_query`.
#[must_use = "a statement does nothing until it is executed or loaded"]
pub struct Prepared<'a> {
    /// The text split at its placeholders: `pieces[i]` is followed by parameter `params[i]`.
    pieces: Vec<&'static str>,
    params: Vec<usize>,
    binds: Vec<Box<dyn Bind + 'a>>,
}

impl<'a> Prepared<'a> {
    pub fn new(sql: &'static str) -> Self {
        let (pieces, params) = split_placeholders(sql);
        Prepared {
            pieces,
            params,
            binds: Vec::new(),
        }
    }

    /// Binds the next parameter (`$1`, then `$2`, ...).
    pub fn bind<ST, V>(mut self, value: V) -> Self
    where
        Pg: HasSqlType<ST>,
        V: ToSql<ST, Pg> + Send + 'a,
        ST: 'a,
    {
        self.binds.push(Box::new(TypedBind {
            value,
            sql_type: std::marker::PhantomData,
        }));
        self
    }
}

/// Splits SQL text at `$n` placeholders. Text between them is kept as is (the statements
/// passed here use no dollar quoting).
fn split_placeholders(sql: &'static str) -> (Vec<&'static str>, Vec<usize>) {
    let bytes = sql.as_bytes();
    let (mut pieces, mut params) = (Vec::new(), Vec::new());
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        if bytes[i] == b'$' {
            let digits_end = (i + 1..bytes.len())
                .find(|&j| !bytes[j].is_ascii_digit())
                .unwrap_or(bytes.len());
            if digits_end > i + 1 {
                let number: usize = sql[i + 1..digits_end].parse().unwrap_or(0);
                pieces.push(&sql[start..i]);
                params.push(number);
                start = digits_end;
                i = digits_end;
                continue;
            }
        }
        i += 1;
    }
    pieces.push(&sql[start..]);
    (pieces, params)
}

impl QueryFragment<Pg> for Prepared<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        for (piece, &param) in self.pieces.iter().zip(&self.params) {
            out.push_sql(piece);
            let bind = param
                .checked_sub(1)
                .and_then(|index| self.binds.get(index))
                .ok_or_else(|| {
                    diesel::result::Error::QueryBuilderError(
                        format!("placeholder ${param} has no bound value").into(),
                    )
                })?;
            bind.push(&mut out)?;
        }
        if let Some(last) = self.pieces.last() {
            out.push_sql(last);
        }
        Ok(())
    }
}

/// No static id: diesel's cache keys the statement by its text and bind types instead.
impl QueryId for Prepared<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Prepared<'_> {
    type SqlType = Untyped;
}

/// A diesel-built statement whose text depends only on its shape, cached like [`Prepared`].
///
/// diesel 2.3 marks every single-row INSERT and every UPDATE unsafe to cache, because their
/// text *can* vary with the values (an `Option` field of an `Insertable` becomes `DEFAULT`).
/// Each such statement was prepared, run and closed again: two round trips, and PostgreSQL
/// parsing and planning the 40-column contact INSERT on every PUT (bench/results/throughput.md).
/// Wrap only statements whose text is fixed, such as a struct with `treat_none_as_null`;
/// even otherwise the cache keys statements by their text (there is no static query id), so
/// a varying text costs cache entries, never a wrong plan.
pub struct Cached<Q>(pub Q);

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Cached<Q> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(out)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &Pg) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q> QueryId for Cached<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for Cached<Q> {
    type SqlType = Q::SqlType;
}

#[cfg(test)]
mod tests {
    use super::split_placeholders;

    #[test]
    fn placeholders_split_the_text_in_order_of_occurrence() {
        let (pieces, params) =
            split_placeholders("SELECT $1, $12::int WHERE a = $1 AND b = '$' || $2");
        assert_eq!(
            pieces,
            ["SELECT ", ", ", "::int WHERE a = ", " AND b = '$' || ", ""]
        );
        assert_eq!(params, [1, 12, 1, 2]);
    }
}
