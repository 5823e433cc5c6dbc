//! Failed-login throttling (docs/contract.md §6): a login attempt counts in two buckets,
//! exactly.
//!
//! - account: the client + the trimmed, ASCII-lower-cased e-mail,
//!   `LOGIN_THROTTLE_ACCOUNT_FAILURES`;
//! - client: the client alone, `LOGIN_THROTTLE_CLIENT_FAILURES`.
//!
//! The client is the address in `CF-Connecting-IP`: an IPv4 address as it is, an IPv6 address
//! by its /64 (one subscriber's network: a client that holds a /64 holds 2^64 addresses, so a
//! per-address bucket would be no limit at all), an IPv4-mapped IPv6 address as the IPv4
//! address. A caller without an address (another Worker through a service binding that does
//! not forward one) is throttled by the account bucket alone, keyed by the e-mail: a bucket
//! shared by every such caller would let one of them lock all the others out.
//!
//! A bucket's key is a fixed-size digest (SHA-256) of an unambiguous encoding of its parts, so
//! that a stored row never grows with the input (a 1 MiB e-mail costs what a short one does)
//! and no two different parts can make the same key.
//!
//! A bucket's window starts at its first failure and its count resets when the window ends.
//! An attempt *reserves* a failure in its buckets atomically before any hashing (so a burst of
//! concurrent guesses cannot all slip past the check); a full bucket refuses the attempt, a
//! success gives its reservation back, a failure keeps it.

use std::net::IpAddr;

use base64ct::{Base64UrlUnpadded, Encoding};
use sha2::{Digest, Sha256};

use crate::domain::settings::Settings;

/// The bucket keys of a login attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buckets {
    pub account: String,
    /// `None` when the caller has no address.
    pub client: Option<String>,
}

impl Buckets {
    /// Every key, the account bucket's first.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.account.as_str()).chain(self.client.as_deref())
    }
}

/// The buckets of an attempt from `client_ip` (`CF-Connecting-IP`; `None` or blank: no
/// address) for `email`.
pub fn buckets(client_ip: Option<&str>, email: &str) -> Buckets {
    let client = client_ip
        .map(str::trim)
        .filter(|ip| !ip.is_empty())
        .map(client_identity);
    let email = email.trim().to_ascii_lowercase();
    Buckets {
        account: key("a", &[client.as_deref().unwrap_or(""), &email]),
        client: client.map(|client| key("c", &[&client])),
    }
}

/// The key of a per-client bucket of `kind` for the client `address` stands for: the mail and
/// sign-up quotas.
pub(crate) fn client_key(kind: &str, address: &str) -> String {
    key(kind, &[&client_identity(address)])
}

/// The client an address stands for: `4:<IPv4>`, `6:<first four groups of the IPv6>`, or, for
/// what does not parse as an address (only a binding caller can send that), `?:<the text>`.
pub(crate) fn client_identity(address: &str) -> String {
    match address.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => format!("4:{v4}"),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("4:{v4}"),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                format!("6:{a:x}:{b:x}:{c:x}:{d:x}")
            }
        },
        Err(_) => format!("?:{address}"),
    }
}

/// `<kind>:<base64url SHA-256>` of the parts, each prefixed with its length, so that the key
/// has a fixed size and distinct parts never collide by concatenation.
pub(crate) fn key(kind: &str, parts: &[&str]) -> String {
    let mut digest = Sha256::new();
    for part in parts {
        digest.update((part.len() as u64).to_be_bytes());
        digest.update(part.as_bytes());
    }
    format!(
        "{kind}:{}",
        Base64UrlUnpadded::encode_string(&digest.finalize())
    )
}

/// A bucket after this attempt's reservation was counted in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    pub failures: i64,
    pub window_start: i64,
}

/// Seconds to wait when a bucket was already full before this attempt (its count now exceeds
/// the limit), the longest wait of the full buckets; `None` when the attempt may proceed.
/// `counted`: the account bucket, then the client bucket when there is one.
pub fn refusal(settings: &Settings, counted: &[Counted], now: i64) -> Option<i64> {
    let window = settings.throttle_window_seconds;
    let limits = [
        settings.throttle_account_failures,
        settings.throttle_client_failures,
    ];
    counted
        .iter()
        .zip(limits)
        .filter(|(bucket, limit)| bucket.failures > i64::from(*limit))
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
    fn keys_have_a_fixed_size_whatever_the_input() {
        let long = format!("{}@example.com", "a".repeat(1 << 20));
        let buckets = buckets(Some("203.0.113.9"), &long);
        assert_eq!(buckets.account.len(), 2 + 43);
        assert_eq!(buckets.client.map(|c| c.len()), Some(2 + 43));
    }

    #[test]
    fn the_email_is_trimmed_and_ascii_lower_cased() {
        assert_eq!(
            buckets(Some("203.0.113.9"), "  Ann@Example.COM "),
            buckets(Some("203.0.113.9"), "ann@example.com")
        );
        assert_ne!(
            buckets(Some("203.0.113.9"), "ÄNN@example.com").account,
            buckets(Some("203.0.113.9"), "änn@example.com").account
        );
    }

    #[test]
    fn ipv6_clients_are_bucketed_by_their_64() {
        let one = buckets(Some("2001:db8:1:2::1"), "a@b.c");
        let same_64 = buckets(Some("2001:db8:1:2:ffff:ffff:ffff:ffff"), "x@y.z");
        let other_64 = buckets(Some("2001:db8:1:3::1"), "a@b.c");
        assert_eq!(one.client, same_64.client);
        assert_ne!(one.client, other_64.client);
        assert_eq!(
            one.account,
            buckets(Some("2001:0db8:0001:0002:0:0:0:9"), " A@B.C").account
        );
        assert_ne!(one.account, other_64.account);
    }

    #[test]
    fn ipv4_clients_are_bucketed_by_their_address_also_when_mapped_into_ipv6() {
        let v4 = buckets(Some("203.0.113.9"), "a@b.c");
        assert_eq!(v4, buckets(Some("::ffff:203.0.113.9"), "a@b.c"));
        assert_ne!(v4.client, buckets(Some("203.0.113.10"), "a@b.c").client);
    }

    #[test]
    fn a_caller_without_an_address_has_only_an_account_bucket() {
        let none = buckets(None, "a@b.c");
        assert_eq!(none.client, None);
        assert_eq!(none, buckets(Some("  "), "a@b.c"));
        assert_eq!(none.keys().count(), 1);
        // Not the account bucket of any client.
        assert_ne!(none.account, buckets(Some("203.0.113.9"), "a@b.c").account);
    }

    #[test]
    fn parts_cannot_be_shifted_from_one_to_the_other() {
        assert_ne!(key("a", &["4:1.2.3.4", "x"]), key("a", &["4:1.2.3.4x", ""]));
        assert_ne!(key("a", &["p"]), key("c", &["p"]));
    }

    #[test]
    fn an_attempt_within_the_limits_proceeds() {
        let settings = Settings::default();
        let counts = [counted(5, NOW - 10), counted(100, NOW - 10)];
        assert_eq!(refusal(&settings, &counts, NOW), None);
    }

    #[test]
    fn a_full_account_bucket_refuses_until_its_window_ends() {
        let settings = Settings::default();
        let counts = [counted(6, NOW - 10), counted(6, NOW - 10)];
        assert_eq!(refusal(&settings, &counts, NOW), Some(290));
        let counts = [counted(6, NOW - 300), counted(6, NOW - 10)];
        assert_eq!(refusal(&settings, &counts, NOW), Some(1));
        assert_eq!(refusal(&settings, &counts[..1], NOW), Some(1));
    }

    #[test]
    fn the_longest_wait_of_the_full_buckets_is_reported() {
        let settings = Settings::default();
        let counts = [counted(6, NOW - 100), counted(101, NOW - 10)];
        assert_eq!(refusal(&settings, &counts, NOW), Some(290));
    }
}
