//! The files in `deploy/` agree with the code: the example `config.toml` loads with the
//! server's own loader and names every key the loader knows (a key added to the code fails
//! here until the example has it), and the systemd units and proxy examples point at what
//! that config sets up.

use std::collections::BTreeSet;
use std::path::PathBuf;

use rolodex::config::{DatabaseArgs, DatabaseLocation, ServeArgs, Settings, file_keys};

fn deploy(name: &str) -> (PathBuf, String) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    (path, text)
}

fn example_settings() -> Settings {
    let (path, _) = deploy("config.toml");
    Settings::resolve(
        &DatabaseArgs {
            config: Some(path),
            ..DatabaseArgs::default()
        },
        &ServeArgs::default(),
    )
    .unwrap_or_else(|e| panic!("deploy/config.toml does not load: {e}"))
}

#[test]
fn example_config_names_every_key_and_loads() {
    let (_, text) = deploy("config.toml");
    let table: toml::Table = toml::from_str(&text).unwrap();
    let mut named = BTreeSet::new();
    for (key, value) in &table {
        match value.as_table() {
            Some(inner) => named.extend(inner.keys().map(|k| format!("{key}.{k}"))),
            None => {
                named.insert(key.clone());
            }
        }
    }
    let known: BTreeSet<String> = file_keys().into_iter().collect();
    let missing: Vec<_> = known.difference(&named).collect();
    assert!(missing.is_empty(), "deploy/config.toml lacks {missing:?}");
    // The loader refuses unknown keys, so loading proves there are no others.
    let settings = example_settings();
    assert_eq!(settings.listen.to_string(), "127.0.0.1:8080");
    match &settings.database {
        DatabaseLocation::Managed {
            data_dir,
            pg_bin,
            pg_user,
        } => {
            assert_eq!(data_dir, &PathBuf::from("/var/lib/rolodex"));
            // An empty pg_bin means "discover", not "the current directory".
            assert_eq!(pg_bin, &None);
            assert_eq!(pg_user.as_deref(), Some("postgres"));
        }
        other => panic!("an empty database_url must mean the managed cluster: {other:?}"),
    }
    // Every limit is at its default, as the comments say.
    assert_eq!(settings.limits, rolodex::limits::Limits::default());
}

#[test]
fn a_config_file_with_an_unknown_key_is_refused() {
    let dir = crate::common::temp_dir("deploy");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, "listen = \"127.0.0.1:8080\"\nlisten_port = 8080\n").unwrap();
    let error = Settings::resolve(
        &DatabaseArgs {
            config: Some(path),
            ..DatabaseArgs::default()
        },
        &ServeArgs::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("listen_port"), "{error}");
}

/// The service's state directory is the example's data directory; the backup unit reads the
/// same config; both run as the same dedicated user, hardened.
#[test]
fn systemd_units_match_the_example_config() {
    let settings = example_settings();
    let DatabaseLocation::Managed { data_dir, .. } = &settings.database else {
        panic!("managed expected");
    };
    let (_, service) = deploy("rolodex.service");
    let state = service
        .lines()
        .find_map(|line| line.strip_prefix("StateDirectory="))
        .expect("StateDirectory=");
    assert_eq!(PathBuf::from("/var/lib").join(state), *data_dir);
    for line in [
        "User=rolodex",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
        "ExecStart=/usr/local/bin/rolodex --config /etc/rolodex/config.toml serve",
    ] {
        assert!(
            service.lines().any(|l| l == line),
            "rolodex.service: {line}"
        );
    }
    let (_, backup) = deploy("rolodex-backup.service");
    assert!(backup.contains("--config /etc/rolodex/config.toml backup -o"));
    assert!(backup.lines().any(|l| l == "User=rolodex"));
    let (_, timer) = deploy("rolodex-backup.timer");
    assert!(timer.contains("OnCalendar="));
}

/// Both proxies send `/.well-known/carddav` and everything else to the address the example
/// config listens on, and nginx lets bodies as large as the server's limit through.
#[test]
fn proxy_examples_reach_the_configured_listener() {
    let settings = example_settings();
    let upstream = settings.listen.to_string();
    let (_, caddy) = deploy("Caddyfile");
    assert!(caddy.contains("handle /.well-known/carddav"));
    assert!(caddy.contains(&format!("reverse_proxy {upstream}")));
    let (_, nginx) = deploy("nginx.conf");
    assert!(nginx.contains("location = /.well-known/carddav"));
    assert!(nginx.contains(&format!("proxy_pass http://{upstream};")));
    assert!(nginx.contains("proxy_set_header Host $host;"));
    let body = nginx
        .lines()
        .find_map(|l| l.trim().strip_prefix("client_max_body_size "))
        .and_then(|v| v.trim_end_matches(';').strip_suffix('m'))
        .and_then(|v| v.parse::<usize>().ok())
        .expect("client_max_body_size in MiB");
    assert!(body * 1024 * 1024 >= settings.limits.max_body_bytes);
}
