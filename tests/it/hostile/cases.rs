//! The requests of the hostile suite and how each must be answered. Shared by
//! `tests/it/hostile.rs` (correctness, 300 cards) and `bench/hostile` (the same requests on a
//! 10,000-card book, timed); only reqwest, serde_json and base64 are used here.
//!
//! Every request names the class of attack it stands for (the issue that asked for this suite
//! lists them): process abort, worker panic, amplification, cross-site, size, brute force,
//! wrong answers, quadratic work. "Deliberate" means: a status below 500, a complete body, and
//! where the request must be refused, the refusal the RFC or the API defines.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use reqwest::{Client, Method, RequestBuilder};
use serde_json::{Value, json};

/// Who the suite attacks with.
pub struct Target {
    pub base: String,
    pub user: String,
    /// `Authorization` with the account's app password (CardDAV).
    pub basic: String,
    /// `Authorization` with an API token (GraphQL).
    pub bearer: String,
    /// Another user, whose data must stay out of reach.
    pub other_user: String,
    /// Global id of the attacker's default book.
    pub book_graphql_id: String,
}

impl Target {
    fn book(&self) -> String {
        format!("{}/dav/addressbooks/{}/contacts/", self.base, self.user)
    }

    fn card(&self, name: &str) -> String {
        format!("{}{name}", self.book())
    }
}

/// `n` cards of vCard 3.0: names in several scripts (one Greek name ending in a final sigma),
/// emails, phones, an address and a note each.
pub fn generated_book(n: usize) -> String {
    let first = [
        "Maria",
        "Zhang",
        "Γιώργος",
        "Олег",
        "José",
        "Aisha",
        "Kenji",
        "Ana",
    ];
    let last = [
        "García",
        "Wei",
        "Παπαδόπουλος",
        "Иванов",
        "Müller",
        "Khan",
        "Sato",
        "Silva",
    ];
    let mut out = String::with_capacity(n * 400);
    for i in 0..n {
        let (f, l) = (first[i % first.len()], last[(i / 3) % last.len()]);
        write!(
            out,
            "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:hostile-{i}\r\nFN:{f} {l} {i}\r\nN:{l};{f};;;\r\n\
             EMAIL;TYPE=INTERNET,WORK:person{i}@example.org\r\nTEL;TYPE=CELL:+1 415 555 {:04}\r\n\
             ADR;TYPE=HOME:;;{i} Main St;Springfield;;12345;USA\r\nNOTE:card number {i}\r\nEND:VCARD\r\n",
            i % 10_000
        )
        .unwrap();
    }
    out
}

/// A vCard 3.0 card with extra property lines.
fn card(uid: &str, extra: &str) -> String {
    format!("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:Test {uid}\r\n{extra}END:VCARD\r\n")
}

fn card4(uid: &str, extra: &str) -> String {
    format!("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:{uid}\r\nFN:Test {uid}\r\n{extra}END:VCARD\r\n")
}

/// The attacker's default book's GraphQL id.
pub async fn graphql_book_id(base: &str, bearer: &str) -> String {
    let body: Value = Client::new()
        .post(format!("{base}/graphql"))
        .header("authorization", bearer)
        .json(&json!({ "query": "{ viewer { addressBooks { id } } }" }))
        .send()
        .await
        .expect("graphql")
        .json()
        .await
        .expect("json");
    body["data"]["viewer"]["addressBooks"][0]["id"]
        .as_str()
        .expect("a book id")
        .to_owned()
}

/// What an answer must be.
#[derive(Debug, Clone)]
enum Expect {
    /// One of these HTTP statuses.
    Status(&'static [u16]),
    /// One of these statuses, and the body contains this text.
    StatusWith(&'static [u16], &'static str),
    /// A GraphQL answer (HTTP 200 or 4xx) whose first error has this `extensions.code`.
    GraphqlError(&'static str),
    /// A GraphQL answer with data and no errors, whose body contains this text.
    GraphqlData(&'static str),
}

/// How a case is sent.
enum Send {
    Http(Box<RequestBuilder>),
    /// Written to a raw socket: a request head and only the start of its body, as a client
    /// does before it learns that the server refuses the rest (HTTP clients that write the
    /// whole body before reading would only see the connection closed).
    Raw {
        head: String,
        body_start: Vec<u8>,
    },
}

struct Case {
    class: &'static str,
    name: String,
    request: Send,
    expect: Expect,
}

/// What one request got.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub class: &'static str,
    pub name: String,
    pub status: Option<u16>,
    pub bytes: usize,
    pub elapsed: Duration,
    /// The server's resident memory after the answer, in MiB (when the runner can see it).
    pub rss_mib: Option<u64>,
    /// Why the answer is not the deliberate one; `None` when it is.
    pub problem: Option<String>,
}

/// Every outcome of a run.
pub struct Report {
    pub results: Vec<Outcome>,
}

impl Report {
    pub fn failures(&self) -> Vec<String> {
        self.results
            .iter()
            .filter_map(|o| {
                o.problem
                    .as_ref()
                    .map(|p| format!("[{}] {}: {p}", o.class, o.name))
            })
            .collect()
    }

    /// A Markdown table: class, request, status, size, time, server memory after it.
    pub fn table(&self) -> String {
        let mut out = String::from(
            "| class | request | status | bytes | ms | server RSS (MiB) |\n|---|---|---:|---:|---:|---:|\n",
        );
        for o in &self.results {
            let status = o.status.map_or("dropped".to_owned(), |s| s.to_string());
            writeln!(
                out,
                "| {} | {} | {status} | {} | {:.1} | {} |",
                o.class,
                o.name.replace('|', "\\|"),
                o.bytes,
                o.elapsed.as_secs_f64() * 1000.0,
                o.rss_mib.map_or(String::new(), |r| r.to_string())
            )
            .unwrap();
        }
        out
    }

    /// The slowest answer.
    pub fn slowest(&self) -> Option<&Outcome> {
        self.results.iter().max_by_key(|o| o.elapsed)
    }
}

fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(120))
        // A connection per request: a refused upload leaves its connection closed by the
        // server, and a pooled one would fail the next case for the wrong reason.
        .pool_max_idle_per_host(0)
        .build()
        .expect("client")
}

fn method(name: &str) -> Method {
    Method::from_bytes(name.as_bytes()).expect("method")
}

const CARDDAV_NS: &str = r#"xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav""#;

fn graphql_body(query: &str) -> String {
    json!({ "query": query }).to_string()
}

/// The cases, in the order they run. Brute-force cases come last: they throttle this client's
/// address for password logins (app passwords and tokens keep working, which the suite checks).
fn cases(t: &Target) -> Vec<Case> {
    let c = client();
    let mut all = Vec::new();
    let mut add = |class: &'static str, name: &str, request: RequestBuilder, expect: Expect| {
        all.push(Case {
            class,
            name: name.to_owned(),
            request: Send::Http(Box::new(request)),
            expect,
        });
    };
    let host = t.base.trim_start_matches("http://").to_owned();
    let book_path = format!("/dav/addressbooks/{}/contacts/", t.user);
    let raw_cases = vec![
        Case {
            class: "size",
            name: "REPORT declaring 16 MiB + 1 of body".to_owned(),
            request: Send::Raw {
                head: format!(
                    "REPORT {book_path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {}\r\n\
                     Content-Type: application/xml\r\nContent-Length: {}\r\n\r\n",
                    t.basic,
                    16 * 1024 * 1024 + 1
                ),
                body_start: format!("<c:addressbook-multiget {CARDDAV_NS}>").into_bytes(),
            },
            expect: Expect::Status(&[413]),
        },
        Case {
            class: "size",
            name: "PUT declaring a 100 MiB card".to_owned(),
            request: Send::Raw {
                head: format!(
                    "PUT {book_path}big.vcf HTTP/1.1\r\nHost: {host}\r\nAuthorization: {}\r\n\
                     Content-Type: text/vcard\r\nContent-Length: {}\r\n\r\n",
                    t.basic,
                    100 * 1024 * 1024
                ),
                body_start: b"BEGIN:VCARD\r\nVERSION:3.0\r\n".to_vec(),
            },
            expect: Expect::StatusWith(&[413], "max-resource-size"),
        },
        Case {
            class: "size",
            name: "GraphQL POST declaring 1 GiB, without credentials".to_owned(),
            request: Send::Raw {
                head: format!(
                    "POST /graphql HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\n\r\n",
                    1u64 << 30
                ),
                body_start: b"{\"query\": \"".to_vec(),
            },
            expect: Expect::Status(&[401, 413]),
        },
    ];
    let mut all_raw = raw_cases;
    let dav = |m: &str, url: String| c.request(method(m), url).header("authorization", &t.basic);
    let gql = |body: String| {
        c.post(format!("{}/graphql", t.base))
            .header("authorization", &t.bearer)
            .header("content-type", "application/json")
            .body(body)
    };
    let put = |name: &str, text: String| {
        dav("PUT", t.card(name))
            .header("content-type", "text/vcard")
            .body(text)
    };
    let report = |body: String| {
        dav("REPORT", t.book())
            .header("depth", "1")
            .header("content-type", "application/xml")
            .body(body)
    };
    let propfind = |url: String, depth: &str, body: String| {
        dav("PROPFIND", url)
            .header("depth", depth)
            .header("content-type", "application/xml")
            .body(body)
    };
    let query = |filter: String| {
        report(format!(
            r#"<c:addressbook-query {CARDDAV_NS}><d:prop><d:getetag/></d:prop><c:filter>{filter}</c:filter></c:addressbook-query>"#
        ))
    };

    // --- Anonymous -------------------------------------------------------------------------
    add(
        "anonymous",
        "PROPFIND without credentials",
        c.request(method("PROPFIND"), format!("{}/dav/", t.base)),
        Expect::Status(&[401]),
    );
    add(
        "anonymous",
        "64 KiB GraphQL body of '{' without credentials",
        c.post(format!("{}/graphql", t.base))
            .header("content-type", "application/json")
            .body(vec![b'{'; 64 * 1024]),
        Expect::Status(&[401]),
    );
    add(
        "anonymous",
        "malformed GraphQL JSON without credentials",
        c.post(format!("{}/graphql", t.base))
            .header("content-type", "application/json")
            .body("{\"query\": "),
        Expect::Status(&[401]),
    );
    add(
        "anonymous",
        "Basic with invalid base64",
        c.request(method("PROPFIND"), t.book())
            .header("authorization", "Basic !!!not-base64!!!"),
        Expect::Status(&[401, 429]),
    );
    add(
        "anonymous",
        "Bearer token of 64 KiB",
        c.post(format!("{}/graphql", t.base))
            .header("authorization", format!("Bearer {}", "x".repeat(64 * 1024)))
            .header("content-type", "application/json")
            .body(graphql_body("{ viewer { name } }")),
        Expect::Status(&[401, 429, 431]),
    );
    add(
        "anonymous",
        "unknown authorization scheme",
        c.get(t.card("a.vcf"))
            .header("authorization", "Digest username=\"x\""),
        Expect::Status(&[401, 429]),
    );
    add(
        "anonymous",
        "OPTIONS on the DAV root",
        c.request(Method::OPTIONS, format!("{}/dav/", t.base)),
        Expect::Status(&[200]),
    );
    add(
        "anonymous",
        "/.well-known/carddav",
        c.request(
            method("PROPFIND"),
            format!("{}/.well-known/carddav", t.base),
        ),
        Expect::Status(&[301]),
    );
    add(
        "anonymous",
        "WebSocket upgrade from another origin",
        c.get(format!("{}/graphql/ws", t.base))
            .header("connection", "Upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("sec-websocket-protocol", "graphql-transport-ws")
            .header("origin", "https://evil.example"),
        Expect::Status(&[403]),
    );

    // --- Paths and headers -------------------------------------------------------------------
    add(
        "paths",
        "dot-dot path",
        dav(
            "GET",
            format!("{}/dav/addressbooks/{}/../../../etc/passwd", t.base, t.user),
        ),
        Expect::Status(&[400, 404]),
    );
    add(
        "paths",
        "invalid percent-encoding",
        dav(
            "PROPFIND",
            format!("{}/dav/addressbooks/{}/%ff%fe%/", t.base, t.user),
        ),
        Expect::Status(&[400, 404]),
    );
    add(
        "paths",
        "another user's book",
        propfind(
            format!("{}/dav/addressbooks/{}/contacts/", t.base, t.other_user),
            "1",
            String::new(),
        ),
        Expect::Status(&[404]),
    );
    add(
        "paths",
        "another user's card",
        dav(
            "GET",
            format!(
                "{}/dav/addressbooks/{}/contacts/hostile-0.vcf",
                t.base, t.other_user
            ),
        ),
        Expect::Status(&[404]),
    );
    add(
        "paths",
        "card name of 4 KiB",
        put(&"n".repeat(4096), card("long-name", "")),
        Expect::Status(&[400, 403, 404, 414]),
    );
    add(
        "paths",
        "unknown method",
        dav("LOCK", t.book()),
        Expect::Status(&[405]),
    );

    // --- Worker panics: text that byte-offset slicing broke ------------------------------------
    add(
        "panic",
        "TEL:12€",
        put("tel-euro.vcf", card("tel-euro", "TEL:12€\r\n")),
        Expect::Status(&[201, 204]),
    );
    add(
        "panic",
        "TEL;TYPE=CELL:手机 138 0013 8000",
        put(
            "tel-cjk.vcf",
            card("tel-cjk", "TEL;TYPE=CELL:手机 138 0013 8000\r\n"),
        ),
        Expect::Status(&[201, 204]),
    );
    add(
        "panic",
        "vCard 4.0 with GEO:12€",
        put("geo-euro.vcf", card4("geo-euro", "GEO:12€\r\n")),
        Expect::Status(&[201, 204]),
    );
    add(
        "panic",
        "GET of GEO:12€ as an iPhone (4.0 -> 3.0)",
        dav("GET", t.card("geo-euro.vcf"))
            .header("user-agent", "iOS/17.0 (21A329) dataaccessd/1.0"),
        Expect::StatusWith(&[200], "VERSION:3.0"),
    );
    add(
        "panic",
        "vCard 4.0 with TEL;VALUE=uri:tel:12€",
        put(
            "teluri-euro.vcf",
            card4("teluri-euro", "TEL;VALUE=uri:tel:12€\r\n"),
        ),
        Expect::Status(&[201, 204]),
    );
    add(
        "panic",
        "GET of tel:12€ as macOS Contacts (4.0 -> 3.0)",
        dav("GET", t.card("teluri-euro.vcf"))
            .header("user-agent", "macOS/14.0 (23A344) AddressBookCore/2487"),
        Expect::StatusWith(&[200], "VERSION:3.0"),
    );
    add(
        "panic",
        "combining marks and emoji in every name part",
        put(
            "marks.vcf",
            card(
                "marks",
                "N:Z\u{0351}\u{036b}\u{0343}a\u{0362}l\u{0308};😀👩‍👩‍👧;́;;\r\nORG:\u{202e}evil;\r\n",
            ),
        ),
        Expect::Status(&[201, 204]),
    );
    add(
        "panic",
        "a property line of 1 MiB folded into 20,000 lines",
        put(
            "folded.vcf",
            card(
                "folded",
                &format!(
                    "NOTE:{}\r\n",
                    "x".repeat(50)
                        .repeat(20_000)
                        .as_bytes()
                        .chunks(50)
                        .map(|c| std::str::from_utf8(c).unwrap())
                        .collect::<Vec<_>>()
                        .join("\r\n ")
                ),
            ),
        ),
        Expect::Status(&[201, 204]),
    );

    // --- Bad cards ------------------------------------------------------------------------------
    add(
        "bad input",
        "card of 3 MiB (over max-resource-size)",
        put(
            "huge.vcf",
            card(
                "huge",
                &format!("PHOTO;ENCODING=b;TYPE=JPEG:{}\r\n", "A".repeat(3 << 20)),
            ),
        ),
        Expect::StatusWith(&[413], "max-resource-size"),
    );
    add(
        "bad input",
        "card with 5,000 properties",
        put("many.vcf", card("many", &"X-FOO:bar\r\n".repeat(5_000))),
        Expect::StatusWith(&[403], "valid-address-data"),
    );
    add(
        "bad input",
        "card that is not UTF-8",
        put("latin1.vcf", String::new()).body(
            b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:x\r\nFN:J\xe9r\xf4me\r\nEND:VCARD\r\n".to_vec(),
        ),
        Expect::Status(&[400, 403, 415]),
    );
    add(
        "bad input",
        "empty card",
        put("empty.vcf", String::new()),
        Expect::Status(&[400, 403]),
    );
    add(
        "bad input",
        "two cards in one PUT",
        put(
            "two.vcf",
            format!("{}{}", card("two-a", ""), card("two-b", "")),
        ),
        Expect::Status(&[400, 403]),
    );
    add(
        "bad input",
        "binary garbage as a card",
        put("garbage.vcf", String::new()).body(
            (0..65_536u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
                .collect::<Vec<u8>>(),
        ),
        Expect::Status(&[400, 403, 415]),
    );
    add(
        "bad input",
        "BEGIN:VCARD nested 10,000 times",
        put("nested.vcf", "BEGIN:VCARD\r\n".repeat(10_000)),
        Expect::Status(&[400, 403]),
    );
    add(
        "bad input",
        "PUT with a non-vCard content type",
        dav("PUT", t.card("json.vcf"))
            .header("content-type", "application/json")
            .body("{}"),
        Expect::Status(&[415]),
    );

    // --- XML -----------------------------------------------------------------------------------
    add(
        "xml",
        "billion laughs (DOCTYPE entities)",
        propfind(t.book(), "0", r#"<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><d:propfind xmlns:d="DAV:"><d:prop><d:displayname>&c;</d:displayname></d:prop></d:propfind>"#.to_owned()),
        Expect::Status(&[400]),
    );
    add(
        "xml",
        "elements nested 100,000 deep",
        propfind(
            t.book(),
            "0",
            format!(
                "{}{}",
                "<d:a xmlns:d=\"DAV:\">".repeat(100_000),
                "</d:a>".repeat(100_000)
            ),
        ),
        Expect::Status(&[400, 413]),
    );
    add(
        "xml",
        "one element with 100,000 attributes",
        propfind(
            t.book(),
            "0",
            format!(
                r#"<d:propfind xmlns:d="DAV:"><d:prop {}/></d:propfind>"#,
                (0..100_000)
                    .map(|i| format!("a{i}=\"\""))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        ),
        Expect::Status(&[400, 413]),
    );
    add(
        "quadratic",
        "PROPFIND naming 150,000 properties",
        propfind(
            t.book(),
            "0",
            format!(
                r#"<d:propfind xmlns:d="DAV:" xmlns:x="urn:x"><d:prop>{}</d:prop></d:propfind>"#,
                (0..150_000)
                    .map(|i| format!("<x:p{i}/>"))
                    .collect::<String>()
            ),
        ),
        Expect::Status(&[207, 400, 413]),
    );
    add(
        "xml",
        "malformed XML",
        propfind(
            t.book(),
            "0",
            "<d:propfind xmlns:d=\"DAV:\"><d:prop>".to_owned(),
        ),
        Expect::Status(&[400]),
    );
    add(
        "xml",
        "undeclared namespace prefix",
        propfind(t.book(), "0", "<x:propfind/>".to_owned()),
        Expect::Status(&[400]),
    );
    add(
        "xml",
        "unsupported REPORT",
        report(r#"<d:expand-property xmlns:d="DAV:"/>"#.to_owned()),
        Expect::StatusWith(&[403], "supported-report"),
    );
    add(
        "xml",
        "PROPPATCH setting 20,000 properties",
        dav("PROPPATCH", t.book()).body(format!(
            r#"<d:propertyupdate xmlns:d="DAV:" xmlns:x="urn:x"><d:set><d:prop>{}</d:prop></d:set></d:propertyupdate>"#,
            (0..20_000).map(|i| format!("<x:p{i}>v</x:p{i}>")).collect::<String>()
        )),
        Expect::Status(&[207, 400, 403, 413]),
    );
    add(
        "xml",
        "MKCOL with a 1 MiB display name",
        dav("MKCOL", format!("{}/dav/addressbooks/{}/big-name/", t.base, t.user)).body(format!(
            r#"<d:mkcol {CARDDAV_NS}><d:set><d:prop><d:resourcetype><d:collection/><c:addressbook/></d:resourcetype><d:displayname>{}</d:displayname></d:prop></d:set></d:mkcol>"#,
            "n".repeat(1 << 20)
        )),
        Expect::Status(&[201, 400, 403, 413]),
    );

    // --- Reports: amplification and whole-book reads ------------------------------------------
    let all_hrefs = |n: usize| -> String {
        (0..n)
            .map(|i| {
                format!(
                    "<d:href>/dav/addressbooks/{}/contacts/hostile-{i}.vcf</d:href>",
                    t.user
                )
            })
            .collect()
    };
    add(
        "amplification",
        "multiget of 10,001 hrefs (over the limit)",
        report(format!(
            r#"<c:addressbook-multiget {CARDDAV_NS}><d:prop><d:getetag/></d:prop>{}</c:addressbook-multiget>"#,
            all_hrefs(10_001)
        )),
        Expect::Status(&[413]),
    );
    add(
        "quadratic",
        "multiget of one href repeated 9,000 times",
        report(format!(
            r#"<c:addressbook-multiget {CARDDAV_NS}><d:prop><d:getetag/></d:prop>{}</c:addressbook-multiget>"#,
            format!(
                "<d:href>/dav/addressbooks/{}/contacts/hostile-1.vcf</d:href>",
                t.user
            )
            .repeat(9_000)
        )),
        Expect::Status(&[207]),
    );
    add(
        "amplification",
        "multiget of every card with address-data",
        report(format!(
            r#"<c:addressbook-multiget {CARDDAV_NS}><d:prop><d:getetag/><c:address-data/></d:prop>{}</c:addressbook-multiget>"#,
            all_hrefs(10_000)
        )),
        Expect::StatusWith(&[207], "BEGIN:VCARD"),
    );
    add(
        "process abort",
        "addressbook-query with 3,000 prop-filters",
        query(
            (0..3_000)
                .map(|i| format!(r#"<c:prop-filter name="FN"><c:text-match>w{i}</c:text-match></c:prop-filter>"#))
                .collect(),
        ),
        Expect::Status(&[403, 413]),
    );
    add(
        "amplification",
        "addressbook-query that reads the whole book (is-not-defined)",
        query(r#"<c:prop-filter name="X-NONE"><c:is-not-defined/></c:prop-filter>"#.to_owned()),
        Expect::StatusWith(&[207], "hostile-"),
    );
    add(
        "amplification",
        "addressbook-query with 30 negated text-matches",
        query(
            (0..30)
                .map(|i| format!(r#"<c:prop-filter name="NOTE"><c:text-match negate-condition="yes">zz{i}</c:text-match></c:prop-filter>"#))
                .collect(),
        ),
        Expect::Status(&[207]),
    );
    add(
        "wrong answers",
        "text-match ΓΙΏΡΓΟΣ finds Γιώργος",
        query(r#"<c:prop-filter name="FN"><c:text-match collation="i;unicode-casemap">ΓΙΏΡΓΟΣ</c:text-match></c:prop-filter>"#.to_owned()),
        Expect::StatusWith(&[207], "hostile-2.vcf"),
    );
    add(
        "xml",
        "unknown collation",
        query(r#"<c:prop-filter name="FN"><c:text-match collation="i;klingon">x</c:text-match></c:prop-filter>"#.to_owned()),
        Expect::StatusWith(&[403], "supported-collation"),
    );
    add(
        "amplification",
        "addressbook-query with a 10 KiB needle",
        query(format!(
            r#"<c:prop-filter name="FN"><c:text-match>{}</c:text-match></c:prop-filter>"#,
            "a".repeat(10_240)
        )),
        Expect::Status(&[207, 400, 403]),
    );
    add(
        "amplification",
        "sync-collection initial with address-data",
        report(format!(
            r#"<d:sync-collection {CARDDAV_NS}><d:sync-token/><d:sync-level>1</d:sync-level><d:prop><d:getetag/><c:address-data/></d:prop></d:sync-collection>"#
        )),
        Expect::StatusWith(&[207], "sync-token"),
    );
    add(
        "bad input",
        "sync-collection with a garbage token",
        report(format!(
            r#"<d:sync-collection {CARDDAV_NS}><d:sync-token>https://rolodex.invalid/sync/1/99999999999999999999999</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#
        )),
        Expect::StatusWith(&[403], "valid-sync-token"),
    );
    add(
        "bad input",
        "sync-collection with nresults of 2^64",
        report(format!(
            r#"<d:sync-collection {CARDDAV_NS}><d:sync-token/><d:sync-level>1</d:sync-level><d:limit><d:nresults>18446744073709551616</d:nresults></d:limit><d:prop><d:getetag/></d:prop></d:sync-collection>"#
        )),
        Expect::Status(&[207, 400]),
    );
    add(
        "amplification",
        "PROPFIND Depth: infinity on the home",
        propfind(
            format!("{}/dav/addressbooks/{}/", t.base, t.user),
            "infinity",
            String::new(),
        ),
        Expect::Status(&[207, 403]),
    );
    add(
        "amplification",
        "PROPFIND Depth 1 of the book (allprop)",
        propfind(t.book(), "1", String::new()),
        Expect::StatusWith(&[207], "hostile-"),
    );
    add(
        "amplification",
        "GET of the whole book",
        dav("GET", t.book()),
        Expect::StatusWith(&[200], "END:VCARD"),
    );

    // --- GraphQL --------------------------------------------------------------------------------
    let book_id = &t.book_graphql_id;
    add(
        "process abort",
        "search of 8,000 words",
        gql(graphql_body(&format!(
            "{{ contacts(search: \"{}\") {{ totalCount }} }}",
            "ab ".repeat(8_000)
        ))),
        Expect::GraphqlError("VALIDATION"),
    );
    add(
        "process abort",
        "search of 300 words",
        gql(graphql_body(&format!(
            "{{ contacts(search: \"{}\") {{ totalCount }} }}",
            "ab ".repeat(300)
        ))),
        Expect::GraphqlError("VALIDATION"),
    );
    add(
        "process abort",
        "search of 17 short words (over the word limit)",
        gql(graphql_body(&format!(
            "{{ contacts(search: \"{}\") {{ totalCount }} }}",
            "ab ".repeat(17)
        ))),
        Expect::GraphqlError("VALIDATION"),
    );
    add(
        "process abort",
        "search of 16 words (the limit)",
        gql(graphql_body(&format!(
            "{{ contacts(search: \"{}\") {{ totalCount }} }}",
            "ab ".repeat(16)
        ))),
        Expect::GraphqlData("totalCount"),
    );
    add(
        "wrong answers",
        "search ΓΙΏΡΓΟΣ finds Γιώργος",
        gql(graphql_body(
            "{ contacts(search: \"ΓΙΏΡΓΟΣ\", first: 1) { edges { node { displayName } } } }",
        )),
        Expect::GraphqlData("Γιώργος"),
    );
    add(
        "amplification",
        "500 aliases of exportContacts",
        gql(graphql_body(&format!(
            "{{ {} }}",
            (0..500)
                .map(|i| format!(
                    "e{i}: exportContacts(addressBookId: \"{book_id}\", format: VCF3)"
                ))
                .collect::<Vec<_>>()
                .join(" ")
        ))),
        Expect::GraphqlError("*"),
    );
    add(
        "amplification",
        "100 aliases of changes(since: 0)",
        gql(graphql_body(&format!(
            "{{ {} }}",
            (0..100)
                .map(|i| format!(
                    "c{i}: changes(addressBookId: \"{book_id}\", since: \"0\") {{ token }}"
                ))
                .collect::<Vec<_>>()
                .join(" ")
        ))),
        Expect::GraphqlError("*"),
    );
    add(
        "amplification",
        "page size of one million",
        gql(graphql_body(
            "{ contacts(first: 1000000) { edges { node { id } } } }",
        )),
        Expect::GraphqlError("*"),
    );
    add(
        "amplification",
        "query nested 200 levels",
        gql(graphql_body(&format!(
            "{{ viewer {}{}}}",
            "{ addressBooks ".repeat(200),
            "}".repeat(200)
        ))),
        Expect::GraphqlError("*"),
    );
    add(
        "amplification",
        "fragment spreads in a cycle",
        gql(graphql_body(
            "query { viewer { ...A } } fragment A on User { ...B } fragment B on User { ...A }",
        )),
        Expect::GraphqlError("*"),
    );
    add(
        "amplification",
        "batch of 1,000 operations",
        gql(json!(
            (0..1000)
                .map(|_| json!({"query": "{ viewer { name } }"}))
                .collect::<Vec<_>>()
        )
        .to_string()),
        Expect::Status(&[200, 400, 413]),
    );
    add(
        "bad input",
        "cursor that is not base64",
        gql(graphql_body(
            "{ contacts(first: 5, after: \"%%%not-a-cursor%%%\") { totalCount } }",
        )),
        Expect::GraphqlError("*"),
    );
    add(
        "bad input",
        "cursor at offset 2^63-1",
        gql(graphql_body(&format!(
            "{{ contacts(first: 5, after: \"{}\") {{ edges {{ node {{ id }} }} }} }}",
            base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                "offset:9223372036854775807"
            )
        ))),
        Expect::Status(&[200]),
    );
    add(
        "bad input",
        "node id of garbage",
        gql(graphql_body(
            "{ node(id: \"\u{1F600}\u{0000}garbage\") { id } }",
        )),
        Expect::Status(&[200]),
    );
    add(
        "bad input",
        "changes since a revision from the future",
        gql(graphql_body(&format!(
            "{{ changes(addressBookId: \"{book_id}\", since: \"999999999999\") {{ token }} }}"
        ))),
        Expect::GraphqlError("INVALID_SYNC_TOKEN"),
    );
    add(
        "bad input",
        "malformed JSON",
        gql("{\"query\": \"{ viewer".to_owned()),
        Expect::Status(&[400]),
    );
    add(
        "bad input",
        "1 MiB of '{' as the query",
        gql(graphql_body(&"{".repeat(1 << 20))),
        Expect::GraphqlError("*"),
    );
    add(
        "size",
        "createContact with a 3 MiB note",
        gql(json!({
            "query": "mutation($b: ID!, $n: String!) { createContact(addressBookId: $b, input: { firstName: \"Big\", note: $n }) { contact { id } } }",
            "variables": { "b": book_id, "n": "x".repeat(3 << 20) },
        }).to_string()),
        Expect::GraphqlError("*"),
    );
    add(
        "cross-site",
        "text/plain POST (an HTML form)",
        c.post(format!("{}/graphql", t.base))
            .header("authorization", &t.bearer)
            .header("content-type", "text/plain")
            .body(graphql_body(
                "mutation { deleteAddressBook(id: \"x\") { deletedId } }",
            )),
        Expect::Status(&[415]),
    );
    add(
        "cross-site",
        "POST from Origin https://evil.example",
        gql(graphql_body("{ viewer { name } }")).header("origin", "https://evil.example"),
        Expect::Status(&[403]),
    );
    add(
        "cross-site",
        "POST from the server's own origin",
        gql(graphql_body("{ viewer { name } }")).header("origin", t.base.clone()),
        Expect::GraphqlData("viewer"),
    );

    // --- Brute force (last: it throttles password logins from this address) -------------------
    for i in 0..12 {
        add(
            "brute force",
            &format!("wrong password for {} (attempt {})", t.user, i + 1),
            c.request(method("PROPFIND"), t.book())
                .basic_auth(&t.user, Some(format!("guess-{i}"))),
            // The 11th attempt onwards is throttled (login_failures_per_user = 10).
            if i < 10 {
                Expect::Status(&[401, 429])
            } else {
                Expect::StatusWith(&[429], "retry")
            },
        );
    }
    for i in 0..25 {
        add(
            "brute force",
            &format!("wrong password for user-{i} from the same address"),
            c.get(format!("{}/dav/", t.base))
                .basic_auth(format!("user-{i}"), Some("guess")),
            Expect::Status(&[401, 429]),
        );
    }
    add(
        "brute force",
        "the app password still works while the name is throttled",
        propfind(t.book(), "0", String::new()),
        Expect::Status(&[207]),
    );
    add(
        "brute force",
        "the token still works while the address is throttled",
        gql(graphql_body("{ viewer { name } }")),
        Expect::GraphqlData("viewer"),
    );
    all_raw.append(&mut all);
    all_raw
}

/// Runs every case in order; each answer is read to its end.
pub async fn run_all(target: &Target, server_rss_mib: &dyn Fn() -> Option<u64>) -> Report {
    let mut results = Vec::new();
    for case in cases(target) {
        let started = Instant::now();
        let (status, body, transport_error) = match case.request {
            Send::Http(request) => match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    match response.bytes().await {
                        Ok(body) => (Some(status), body.to_vec(), None),
                        Err(e) => (Some(status), Vec::new(), Some(format!("body cut off: {e}"))),
                    }
                }
                Err(e) => (
                    None,
                    Vec::new(),
                    Some(format!("no answer (dropped connection?): {e}")),
                ),
            },
            Send::Raw { head, body_start } => raw_exchange(&target.base, &head, &body_start).await,
        };
        let elapsed = started.elapsed();
        let problem = transport_error.or_else(|| judge(&case.expect, status, &body));
        results.push(Outcome {
            class: case.class,
            name: case.name,
            status,
            bytes: body.len(),
            elapsed,
            rss_mib: server_rss_mib(),
            problem,
        });
    }
    Report { results }
}

/// Sends a request head and the start of its body on a socket of its own, then reads the
/// answer until the server closes the connection (or 64 KiB arrived).
async fn raw_exchange(
    base: &str,
    head: &str,
    body_start: &[u8],
) -> (Option<u16>, Vec<u8>, Option<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = base.trim_start_matches("http://");
    let exchange = async {
        let mut socket = tokio::net::TcpStream::connect(address).await?;
        socket.write_all(head.as_bytes()).await?;
        socket.write_all(body_start).await?;
        let mut answer = Vec::new();
        let mut buffer = [0u8; 8192];
        loop {
            let n = socket.read(&mut buffer).await?;
            if n == 0 || answer.len() > 64 * 1024 {
                break;
            }
            answer.extend_from_slice(&buffer[..n]);
            if let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head_text = String::from_utf8_lossy(&answer[..end]).to_lowercase();
                let length = head_text
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok());
                if length.is_some_and(|len| answer.len() >= end + 4 + len) {
                    break;
                }
            }
        }
        Ok::<Vec<u8>, std::io::Error>(answer)
    };
    match tokio::time::timeout(Duration::from_secs(30), exchange).await {
        Ok(Ok(answer)) => {
            let text = String::from_utf8_lossy(&answer);
            let status = text
                .lines()
                .next()
                .and_then(|line| line.split(' ').nth(1))
                .and_then(|code| code.parse::<u16>().ok());
            let body = answer
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map(|end| answer[end + 4..].to_vec())
                .unwrap_or_default();
            match status {
                Some(status) => (Some(status), body, None),
                None => (None, Vec::new(), Some(format!("no HTTP answer: {text:?}"))),
            }
        }
        Ok(Err(e)) => (None, Vec::new(), Some(format!("socket error: {e}"))),
        Err(_) => (None, Vec::new(), Some("no answer within 30 s".to_owned())),
    }
}

/// Why an answer is not the expected one.
fn judge(expect: &Expect, status: Option<u16>, body: &[u8]) -> Option<String> {
    let status = status?;
    let text = String::from_utf8_lossy(body);
    let snippet: String = text.chars().take(300).collect();
    if status >= 500 {
        return Some(format!("server error {status}: {snippet}"));
    }
    match expect {
        Expect::Status(allowed) => (!allowed.contains(&status))
            .then(|| format!("status {status}, expected {allowed:?}: {snippet}")),
        Expect::StatusWith(allowed, needle) => {
            if !allowed.contains(&status) {
                Some(format!("status {status}, expected {allowed:?}: {snippet}"))
            } else if !text.to_lowercase().contains(&needle.to_lowercase()) {
                Some(format!("body lacks {needle:?}: {snippet}"))
            } else {
                None
            }
        }
        Expect::GraphqlError(code) => {
            let Ok(value) = serde_json::from_slice::<Value>(body) else {
                return Some(format!("status {status}, not JSON: {snippet}"));
            };
            match value["errors"][0]["extensions"]["code"].as_str() {
                Some(found) if *code == "*" || found == *code => None,
                Some(found) => Some(format!("error code {found}, expected {code}: {snippet}")),
                None => Some(format!("status {status}, no error code: {snippet}")),
            }
        }
        Expect::GraphqlData(needle) => {
            if status != 200 {
                return Some(format!("status {status}: {snippet}"));
            }
            let Ok(value) = serde_json::from_slice::<Value>(body) else {
                return Some(format!("not JSON: {snippet}"));
            };
            if value.get("errors").is_some_and(|e| !e.is_null()) {
                return Some(format!("errors: {snippet}"));
            }
            (!text.contains(needle)).then(|| format!("data lacks {needle:?}: {snippet}"))
        }
    }
}

/// Whether the attacked account still syncs and queries normally.
pub async fn still_serves(t: &Target) -> bool {
    let c = client();
    let propfind = c
        .request(method("PROPFIND"), t.book())
        .header("authorization", &t.basic)
        .header("depth", "1")
        .send()
        .await;
    let graphql = c
        .post(format!("{}/graphql", t.base))
        .header("authorization", &t.bearer)
        .json(&json!({ "query": "{ contacts(first: 3) { edges { node { displayName } } } }" }))
        .send()
        .await;
    let (Ok(propfind), Ok(graphql)) = (propfind, graphql) else {
        return false;
    };
    let statuses = (propfind.status().as_u16(), graphql.status().as_u16());
    // Read both answers to their end: a listing and a page, complete.
    let listed = propfind.text().await.unwrap_or_default();
    let page = graphql.text().await.unwrap_or_default();
    statuses == (207, 200) && listed.ends_with("</d:multistatus>\n") && page.contains("displayName")
}
