//! Security events (docs/accounts.md §3, `/user/events/`): what happened to an account, when,
//! and from which client. Recorded in the same storage operation as what they describe where
//! there is one; kept 90 days and at most 1 000 per user.

/// How many events a user keeps; older ones are deleted as new ones arrive.
pub const KEPT_PER_USER: i64 = 1_000;
/// How long an event is kept.
pub const KEPT_SECONDS: i64 = 90 * 24 * 3600;
/// How many `/user/events/` lists.
pub const LISTED: i64 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Login,
    LoginFailed,
    RefreshReuseDetected,
    PasswordChanged,
    PasswordReset,
    EmailVerified,
    MfaEnabled,
    MfaDisabled,
    RecoveryCodeUsed,
    PasskeyAdded,
    PasskeyRemoved,
    SessionRevoked,
    LogoutEverywhere,
}

impl Event {
    /// The wire name, also what the store keeps.
    pub fn name(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::LoginFailed => "login_failed",
            Self::RefreshReuseDetected => "refresh_reuse_detected",
            Self::PasswordChanged => "password_changed",
            Self::PasswordReset => "password_reset",
            Self::EmailVerified => "email_verified",
            Self::MfaEnabled => "mfa_enabled",
            Self::MfaDisabled => "mfa_disabled",
            Self::RecoveryCodeUsed => "recovery_code_used",
            Self::PasskeyAdded => "passkey_added",
            Self::PasskeyRemoved => "passkey_removed",
            Self::SessionRevoked => "session_revoked",
            Self::LogoutEverywhere => "logout_everywhere",
        }
    }
}

/// What a request tells about its client: recorded with sessions and events. Each part is
/// stored at most [`Client::MAX`] characters long, so a row never grows with the request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Client {
    pub ip: String,
    pub country: String,
    pub user_agent: String,
}

impl Client {
    pub const MAX: usize = 256;

    /// From the request's `CF-Connecting-IP`, `CF-IPCountry` and `User-Agent`, each cut to
    /// [`Client::MAX`] characters.
    pub fn new(ip: Option<&str>, country: Option<&str>, user_agent: Option<&str>) -> Self {
        let cut = |value: Option<&str>| value.unwrap_or("").chars().take(Self::MAX).collect();
        Self {
            ip: cut(ip),
            country: cut(country),
            user_agent: cut(user_agent),
        }
    }

    /// The address the throttle buckets use, `None` when the caller gave none.
    pub fn address(&self) -> Option<&str> {
        Some(self.ip.as_str()).filter(|ip| !ip.trim().is_empty())
    }
}

/// An event to record.
#[derive(Debug, Clone, Copy)]
pub struct NewEvent<'a> {
    pub user_id: i64,
    pub event: Event,
    pub at: i64,
    pub client: &'a Client,
}

/// A recorded event, as `/user/events/` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct EventRow {
    pub event: String,
    pub at: i64,
    pub ip: String,
    pub country: String,
    pub user_agent: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_parts_are_cut_to_256_characters() {
        let long = "é".repeat(1000);
        let client = Client::new(Some(&long), Some("CH"), Some(&long));
        assert_eq!(client.ip.chars().count(), 256);
        assert_eq!(client.user_agent.chars().count(), 256);
        assert_eq!(client.country, "CH");
    }

    #[test]
    fn a_blank_address_is_no_address() {
        assert_eq!(Client::new(Some("  "), None, None).address(), None);
        assert_eq!(Client::new(None, None, None).address(), None);
        assert_eq!(Client::new(Some("::1"), None, None).address(), Some("::1"));
    }
}
