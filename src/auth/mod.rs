//! Authentication: turns `Authorization` headers into a [`Principal`]. HTTP Basic (account
//! password or app password, for CardDAV clients) and Bearer tokens (GraphQL, scripts). Every
//! DAV and GraphQL request goes through [`Authenticator::authenticate`], by way of the one
//! extractor both front ends use ([`extract::Authenticated`]), each answering a refusal in its
//! own terms; failed logins are throttled per user name and per client address
//! ([`throttle`]).

pub mod extract;
pub mod secret;
pub mod throttle;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine;

use crate::domain::principal::Principal;
use crate::limits::Limits;
use crate::store::{CredentialKind, Store, StoreError};
pub use extract::{Authenticated, Peer, PlainText, Refusal, peer_address, refuse};
use throttle::{LoginThrottle, ThrottleSettings};

/// Realm shown by clients in their password prompt.
pub const REALM: &str = "Rolodex";

/// How long a verified account password is remembered. CardDAV clients send Basic credentials
/// on every request, and argon2 is deliberately slow (tens of ms, and few at once). What is
/// remembered is only the outcome of one argon2 check, keyed by a hash of the user name, the
/// password *and the stored hash* (see [`login_key`]): the user row itself is read on every
/// request, so the entry can never outlive a password change, a disabled or deleted user, in
/// this or any other server process. The time limit only bounds how long a fast hash of a
/// password stays in memory.
const LOGIN_CACHE_TTL: Duration = Duration::from_secs(300);
const LOGIN_CACHE_MAX: usize = 10_000;

/// Password hashes verified at once. Each argon2 check holds ~19 MiB and a core for tens of
/// ms; a phone opening 8 connections with the same new password would otherwise run 8 checks
/// side by side (150 MiB of peak memory), and a flood of bad logins could exhaust the server.
/// Queued checks look at the remembered checks again first, so the 7 others of that phone wait
/// for the first and skip the hash entirely.
const CONCURRENT_PASSWORD_CHECKS: usize = 2;

/// Longest a password check waits for an argon2 slot. Under a flood that outlasts the
/// throttle (many addresses), a login is answered "busy, retry" instead of queueing forever.
const PASSWORD_QUEUE_WAIT: Duration = Duration::from_secs(10);

/// Longest accepted user name and password in Basic credentials (argon2's cost does not grow
/// with the password, but nothing legitimate is longer, and the lookup key is hashed anyway).
const MAX_CREDENTIAL_CHARS: usize = 1024;

/// Why a request carries no usable principal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("authentication required")]
    Missing,
    #[error("invalid credentials")]
    Invalid,
    /// Too many failed logins for this user name or from this address.
    #[error("too many failed logins; retry in {} s", retry_after.as_secs().max(1))]
    Throttled { retry_after: Duration },
    /// Password checks are saturated; the client should retry shortly.
    #[error("too many logins at once; retry shortly")]
    Busy,
    #[error("database unavailable")]
    Unavailable(String),
}

impl AuthError {
    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::Missing | AuthError::Invalid => StatusCode::UNAUTHORIZED,
            AuthError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            AuthError::Busy | AuthError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Adds what the status needs: the `WWW-Authenticate` challenges to a 401, `Retry-After`
    /// to a 429 or 503. Each front end builds its own body and calls this once.
    pub fn decorate(&self, mut response: Response) -> Response {
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        match self {
            AuthError::Missing | AuthError::Invalid => {
                for challenge in [
                    format!("Basic realm=\"{REALM}\", charset=\"UTF-8\""),
                    format!("Bearer realm=\"{REALM}\""),
                ] {
                    if let Ok(value) = HeaderValue::from_str(&challenge) {
                        headers.append(header::WWW_AUTHENTICATE, value);
                    }
                }
            }
            AuthError::Throttled { retry_after } => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(retry_after.as_secs().max(1)),
                );
            }
            AuthError::Busy | AuthError::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
        }
        response
    }
}

impl From<StoreError> for AuthError {
    fn from(error: StoreError) -> AuthError {
        match error {
            StoreError::Unavailable(e) => AuthError::Unavailable(e),
            StoreError::Database(e) => AuthError::Unavailable(e.to_string()),
            _ => AuthError::Invalid,
        }
    }
}

/// Verifies credentials against the store.
#[derive(Clone)]
pub struct Authenticator {
    store: Store,
    verified_logins: Arc<Mutex<HashMap<String, Instant>>>,
    password_checks: Arc<tokio::sync::Semaphore>,
    throttle: Arc<LoginThrottle>,
}

/// Basic credentials as sent.
struct BasicCredentials {
    user: String,
    password: String,
}

impl Authenticator {
    pub fn new(store: Store, limits: &Limits) -> Authenticator {
        Authenticator {
            store,
            verified_logins: Arc::default(),
            password_checks: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_PASSWORD_CHECKS)),
            throttle: Arc::new(LoginThrottle::new(ThrottleSettings {
                per_user: limits.login_failures_per_user,
                per_address: limits.login_failures_per_address,
                window: Duration::from_secs(limits.login_window_secs),
            })),
        }
    }

    /// The principal for an `Authorization` header value; `peer` is the client's address (see
    /// [`peer_address`]), which failed logins are also counted by.
    pub async fn authenticate(
        &self,
        header: &HeaderValue,
        peer: Option<IpAddr>,
    ) -> Result<Principal, AuthError> {
        let value = header.to_str().map_err(|_| AuthError::Invalid)?;
        let (scheme, credentials) = value.split_once(' ').ok_or(AuthError::Invalid)?;
        let credentials = credentials.trim();
        let result = if scheme.eq_ignore_ascii_case("bearer") {
            self.bearer(credentials).await
        } else if scheme.eq_ignore_ascii_case("basic") {
            match decode_basic(credentials) {
                Some(basic) => return self.basic(&basic.user, &basic.password, peer).await,
                None => Err(AuthError::Invalid),
            }
        } else {
            Err(AuthError::Invalid)
        };
        if matches!(result, Err(AuthError::Invalid)) {
            // A bad token is no password guess, but a flood of them from one address is
            // throttled like one.
            self.record_failure(None, peer);
            if let Some(retry_after) = self.throttle.retry_after(None, peer) {
                return Err(AuthError::Throttled { retry_after });
            }
        }
        result
    }

    /// A bearer token.
    pub async fn bearer(&self, token: &str) -> Result<Principal, AuthError> {
        if token.is_empty() || token.len() > MAX_CREDENTIAL_CHARS {
            return Err(AuthError::Invalid);
        }
        self.store
            .principal_for_secret(CredentialKind::Token, &secret::hash_secret(token))
            .await?
            .ok_or(AuthError::Invalid)
    }

    /// A user name with the account password or one of the user's app passwords.
    pub async fn basic(
        &self,
        user: &str,
        password: &str,
        peer: Option<IpAddr>,
    ) -> Result<Principal, AuthError> {
        if user.is_empty() || user.len() > MAX_CREDENTIAL_CHARS {
            return Err(AuthError::Invalid);
        }
        if password.len() > MAX_CREDENTIAL_CHARS {
            self.record_failure(Some(user), peer);
            return Err(AuthError::Invalid);
        }
        // The account password of a recent login costs one lookup of the user row (which a
        // disabled or deleted user, or a changed password, fails at once) and no argon2; a
        // client with an app password pays a second lookup (see `verified`).
        let found = self.store.login_lookup(user).await?;
        if let Some((principal, stored_hash)) = &found
            && self.verified(user, password, stored_hash)
        {
            return Ok(principal.clone());
        }
        // App passwords: one indexed lookup, no argon2, never throttled (see `throttle`).
        if let Some(principal) = self
            .store
            .principal_for_secret(CredentialKind::AppPassword, &secret::hash_secret(password))
            .await?
            && principal.user_name == user
        {
            return Ok(principal);
        }
        self.check_account_password(user, password, peer, found)
            .await
            .map(|(principal, _)| principal)
    }

    /// Checks `user`'s account password; the principal and the stored hash it matched. Failures
    /// count towards the throttle like a failed login (the GraphQL `changePassword` goes
    /// through here too, so a stolen token cannot guess the password faster than a login).
    pub async fn account_password(
        &self,
        user: &str,
        password: &str,
        peer: Option<IpAddr>,
    ) -> Result<(Principal, String), AuthError> {
        if password.len() > MAX_CREDENTIAL_CHARS {
            self.record_failure(Some(user), peer);
            return Err(AuthError::Invalid);
        }
        // The user row is read on every request, so a disabled or deleted user, or a changed
        // password, is refused at once in every server process; only the argon2 check of an
        // unchanged stored hash is remembered (see `LOGIN_CACHE_TTL`).
        let found = self.store.login_lookup(user).await?;
        self.check_account_password(user, password, peer, found)
            .await
    }

    /// [`Authenticator::account_password`] against `found`, the user row as just read.
    async fn check_account_password(
        &self,
        user: &str,
        password: &str,
        peer: Option<IpAddr>,
        found: Option<(Principal, String)>,
    ) -> Result<(Principal, String), AuthError> {
        if let Some((principal, stored_hash)) = &found
            && self.verified(user, password, stored_hash)
        {
            return Ok((principal.clone(), stored_hash.clone()));
        }
        if let Some(retry_after) = self.throttle.retry_after(Some(user), peer) {
            return Err(AuthError::Throttled { retry_after });
        }
        let _permit = self.password_permit().await?;
        if let Some((principal, stored_hash)) = &found
            && self.verified(user, password, stored_hash)
        {
            return Ok((principal.clone(), stored_hash.clone()));
        }
        let Some((principal, stored_hash)) = found else {
            // Spend the same time as a real check, so timing does not reveal which user names
            // exist (or are disabled).
            let _ = tokio::task::spawn_blocking(|| {
                secret::verify_password("x", dummy_hash());
            })
            .await;
            self.record_failure(Some(user), peer);
            return Err(AuthError::Invalid);
        };
        let (candidate, against) = (password.to_owned(), stored_hash.clone());
        let ok = tokio::task::spawn_blocking(move || secret::verify_password(&candidate, &against))
            .await
            .unwrap_or(false);
        if !ok {
            self.record_failure(Some(user), peer);
            return Err(AuthError::Invalid);
        }
        self.throttle.succeeded(user);
        self.remember(login_key(user, password, &stored_hash));
        Ok((principal, stored_hash))
    }

    /// The argon2 hash of a new password, computed within the same limit on concurrent
    /// checks as logins (a hash costs what a check costs).
    pub async fn hash_new_password(&self, password: &str) -> Result<String, AuthError> {
        let _permit = self.password_permit().await?;
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || secret::hash_password(&password))
            .await
            .map_err(|e| AuthError::Unavailable(e.to_string()))?
            .map_err(|e| AuthError::Unavailable(e.to_string()))
    }

    /// One of the few argon2 slots, or Busy after [`PASSWORD_QUEUE_WAIT`].
    async fn password_permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, AuthError> {
        tokio::time::timeout(PASSWORD_QUEUE_WAIT, self.password_checks.acquire())
            .await
            .map_err(|_| AuthError::Busy)?
            .map_err(|_| AuthError::Busy)
    }

    fn record_failure(&self, user: Option<&str>, peer: Option<IpAddr>) {
        let peer_text = peer.map(|p| p.to_string()).unwrap_or_default();
        if self.throttle.failed(user, peer) {
            tracing::warn!(
                user = user.unwrap_or(""),
                address = %peer_text,
                "failed logins reached the throttle threshold; further attempts get 429"
            );
        } else {
            tracing::info!(user = user.unwrap_or(""), address = %peer_text, "failed login");
        }
    }

    /// Whether this password was verified against exactly this stored hash lately.
    fn verified(&self, user: &str, password: &str, stored_hash: &str) -> bool {
        let key = login_key(user, password, stored_hash);
        self.verified_logins
            .lock()
            .ok()
            .and_then(|cache| cache.get(&key).map(|at| at.elapsed() < LOGIN_CACHE_TTL))
            .unwrap_or(false)
    }

    fn remember(&self, key: String) {
        if let Ok(mut cache) = self.verified_logins.lock() {
            if cache.len() >= LOGIN_CACHE_MAX {
                cache.retain(|_, at| at.elapsed() < LOGIN_CACHE_TTL);
                if cache.len() >= LOGIN_CACHE_MAX {
                    cache.clear();
                }
            }
            cache.insert(key, Instant::now());
        }
    }
}

/// The key of a verified login: a hash of the user name, the password and the stored hash it
/// matched. A changed password has a new stored hash (new salt), so no entry can ever match
/// it; the plain password is never kept.
fn login_key(user: &str, password: &str, stored_hash: &str) -> String {
    secret::hash_secret(&format!("{user}\0{password}\0{stored_hash}"))
}

/// An argon2id hash (same parameters as real ones) verified against when the user does not
/// exist.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| secret::hash_password("no such user").unwrap_or_default())
}

/// `user:password` of a Basic credential (RFC 7617), UTF-8.
fn decode_basic(credentials: &str) -> Option<BasicCredentials> {
    if credentials.len() > 4 * MAX_CREDENTIAL_CHARS {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(credentials)
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some(BasicCredentials {
        user: user.to_owned(),
        password: password.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn basic_credentials_decode_and_refuse_garbage() {
        let encoded = base64::engine::general_purpose::STANDARD.encode("alice:pa:ss wörd");
        let basic = decode_basic(&encoded).unwrap();
        assert_eq!(
            (basic.user.as_str(), basic.password.as_str()),
            ("alice", "pa:ss wörd")
        );
        assert!(decode_basic("not base64!").is_none());
        assert!(
            decode_basic(&base64::engine::general_purpose::STANDARD.encode("no-colon")).is_none()
        );
        assert!(decode_basic(&"QUFB".repeat(MAX_CREDENTIAL_CHARS)).is_none());
    }

    proptest! {
        #![proptest_config(crate::fuzzing::config())]

        /// Any header text decodes or is refused; nothing panics.
        #[test]
        fn fuzz_basic_decoding(text in ".{0,200}", bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_basic(&text);
            let _ = decode_basic(&base64::engine::general_purpose::STANDARD.encode(&bytes));
        }
    }
}
