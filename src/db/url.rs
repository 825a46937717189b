//! Splitting libpq's TLS parameters out of a connection string. tokio-postgres parses the rest
//! of a libpq connection string (URL or `key=value` form) itself, but knows only `sslmode`
//! `disable`, `prefer` and `require`, and refuses `sslrootcert` as an unknown option; libpq's
//! meaning of those (see "SSL Support" in the libpq chapter of the PostgreSQL docs,
//! `libpq-ssl.html`) is implemented in `tls`. Nothing here reads a file or the network.

use thiserror::Error;

/// libpq's `sslmode` values that rolodex supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// A connection string with its TLS parameters taken out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitUrl {
    /// What is left, for tokio-postgres.
    pub rest: String,
    pub sslmode: Option<SslMode>,
    pub sslrootcert: Option<String>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum UrlError {
    #[error(
        "sslmode={0:?} is not supported; use disable, prefer, require, verify-ca or verify-full"
    )]
    SslMode(String),
    #[error(
        "{0} (TLS client certificates) is not supported; authenticate with a password, or \
         connect through a local proxy that holds the certificate"
    )]
    ClientCertificate(String),
    #[error("malformed connection string: {0}")]
    Malformed(&'static str),
}

/// Parameters tokio-postgres does not understand and that would silently weaken or change a
/// libpq user's setup if dropped.
const UNSUPPORTED: [&str; 4] = ["sslcert", "sslkey", "sslpassword", "sslcrl"];

/// Takes `sslmode` and `sslrootcert` out of a `postgres://` / `postgresql://` URL or a libpq
/// `key=value` string.
pub fn split_tls_params(url: &str) -> Result<SplitUrl, UrlError> {
    let mut split = SplitUrl {
        rest: String::new(),
        sslmode: None,
        sslrootcert: None,
    };
    let mut take = |key: &str, value: String| -> Result<bool, UrlError> {
        match key {
            "sslmode" => {
                split.sslmode = Some(parse_mode(&value)?);
                Ok(true)
            }
            "sslrootcert" => {
                split.sslrootcert = Some(value);
                Ok(true)
            }
            k if UNSUPPORTED.contains(&k) => Err(UrlError::ClientCertificate(k.to_owned())),
            _ => Ok(false),
        }
    };
    let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else {
            return Ok(SplitUrl {
                rest: url.to_owned(),
                ..split
            });
        };
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if !take(&percent_decode(key)?, percent_decode(value)?)? {
                kept.push(pair);
            }
        }
        if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        }
    } else {
        let mut kept = Vec::new();
        for (key, value) in key_values(url)? {
            if !take(&key, value.clone())? {
                kept.push(format!(
                    "{key}='{}'",
                    value.replace('\\', "\\\\").replace('\'', "\\'")
                ));
            }
        }
        kept.join(" ")
    };
    split.rest = rest;
    Ok(split)
}

fn parse_mode(value: &str) -> Result<SslMode, UrlError> {
    Ok(match value {
        "disable" => SslMode::Disable,
        "prefer" => SslMode::Prefer,
        "require" => SslMode::Require,
        "verify-ca" => SslMode::VerifyCa,
        "verify-full" => SslMode::VerifyFull,
        other => return Err(UrlError::SslMode(other.to_owned())),
    })
}

/// `%XX` escapes of a URL component (RFC 3986, section 2.1); `+` stays `+` as in libpq.
fn percent_decode(text: &str) -> Result<String, UrlError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(UrlError::Malformed("bad %-escape in the URL"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| UrlError::Malformed("%-escapes that are not UTF-8"))
}

/// libpq's `key = value` list: whitespace-separated, values optionally single-quoted with
/// backslash escapes (the "Keyword/Value Connection Strings" section of the libpq docs).
fn key_values(text: &str) -> Result<Vec<(String, String)>, UrlError> {
    let mut pairs = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(pairs);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(UrlError::Malformed("expected key=value"));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    Some('\'') => break,
                    Some('\\') => {
                        value.push(chars.next().ok_or(UrlError::Malformed("dangling \\"))?)
                    }
                    Some(c) => value.push(c),
                    None => return Err(UrlError::Malformed("unterminated quoted value")),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.push(chars.next().ok_or(UrlError::Malformed("dangling \\"))?);
                } else {
                    value.push(c);
                }
            }
        }
        pairs.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_parameters_are_taken_out_and_the_rest_kept() {
        let split = split_tls_params(
            "postgresql://u:p@db.example.org:6543/app?application_name=x&sslmode=verify-full\
             &sslrootcert=%2Fetc%2Fca%20bundle.pem&connect_timeout=5",
        )
        .unwrap();
        assert_eq!(
            split.rest,
            "postgresql://u:p@db.example.org:6543/app?application_name=x&connect_timeout=5"
        );
        assert_eq!(split.sslmode, Some(SslMode::VerifyFull));
        assert_eq!(split.sslrootcert.as_deref(), Some("/etc/ca bundle.pem"));
        let plain = split_tls_params("postgres://localhost/app").unwrap();
        assert_eq!(plain.rest, "postgres://localhost/app");
        assert_eq!(plain.sslmode, None);
        let only = split_tls_params("postgres://h/app?sslmode=require").unwrap();
        assert_eq!(only.rest, "postgres://h/app");
    }

    #[test]
    fn key_value_strings_are_understood() {
        let split = split_tls_params(
            "host=db user = 'o\\'brien' password='a b' sslmode=verify-ca sslrootcert='/x y'",
        )
        .unwrap();
        assert_eq!(split.rest, "host='db' user='o\\'brien' password='a b'");
        assert_eq!(split.sslmode, Some(SslMode::VerifyCa));
        assert_eq!(split.sslrootcert.as_deref(), Some("/x y"));
    }

    #[test]
    fn unsupported_values_are_refused_by_name() {
        let err = split_tls_params("postgres://h/d?sslmode=allow").unwrap_err();
        assert!(err.to_string().contains("\"allow\""), "{err}");
        let err = split_tls_params("host=h sslcert=/c.pem").unwrap_err();
        assert!(err.to_string().starts_with("sslcert"), "{err}");
        assert!(split_tls_params("host='h").is_err());
    }
}
