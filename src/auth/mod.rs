//! Authentication: turns `Authorization` headers into a [`Principal`]. HTTP Basic (account
//! password or app password, for CardDAV clients) and Bearer tokens (GraphQL, scripts). Every
//! DAV and GraphQL request goes through [`RequirePrincipal`].

pub mod secret;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;

use crate::domain::principal::Principal;
use crate::store::{CredentialKind, Store, StoreError};

/// Realm shown by clients in their password prompt.
pub const REALM: &str = "Rolodex";

/// How long a verified Basic login is remembered. CardDAV clients send Basic credentials on
/// every request, and argon2 is deliberately slow (tens of ms); remembering a success keyed by a
/// hash of the credentials keeps a sync fast without weakening storage.
const LOGIN_CACHE_TTL: Duration = Duration::from_secs(300);
const LOGIN_CACHE_MAX: usize = 10_000;

/// Password hashes verified at once. Each argon2 check holds ~19 MiB and a core for tens of
/// ms; a phone opening 8 connections with the same new password would otherwise run 8 checks
/// side by side (150 MiB of peak memory), and a flood of bad logins could exhaust the server.
/// Queued checks look at the login cache again first, so the 7 others of that phone wait for
/// the first and skip the hash entirely.
const CONCURRENT_PASSWORD_CHECKS: usize = 2;

/// Verifies credentials against the store.
#[derive(Clone)]
pub struct Authenticator {
    store: Store,
    verified_logins: Arc<Mutex<HashMap<String, (Principal, Instant)>>>,
    password_checks: Arc<tokio::sync::Semaphore>,
}

impl Authenticator {
    pub fn new(store: Store) -> Authenticator {
        Authenticator {
            store,
            verified_logins: Arc::default(),
            password_checks: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_PASSWORD_CHECKS)),
        }
    }

    /// The principal for an `Authorization` header value.
    pub async fn authenticate(&self, header: &HeaderValue) -> Result<Principal, StoreError> {
        let value = header.to_str().map_err(|_| StoreError::Unauthenticated)?;
        let (scheme, credentials) = value.split_once(' ').ok_or(StoreError::Unauthenticated)?;
        let credentials = credentials.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            self.bearer(credentials).await
        } else if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(credentials)
                .map_err(|_| StoreError::Unauthenticated)?;
            let decoded = String::from_utf8(decoded).map_err(|_| StoreError::Unauthenticated)?;
            let (user, password) = decoded.split_once(':').ok_or(StoreError::Unauthenticated)?;
            self.basic(user, password).await
        } else {
            Err(StoreError::Unauthenticated)
        }
    }

    /// A bearer token.
    pub async fn bearer(&self, token: &str) -> Result<Principal, StoreError> {
        self.store
            .principal_for_secret(CredentialKind::Token, &secret::hash_secret(token))
            .await?
            .ok_or(StoreError::Unauthenticated)
    }

    /// A user name with the account password or one of the user's app passwords.
    pub async fn basic(&self, user: &str, password: &str) -> Result<Principal, StoreError> {
        let cache_key = secret::hash_secret(&format!("{user}\0{password}"));
        if let Some(principal) = self.cached(&cache_key) {
            return Ok(principal);
        }
        // App passwords first: one indexed lookup, no argon2.
        if let Some(principal) = self
            .store
            .principal_for_secret(CredentialKind::AppPassword, &secret::hash_secret(password))
            .await?
            && principal.user_name == user
        {
            self.remember(cache_key, &principal);
            return Ok(principal);
        }
        let _permit = self
            .password_checks
            .acquire()
            .await
            .map_err(|_| StoreError::Unauthenticated)?;
        if let Some(principal) = self.cached(&cache_key) {
            return Ok(principal);
        }
        let Some((principal, stored_hash)) = self.store.login_lookup(user).await? else {
            // Spend the same time as a real check, so timing does not reveal which user names
            // exist.
            let _ = tokio::task::spawn_blocking(|| {
                secret::verify_password("x", dummy_hash());
            })
            .await;
            return Err(StoreError::Unauthenticated);
        };
        let password = password.to_owned();
        let ok =
            tokio::task::spawn_blocking(move || secret::verify_password(&password, &stored_hash))
                .await
                .unwrap_or(false);
        if !ok {
            return Err(StoreError::Unauthenticated);
        }
        self.remember(cache_key, &principal);
        Ok(principal)
    }

    fn cached(&self, key: &str) -> Option<Principal> {
        let cache = self.verified_logins.lock().ok()?;
        cache
            .get(key)
            .filter(|(_, at)| at.elapsed() < LOGIN_CACHE_TTL)
            .map(|(p, _)| p.clone())
    }

    fn remember(&self, key: String, principal: &Principal) {
        if let Ok(mut cache) = self.verified_logins.lock() {
            if cache.len() >= LOGIN_CACHE_MAX {
                cache.retain(|_, (_, at)| at.elapsed() < LOGIN_CACHE_TTL);
                if cache.len() >= LOGIN_CACHE_MAX {
                    cache.clear();
                }
            }
            cache.insert(key, (principal.clone(), Instant::now()));
        }
    }
}

/// An argon2id hash (same parameters as real ones) verified against when the user does not
/// exist.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| secret::hash_password("no such user").unwrap_or_default())
}

/// Extractor: the authenticated principal, or a 401 with `WWW-Authenticate`.
pub struct RequirePrincipal(pub Principal);

/// The 401 answer every front end gives for missing or wrong credentials.
pub fn unauthorized(message: &str) -> Response {
    let mut response = (StatusCode::UNAUTHORIZED, message.to_owned()).into_response();
    let headers = response.headers_mut();
    headers.append(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_str(&format!("Basic realm=\"{REALM}\", charset=\"UTF-8\""))
            .expect("static header value"),
    );
    headers.append(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_str(&format!("Bearer realm=\"{REALM}\"")).expect("static header value"),
    );
    response
}

impl<S> FromRequestParts<S> for RequirePrincipal
where
    Authenticator: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let authenticator = Authenticator::from_ref(state);
        let Some(header) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(unauthorized("authentication required"));
        };
        match authenticator.authenticate(header).await {
            Ok(principal) => Ok(RequirePrincipal(principal)),
            Err(StoreError::Unavailable(e)) => {
                tracing::warn!(error = %e, "authentication: database unavailable");
                Err((StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response())
            }
            Err(_) => Err(unauthorized("invalid credentials")),
        }
    }
}
