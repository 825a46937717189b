//! The GraphiQL playground on `GET /graphql`, served entirely by this binary: no CDN.
//!
//! async-graphql's `GraphiQLSource` loads React and GraphiQL from unpkg.com, which a
//! self-hosted box often cannot reach, and the page then stays blank. Instead, GraphiQL 4 and
//! React 18 (their minified UMD builds from the npm registry, see `assets/graphiql/README.md`)
//! are embedded with `include_bytes!` and served under `/graphql/assets/<name>`; the versioned
//! files are immutable and cached for a year. The page itself and `playground.js` (our start
//! script) are revalidated on every load.
//!
//! The page configures GraphiQL with `POST /graphql` for queries and mutations and
//! `ws(s)://<host>/graphql/ws` for subscriptions (graphql-transport-ws, with the headers
//! editor's JSON as the `connection_init` payload, which the server reads `Authorization`
//! from). The headers editor is open with an `Authorization: Bearer <token>` placeholder and
//! the docs explorer is shown; editing the headers fetches the schema again with them.
//! Without a token, introspection gets the server's 401 JSON body, shown in the result pane.
//!
//! A Content-Security-Policy limits the page to scripts from this server.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One embedded file under `/graphql/assets/`.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    /// Versioned third-party files never change under the same name.
    immutable: bool,
    body: &'static [u8],
}

const GRAPHIQL_JS: &str = "graphiql-4.1.2.min.js";
const GRAPHIQL_CSS: &str = "graphiql-4.1.2.min.css";
const REACT_JS: &str = "react-18.3.1.production.min.js";
const REACT_DOM_JS: &str = "react-dom-18.3.1.production.min.js";
const START_JS: &str = "playground.js";

const ASSETS: &[Asset] = &[
    Asset {
        name: GRAPHIQL_JS,
        content_type: "text/javascript; charset=utf-8",
        immutable: true,
        body: include_bytes!("../../assets/graphiql/graphiql-4.1.2.min.js"),
    },
    Asset {
        name: GRAPHIQL_CSS,
        content_type: "text/css; charset=utf-8",
        immutable: true,
        body: include_bytes!("../../assets/graphiql/graphiql-4.1.2.min.css"),
    },
    Asset {
        name: REACT_JS,
        content_type: "text/javascript; charset=utf-8",
        immutable: true,
        body: include_bytes!("../../assets/graphiql/react-18.3.1.production.min.js"),
    },
    Asset {
        name: REACT_DOM_JS,
        content_type: "text/javascript; charset=utf-8",
        immutable: true,
        body: include_bytes!("../../assets/graphiql/react-dom-18.3.1.production.min.js"),
    },
    Asset {
        name: START_JS,
        content_type: "text/javascript; charset=utf-8",
        immutable: false,
        body: include_bytes!("../../assets/graphiql/playground.js"),
    },
];

/// URL path prefix of the embedded files.
pub const ASSET_PREFIX: &str = "/graphql/assets/";

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// Scripts and styles from this server only; `ws:`/`wss:` for subscriptions (the fetcher
/// builds the URL from the page's own host). GraphiQL sets inline styles, and its CSS embeds
/// fonts and icons as `data:` URLs.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
     connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The playground page.
fn page_html() -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="robots" content="noindex">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Rolodex GraphQL</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="{prefix}{css}">
    <style>
      body {{ margin: 0; height: 100vh; overflow: hidden; }}
      #graphiql {{ height: 100vh; }}
    </style>
  </head>
  <body>
    <div id="graphiql">Loading the GraphiQL playground&hellip;</div>
    <noscript>The playground needs JavaScript. The API itself is <code>POST /graphql</code>
      with <code>Authorization: Bearer &lt;token&gt;</code>.</noscript>
    <script src="{prefix}{react}"></script>
    <script src="{prefix}{react_dom}"></script>
    <script src="{prefix}{graphiql}"></script>
    <script src="{prefix}{start}"></script>
  </body>
</html>
"#,
        prefix = ASSET_PREFIX,
        css = GRAPHIQL_CSS,
        react = REACT_JS,
        react_dom = REACT_DOM_JS,
        graphiql = GRAPHIQL_JS,
        start = START_JS,
    )
}

/// `GET /graphql`: the GraphiQL page.
pub async fn page() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(REVALIDATE)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CONTENT_SECURITY_POLICY),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        page_html(),
    )
        .into_response()
}

/// `GET /graphql/assets/{name}`: one embedded file, or 404.
pub async fn asset(Path(name): Path<String>) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return (StatusCode::NOT_FOUND, "no such playground asset\n").into_response();
    };
    let cache = if asset.immutable {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        asset.body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_references_only_embedded_assets() {
        let html = page_html();
        let mut referenced = 0;
        for part in html.split(ASSET_PREFIX).skip(1) {
            let name = &part[..part.find('"').expect("closing quote")];
            assert!(
                ASSETS.iter().any(|a| a.name == name),
                "{name} is not embedded"
            );
            referenced += 1;
        }
        assert_eq!(referenced, ASSETS.len(), "every embedded asset is used");
    }

    #[test]
    fn assets_are_not_empty() {
        for asset in ASSETS {
            assert!(asset.body.len() > 1000, "{} looks truncated", asset.name);
        }
    }
}
