//! `GET /`: the page someone sees who opens the server in a browser. It names where the
//! GraphQL playground and the CardDAV service are, and nothing else: it is answered without
//! authentication, so it shows no user, count, version or setting.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// The page, with absolute URLs built from the address the browser used.
pub async fn page(headers: HeaderMap) -> Response {
    let base = base_url(&headers);
    let body = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Rolodex</title>
</head>
<body>
<h1>Rolodex</h1>
<p>This is a Rolodex contacts server.</p>
<ul>
<li>GraphQL API and playground: <a href="/graphql">{base}/graphql</a></li>
<li>CardDAV: enter <code>{base}/</code> as the server address in your contacts app; it finds
the service through <a href="/.well-known/carddav">{base}/.well-known/carddav</a>, which leads to
the DAV root <a href="/dav/">{base}/dav/</a>.</li>
</ul>
</body>
</html>
"#
    );
    let mut response = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
    // Nothing on the page is meant to run or be framed.
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// `scheme://host` as the client reached the server: `https` when a TLS proxy says so. A
/// `Host` with characters no host name has is not echoed (the page would carry it), and the
/// page falls back to paths alone.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|host| {
            !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        });
    let Some(host) = host else {
        return String::new();
    };
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|proto| proto.eq_ignore_ascii_case("https"));
    format!("{}://{host}", if https { "https" } else { "http" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_plain_host_is_echoed() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::HOST,
            HeaderValue::from_static("contacts.example.org"),
        );
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert_eq!(base_url(&headers), "https://contacts.example.org");
        headers.insert(header::HOST, HeaderValue::from_static("a<script>"));
        assert_eq!(base_url(&headers), "");
        headers.remove(header::HOST);
        assert_eq!(base_url(&headers), "");
    }
}
