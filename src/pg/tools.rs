//! PostgreSQL's client programs (`pg_dump`, `pg_restore`, `psql`) pointed at rolodex's database.
//!
//! For the managed cluster they are taken from the directory of the server binaries it runs
//! (Debian installs them side by side), so a dump is always made and read by the same major
//! version as the cluster. A connection URL is handed over with its password moved to
//! `PGPASSWORD`: on the command line it would be readable by every local user in `ps`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use super::discover;

/// Why a client program could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error(
        "{program} not found (looked in {searched}). Install the PostgreSQL client programs \
         (Debian/Ubuntu: `apt-get install postgresql-client`) or set ROLODEX_PG_BIN to the \
         directory holding them."
    )]
    NotFound {
        program: &'static str,
        searched: String,
    },
    #[error("cannot run {}: {source}", .program.display())]
    Spawn {
        program: PathBuf,
        source: std::io::Error,
    },
    #[error("{program} failed ({status})")]
    Failed {
        program: &'static str,
        status: ExitStatus,
    },
}

/// Finds a client program: next to the server binaries (`bin_override`, else discovered), else
/// on `PATH` (where a client-only install puts it).
pub fn find_client(
    program: &'static str,
    bin_override: Option<&Path>,
) -> Result<PathBuf, ToolError> {
    let mut searched = Vec::new();
    if let Ok(dir) = discover::find_binaries(bin_override) {
        let candidate = dir.join(program);
        if candidate.is_file() {
            return Ok(candidate);
        }
        searched.push(dir.display().to_string());
    }
    if bin_override.is_none()
        && let Some(path) = std::env::var_os("PATH")
    {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(program);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
        searched.push("PATH".to_owned());
    }
    Err(ToolError::NotFound {
        program,
        searched: searched.join(", "),
    })
}

/// `program --dbname=URL` with the URL's password, if any, in `PGPASSWORD` instead.
pub fn command_for(program: &Path, url: &str) -> Command {
    let (url, password) = split_password(url);
    let mut command = Command::new(program);
    command.arg(format!("--dbname={url}"));
    if let Some(password) = password {
        command.env("PGPASSWORD", password);
    }
    command
}

/// Runs a prepared command to its end; an error unless it exits 0.
pub async fn run(program: &'static str, command: Command) -> Result<(), ToolError> {
    let path = PathBuf::from(command.get_program());
    let status = tokio::process::Command::from(command)
        .status()
        .await
        .map_err(|source| ToolError::Spawn {
            program: path,
            source,
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(ToolError::Failed { program, status })
    }
}

/// Splits the password out of a `postgres://user:password@host/...` URL: the URL without it,
/// and the password percent-decoded (as libpq would read it). Other forms are returned as they
/// are.
pub(crate) fn split_password(url: &str) -> (String, Option<String>) {
    let Some(scheme_end) = ["postgres://", "postgresql://"]
        .iter()
        .find(|scheme| url.starts_with(*scheme))
        .map(|scheme| scheme.len())
    else {
        return (url.to_owned(), None);
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return (url.to_owned(), None);
    };
    let user_info = &authority[..at];
    let Some((user, password)) = user_info.split_once(':') else {
        return (url.to_owned(), None);
    };
    let without = format!("{}{user}{}", &url[..scheme_end], &url[scheme_end + at..]);
    (without, Some(percent_decode(password)))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::split_password;

    #[test]
    fn the_password_leaves_the_url() {
        assert_eq!(
            split_password("postgres://app:p%40ss:w@db.example.org:5433/contacts?sslmode=require"),
            (
                "postgres://app@db.example.org:5433/contacts?sslmode=require".to_owned(),
                Some("p@ss:w".to_owned())
            )
        );
        assert_eq!(
            split_password("postgresql://rolodex@/rolodex?host=%2Ftmp"),
            ("postgresql://rolodex@/rolodex?host=%2Ftmp".to_owned(), None)
        );
        assert_eq!(
            split_password("host=/tmp dbname=x"),
            ("host=/tmp dbname=x".to_owned(), None)
        );
        assert_eq!(
            split_password("postgres://u:pw@h"),
            ("postgres://u@h".to_owned(), Some("pw".to_owned()))
        );
    }
}
