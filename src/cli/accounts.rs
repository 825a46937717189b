//! Account administration: `user`, `token` and `app-password`.

use std::io::{BufRead, IsTerminal};

use super::UserCommand;
use crate::auth::secret;
use crate::store::{CredentialKind, NewCredential, Store};

pub(super) async fn user(store: &Store, command: UserCommand) -> Result<(), String> {
    match command {
        UserCommand::Add {
            name,
            password_stdin,
        } => {
            let (password, generated) = obtain_password(password_stdin)?;
            let hash = hash_password(password.clone()).await?;
            let user = store
                .create_user(&name, &hash)
                .await
                .map_err(|e| e.to_string())?;
            println!("created user {} with address book \"contacts\"", user.name);
            if generated {
                println!("password: {password}");
            }
            Ok(())
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
                .map_err(|e| format!("user {name:?}: {e}"))?;
            println!("password of {name} changed");
            if generated {
                println!("password: {password}");
            }
            Ok(())
        }
    }
}

/// The password from stdin (first line, without the newline), or a generated one.
fn obtain_password(from_stdin: bool) -> Result<(String, bool), String> {
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
        .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        return Err("the password read from stdin is empty".into());
    }
    Ok((password, false))
}

async fn hash_password(password: String) -> Result<String, String> {
    tokio::task::spawn_blocking(move || secret::hash_password(&password))
        .await
        .map_err(|e| e.to_string())?
}

pub(super) async fn create_credential(
    store: &Store,
    user_name: &str,
    kind: CredentialKind,
    label: &str,
) -> Result<(), String> {
    let secret = match kind {
        CredentialKind::Token => secret::generate_token(),
        CredentialKind::AppPassword => secret::generate_password(),
    };
    store
        .add_credential(
            user_name,
            NewCredential {
                kind,
                label,
                secret_hash: &secret::hash_secret(&secret),
            },
        )
        .await
        .map_err(|e| format!("user {user_name:?}: {e}"))?;
    // The secret itself is stored nowhere: this is the only time it is shown.
    println!("{secret}");
    Ok(())
}
