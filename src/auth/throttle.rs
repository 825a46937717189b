//! Failed-login throttling: counts failures per user name and per client address over a
//! window, and says how long a throttled name or address must wait.
//!
//! Only password attempts are refused while throttled. App passwords and bearer tokens are
//! 256-bit random secrets that no one can guess, checked with one SHA-256 and an indexed
//! lookup, so a valid one is always accepted: an attacker hammering `alice` cannot lock out
//! her phone's app password or her scripts' tokens.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most counters kept. A flood of distinct names or addresses cannot grow memory past this:
/// expired counters are dropped first, then the oldest windows.
const MAX_COUNTERS: usize = 50_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Address(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Counter {
    failures: u32,
    since: Instant,
}

/// Thresholds and the window, from [`crate::limits::Limits`].
#[derive(Debug, Clone, Copy)]
pub struct ThrottleSettings {
    pub per_user: u32,
    pub per_address: u32,
    pub window: Duration,
}

/// Failure counters (fixed windows that start at the first failure).
#[derive(Debug)]
pub struct LoginThrottle {
    settings: ThrottleSettings,
    counters: Mutex<HashMap<Key, Counter>>,
}

impl LoginThrottle {
    pub fn new(settings: ThrottleSettings) -> LoginThrottle {
        LoginThrottle {
            settings,
            counters: Mutex::new(HashMap::new()),
        }
    }

    /// How long the user name or the address must still wait, if either is throttled.
    pub fn retry_after(&self, user: Option<&str>, address: Option<IpAddr>) -> Option<Duration> {
        let counters = self.counters.lock().ok()?;
        let now = Instant::now();
        let wait = |key: Key, max: u32| {
            counters
                .get(&key)
                .filter(|c| c.failures >= max.max(1))
                .and_then(|c| (c.since + self.settings.window).checked_duration_since(now))
                .filter(|d| !d.is_zero())
        };
        let by_user = user.and_then(|u| wait(Key::User(u.to_owned()), self.settings.per_user));
        let by_address = address.and_then(|a| wait(Key::Address(a), self.settings.per_address));
        by_user.max(by_address)
    }

    /// Records a failed login; returns true when this failure reached a threshold (so it is
    /// logged once per window, not once per attempt).
    pub fn failed(&self, user: Option<&str>, address: Option<IpAddr>) -> bool {
        let Ok(mut counters) = self.counters.lock() else {
            return false;
        };
        let now = Instant::now();
        if counters.len() >= MAX_COUNTERS {
            let window = self.settings.window;
            counters.retain(|_, c| now.duration_since(c.since) < window);
            if counters.len() >= MAX_COUNTERS {
                // Still full of live windows: forget the oldest half rather than grow.
                let mut starts: Vec<Instant> = counters.values().map(|c| c.since).collect();
                starts.sort_unstable();
                let cutoff = starts[starts.len() / 2];
                counters.retain(|_, c| c.since > cutoff);
            }
        }
        let mut reached = false;
        let keys = user
            .map(|u| (Key::User(u.to_owned()), self.settings.per_user))
            .into_iter()
            .chain(address.map(|a| (Key::Address(a), self.settings.per_address)));
        for (key, max) in keys {
            let counter = counters.entry(key).or_insert(Counter {
                failures: 0,
                since: now,
            });
            if now.duration_since(counter.since) >= self.settings.window {
                *counter = Counter {
                    failures: 0,
                    since: now,
                };
            }
            counter.failures = counter.failures.saturating_add(1);
            reached |= counter.failures == max.max(1);
        }
        reached
    }

    /// A successful password login clears the user's count (not the address's: one good
    /// account must not reset a guesser's budget for the others).
    pub fn succeeded(&self, user: &str) {
        if let Ok(mut counters) = self.counters.lock() {
            counters.remove(&Key::User(user.to_owned()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(window: Duration) -> LoginThrottle {
        LoginThrottle::new(ThrottleSettings {
            per_user: 3,
            per_address: 5,
            window,
        })
    }

    #[test]
    fn throttles_a_user_after_the_threshold_and_a_success_clears_it() {
        let t = throttle(Duration::from_secs(60));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(!t.failed(Some("alice"), Some(ip)));
        assert!(!t.failed(Some("alice"), Some(ip)));
        assert_eq!(t.retry_after(Some("alice"), Some(ip)), None);
        assert!(t.failed(Some("alice"), Some(ip)));
        let wait = t.retry_after(Some("alice"), None).unwrap();
        assert!(wait <= Duration::from_secs(60) && wait > Duration::from_secs(50));
        assert_eq!(t.retry_after(Some("bob"), None), None);
        t.succeeded("alice");
        assert_eq!(t.retry_after(Some("alice"), None), None);
    }

    #[test]
    fn throttles_an_address_across_user_names() {
        let t = throttle(Duration::from_secs(60));
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        for i in 0..5 {
            t.failed(Some(&format!("user{i}")), Some(ip));
        }
        assert!(t.retry_after(Some("someone-else"), Some(ip)).is_some());
        assert!(t.retry_after(Some("someone-else"), None).is_none());
    }

    #[test]
    fn windows_expire() {
        let t = throttle(Duration::from_millis(1));
        for _ in 0..3 {
            t.failed(Some("carol"), None);
        }
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(t.retry_after(Some("carol"), None), None);
        assert!(!t.failed(Some("carol"), None));
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_names() {
        let t = throttle(Duration::from_secs(60));
        for i in 0..(MAX_COUNTERS + 10) {
            t.failed(Some(&format!("u{i}")), None);
        }
        assert!(t.counters.lock().unwrap().len() <= MAX_COUNTERS);
    }
}
