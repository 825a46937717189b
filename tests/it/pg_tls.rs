//! TLS to an external PostgreSQL (`DATABASE_URL` with `sslmode` / `sslrootcert`), against a
//! real PostgreSQL this test starts on a loopback port with a certificate it makes with
//! openssl: a test CA, a server certificate for `localhost` only, and an unrelated CA. The
//! cluster accepts TCP connections only over TLS (`hostssl` in pg_hba.conf).
//!
//! Checked through the library's connector and the real CLI: `require` and `verify-full`
//! connect encrypted, the wrong root or host name and `disable` fail with a message that says
//! why, and a server's pool and LISTEN connection both use TLS.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rolodex::db::ConnectTarget;

const BIN: &str = env!("CARGO_BIN_EXE_rolodex");

/// A PostgreSQL with TLS on a loopback port; stopped and removed on drop.
struct TlsServer {
    dir: tempfile::TempDir,
    port: u16,
    postmaster: Child,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        // SAFETY: kill with our own child's pid; SIGINT is PostgreSQL's fast shutdown.
        unsafe { libc::kill(self.postmaster.id() as i32, libc::SIGINT) };
        let _ = self.postmaster.wait();
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// uid/gid of `postgres` when we are root (PostgreSQL refuses to run as root), else ours.
fn server_user() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let id = |flag: &str| {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .unwrap();
        assert!(out.status.success(), "tests as root need a postgres user");
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    Some((id("-u"), id("-g")))
}

fn as_server_user(cmd: &mut Command) -> &mut Command {
    if let Some((uid, gid)) = server_user() {
        cmd.uid(uid).gid(gid);
    }
    cmd
}

/// Runs openssl in `dir` with whitespace-separated arguments.
fn openssl(dir: &Path, args: &str) {
    run(Command::new("openssl")
        .current_dir(dir)
        .args(args.split_whitespace()));
}

/// ca.crt signs server.crt (SAN DNS:localhost only); other-ca.crt signs nothing we use.
fn make_certificates(dir: &Path) {
    for name in ["ca", "other-ca"] {
        openssl(
            dir,
            &format!(
                "req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=rolodex-test-{name} \
                 -keyout {name}.key -out {name}.crt"
            ),
        );
    }
    openssl(
        dir,
        "req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr",
    );
    std::fs::write(dir.join("san.ext"), "subjectAltName=DNS:localhost\n").unwrap();
    openssl(
        dir,
        "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
         -extfile san.ext -out server.crt",
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_server() -> TlsServer {
    let bindir = rolodex::pg::find_binaries(None).expect("PostgreSQL binaries");
    let dir = crate::common::temp_dir("tls");
    // The server user must reach its files in here.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    make_certificates(dir.path());
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    if let Some((uid, gid)) = server_user() {
        std::os::unix::fs::chown(&data, Some(uid), Some(gid)).unwrap();
    }
    run(as_server_user(
        Command::new(bindir.join("initdb"))
            .args(["-U", "postgres", "--auth=trust", "-D"])
            .arg(&data)
            .stdout(Stdio::null()),
    ));
    for file in ["server.crt", "server.key"] {
        std::fs::copy(dir.path().join(file), data.join(file)).unwrap();
    }
    if let Some((uid, gid)) = server_user() {
        for path in [
            data.clone(),
            data.join("server.crt"),
            data.join("server.key"),
        ] {
            std::os::unix::fs::chown(&path, Some(uid), Some(gid)).unwrap();
        }
    }
    std::fs::set_permissions(
        data.join("server.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    // TCP only over TLS: a plaintext connection finds no pg_hba.conf entry.
    std::fs::write(
        data.join("pg_hba.conf"),
        "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n",
    )
    .unwrap();
    let port = free_port();
    let postmaster = as_server_user(
        Command::new(bindir.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-k"])
            .arg(&data)
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "ssl=on", "-c", "ssl_cert_file=server.crt"])
            .args(["-c", "ssl_key_file=server.key"])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
    .spawn()
    .unwrap();
    let server = TlsServer {
        dir,
        port,
        postmaster,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "PostgreSQL did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

impl TlsServer {
    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn url(&self, host: &str, params: &str) -> String {
        format!(
            "postgresql://postgres@{host}:{}/postgres?{params}",
            self.port
        )
    }
}

/// Connects with the library's connector; Ok(whether the session is encrypted) or the error.
async fn connect(url: &str) -> Result<bool, String> {
    let target = ConnectTarget::parse(url).map_err(|e| e.to_string())?;
    let (client, connection) = target.connect().await.map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    Ok(row.get(0))
}

#[tokio::test]
async fn sslmodes_against_a_tls_only_server() {
    let server = start_server();
    let ca = server.file("ca.crt");
    let other = server.file("other-ca.crt");
    let root = |path: &Path| format!("sslrootcert={}", path.display());

    // Deadline for the server to accept connections, not just TCP.
    let require = server.url("localhost", "sslmode=require");
    let deadline = Instant::now() + Duration::from_secs(30);
    while connect(&require).await.is_err() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(connect(&require).await, Ok(true));
    assert_eq!(
        connect(&server.url("localhost", "sslmode=prefer")).await,
        Ok(true)
    );
    let full = format!("sslmode=verify-full&{}", root(&ca));
    assert_eq!(connect(&server.url("localhost", &full)).await, Ok(true));
    // The key/value form says the same.
    let kv = format!(
        "host=localhost port={} user=postgres dbname=postgres sslmode=verify-full sslrootcert='{}'",
        server.port,
        ca.display()
    );
    assert_eq!(connect(&kv).await, Ok(true));

    let err = connect(&server.url(
        "localhost",
        &format!("sslmode=verify-full&{}", root(&other)),
    ))
    .await
    .unwrap_err();
    assert!(err.contains("not signed by a root in sslrootcert"), "{err}");
    assert!(err.contains(&format!("localhost:{}", server.port)), "{err}");

    let err = connect(&server.url("127.0.0.1", &full)).await.unwrap_err();
    assert!(err.contains("not issued for this host name"), "{err}");
    assert_eq!(
        connect(&server.url("127.0.0.1", &format!("sslmode=verify-ca&{}", root(&ca)))).await,
        Ok(true),
        "verify-ca checks the issuer only"
    );

    let err = connect(&server.url("localhost", "sslmode=disable"))
        .await
        .unwrap_err();
    assert!(err.contains("accepts only TLS connections"), "{err}");

    let err = connect(&server.url(
        "localhost",
        "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
    ))
    .await
    .unwrap_err();
    assert!(err.contains("/nonexistent/ca.pem"), "{err}");
}

#[tokio::test]
async fn the_cli_and_the_server_use_tls_for_the_pool_and_listen() {
    let server = start_server();
    let full = format!(
        "sslmode=verify-full&sslrootcert={}",
        server.file("ca.crt").display()
    );
    let url = server.url("localhost", &full);
    let deadline = Instant::now() + Duration::from_secs(30);
    while connect(&url).await.is_err() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A wrong host name: refused before anything is written, and the user is told why.
    let out = Command::new(BIN)
        .args(["migrate"])
        .env("DATABASE_URL", server.url("127.0.0.1", &full))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("not issued for this host name"), "{stderr}");

    let out = Command::new(BIN)
        .args(["migrate"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let listen = free_port();
    let mut serve = Command::new(BIN)
        .args(["serve", "--listen", &format!("127.0.0.1:{listen}")])
        .env("DATABASE_URL", &url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let health = format!("http://127.0.0.1:{listen}/healthz");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !http
        .get(&health)
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(Instant::now() < deadline, "server did not come up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Every session of the server, its LISTEN connection among them, is encrypted.
    let (client, connection) = ConnectTarget::parse(&url).unwrap().connect().await.unwrap();
    tokio::spawn(connection);
    let deadline = Instant::now() + Duration::from_secs(30);
    let sessions = loop {
        let rows = client
            .query(
                "SELECT a.query, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
                 WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()",
                &[],
            )
            .await
            .unwrap();
        let sessions: Vec<(String, bool)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        if sessions.iter().any(|(q, _)| q.starts_with("LISTEN")) || Instant::now() > deadline {
            break sessions;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // SAFETY: our own child's pid.
    unsafe { libc::kill(serve.id() as i32, libc::SIGTERM) };
    let _ = serve.wait();
    assert!(
        sessions.iter().any(|(q, _)| q.starts_with("LISTEN")),
        "{sessions:?}"
    );
    assert!(sessions.len() >= 2, "pool and LISTEN: {sessions:?}");
    assert!(sessions.iter().all(|(_, ssl)| *ssl), "{sessions:?}");
}
