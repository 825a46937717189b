//! Secrets: account passwords (argon2id) and random API tokens / app passwords (256-bit,
//! stored as SHA-256, shown to the user once).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Prefix of bearer tokens, so a leaked token is recognisable (e.g. by secret scanners).
pub const TOKEN_PREFIX: &str = "rdx_";

/// Shortest account password a user may choose for themselves (`changePassword`). An
/// administrator setting one (`user add`, `user passwd`) is trusted with their choice.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Longest account password that may be set, in bytes: a longer one could never log in (see
/// `MAX_CREDENTIAL_CHARS`).
pub const MAX_PASSWORD_BYTES: usize = super::MAX_CREDENTIAL_CHARS;

/// Why a new account password is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRuleError {
    #[error("the password is empty")]
    Empty,
    #[error("a password needs at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("a password may be at most {MAX_PASSWORD_BYTES} bytes long")]
    TooLong,
    /// A line break or other control character: nothing a person types at a login prompt.
    #[error("a password cannot contain control characters")]
    ControlCharacter,
}

/// Checks a password an administrator sets: one a Basic login can carry.
pub fn check_usable_password(password: &str) -> Result<(), PasswordRuleError> {
    if password.is_empty() {
        return Err(PasswordRuleError::Empty);
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordRuleError::TooLong);
    }
    if password.chars().any(char::is_control) {
        return Err(PasswordRuleError::ControlCharacter);
    }
    Ok(())
}

/// Checks a password a user chooses for themselves: usable, and not too short to guess.
pub fn check_new_password(password: &str) -> Result<(), PasswordRuleError> {
    check_usable_password(password)?;
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordRuleError::TooShort);
    }
    Ok(())
}

/// argon2id PHC string of a password.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
}

/// Whether `password` matches a stored argon2 PHC string. A malformed stored hash never matches.
pub fn verify_password(password: &str, stored_hash: &str) -> bool {
    PasswordHash::new(stored_hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A new bearer token: prefix + 256 random bits, base64url.
pub fn generate_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// A new app password / generated account password: 24 characters from an alphabet without
/// look-alikes, grouped for typing on a phone (about 138 bits).
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    let mut out = String::with_capacity(29);
    for i in 0..24 {
        if i > 0 && i % 6 == 0 {
            out.push('-');
        }
        let index = (rng.next_u32() as usize) % ALPHABET.len();
        out.push(char::from(ALPHABET[index]));
    }
    out
}

/// SHA-256 (hex) of a random secret: what the store keeps and looks credentials up by.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_hash_verifies_only_the_right_password() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct horsf", &hash));
        assert!(!verify_password("correct horse", "not-a-hash"));
    }

    #[test]
    fn new_passwords_follow_the_rules() {
        assert_eq!(
            check_new_password("short"),
            Err(PasswordRuleError::TooShort)
        );
        assert_eq!(
            check_new_password("sieben7"),
            Err(PasswordRuleError::TooShort)
        );
        assert_eq!(
            check_new_password("ünïcödé"),
            Err(PasswordRuleError::TooShort)
        );
        assert_eq!(check_new_password("ünïcödé!"), Ok(()));
        assert_eq!(
            check_new_password("line\nbreak"),
            Err(PasswordRuleError::ControlCharacter)
        );
        assert_eq!(
            check_new_password(&"x".repeat(MAX_PASSWORD_BYTES + 1)),
            Err(PasswordRuleError::TooLong)
        );
        assert_eq!(check_new_password(&generate_password()), Ok(()));
        assert_eq!(check_usable_password("pw"), Ok(()));
        assert_eq!(check_usable_password(""), Err(PasswordRuleError::Empty));
        assert_eq!(
            check_usable_password("tab\there"),
            Err(PasswordRuleError::ControlCharacter)
        );
    }

    #[test]
    fn tokens_are_unique_and_prefixed() {
        let a = generate_token();
        let b = generate_token();
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_ne!(a, b);
        assert_eq!(hash_secret(&a), hash_secret(&a));
        assert_ne!(hash_secret(&a), hash_secret(&b));
        assert_eq!(generate_password().len(), 27);
    }
}
