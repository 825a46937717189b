//! The HTTP side of the benchmark: one keep-alive client per server, timed requests
//! (request sent until the whole body is read), the CardDAV request bodies, and href
//! normalisation for comparing a server's answer with the expected paths.

use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, ETAG};
use reqwest::{Client, Method, RequestBuilder, StatusCode};

/// Peers are slow at large N; a request that takes longer than this is broken, not slow.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(900);

pub const VCARD_TYPE: &str = "text/vcard; charset=utf-8";
/// Xandikos rejects REPORT/PROPFIND bodies without an XML media type.
const XML_TYPE: &str = "application/xml; charset=utf-8";

/// What a timed request got back.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub elapsed: Duration,
}

impl Reply {
    pub fn text(&self) -> Result<&str, String> {
        std::str::from_utf8(&self.body).map_err(|e| format!("body is not UTF-8: {e}"))
    }

    pub fn etag(&self) -> Option<String> {
        self.headers
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    /// The status plus the start of the body, for failure reasons.
    pub fn describe(&self) -> String {
        let body = String::from_utf8_lossy(&self.body);
        let snippet: String = body.chars().take(200).collect();
        format!("HTTP {} {}", self.status.as_u16(), snippet.trim())
    }
}

pub fn client() -> Client {
    Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .pool_max_idle_per_host(16)
        .no_proxy()
        .build()
        .expect("a plain HTTP client builds")
}

/// Sends a request and reads the whole body; the clock covers exactly that.
pub async fn timed(request: RequestBuilder) -> Result<Reply, String> {
    let started = Instant::now();
    let response = request.send().await.map_err(|e| describe_error(&e))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.map_err(|e| describe_error(&e))?;
    let elapsed = started.elapsed();
    Ok(Reply {
        status,
        headers,
        body: body.to_vec(),
        elapsed,
    })
}

fn describe_error(e: &reqwest::Error) -> String {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        source = inner.source();
    }
    message
}

/// A CardDAV account on one server: where its book is and how to authenticate.
#[derive(Clone)]
pub struct Dav {
    pub http: Client,
    /// `http://127.0.0.1:PORT`
    pub origin: String,
    /// Path of the address book, with a trailing slash.
    pub book: String,
    pub user: String,
    pub password: String,
}

fn method(name: &[u8]) -> Method {
    Method::from_bytes(name).expect("a valid method token")
}

impl Dav {
    pub fn card_path(&self, file_name: &str) -> String {
        format!("{}{}", self.book, file_name)
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{}", self.origin, path))
            .basic_auth(&self.user, Some(&self.password))
    }

    pub fn put(&self, path: &str, vcard: String) -> RequestBuilder {
        self.request(Method::PUT, path)
            .header(CONTENT_TYPE, VCARD_TYPE)
            .body(vcard)
    }

    pub fn create(&self, path: &str, vcard: String) -> RequestBuilder {
        self.put(path, vcard).header("If-None-Match", "*")
    }

    pub fn update(&self, path: &str, vcard: String, etag: &str) -> RequestBuilder {
        let etag = HeaderValue::from_str(etag).unwrap_or(HeaderValue::from_static("\"\""));
        self.put(path, vcard).header("If-Match", etag)
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.request(Method::GET, path)
    }

    pub fn propfind(&self, path: &str, depth: &str, body: &str) -> RequestBuilder {
        self.request(method(b"PROPFIND"), path)
            .header("Depth", depth)
            .header(CONTENT_TYPE, XML_TYPE)
            .body(body.to_string())
    }

    pub fn report(&self, depth: &str, body: String) -> RequestBuilder {
        self.request(method(b"REPORT"), &self.book)
            .header("Depth", depth)
            .header(CONTENT_TYPE, XML_TYPE)
            .body(body)
    }

    /// Extended MKCOL (RFC 5689) of an address book: how Radicale makes one.
    pub fn mkcol_addressbook(&self, path: &str) -> RequestBuilder {
        self.request(method(b"MKCOL"), path)
            .header(CONTENT_TYPE, XML_TYPE)
            .body(MKCOL_ADDRESSBOOK)
    }

    /// Normalised card paths of a multistatus, without the book itself.
    pub fn is_book(&self, normalized_href: &str) -> bool {
        normalized_href.trim_end_matches('/') == self.book.trim_end_matches('/')
    }

    /// A response href as an absolute, percent-decoded path.
    pub fn normalize_href(&self, href: &str) -> String {
        let path = href
            .strip_prefix("http://")
            .or_else(|| href.strip_prefix("https://"))
            .map(|rest| rest.find('/').map_or("/", |slash| &rest[slash..]))
            .unwrap_or(href);
        percent_decode(path)
    }
}

const MKCOL_ADDRESSBOOK: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<d:mkcol xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:set><d:prop><d:resourcetype><d:collection/><c:addressbook/></d:resourcetype><d:displayname>Bench</d:displayname></d:prop></d:set></d:mkcol>"#;

pub const PROPFIND_ETAG_TYPE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/><d:getcontenttype/></d:prop></d:propfind>"#;

pub const PROPFIND_ETAG: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>"#;

pub fn multiget_body(hrefs: &[String]) -> String {
    let mut body = String::from(
        r#"<?xml version="1.0" encoding="utf-8"?>
<c:addressbook-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><c:address-data/></d:prop>"#,
    );
    for href in hrefs {
        body.push_str("<d:href>");
        body.push_str(&xml_escape(href));
        body.push_str("</d:href>");
    }
    body.push_str("</c:addressbook-multiget>");
    body
}

pub fn query_body(property: &str, needle: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<c:addressbook-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/></d:prop><c:filter><c:prop-filter name="{property}"><c:text-match collation="i;unicode-casemap" match-type="contains">{}</c:text-match></c:prop-filter></c:filter></c:addressbook-query>"#,
        xml_escape(needle)
    )
}

pub fn sync_body(token: &str) -> String {
    let token = if token.is_empty() {
        "<d:sync-token/>".to_string()
    } else {
        format!("<d:sync-token>{}</d:sync-token>", xml_escape(token))
    };
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<d:sync-collection xmlns:d="DAV:">{token}<d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#
    )
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn percent_decode(path: &str) -> String {
    fn hex(byte: u8) -> Option<u8> {
        (byte as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dav() -> Dav {
        Dav {
            http: client(),
            origin: "http://127.0.0.1:1".into(),
            book: "/user/contacts/addressbook/".into(),
            user: "u".into(),
            password: "p".into(),
        }
    }

    #[test]
    fn hrefs_are_normalised_to_decoded_paths() {
        let dav = dav();
        assert_eq!(
            dav.normalize_href("http://127.0.0.1:1/user/contacts/addressbook/a%20b.vcf"),
            "/user/contacts/addressbook/a b.vcf"
        );
        assert_eq!(dav.normalize_href("/x/%D0%98.vcf"), "/x/И.vcf");
        assert_eq!(dav.normalize_href("/x/100%"), "/x/100%");
        assert!(dav.is_book("/user/contacts/addressbook"));
        assert!(dav.is_book("/user/contacts/addressbook/"));
    }
}
