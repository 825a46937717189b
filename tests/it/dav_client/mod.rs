//! A CardDAV client for the HTTP-level tests: the real router (oneshot), a fresh user with an
//! app password per client, and the snapshot helpers (pretty-printing, redaction of volatile
//! values). Shared by tests/it/dav.rs and tests/it/dav_*.rs.
#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use base64::Engine;
use rolodex::app::{AppOptions, AppState, build_router};
use rolodex::limits::Limits;
use rolodex::store::{ChangeHub, CredentialKind, NewCredential, Principal, Store};
use tower::ServiceExt;

use super::common;

/// Body limit of the routers under test: small, so max-resource-size is cheap to hit.
pub const LIMIT: usize = 64 * 1024;

pub struct Client {
    pub router: Router,
    pub principal: Principal,
    pub user: String,
    pub auth: String,
    pub book_id: i64,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A fresh user with an app password, and a router of its own.
pub async fn client(store: &Store, prefix: &str) -> Client {
    let principal = common::user(store, prefix).await;
    let password = rolodex::auth::secret::generate_token();
    store
        .add_credential(
            &principal.user_name,
            NewCredential {
                kind: CredentialKind::AppPassword,
                label: "test",
                secret_hash: &rolodex::auth::secret::hash_secret(&password),
            },
        )
        .await
        .expect("app password");
    let auth = basic(&principal.user_name, &password);
    let book_id = common::default_book(store, &principal).await;
    Client {
        router: build_router(AppState::new(
            store.clone(),
            AppOptions {
                limits: Limits {
                    max_body_bytes: LIMIT,
                    max_card_bytes: LIMIT,
                    ..Limits::default()
                },
                ..AppOptions::default()
            },
            // CardDAV serves no subscriptions.
            ChangeHub::unheard(),
        )),
        user: principal.user_name.clone(),
        principal,
        auth,
        book_id,
    }
}

impl Client {
    /// The same user, credentials and book behind a router with other limits.
    pub fn with_limits(&self, store: &Store, limits: Limits) -> Client {
        Client {
            router: build_router(AppState::new(
                store.clone(),
                AppOptions {
                    limits,
                    ..AppOptions::default()
                },
                ChangeHub::unheard(),
            )),
            principal: self.principal.clone(),
            user: self.user.clone(),
            auth: self.auth.clone(),
            book_id: self.book_id,
        }
    }
}

pub fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

impl Client {
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", &self.auth);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        send_raw(&self.router, request.body(body.into()).unwrap()).await
    }

    pub async fn propfind(&self, path: &str, depth: &str, body: &str) -> Reply {
        self.send("PROPFIND", path, &[("depth", depth)], body.to_owned())
            .await
    }

    pub async fn report(&self, path: &str, body: &str) -> Reply {
        self.send("REPORT", path, &[("depth", "1")], body.to_owned())
            .await
    }

    pub async fn put(&self, path: &str, card: &str, headers: &[(&str, &str)]) -> Reply {
        let mut all = vec![("content-type", "text/vcard; charset=utf-8")];
        all.extend_from_slice(headers);
        self.send("PUT", path, &all, card.to_owned()).await
    }

    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.send("GET", path, headers, Body::empty()).await
    }

    pub fn home(&self) -> String {
        format!("/dav/addressbooks/{}/", self.user)
    }

    pub fn book(&self) -> String {
        format!("/dav/addressbooks/{}/contacts/", self.user)
    }

    pub fn card(&self, name: &str) -> String {
        format!("{}{name}", self.book())
    }

    /// The book's sync token, read with PROPFIND.
    pub async fn sync_token(&self) -> String {
        let reply = self
            .propfind(
                &self.book(),
                "0",
                r#"<propfind xmlns="DAV:"><prop><sync-token/></prop></propfind>"#,
            )
            .await;
        between(&reply.body, "<d:sync-token>", "</d:sync-token>").to_owned()
    }

    /// Snapshot form of a body: pretty-printed, user name and volatile values redacted.
    pub fn redact(&self, body: &str) -> String {
        redact(&pretty(body)).replace(&self.user, "USER")
    }
}

pub async fn send_raw(router: &Router, request: Request<Body>) -> Reply {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    Reply {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

pub fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).map(|i| i + start.len()).unwrap_or(0);
    let to = text[from..].find(end).map_or(text.len(), |i| from + i);
    &text[from..to]
}

pub fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/dav/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn card(uid: &str, name: &str) -> String {
    format!(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nN:{name};;;;\r\nEMAIL;TYPE=INTERNET:{uid}@example.org\r\nX-CUSTOM-THING;X-PARAM=1:kept\r\nEND:VCARD\r\n"
    )
}

/// Indents XML for readable snapshots: one element per line, an element holding only text on
/// one line, text kept byte for byte (our writer puts no whitespace between tags but newlines).
pub fn pretty(xml: &str) -> String {
    let mut tokens: Vec<&str> = Vec::new();
    let mut rest = xml;
    while !rest.is_empty() {
        let end = if rest.starts_with('<') {
            rest.find('>').map_or(rest.len(), |i| i + 1)
        } else {
            rest.find('<').unwrap_or(rest.len())
        };
        let token = &rest[..end];
        if !token.trim().is_empty() {
            tokens.push(token);
        }
        rest = &rest[end..];
    }
    let mut out = String::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        let token = tokens[i];
        let indent = "  ".repeat(depth);
        if token.starts_with("</") {
            depth = depth.saturating_sub(1);
            out.push_str(&"  ".repeat(depth));
            out.push_str(token);
        } else if token.starts_with("<?") || token.ends_with("/>") || !token.starts_with('<') {
            out.push_str(&indent);
            out.push_str(token);
        } else if i + 2 < tokens.len()
            && !tokens[i + 1].starts_with('<')
            && tokens[i + 2].starts_with("</")
        {
            out.push_str(&indent);
            out.push_str(token);
            out.push_str(tokens[i + 1]);
            out.push_str(tokens[i + 2]);
            i += 2;
        } else {
            out.push_str(&indent);
            out.push_str(token);
            depth += 1;
        }
        out.push('\n');
        i += 1;
    }
    out
}

/// Replaces ETags, sync-token book ids and dates with placeholders.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    // ETags: '"' + 32 hex + '"'
    while let Some(i) = rest.find('"') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if after.len() >= 33
            && after[..32].bytes().all(|b| b.is_ascii_hexdigit())
            && after[32..].starts_with('"')
        {
            out.push_str("\"ETAG\"");
            rest = &after[33..];
        } else {
            out.push('"');
            rest = after;
        }
    }
    out.push_str(rest);
    let mut text = out;
    // Sync tokens: https://rolodex.invalid/sync/<book id>/<revision>
    let marker = "https://rolodex.invalid/sync/";
    let mut out = String::with_capacity(text.len());
    while let Some(i) = text.find(marker) {
        out.push_str(&text[..i + marker.len()]);
        let after = &text[i + marker.len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        out.push_str("BOOK");
        text = after[digits..].to_owned();
    }
    out.push_str(&text);
    // Dates
    let mut text = out;
    for tag in ["<d:getlastmodified>"] {
        let end = tag.replace('<', "</");
        let mut out = String::new();
        let mut rest = text.as_str();
        while let Some(i) = rest.find(tag) {
            out.push_str(&rest[..i + tag.len()]);
            let after = &rest[i + tag.len()..];
            let close = after.find(&end).unwrap_or(0);
            out.push_str("DATE");
            rest = &after[close..];
        }
        out.push_str(rest);
        text = out;
    }
    text
}
