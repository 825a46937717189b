//! The hostile suite (issue: hardening): a real `rolodex serve` process with its default limits,
//! a book of generated cards, and requests an attacker would send, anonymous and with one valid
//! account, to both front ends. Every answer must be a deliberate one: no 5xx, no dropped
//! connection, the expected 4xx where the request is refused, and the server healthy and small
//! afterwards.
//!
//! The book has 300 cards here; `bench/hostile` runs the same suite on a release build with
//! 10,000 cards (`ROLODEX_HOSTILE_CARDS=10000`) and reports each answer's time and the server's
//! memory. No timing is asserted here.

mod cases;
use crate::common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;

/// The server under attack; stopped (SIGTERM) when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        // SAFETY: signalling our own child process.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        // The server stops within its grace period; this runs on the test's runtime thread,
        // so a connection of ours it waits for can make no progress meanwhile: kill it then.
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                crate::common::reaper::forget_pid(self.child.id());
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        crate::common::reaper::forget_pid(self.child.id());
    }
}

impl Server {
    async fn start() -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_rolodex"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", common::database_url())
            // Short enough that the suite does not wait long for the WebSocket case.
            .env("ROLODEX_GRAPHQL_WS_INIT_TIMEOUT_SECS", "2")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start rolodex serve");
        crate::common::reaper::watch_pid(child.id());
        let mut server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("rolodex serve exited early: {status}");
            }
            if server.healthy().await {
                return server;
            }
            assert!(Instant::now() < deadline, "rolodex serve did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn healthy(&self) -> bool {
        match reqwest::get(format!("{}/healthz", self.base)).await {
            Ok(response) => response.status() == 200,
            Err(_) => false,
        }
    }

    /// Resident memory of the server process, in MiB.
    fn rss_mib(&self) -> u64 {
        self.memory_mib("VmRSS:")
    }

    /// The most resident memory the server process ever had, in MiB.
    fn peak_rss_mib(&self) -> u64 {
        self.memory_mib("VmHWM:")
    }

    fn memory_mib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kib| kib / 1024)
    }
}

#[tokio::test]
async fn hostile_requests_get_deliberate_answers() {
    let cards: usize = std::env::var("ROLODEX_HOSTILE_CARDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let store = common::store().await;
    let alice = common::user(&store, "hostile").await;
    let bob = common::user(&store, "victim").await;
    let book = common::default_book(&store, &alice).await;
    let bob_book = common::default_book(&store, &bob).await;
    let app_password = rolodex::auth::secret::generate_password();
    store
        .add_credential(
            &alice.user_name,
            rolodex::store::NewCredential {
                kind: rolodex::store::CredentialKind::AppPassword,
                label: "phone",
                secret_hash: &rolodex::auth::secret::hash_secret(&app_password),
            },
        )
        .await
        .unwrap();
    let token = common::token(&store, &alice).await;
    let loaded = import_vcards(&store, &alice, book, &cases::generated_book(cards)).await;
    assert_eq!(loaded.len(), cards);
    import_vcards(&store, &bob, bob_book, &cases::generated_book(3)).await;

    let server = Server::start().await;
    let target = cases::Target {
        base: server.base.clone(),
        user: alice.user_name.clone(),
        basic: format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{app_password}", alice.user_name))
        ),
        bearer: format!("Bearer {token}"),
        other_user: bob.user_name.clone(),
        book_graphql_id: cases::graphql_book_id(&server.base, &format!("Bearer {token}")).await,
    };
    let idle_rss = server.rss_mib();
    let report = cases::run_all(&target, &|| Some(server.rss_mib())).await;
    let summary = format!(
        "{} requests on a book of {cards} cards; server RSS idle {idle_rss} MiB, after the \
         suite {} MiB, peak {} MiB; slowest answer {}",
        report.results.len(),
        server.rss_mib(),
        server.peak_rss_mib(),
        report.slowest().map_or(String::new(), |o| format!(
            "{:.0} ms ({})",
            o.elapsed.as_secs_f64() * 1000.0,
            o.name
        )),
    );
    println!("{}\n{summary}", report.table());
    // The benchmark (bench/hostile) keeps the table.
    if let Ok(path) = std::env::var("ROLODEX_HOSTILE_REPORT") {
        std::fs::write(&path, format!("{summary}\n\n{}", report.table())).expect("write report");
    }

    assert!(
        report.results.len() >= 60,
        "the suite has {} requests",
        report.results.len()
    );
    let failures = report.failures();
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        server.healthy().await,
        "the server is not healthy after the suite"
    );
    // The same account still works normally.
    assert!(
        cases::still_serves(&target).await,
        "the account no longer syncs"
    );
    let rss = server.rss_mib();
    assert!(rss < 256, "server RSS after the suite is {rss} MiB");
}

/// Every card of vCard `text` imported into the book.
async fn import_vcards(
    store: &rolodex::store::Store,
    principal: &rolodex::store::Principal,
    book: i64,
    text: &str,
) -> Vec<rolodex::store::ImportedCard> {
    use rolodex::domain::formats::{Format, read};
    store
        .import_entries(
            principal,
            book,
            read(Format::VCard, text).unwrap(),
            &rolodex::store::ImportOptions::default(),
            &mut |_| {},
        )
        .await
        .unwrap()
}
