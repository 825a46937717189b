//! What one GraphQL operation may cost, checked before anything runs: the cost of whole-book
//! fields, a bound on fragment expansion and on root fields (aliases included), and
//! `extensions.code` on every error the parser and validator raise.
//!
//! async-graphql's own checks (recursion depth, complexity, validation rules) expand fragment
//! spreads afresh at every use, so a small document whose fragments each spread the next one
//! twice costs 2^n: 30 such fragments keep a core busy for many minutes. [`RequestGuard`] parses
//! the document once, sizes each fragment once (memoized), and refuses a document whose
//! expansion is larger than the complexity limit could ever accept before those checks run.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest, NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, Positioned, Request, ServerError, ServerResult, ValidationResult};

use crate::limits::Limits;

/// The page size whole-book fields are costed at: the default `graphql_max_page_size`.
/// (Complexity expressions are evaluated without the schema's data, so they cannot read the
/// configured value.)
pub const COST_PAGE_SIZE: usize = 100;
/// The fields of a contact with everything selected, roughly: what a page item costs.
pub const CONTACT_FIELDS: usize = 50;
/// What reading a whole address book costs (`exportContacts`, `changes`): a full page of
/// contacts with every field, 5,000. With the default complexity limit of 20,000 one operation
/// holds at most four.
pub const WHOLE_BOOK_COST: usize = COST_PAGE_SIZE * CONTACT_FIELDS;
/// The most items any list is costed at (the store never returns more in one read).
pub const MAX_COSTED_ITEMS: usize = 1_000;
/// Fields and fragments nested deeper than this are refused (async-graphql's default,
/// set explicitly so the guard and the schema agree).
pub const MAX_RECURSION: usize = 32;
/// Parse errors quote the offending line; a hostile one-line document would be echoed whole.
const MAX_PARSE_MESSAGE_CHARS: usize = 300;

/// `extensions.code` of a syntax error in the GraphQL document (answered with HTTP 400).
pub const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
/// `extensions.code` of a document that does not fit the schema.
pub const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
/// `extensions.code` of a document over a cost limit (depth, complexity, root fields).
pub const TOO_COMPLEX: &str = "QUERY_TOO_COMPLEX";

/// The schema extension that applies the checks of this module to every operation (HTTP and
/// WebSocket alike).
pub struct RequestGuard {
    limits: Arc<GuardLimits>,
}

#[derive(Debug, Clone, Copy)]
struct GuardLimits {
    max_root_fields: usize,
    max_expanded_fields: usize,
}

impl RequestGuard {
    pub fn new(limits: &Limits) -> RequestGuard {
        RequestGuard {
            limits: Arc::new(GuardLimits {
                max_root_fields: limits.graphql_max_root_fields,
                // Every field costs at least 1, so a larger expansion can never pass the
                // complexity limit: refusing it early loses nothing.
                max_expanded_fields: limits.graphql_max_complexity,
            }),
        }
    }
}

impl ExtensionFactory for RequestGuard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(GuardExtension {
            limits: *self.limits,
        })
    }
}

struct GuardExtension {
    limits: GuardLimits,
}

#[async_graphql::async_trait::async_trait]
impl Extension for GuardExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        // Parsed here once; async-graphql reuses the document instead of parsing again.
        let document = request.parsed_query().map_err(parse_failed)?;
        check_document(document, &self.limits)?;
        next.run(ctx, request).await
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|error| {
                    // async-graphql reports its limits by message only.
                    let code = match error.message.as_str() {
                        "Query is too complex." | "Query is nested too deep." => TOO_COMPLEX,
                        _ => VALIDATION_FAILED,
                    };
                    with_code(error, code)
                })
                .collect()
        })
    }
}

fn with_code(mut error: ServerError, code: &str) -> ServerError {
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code);
    error
}

fn parse_failed(mut error: ServerError) -> ServerError {
    if error.message.chars().count() > MAX_PARSE_MESSAGE_CHARS {
        let mut short: String = error
            .message
            .chars()
            .take(MAX_PARSE_MESSAGE_CHARS)
            .collect();
        short.push('…');
        error.message = short;
    }
    with_code(error, PARSE_FAILED)
}

fn too_complex(message: String) -> ServerError {
    with_code(ServerError::new(message, None), TOO_COMPLEX)
}

/// Checks every operation of a parsed document against the limits.
fn check_document(document: &ExecutableDocument, limits: &GuardLimits) -> ServerResult<()> {
    let mut sizes = FragmentSizes {
        document,
        memo: HashMap::new(),
    };
    for (_, operation) in document.operations.iter() {
        let roots = root_fields(document, &operation.node.selection_set);
        if roots > limits.max_root_fields {
            return Err(too_complex(format!(
                "the operation selects {roots} root fields (aliases included); at most {} are \
                 allowed",
                limits.max_root_fields
            )));
        }
        let shape = sizes.shape(&operation.node.selection_set, 0)?;
        if shape.fields > limits.max_expanded_fields {
            return Err(too_complex(format!(
                "the operation expands to more than {} fields",
                limits.max_expanded_fields
            )));
        }
    }
    Ok(())
}

/// How many root fields an operation runs: its distinct response keys (alias or name),
/// including those of fragments at the root. Fields with the same key are merged by GraphQL
/// and run once; each fragment is looked into once, so this is linear in the document.
fn root_fields(document: &ExecutableDocument, selection_set: &Positioned<SelectionSet>) -> usize {
    let mut keys: HashSet<&Name> = HashSet::new();
    let mut seen_fragments: HashSet<&Name> = HashSet::new();
    let mut pending = vec![&selection_set.node];
    while let Some(set) = pending.pop() {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    keys.insert(&field.node.response_key().node);
                }
                Selection::InlineFragment(inline) => pending.push(&inline.node.selection_set.node),
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    if seen_fragments.insert(name)
                        && let Some(fragment) = document.fragments.get(name)
                    {
                        pending.push(&fragment.node.selection_set.node);
                    }
                }
            }
        }
    }
    keys.len()
}

/// The size of a selection set with every fragment expanded.
#[derive(Debug, Clone, Copy, Default)]
struct Shape {
    /// Fields, counted at every place a fragment is used.
    fields: usize,
    /// Nesting levels (a field with a selection, a fragment spread or an inline fragment
    /// each add one, as async-graphql counts its recursion depth).
    height: usize,
}

enum Memo {
    InProgress,
    Done(Shape),
}

struct FragmentSizes<'a> {
    document: &'a ExecutableDocument,
    memo: HashMap<&'a Name, Memo>,
}

impl<'a> FragmentSizes<'a> {
    /// The shape of `set` found `depth` levels down. Each fragment is sized once; the
    /// recursion never goes deeper than [`MAX_RECURSION`], whatever the document.
    fn shape(&mut self, set: &'a Positioned<SelectionSet>, depth: usize) -> ServerResult<Shape> {
        if depth > MAX_RECURSION {
            return Err(too_deep());
        }
        let mut total = Shape::default();
        for item in &set.node.items {
            let (fields, height) = match &item.node {
                Selection::Field(field) => {
                    let children = &field.node.selection_set;
                    if children.node.items.is_empty() {
                        (1, 0)
                    } else {
                        let inner = self.shape(children, depth + 1)?;
                        (inner.fields.saturating_add(1), inner.height + 1)
                    }
                }
                Selection::InlineFragment(inline) => {
                    let inner = self.shape(&inline.node.selection_set, depth + 1)?;
                    (inner.fields, inner.height + 1)
                }
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    let inner = match self.memo.get(name) {
                        Some(Memo::Done(shape)) => *shape,
                        Some(Memo::InProgress) => {
                            return Err(with_code(
                                ServerError::new(
                                    format!("fragment {name} spreads itself"),
                                    Some(spread.pos),
                                ),
                                VALIDATION_FAILED,
                            ));
                        }
                        None => {
                            // An unknown fragment is left to validation, which names it.
                            let Some(fragment) = self.document.fragments.get(name) else {
                                continue;
                            };
                            self.memo.insert(name, Memo::InProgress);
                            let shape = self.shape(&fragment.node.selection_set, depth + 1)?;
                            self.memo.insert(name, Memo::Done(shape));
                            shape
                        }
                    };
                    (inner.fields, inner.height + 1)
                }
            };
            if depth + height > MAX_RECURSION {
                return Err(too_deep());
            }
            total.fields = total.fields.saturating_add(fields);
            total.height = total.height.max(height);
        }
        Ok(total)
    }
}

fn too_deep() -> ServerError {
    too_complex(format!(
        "the operation nests fields and fragments more than {MAX_RECURSION} levels deep"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(query: &str) -> ServerResult<()> {
        let document = async_graphql::parser::parse_query(query).unwrap();
        check_document(
            &document,
            &GuardLimits {
                max_root_fields: 32,
                max_expanded_fields: 20_000,
            },
        )
    }

    fn code(result: ServerResult<()>) -> String {
        let error = result.unwrap_err();
        let value = error.extensions.unwrap().get("code").cloned().unwrap();
        value.to_string().trim_matches('"').to_owned()
    }

    #[test]
    fn root_fields_count_aliases_and_fragments_once_per_key() {
        let aliases: String = (0..33)
            .map(|i| format!("a{i}: viewer {{ name }} "))
            .collect();
        assert_eq!(code(check(&format!("{{ {aliases} }}"))), TOO_COMPLEX);
        let fewer: String = (0..32)
            .map(|i| format!("a{i}: viewer {{ name }} "))
            .collect();
        assert!(check(&format!("{{ {fewer} }}")).is_ok());
        // The same key twice runs once; a fragment spread twice adds its keys once.
        let same = "{ viewer { name } viewer { name } ...F ...F } fragment F on Query { a: viewer { name } }";
        let document = async_graphql::parser::parse_query(same).unwrap();
        let op = document.operations.iter().next().unwrap().1;
        assert_eq!(root_fields(&document, &op.node.selection_set), 2);
        // Fields behind fragments at the root count.
        let spread: String = (0..40)
            .map(|i| format!("a{i}: viewer {{ name }} "))
            .collect();
        let query = format!("{{ ...F }} fragment F on Query {{ {spread} }}");
        assert_eq!(code(check(&query)), TOO_COMPLEX);
    }

    #[test]
    fn exponential_fragments_are_refused_in_linear_time() {
        let mut query = String::from("query { ...F0 }\n");
        for i in 0..60 {
            query.push_str(&format!(
                "fragment F{i} on Query {{ ...F{n} ...F{n} }}\n",
                n = i + 1
            ));
        }
        query.push_str("fragment F60 on Query { viewer { name } }\n");
        // 60 levels is also too deep; at 20 levels the doubling alone is over the limit.
        assert_eq!(code(check(&query)), TOO_COMPLEX);
        let mut query = String::from("query { ...F0 }\n");
        for i in 0..20 {
            query.push_str(&format!(
                "fragment F{i} on Query {{ ...F{n} ...F{n} }}\n",
                n = i + 1
            ));
        }
        query.push_str("fragment F20 on Query { viewer { name } }\n");
        let error = check(&query).unwrap_err();
        assert!(error.message.contains("expands"), "{}", error.message);
    }

    #[test]
    fn long_fragment_chains_and_cycles_are_refused_without_deep_recursion() {
        let mut query = String::from("query { ...F0 }\n");
        for i in 0..10_000 {
            query.push_str(&format!("fragment F{i} on Query {{ ...F{} }}\n", i + 1));
        }
        query.push_str("fragment F10000 on Query { viewer { name } }\n");
        assert_eq!(code(check(&query)), TOO_COMPLEX);
        let cycle = "query { ...A } fragment A on Query { viewer { name } ...A }";
        assert_eq!(code(check(cycle)), VALIDATION_FAILED);
    }

    #[test]
    fn ordinary_queries_pass() {
        assert!(check("{ contacts(first: 10) { edges { node { ...C } } } } fragment C on Contact { id firstName groups { id } }").is_ok());
    }

    /// graphql-js's `getIntrospectionQuery()` (with descriptions), as GraphiQL and most client
    /// libraries send it.
    const INTROSPECTION: &str = "query IntrospectionQuery { __schema { queryType { name } mutationType { name } subscriptionType { name } types { ...FullType } directives { name description locations args { ...InputValue } } } }
        fragment FullType on __Type { kind name description fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason } inputFields { ...InputValue } interfaces { ...TypeRef } enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason } possibleTypes { ...TypeRef } }
        fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
        fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }";

    #[tokio::test]
    async fn client_introspection_passes_every_limit() {
        assert!(check(INTROSPECTION).is_ok());
        let limits = Limits::default();
        let schema =
            crate::graphql::build_schema(&limits, crate::download::ExportPermits::new(&limits));
        let response = schema.execute(INTROSPECTION).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
    }
}
