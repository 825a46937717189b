//! Account administration: `user`, `token` and `app-password`.
//!
//! Lists are one line per item, tab-separated, without a header, so they can be read by
//! scripts (`cut -f1`); notes for people (an empty list, an expiry) go to stderr, and a created
//! secret is the only thing on stdout. Every change takes effect on the next request of every
//! server process: the servers read credentials and users from the database on each request.

use std::io::{BufRead, IsTerminal};
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};

use super::{AppPasswordCommand, TokenCommand, UserCommand};
use crate::auth::secret::{self, PasswordRuleError};
use crate::store::{CredentialInfo, CredentialKind, NewCredential, Principal, Store, StoreError};

/// Why an account command failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum AccountError {
    #[error("no user named {0:?}")]
    NoSuchUser(String),
    #[error("user {user} has no {} with id {id}", kind.noun())]
    NoSuchCredential {
        user: String,
        kind: CredentialKind,
        id: i64,
    },
    #[error(
        "refusing to delete user {user} with {books} address book(s) and {cards} card(s): add \
         --yes to confirm"
    )]
    NotConfirmed {
        user: String,
        books: i64,
        cards: i64,
    },
    #[error("{0}")]
    Password(#[from] PasswordRuleError),
    #[error("cannot read the password from stdin: {0}")]
    Stdin(std::io::Error),
    #[error("cannot hash the password: {0}")]
    Hash(#[from] argon2::password_hash::Error),
    #[error("cannot hash the password: {0}")]
    HashTask(#[from] tokio::task::JoinError),
    #[error("user {user:?}: {source}")]
    Store { user: String, source: StoreError },
    #[error(transparent)]
    Database(StoreError),
}

impl AccountError {
    /// A store error about `user`, where NotFound means there is no such user.
    fn user(user: &str) -> impl FnOnce(StoreError) -> AccountError {
        let user = user.to_owned();
        move |source| match source {
            StoreError::NotFound => AccountError::NoSuchUser(user),
            source => AccountError::Store { user, source },
        }
    }
}

/// A lifetime given on the command line: a positive number and a unit, `s`, `m`, `h`, `d` or
/// `w` (`90m`, `12h`, `30d`), at most 100 years.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ExpiresIn(pub chrono::Duration);

/// Why a `--expires-in` value is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ExpiresInError {
    #[error("{0:?}: expected a number and a unit, s m h d or w (e.g. 30d, 12h, 90m)")]
    Format(String),
    #[error("{0:?}: must be more than zero")]
    Zero(String),
    #[error("{0:?}: at most 100 years")]
    TooLong(String),
}

impl FromStr for ExpiresIn {
    type Err = ExpiresInError;

    fn from_str(text: &str) -> Result<ExpiresIn, ExpiresInError> {
        const MAX_SECONDS: i64 = 36_525 * 86_400; // 100 years of 365.25 days
        let format = || ExpiresInError::Format(text.to_owned());
        let trimmed = text.trim();
        let unit = trimmed.chars().last().ok_or_else(format)?;
        let seconds_per_unit: i64 = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(format()),
        };
        let digits = &trimmed[..trimmed.len() - unit.len_utf8()];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format());
        }
        let count: i64 = digits
            .parse()
            .map_err(|_| ExpiresInError::TooLong(text.to_owned()))?;
        let seconds = count
            .checked_mul(seconds_per_unit)
            .filter(|s| *s <= MAX_SECONDS)
            .ok_or_else(|| ExpiresInError::TooLong(text.to_owned()))?;
        if seconds == 0 {
            return Err(ExpiresInError::Zero(text.to_owned()));
        }
        Ok(ExpiresIn(chrono::Duration::seconds(seconds)))
    }
}

pub(super) async fn user(store: &Store, command: UserCommand) -> Result<(), AccountError> {
    user_command(store, command).await
}

pub(super) async fn token(store: &Store, command: TokenCommand) -> Result<(), AccountError> {
    let command = match command {
        TokenCommand::Create {
            name,
            label,
            expires_in,
        } => CredentialCommand::Create {
            name,
            label,
            expires_in,
        },
        TokenCommand::List { name } => CredentialCommand::List { name },
        TokenCommand::Revoke { name, id } => CredentialCommand::Revoke { name, id },
    };
    credential_command(store, CredentialKind::Token, command).await
}

pub(super) async fn app_password(
    store: &Store,
    command: AppPasswordCommand,
) -> Result<(), AccountError> {
    let command = match command {
        AppPasswordCommand::Create {
            name,
            label,
            expires_in,
        } => CredentialCommand::Create {
            name,
            label,
            expires_in,
        },
        AppPasswordCommand::List { name } => CredentialCommand::List { name },
        AppPasswordCommand::Revoke { name, id } => CredentialCommand::Revoke { name, id },
    };
    credential_command(store, CredentialKind::AppPassword, command).await
}

/// `token` and `app-password` take the same subcommands.
enum CredentialCommand {
    Create {
        name: String,
        label: String,
        expires_in: Option<ExpiresIn>,
    },
    List {
        name: String,
    },
    Revoke {
        name: String,
        id: i64,
    },
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn optional_time(at: Option<DateTime<Utc>>) -> String {
    at.map(time).unwrap_or_else(|| "never".to_owned())
}

/// One line of `token list` / `app-password list`.
fn credential_line(credential: &CredentialInfo, now: DateTime<Utc>) -> String {
    let expires = match credential.expires_at {
        Some(at) if at <= now => format!("{} (expired)", time(at)),
        other => optional_time(other),
    };
    format!(
        "{}\t{}\t{}\t{}\t{}",
        credential.id,
        credential.label,
        time(credential.created_at),
        optional_time(credential.last_used_at),
        expires
    )
}

async fn principal(store: &Store, name: &str) -> Result<Principal, AccountError> {
    store
        .principal_for_user(name)
        .await
        .map_err(AccountError::user(name))
}

async fn user_command(store: &Store, command: UserCommand) -> Result<(), AccountError> {
    match command {
        UserCommand::Add {
            name,
            password_stdin,
        } => {
            let (password, generated) = obtain_password(password_stdin)?;
            let hash = hash_password(password.clone()).await?;
            let user =
                store
                    .create_user(&name, &hash)
                    .await
                    .map_err(|source| AccountError::Store {
                        user: name.clone(),
                        source,
                    })?;
            println!("created user {} with address book \"contacts\"", user.name);
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::Passwd {
            name,
            password_stdin,
        } => {
            let (password, generated) = obtain_password(password_stdin)?;
            let hash = hash_password(password.clone()).await?;
            store
                .set_password_hash(&name, &hash)
                .await
                .map_err(AccountError::user(&name))?;
            println!("password of {name} changed");
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::List => {
            let users = store.list_users().await.map_err(AccountError::Database)?;
            for user in users {
                let status = match user.disabled_at {
                    None => "active".to_owned(),
                    Some(at) => format!("disabled since {}", time(at)),
                };
                println!("{}\t{}\t{status}", user.name, time(user.created_at));
            }
        }
        UserCommand::Disable { name } => {
            let (_, changed) = store
                .set_user_disabled(&name, true)
                .await
                .map_err(AccountError::user(&name))?;
            if changed {
                println!(
                    "user {name} disabled: their password, tokens and app passwords are refused"
                );
            } else {
                println!("user {name} was already disabled");
            }
        }
        UserCommand::Enable { name } => {
            let (_, changed) = store
                .set_user_disabled(&name, false)
                .await
                .map_err(AccountError::user(&name))?;
            if changed {
                println!("user {name} enabled");
            } else {
                println!("user {name} was not disabled");
            }
        }
        UserCommand::Delete { name, yes } => {
            if !yes {
                let usage = store
                    .user_usage(&name)
                    .await
                    .map_err(AccountError::user(&name))?;
                return Err(AccountError::NotConfirmed {
                    user: name,
                    books: usage.address_books,
                    cards: usage.cards,
                });
            }
            let removed = store
                .delete_user(&name)
                .await
                .map_err(AccountError::user(&name))?;
            println!(
                "deleted user {name} with {} address book(s) and {} card(s)",
                removed.address_books, removed.cards
            );
        }
    }
    Ok(())
}

async fn credential_command(
    store: &Store,
    kind: CredentialKind,
    command: CredentialCommand,
) -> Result<(), AccountError> {
    match command {
        CredentialCommand::Create {
            name,
            label,
            expires_in,
        } => {
            let principal = principal(store, &name).await?;
            let secret = match kind {
                CredentialKind::Token => secret::generate_token(),
                CredentialKind::AppPassword => secret::generate_password(),
            };
            let expires_at = expires_in.map(|ExpiresIn(lifetime)| Utc::now() + lifetime);
            store
                .create_credential(
                    &principal,
                    NewCredential {
                        kind,
                        label: &label,
                        secret_hash: &secret::hash_secret(&secret),
                    },
                    expires_at,
                )
                .await
                .map_err(AccountError::user(&name))?;
            // The secret itself is stored nowhere: this is the only time it is shown. It is
            // alone on stdout, so `TOKEN=$(rolodex token create ...)` works.
            println!("{secret}");
            if let Some(at) = expires_at {
                eprintln!("expires {}", time(at));
            }
        }
        CredentialCommand::List { name } => {
            let principal = principal(store, &name).await?;
            let credentials = store
                .list_credentials(&principal)
                .await
                .map_err(AccountError::user(&name))?;
            let now = Utc::now();
            let mut listed = 0;
            for credential in credentials.iter().filter(|c| c.kind == kind) {
                println!("{}", credential_line(credential, now));
                listed += 1;
            }
            if listed == 0 {
                eprintln!("user {name} has no {}s", kind.noun());
            }
        }
        CredentialCommand::Revoke { name, id } => {
            let principal = principal(store, &name).await?;
            let revoked = store
                .revoke_credential(&principal, id, Some(kind))
                .await
                .map_err(|source| match source {
                    StoreError::NotFound => AccountError::NoSuchCredential {
                        user: name.clone(),
                        kind,
                        id,
                    },
                    source => AccountError::Store {
                        user: name.clone(),
                        source,
                    },
                })?;
            println!("revoked {} {id} ({}) of {name}", kind.noun(), revoked.label);
        }
    }
    Ok(())
}

/// The password from stdin (first line, without the newline), or a generated one.
fn obtain_password(from_stdin: bool) -> Result<(String, bool), AccountError> {
    if !from_stdin {
        return Ok((secret::generate_password(), true));
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("password: ");
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(AccountError::Stdin)?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    secret::check_usable_password(&password)?;
    Ok((password, false))
}

async fn hash_password(password: String) -> Result<String, AccountError> {
    tokio::task::spawn_blocking(move || secret::hash_password(&password))
        .await?
        .map_err(AccountError::Hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_parse_with_units_and_refuse_the_rest() {
        let parse = |text: &str| {
            text.parse::<ExpiresIn>()
                .map(|ExpiresIn(d)| d.num_seconds())
        };
        assert_eq!(parse("30d"), Ok(30 * 86_400));
        assert_eq!(parse("12h"), Ok(12 * 3600));
        assert_eq!(parse("90m"), Ok(90 * 60));
        assert_eq!(parse("45s"), Ok(45));
        assert_eq!(parse("2w"), Ok(14 * 86_400));
        for bad in ["", "d", "30", "30x", "-1d", "1.5h", "3 0d", "30dd", "30€"] {
            assert!(
                matches!(parse(bad), Err(ExpiresInError::Format(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(parse("0d"), Err(ExpiresInError::Zero(_))));
        assert!(matches!(parse("36600d"), Err(ExpiresInError::TooLong(_))));
        assert!(matches!(
            parse("99999999999999999999999w"),
            Err(ExpiresInError::TooLong(_))
        ));
    }

    #[test]
    fn credential_lines_put_the_id_first() {
        let created = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .to_utc();
        let mut credential = CredentialInfo {
            id: 7,
            kind: CredentialKind::Token,
            label: "laptop".into(),
            created_at: created,
            last_used_at: None,
            expires_at: None,
        };
        let now = created + chrono::Duration::days(1);
        assert_eq!(
            credential_line(&credential, now),
            "7\tlaptop\t2026-12-01T10:00:00Z\tnever\tnever"
        );
        credential.last_used_at = Some(created + chrono::Duration::hours(1));
        credential.expires_at = Some(created + chrono::Duration::hours(2));
        assert_eq!(
            credential_line(&credential, now),
            "7\tlaptop\t2026-12-01T10:00:00Z\t2026-12-01T11:00:00Z\t2026-12-01T12:00:00Z (expired)"
        );
    }
}
