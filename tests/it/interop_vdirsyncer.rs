//! Interoperability with a real CardDAV client: vdirsyncer (from PyPI) against the real router
//! served on a loopback port. Discovery starts from the bare server URL (vdirsyncer falls back
//! to `/.well-known/carddav`), then a two-way sync of 200 varied contacts with a local vdir,
//! edits and deletions on both sides (over DAV and through the store, as GraphQL does), re-sync,
//! and a content comparison: nothing lost, nothing duplicated, every byte where it should be.
//!
//! vdirsyncer comes from `target/interop-venv` (or `$ROLODEX_INTEROP_VENV`), where
//! `scripts/test` installs it; without it the test fails naming that script, it never skips.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use rolodex::domain::contact::ContactPatch;
use rolodex::store::{CredentialKind, NewCredential, Precondition};

fn venv_dir() -> PathBuf {
    match std::env::var_os("ROLODEX_INTEROP_VENV") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("target/interop-venv"),
    }
}

/// The vdirsyncer executable of the venv `scripts/test` prepares; fails saying so when it is
/// missing (tests never install anything).
fn ensure_vdirsyncer() -> PathBuf {
    let venv = venv_dir();
    let bin = venv.join("bin/vdirsyncer");
    let works = Command::new(&bin)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        works,
        "vdirsyncer not found at {}: run the suite with `scripts/test`, which installs it into \
         that venv (or set ROLODEX_INTEROP_VENV to a venv that has it)",
        bin.display()
    );
    bin
}

/// 200 varied cards: vCard 3.0 and 4.0, Apple item groups and labels, non-ASCII names,
/// escaped values, folded lines, inline photos, categories, UIDs with `@`, Apple groups.
fn varied_card(side: &str, i: usize) -> (String, String) {
    let uid = match i % 7 {
        4 => format!("{side}-{i}@example.org"),
        _ => format!("{side}-{i:03}-{}", uuid::Uuid::new_v4()),
    };
    let text = match i % 7 {
        0 => format!(
            "BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//Apple Inc.//Mac OS X 10.15.7//EN\r\nN:Picard{i};Jean-Luc;;Captain;\r\nFN:Captain Jean-Luc Picard {i}\r\nitem1.EMAIL;type=INTERNET;type=pref:jl{i}@example.com\r\nitem1.X-ABLabel:_$!<Other>!$_\r\nTEL;type=CELL;type=VOICE;type=pref:(999) 999-{i:04}\r\nitem2.ADR;type=HOME:;;1212 Federation Way;San Francisco;CA;99999;USA\r\nitem2.X-ABADR:us\r\nUID:{uid}\r\nEND:VCARD\r\n"
        ),
        1 => format!(
            "BEGIN:VCARD\r\nVERSION:4.0\r\nPRODID:+//IDN bitfire.at//ez-vcard 0.12.1\r\nUID:{uid}\r\nFN:Jürgen Ñúñez 李{i}\r\nN:Ñúñez;Jürgen;;;\r\nEMAIL;TYPE=work;PREF=1:jurgen{i}@example.de\r\nEMAIL;TYPE=home:j{i}@example.net\r\nTEL;VALUE=uri;TYPE=cell:tel:+49-30-555-{i:04}\r\nEND:VCARD\r\n"
        ),
        2 => format!(
            "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:Photo Person {i}\r\nN:Person {i};Photo;;;\r\nPHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAAMCAgMCAgMDAwMEAwMEBQgFBQQEBQoHBwYIDAoMDAsKCwsNDhIQDQ4RDgsLEBYQERMUFRUVDA8XGBYUGBIUFRT/\r\nEND:VCARD\r\n"
        ),
        3 => format!(
            "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:{uid}\r\nFN:Note\\, Taker {i}\r\nN:Taker;Note;;;\r\nCATEGORIES:friends,work\r\nNOTE:Line one\\nLine two\\; with semicolon\\, and comma and a long long long long \r\n long tail {i}\r\nEND:VCARD\r\n"
        ),
        4 => format!(
            "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:At Sign {i}\r\nN:Sign;At;;;\r\nEMAIL;TYPE=INTERNET:{uid}\r\nX-CUSTOM-THING;X-PARAM=1:kept {i}\r\nEND:VCARD\r\n"
        ),
        5 => format!(
            "BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//Apple Inc.//Mac OS X 10.15.7//EN\r\nN:Group {i}\r\nFN:Group {i}\r\nX-ADDRESSBOOKSERVER-KIND:group\r\nX-ADDRESSBOOKSERVER-MEMBER:urn:uuid:{side}-member-{i}\r\nUID:{uid}\r\nEND:VCARD\r\n"
        ),
        _ => format!(
            "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:{uid}\r\nKIND:individual\r\nFN:Plain {side} {i}\r\nORG:Starfleet;Engineering\r\nTITLE:Engineer\r\nBDAY:19700101\r\nEND:VCARD\r\n"
        ),
    };
    (uid, text)
}

fn uid_of(text: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix("UID:"))
        .map(|u| u.trim_end_matches('\r').to_owned())
        .unwrap_or_else(|| panic!("no UID in {text}"))
}

/// UID -> card text of the local vdir.
fn local_cards(dir: &Path) -> BTreeMap<String, String> {
    let mut cards = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "vcf") {
            let text = std::fs::read_to_string(&path).unwrap();
            let previous = cards.insert(uid_of(&text), text);
            assert!(
                previous.is_none(),
                "duplicate UID in the vdir: {}",
                path.display()
            );
        }
    }
    cards
}

/// File name of the local card with this UID.
fn local_file(dir: &Path, uid: &str) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            std::fs::read_to_string(p)
                .map(|t| uid_of(&t) == uid)
                .unwrap_or(false)
        })
        .unwrap_or_else(|| panic!("no local file for {uid}"))
}

async fn vdirsyncer(bin: &Path, config: &Path, home: &Path, args: &[&str]) -> String {
    let output = tokio::process::Command::new(bin)
        .arg("--config")
        .arg(config)
        .args(args)
        .env("HOME", home)
        .env("LANG", "C.UTF-8")
        .env("LC_ALL", "C.UTF-8")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("run vdirsyncer");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "vdirsyncer {args:?} failed:\n{log}"
    );
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vdirsyncer_two_way_sync() {
    let bin = tokio::task::spawn_blocking(ensure_vdirsyncer)
        .await
        .expect("install vdirsyncer");
    let store = common::store().await;
    let principal = common::user(&store, "vdir").await;
    let password = rolodex::auth::secret::generate_token();
    store
        .add_credential(
            &principal.user_name,
            NewCredential {
                kind: CredentialKind::AppPassword,
                label: "vdirsyncer",
                secret_hash: &rolodex::auth::secret::hash_secret(&password),
            },
        )
        .await
        .unwrap();
    let book = common::default_book(&store, &principal).await;
    let base = common::serve(&store).await;

    // 100 cards on the server (as a phone would have PUT them), 100 in the local vdir.
    let mut expected: BTreeMap<String, String> = BTreeMap::new();
    for i in 0..100 {
        let (uid, text) = varied_card("srv", i);
        let name = format!("server-{i}.vcf");
        store
            .put_vcard(&principal, book, &name, &text, Precondition::IfNoneMatchAny)
            .await
            .unwrap();
        expected.insert(uid, text);
    }
    let work = crate::common::temp_dir("interop-vdirsyncer");
    let vdir = work.path().join("vdir");
    let local = vdir.join("contacts");
    std::fs::create_dir_all(&local).unwrap();
    for i in 0..100 {
        let (uid, text) = varied_card("loc", i);
        std::fs::write(local.join(format!("local-{i}.vcf")), &text).unwrap();
        expected.insert(uid, text);
    }
    let config = work.path().join("config");
    std::fs::write(
        &config,
        format!(
            r#"[general]
status_path = "{status}"

[pair contacts]
a = "local"
b = "server"
collections = ["from b"]

[storage local]
type = "filesystem"
path = "{vdir}"
fileext = ".vcf"

[storage server]
type = "carddav"
url = "{base}/"
username = "{user}"
password = "{password}"
auth = "basic"
"#,
            status = work.path().join("status").display(),
            vdir = vdir.display(),
            user = principal.user_name,
        ),
    )
    .unwrap();

    // Discovery from the bare URL: PROPFIND / is 404, so vdirsyncer goes to .well-known.
    let log = vdirsyncer(
        &bin,
        &config,
        work.path(),
        &["--verbosity", "DEBUG", "discover", "contacts"],
    )
    .await;
    assert!(log.contains("Trying out well-known URI"), "{log}");
    assert!(log.contains("/.well-known/carddav"), "{log}");
    assert!(
        log.contains(&format!(
            "/dav/addressbooks/{}/contacts/",
            principal.user_name
        )),
        "{log}"
    );
    vdirsyncer(&bin, &config, work.path(), &["sync"]).await;

    let server_cards = |store: rolodex::store::Store| {
        let principal = principal.clone();
        async move {
            let mut cards = BTreeMap::new();
            for card in store.card_bodies(&principal, book, None).await.unwrap() {
                let previous = cards.insert(uid_of(&card.vcard), card.vcard);
                assert!(previous.is_none(), "duplicate UID on the server");
            }
            cards
        }
    };
    let on_server = server_cards(store.clone()).await;
    let on_disk = local_cards(&local);
    assert_eq!(on_server.len(), 200);
    assert_eq!(on_disk.len(), 200);
    assert_eq!(on_server, expected, "server holds every card byte for byte");
    assert_eq!(on_disk, expected, "vdir holds every card byte for byte");

    // Edits and deletions on both sides, none touching the same card.
    let local_uids: Vec<String> = expected
        .keys()
        .filter(|u| u.starts_with("loc"))
        .cloned()
        .collect();
    let server_uids: Vec<String> = expected
        .keys()
        .filter(|u| u.starts_with("srv"))
        .cloned()
        .collect();
    for uid in &local_uids[..10] {
        let path = local_file(&local, uid);
        let text = std::fs::read_to_string(&path).unwrap();
        let edited = text.replacen("\r\nFN:", "\r\nFN:Edited locally ", 1);
        std::fs::write(&path, &edited).unwrap();
        expected.insert(uid.clone(), edited);
    }
    for uid in &local_uids[10..15] {
        std::fs::remove_file(local_file(&local, uid)).unwrap();
        expected.remove(uid);
    }
    // Server side: 5 edits over CardDAV, 5 through the store as GraphQL does, 5 deletions.
    let client = reqwest::Client::new();
    let dav_book = format!("{base}/dav/addressbooks/{}/contacts/", principal.user_name);
    let server_records = store.card_bodies(&principal, book, None).await.unwrap();
    let record_of = |uid: &str| {
        server_records
            .iter()
            .find(|c| uid_of(&c.vcard) == uid)
            .unwrap()
            .clone()
    };
    for uid in &server_uids[..5] {
        let record = record_of(uid);
        let edited = record
            .vcard
            .replacen("\r\nFN:", "\r\nFN:Edited on the phone ", 1);
        let response = client
            .put(format!("{dav_book}{}", record.meta.href))
            .basic_auth(&principal.user_name, Some(&password))
            .header("content-type", "text/vcard")
            .header("if-match", format!("\"{}\"", record.meta.etag))
            .body(edited.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
        expected.insert(uid.clone(), edited);
    }
    for uid in &server_uids[5..10] {
        let record = record_of(uid);
        let patch = ContactPatch {
            nickname: Some(Some("Patched via GraphQL".into())),
            ..ContactPatch::default()
        };
        let patched = store
            .patch_contact(&principal, record.meta.id, &patch, Some(&record.meta.etag))
            .await
            .unwrap();
        expected.insert(uid.clone(), patched.vcard);
    }
    for uid in &server_uids[10..15] {
        let record = record_of(uid);
        store
            .delete_contact_by_href(&principal, book, &record.meta.href, Precondition::None)
            .await
            .unwrap();
        expected.remove(uid);
    }

    vdirsyncer(&bin, &config, work.path(), &["sync"]).await;
    let on_server = server_cards(store.clone()).await;
    let on_disk = local_cards(&local);
    assert_eq!(on_server.len(), 190);
    assert_eq!(on_server, expected, "server after the second sync");
    assert_eq!(on_disk, expected, "vdir after the second sync");
    for uid in &server_uids[5..10] {
        assert!(on_disk[uid].contains("NICKNAME:Patched via GraphQL"));
    }

    // A third sync changes nothing.
    let before = store
        .get_address_book(&principal, book)
        .await
        .unwrap()
        .revision;
    vdirsyncer(&bin, &config, work.path(), &["sync"]).await;
    assert_eq!(
        store
            .get_address_book(&principal, book)
            .await
            .unwrap()
            .revision,
        before
    );
    assert_eq!(local_cards(&local), expected);
}
