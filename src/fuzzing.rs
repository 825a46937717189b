//! Shared settings of the property-based (fuzz) tests in this crate: how many cases each
//! property runs. `cargo test` runs `DEFAULT_CASES` per property; set `ROLODEX_FUZZ_CASES`
//! (e.g. `ROLODEX_FUZZ_CASES=200000 cargo test --lib fuzz`) for a longer run.

use proptest::test_runner::Config;

/// Cases per property in an ordinary `cargo test`.
pub const DEFAULT_CASES: u32 = 1_000;

/// The proptest configuration every fuzz test uses.
pub fn config() -> Config {
    let cases = std::env::var("ROLODEX_FUZZ_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_CASES);
    Config {
        cases,
        // Failures are reported with their minimal input; nothing is written into src/.
        failure_persistence: None,
        ..Config::default()
    }
}
