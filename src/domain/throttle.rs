//! Failed-login throttling (docs/contract.md §6): two buckets per login attempt, counted exactly.
//!
//! - account: client IP + trimmed, ASCII-lower-cased e-mail, `LOGIN_THROTTLE_ACCOUNT_FAILURES`;
//! - client: client IP alone, `LOGIN_THROTTLE_CLIENT_FAILURES`.
//!
//! A bucket's window starts at its first failure and its count resets when the window ends.
//! An attempt *reserves* a failure in both buckets atomically before any hashing (so a burst
//! of concurrent guesses cannot all slip past the check); a full bucket refuses the attempt,
//! a success gives its reservation back, a failure keeps it.

use crate::domain::settings::Settings;

/// The client IP used when `CF-Connecting-IP` is absent (only outside Cloudflare's edge).
pub const UNKNOWN_CLIENT: &str = "unknown";

/// The two bucket keys of a login attempt, account first.
pub type Buckets = [String; 2];

/// The buckets of an attempt from `client_ip` (`None`: no address known) for `email`.
pub fn buckets(client_ip: Option<&str>, email: &str) -> Buckets {
    let ip = client_ip
        .map(str::trim)
        .filter(|ip| !ip.is_empty())
        .unwrap_or(UNKNOWN_CLIENT);
    let email = email.trim().to_ascii_lowercase();
    [format!("account:{ip}:{email}"), format!("client:{ip}")]
}

/// A bucket after this attempt's reservation was counted in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    pub failures: i64,
    pub window_start: i64,
}

/// Seconds to wait when a bucket was already full before this attempt (its count now exceeds
/// the limit), the longest wait of the full buckets; `None` when the attempt may proceed.
pub fn refusal(settings: &Settings, account: Counted, client: Counted, now: i64) -> Option<i64> {
    let window = settings.throttle_window_seconds;
    [
        (account, i64::from(settings.throttle_account_failures)),
        (client, i64::from(settings.throttle_client_failures)),
    ]
    .into_iter()
    .filter(|(bucket, limit)| bucket.failures > *limit)
    .map(|(bucket, _)| (bucket.window_start + window - now).max(1))
    .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000_000;

    fn counted(failures: i64, window_start: i64) -> Counted {
        Counted {
            failures,
            window_start,
        }
    }

    #[test]
    fn buckets_key_the_ip_and_the_trimmed_lower_cased_email() {
        assert_eq!(
            buckets(Some("203.0.113.9"), "  Ann@Example.COM "),
            [
                "account:203.0.113.9:ann@example.com".to_owned(),
                "client:203.0.113.9".to_owned()
            ]
        );
        assert_eq!(buckets(None, "a@b.c")[1], "client:unknown");
    }

    #[test]
    fn an_attempt_within_the_limits_proceeds() {
        let settings = Settings::default();
        assert_eq!(
            refusal(&settings, counted(5, NOW - 10), counted(100, NOW - 10), NOW),
            None
        );
    }

    #[test]
    fn a_full_account_bucket_refuses_until_its_window_ends() {
        let settings = Settings::default();
        assert_eq!(
            refusal(&settings, counted(6, NOW - 10), counted(6, NOW - 10), NOW),
            Some(290)
        );
        assert_eq!(
            refusal(&settings, counted(6, NOW - 300), counted(6, NOW - 10), NOW),
            Some(1)
        );
    }

    #[test]
    fn the_longest_wait_of_the_full_buckets_is_reported() {
        let settings = Settings::default();
        assert_eq!(
            refusal(
                &settings,
                counted(6, NOW - 100),
                counted(101, NOW - 10),
                NOW
            ),
            Some(290)
        );
    }
}
