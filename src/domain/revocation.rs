//! The refresh-token denylist policy (docs/contract.md §5): what is written to KV for a revoked `jti`,
//! for how long, and when presenting a used refresh token counts as theft.
//!
//! KV is the fast, edge-cached answer to "is this jti revoked?"; it is eventually consistent
//! (another location may see a write only after about 60 s) and cannot compare-and-swap, so
//! D1 makes every single-use decision and KV only ever learns of revocations D1 committed.
//! An entry lives exactly as long as the token could still be presented: until its `exp`,
//! but at least KV's minimum TTL of 60 s.

/// KV refuses `expirationTtl` below 60 seconds.
pub const KV_MIN_TTL_SECONDS: i64 = 60;

/// Why a `jti` is on the denylist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// Consumed by a rotation at `at` (epoch seconds): reuse is judged against the grace window.
    Used { at: i64 },
    /// Logged out, revoked with its family, or by logout-everywhere.
    Revoked,
}

impl Revocation {
    /// The KV value.
    pub fn encode(self) -> String {
        match self {
            Self::Used { at } => format!("used:{at}"),
            Self::Revoked => "revoked".to_owned(),
        }
    }

    /// Reads a KV value; anything unrecognised counts as revoked (fail closed).
    pub fn decode(value: &str) -> Self {
        value
            .strip_prefix("used:")
            .and_then(|at| at.parse().ok())
            .map_or(Self::Revoked, |at| Self::Used { at })
    }
}

/// Rows of refresh tokens are kept this long after their `exp` before the scheduled cleanup
/// deletes them, so no clock skew between isolates can let an expired token's row vanish
/// while some isolate still accepts the token (it would then be adopted as a new login).
pub const CLEANUP_MARGIN_SECONDS: i64 = 3600;

/// The scheduled cleanup deletes refresh-token rows whose `exp` is before this time.
pub fn cleanup_cutoff(now: i64) -> i64 {
    now - CLEANUP_MARGIN_SECONDS
}

/// `expirationTtl` for a token expiring at `exp`: its remaining life, at least KV's minimum.
pub fn kv_ttl(exp: i64, now: i64) -> u64 {
    exp.saturating_sub(now).max(KV_MIN_TTL_SECONDS) as u64
}

/// A used refresh token presented again more than `grace` seconds after its use is a theft
/// signal: the whole family is revoked. Within the window it is a retry or a race.
pub fn is_theft(used_at: i64, now: i64, grace: i64) -> bool {
    now.saturating_sub(used_at) > grace
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_unknown_values_count_as_revoked() {
        for entry in [Revocation::Used { at: 1_700_000_000 }, Revocation::Revoked] {
            assert_eq!(Revocation::decode(&entry.encode()), entry);
        }
        assert_eq!(Revocation::decode("used:x"), Revocation::Revoked);
        assert_eq!(Revocation::decode(""), Revocation::Revoked);
    }

    #[test]
    fn ttl_is_the_remaining_life_clamped_to_the_kv_minimum() {
        assert_eq!(kv_ttl(1_000 + 86_400, 1_000), 86_400);
        assert_eq!(kv_ttl(1_030, 1_000), 60);
        assert_eq!(kv_ttl(900, 1_000), 60);
    }

    #[test]
    fn cleanup_keeps_rows_an_hour_past_their_expiry() {
        assert_eq!(cleanup_cutoff(10_000), 6_400);
    }

    #[test]
    fn reuse_within_the_grace_window_is_not_theft() {
        assert!(!is_theft(100, 110, 10));
        assert!(is_theft(100, 111, 10));
        assert!(is_theft(100, 101, 0));
    }
}
