//! Starting and stopping the servers under test on fresh data and free loopback ports:
//! Rolodex (its embedded PostgreSQL), Radicale and Xandikos (from the bench venv); plus
//! what we measure about them from outside (memory, disk).

pub mod process;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::process::Command;

use crate::dav::{self, Dav};
use process::Proc;

/// Initdb plus migrations on a cold cache can take a while on a 2-core machine.
const STARTUP_LIMIT: Duration = Duration::from_secs(180);
pub const PASSWORD: &str = "pw";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Rolodex,
    Radicale,
    Xandikos,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Rolodex, Kind::Radicale, Kind::Xandikos];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Rolodex => "rolodex",
            Kind::Radicale => "radicale",
            Kind::Xandikos => "xandikos",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Kind::Rolodex => "Rolodex",
            Kind::Radicale => "Radicale",
            Kind::Xandikos => "Xandikos",
        }
    }

    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// Where the programs under test are.
#[derive(Debug, Clone)]
pub struct Tools {
    pub rolodex: PathBuf,
    /// `bin/` of the venv holding radicale and xandikos.
    pub venv_bin: PathBuf,
}

/// A started server with its account and book ready.
pub struct Running {
    pub kind: Kind,
    pub proc: Proc,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    pub dav: Dav,
    /// Rolodex's GraphQL bearer token.
    pub bearer: Option<String>,
}

/// Memory and disk, read from outside the server.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Resources {
    /// VmHWM of the server process itself (not PostgreSQL), in KiB.
    pub server_peak_rss_kib: Option<u64>,
    /// Rolodex only: the sum of VmRSS over the postmaster and its children, in KiB. Shared
    /// buffers are counted once per process that touched them, so this over-states.
    pub postgres_rss_sum_kib: Option<u64>,
    pub data_dir_bytes: u64,
}

fn free_port() -> Result<u16, String> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    Ok(listener
        .local_addr()
        .map_err(|e| format!("no local address: {e}"))?
        .port())
}

/// Starts `kind` on fresh data under `run_dir` and prepares the `bench` account and book.
pub async fn start(kind: Kind, tools: &Tools, run_dir: &Path) -> Result<Running, String> {
    let data_dir = run_dir.join("data");
    if data_dir.exists() {
        std::fs::remove_dir_all(&data_dir)
            .map_err(|e| format!("cannot clear {}: {e}", data_dir.display()))?;
    }
    std::fs::create_dir_all(&data_dir)
        .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
    let log = run_dir.join("server.log");
    let port = free_port()?;
    let origin = format!("http://127.0.0.1:{port}");
    let command = match kind {
        Kind::Rolodex => {
            let mut c = Command::new(&tools.rolodex);
            c.arg("serve")
                .arg("--data-dir")
                .arg(&data_dir)
                .arg("--listen")
                .arg(format!("127.0.0.1:{port}"));
            c
        }
        Kind::Radicale => {
            let mut c = Command::new(tools.venv_bin.join("radicale"));
            // `--config ""` keeps any /etc or ~/.config radicale config out of the run.
            c.arg("--config")
                .arg("")
                .arg("--server-hosts")
                .arg(format!("127.0.0.1:{port}"))
                .arg("--storage-filesystem-folder")
                .arg(data_dir.join("collections"))
                .arg("--auth-type")
                .arg("none");
            c
        }
        Kind::Xandikos => {
            let mut c = Command::new(tools.venv_bin.join("xandikos"));
            c.arg("serve")
                .arg("-d")
                .arg(data_dir.join("dav"))
                .arg("--state-dir")
                .arg(data_dir.join("state"))
                .arg("--defaults")
                .arg("-l")
                .arg("127.0.0.1")
                .arg("-p")
                .arg(port.to_string())
                .current_dir(&data_dir);
            c
        }
    };
    let proc = spawn_logged(kind.name(), command, &log)?;
    let (user, book) = match kind {
        Kind::Rolodex => ("bench", "/dav/addressbooks/bench/contacts/"),
        Kind::Radicale => ("bench", "/bench/contacts/"),
        Kind::Xandikos => ("user", "/user/contacts/addressbook/"),
    };
    let mut running = Running {
        kind,
        proc,
        data_dir: data_dir.clone(),
        log: log.clone(),
        dav: Dav {
            http: dav::client(),
            origin: origin.clone(),
            book: book.to_string(),
            user: user.to_string(),
            password: PASSWORD.to_string(),
        },
        bearer: None,
    };
    let ready_path = if kind == Kind::Rolodex {
        "/healthz"
    } else {
        "/"
    };
    wait_ready(&mut running, ready_path).await?;
    match kind {
        Kind::Rolodex => {
            rolodex_cli(
                tools,
                &data_dir,
                &["user", "add", "bench", "--password-stdin"],
            )
            .await?;
            let out = rolodex_cli(tools, &data_dir, &["token", "create", "bench"]).await?;
            let token = out
                .split_whitespace()
                .find(|word| word.starts_with("rdx_"))
                .ok_or_else(|| format!("no rdx_ token in `token create` output: {out}"))?;
            running.bearer = Some(token.to_string());
        }
        Kind::Radicale => {
            let reply = dav::timed(running.dav.mkcol_addressbook(book)).await?;
            if !reply.status.is_success() {
                return Err(format!("MKCOL {book}: {}", reply.describe()));
            }
        }
        Kind::Xandikos => {} // --defaults made the book
    }
    Ok(running)
}

/// Starts another `rolodex serve` on the database of `primary` (through `database_url`), on
/// its own port, with the same account: one more process behind the same data.
pub async fn start_attached(
    tools: &Tools,
    primary: &Running,
    database_url: &str,
    run_dir: &Path,
    index: usize,
) -> Result<Running, String> {
    let log = run_dir.join(format!("server-{index}.log"));
    let port = free_port()?;
    let mut command = Command::new(&tools.rolodex);
    command
        .arg("serve")
        .arg("--database-url")
        .arg(database_url)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"));
    let proc = spawn_logged(&format!("rolodex-{index}"), command, &log)?;
    let mut running = Running {
        kind: Kind::Rolodex,
        proc,
        data_dir: primary.data_dir.clone(),
        log,
        dav: Dav {
            origin: format!("http://127.0.0.1:{port}"),
            ..primary.dav.clone()
        },
        bearer: primary.bearer.clone(),
    };
    wait_ready(&mut running, "/healthz").await?;
    Ok(running)
}

fn spawn_logged(name: &str, mut command: Command, log: &Path) -> Result<Proc, String> {
    let file =
        std::fs::File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let err = file
        .try_clone()
        .map_err(|e| format!("cannot share {}: {e}", log.display()))?;
    command
        .stdin(Stdio::null())
        .stdout(Stdio::from(file))
        .stderr(Stdio::from(err));
    Proc::spawn(name, command)
}

async fn wait_ready(running: &mut Running, path: &str) -> Result<(), String> {
    let started = Instant::now();
    let url = format!("{}{path}", running.dav.origin);
    loop {
        if let Some(status) = running.proc.exited() {
            return Err(format!(
                "{} exited during startup ({status}); log tail:\n{}",
                running.kind.name(),
                log_tail(&running.log)
            ));
        }
        let probe = running
            .dav
            .http
            .get(&url)
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        match probe {
            Ok(response) if running.kind != Kind::Rolodex || response.status().is_success() => {
                return Ok(())
            }
            _ => {}
        }
        if started.elapsed() > STARTUP_LIMIT {
            return Err(format!(
                "{} not ready after {STARTUP_LIMIT:?}; log tail:\n{}",
                running.kind.name(),
                log_tail(&running.log)
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Runs a short `rolodex` subcommand against the running server's cluster (it attaches to
/// the managed PostgreSQL through the data dir); stdin gets the password.
pub async fn rolodex_cli(tools: &Tools, data_dir: &Path, args: &[&str]) -> Result<String, String> {
    let (status, stdout, stderr) = run_rolodex(tools, data_dir, args).await?;
    if !status.success() {
        return Err(format!(
            "`rolodex {}` failed ({status}): {stdout}{stderr}",
            args.join(" ")
        ));
    }
    Ok(stdout)
}

/// Like [`rolodex_cli`] but leaves judging the exit status to the caller.
pub async fn run_rolodex(
    tools: &Tools,
    data_dir: &Path,
    args: &[&str],
) -> Result<(std::process::ExitStatus, String, String), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut command = Command::new(&tools.rolodex);
    command
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let name = format!("rolodex {}", args.first().copied().unwrap_or(""));
    let mut proc = Proc::spawn(&name, command)?;
    let child = proc.child_mut();
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let password = format!("{PASSWORD}\n");
    let (_, out, err) = tokio::join!(
        async move {
            // A command that does not read stdin closes it early: not an error.
            let _ = stdin.write_all(password.as_bytes()).await;
        },
        async move {
            let mut s = String::new();
            let _ = stdout.read_to_string(&mut s).await;
            s
        },
        async move {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s).await;
            s
        },
    );
    let status = proc.wait(Duration::from_secs(3600)).await?;
    Ok((status, out, err))
}

impl Running {
    /// Peak RSS of the server process and (Rolodex) its PostgreSQL, and the data dir size.
    pub fn resources(&self) -> Resources {
        let postgres_rss_sum_kib = (self.kind == Kind::Rolodex)
            .then(|| {
                let pid_file = self.data_dir.join("pgdata").join("postmaster.pid");
                let text = std::fs::read_to_string(pid_file).ok()?;
                let postmaster: u32 = text.lines().next()?.trim().parse().ok()?;
                let mut pids = process::children_of(postmaster);
                pids.push(postmaster);
                Some(
                    pids.iter()
                        .filter_map(|pid| process::status_kib(*pid, "VmRSS"))
                        .sum(),
                )
            })
            .flatten();
        Resources {
            server_peak_rss_kib: process::status_kib(self.proc.pid, "VmHWM"),
            postgres_rss_sum_kib,
            data_dir_bytes: process::disk_usage(&self.data_dir),
        }
    }

    pub async fn stop(self) {
        self.proc.stop().await;
    }
}
