//! Typed settings read from the Worker's `[vars]` (docs/contract.md §9). Pure: the caller supplies a
//! lookup function, so the parsing is tested natively. An unset or empty variable takes its
//! default; a malformed one is an error naming the variable, the value and what it accepts.

use core::fmt;

/// Every tunable of the service, with the defaults of docs/contract.md §9 and the Django seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `ROTATE_REFRESH_TOKENS`: single-use refresh tokens with reuse detection. Defaults to `true`.
    pub rotate_refresh_tokens: bool,
    /// `REFRESH_REUSE_GRACE_SECONDS`: how long a used refresh token may be presented again
    /// (client retries, concurrent tabs) before it counts as theft. Defaults to `10`.
    pub refresh_reuse_grace_seconds: i64,
    /// `ACCESS_TOKEN_LIFETIME_SECONDS`. Defaults to `300`.
    pub access_lifetime: i64,
    /// `REFRESH_TOKEN_LIFETIME_SECONDS`. Defaults to `86400`.
    pub refresh_lifetime: i64,
    /// `JWT_ISSUER`: added as `iss` and required on input when set. Unset by default.
    pub issuer: Option<String>,
    /// `JWT_AUDIENCE`: added as `aud` and required on input when set. Unset by default.
    pub audience: Option<String>,
    /// `JWT_SIGNING_KID`: which key of `JWT_SIGNING_KEYS` signs. Defaults to the first key.
    pub signing_kid: Option<String>,
    /// `LOGIN_THROTTLE_ACCOUNT_FAILURES`: failed logins per client IP + e-mail. Defaults to `5`.
    pub throttle_account_failures: u32,
    /// `LOGIN_THROTTLE_CLIENT_FAILURES`: failed logins per client IP. Defaults to `100`.
    pub throttle_client_failures: u32,
    /// `LOGIN_THROTTLE_WINDOW_SECONDS`. Defaults to `300`.
    pub throttle_window_seconds: i64,
    /// `PBKDF2_ITERATIONS` for new password hashes. Defaults to `600000` (Django 4.2).
    pub pbkdf2_iterations: u32,
    /// `PBKDF2_MAX_ITERATIONS`: the slowest stored hash accepted; a hash with more iterations
    /// matches nothing. Every failed login costs this much hashing, whatever failed, so that
    /// timing tells no unknown e-mail from a wrong password or an imported slow hash. Defaults
    /// to `1000000` (Django 5.2's count), or `PBKDF2_ITERATIONS` when that is higher.
    pub pbkdf2_max_iterations: u32,
    /// `UPDATE_LAST_LOGIN`: a login stamps `last_login`. Defaults to `false` (simplejwt).
    pub update_last_login: bool,
    /// `REFRESH_FAMILY_MAX_AGE_SECONDS`: how long one login can be kept alive by refreshing;
    /// past it, refresh tokens of that login are refused and the user logs in again, so a
    /// stolen refresh token that keeps winning rotations dies too. Defaults to `2592000` (30
    /// days).
    pub family_max_age: i64,
    /// `MAX_SESSIONS_PER_USER`: live logins a user may hold; a login beyond it revokes the
    /// least recently refreshed one. Defaults to `100`.
    pub max_sessions_per_user: u32,
    /// `REGISTRATIONS_PER_CLIENT_PER_HOUR`: sign-ups (`/register/`, `/registration/`) one client
    /// address (an IPv6 /64) may attempt an hour; callers without an address are not counted.
    /// 0 (the default): not limited, as docs/contract.md §4.1 says of registration.
    pub registrations_per_client: u32,
    /// `ACCOUNT_EMAIL_VERIFICATION` (allauth's names): `none` (the default), `optional` (mail a
    /// link at registration) or `mandatory` (and refuse logins until it is followed).
    pub email_verification: Verification,
    /// `PASSWORD_RESET_TIMEOUT_SECONDS`: how long a reset link works. Defaults to `3600`.
    pub password_reset_timeout: i64,
    /// `EMAIL_CONFIRMATION_EXPIRE_SECONDS`: how long a verification link works. Defaults to
    /// `259200` (allauth's 3 days).
    pub email_confirmation_expire: i64,
    /// `EMAIL_FROM`: the sender, `Name <address>`.
    pub email_from: String,
    /// `FRONTEND_URL`: the base of links in mails; `None` = the request's own origin.
    pub frontend_url: Option<String>,
    /// `PASSWORD_RESET_URL`: the reset link, with `{origin}`, `{uid}` and `{token}`.
    pub password_reset_url: String,
    /// `EMAIL_VERIFICATION_URL`: the verification link, with `{origin}` and `{key}`.
    pub email_verification_url: String,
    /// `MFA_TOTP_ISSUER`: the issuer authenticator apps show beside the account; `""` (none,
    /// dj-rest-auth's default) by default.
    pub totp_issuer: String,
    /// `WEBAUTHN_RP_ID`: the passkeys' relying party; `None` = the request's host.
    pub webauthn_rp_id: Option<String>,
    /// `WEBAUTHN_RP_NAME`: the name authenticators show. Defaults to `Edge Auth`.
    pub webauthn_rp_name: String,
    /// `WEBAUTHN_ORIGINS`: comma-separated origins passkeys are used from; empty = the
    /// request's origin.
    pub webauthn_origins: Vec<String>,
    /// `STORAGE_ROUND_TRIPS_HEADER`: every answer tells the D1 and KV calls made before it
    /// (`Storage-Round-Trips`), for tests and measurements. Defaults to `false`.
    pub round_trips_header: bool,
}

/// `ACCOUNT_EMAIL_VERIFICATION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    None,
    Optional,
    Mandatory,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            rotate_refresh_tokens: true,
            refresh_reuse_grace_seconds: 10,
            access_lifetime: 300,
            refresh_lifetime: 86_400,
            issuer: None,
            audience: None,
            signing_kid: None,
            throttle_account_failures: 5,
            throttle_client_failures: 100,
            throttle_window_seconds: 300,
            pbkdf2_iterations: 600_000,
            pbkdf2_max_iterations: 1_000_000,
            update_last_login: false,
            family_max_age: 30 * 86_400,
            max_sessions_per_user: 100,
            registrations_per_client: 0,
            email_verification: Verification::None,
            password_reset_timeout: 3600,
            email_confirmation_expire: 3 * 86_400,
            email_from: "Edge Auth <no-reply@example.com>".to_owned(),
            frontend_url: None,
            password_reset_url: "{origin}/#/password-reset/{uid}/{token}".to_owned(),
            email_verification_url: "{origin}/#/verify-email/{key}".to_owned(),
            totp_issuer: String::new(),
            webauthn_rp_id: None,
            webauthn_rp_name: "Edge Auth".to_owned(),
            webauthn_origins: Vec::new(),
            round_trips_header: false,
        }
    }
}

/// A variable whose value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    pub name: &'static str,
    pub value: String,
    pub expected: &'static str,
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "variable {} is {:?}; expected {} (set it in wrangler.toml [vars] or with --var {}:<value>)",
            self.name, self.value, self.expected, self.name
        )
    }
}

impl Settings {
    /// Reads every setting through `lookup` (variable name → value, `None` when unset).
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let defaults = Self::default();
        let read = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let boolean = |name: &'static str, default: bool| match read(name) {
            None => Ok(default),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(true),
                "false" | "0" => Ok(false),
                _ => Err(SettingsError {
                    name,
                    value: v,
                    expected: "true, false, 1 or 0",
                }),
            },
        };
        let seconds = |name: &'static str, default: i64, min: i64| match read(name) {
            None => Ok(default),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (min..=10 * 365 * 86_400).contains(&n) => Ok(n),
                _ => Err(SettingsError {
                    name,
                    value: v,
                    expected: if min == 0 {
                        "a whole number of seconds, 0 or more"
                    } else {
                        "a whole number of seconds, 1 or more"
                    },
                }),
            },
        };
        let count = |name: &'static str, default: u32, max: u32| match read(name) {
            None => Ok(default),
            Some(v) => match v.parse::<u32>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(SettingsError {
                    name,
                    value: v,
                    expected: "a whole number, 1 or more",
                }),
            },
        };
        // 100 million iterations is minutes of CPU per login: certainly a typo.
        let pbkdf2_iterations =
            count("PBKDF2_ITERATIONS", defaults.pbkdf2_iterations, 100_000_000)?;
        let pbkdf2_max_iterations = match read("PBKDF2_MAX_ITERATIONS") {
            None => defaults.pbkdf2_max_iterations.max(pbkdf2_iterations),
            Some(value) => match value.parse::<u32>() {
                Ok(n) if (pbkdf2_iterations..=100_000_000).contains(&n) => n,
                _ => {
                    return Err(SettingsError {
                        name: "PBKDF2_MAX_ITERATIONS",
                        value,
                        expected: "a whole number, at least PBKDF2_ITERATIONS",
                    })
                }
            },
        };
        Ok(Self {
            rotate_refresh_tokens: boolean(
                "ROTATE_REFRESH_TOKENS",
                defaults.rotate_refresh_tokens,
            )?,
            refresh_reuse_grace_seconds: seconds(
                "REFRESH_REUSE_GRACE_SECONDS",
                defaults.refresh_reuse_grace_seconds,
                0,
            )?,
            access_lifetime: seconds("ACCESS_TOKEN_LIFETIME_SECONDS", defaults.access_lifetime, 1)?,
            refresh_lifetime: seconds(
                "REFRESH_TOKEN_LIFETIME_SECONDS",
                defaults.refresh_lifetime,
                1,
            )?,
            issuer: read("JWT_ISSUER"),
            audience: read("JWT_AUDIENCE"),
            signing_kid: read("JWT_SIGNING_KID"),
            throttle_account_failures: count(
                "LOGIN_THROTTLE_ACCOUNT_FAILURES",
                defaults.throttle_account_failures,
                u32::MAX,
            )?,
            throttle_client_failures: count(
                "LOGIN_THROTTLE_CLIENT_FAILURES",
                defaults.throttle_client_failures,
                u32::MAX,
            )?,
            throttle_window_seconds: seconds(
                "LOGIN_THROTTLE_WINDOW_SECONDS",
                defaults.throttle_window_seconds,
                1,
            )?,
            pbkdf2_iterations,
            pbkdf2_max_iterations,
            update_last_login: boolean("UPDATE_LAST_LOGIN", defaults.update_last_login)?,
            family_max_age: seconds("REFRESH_FAMILY_MAX_AGE_SECONDS", defaults.family_max_age, 1)?,
            max_sessions_per_user: count(
                "MAX_SESSIONS_PER_USER",
                defaults.max_sessions_per_user,
                1_000_000,
            )?,
            registrations_per_client: match read("REGISTRATIONS_PER_CLIENT_PER_HOUR") {
                None => defaults.registrations_per_client,
                Some(v) => match v.parse::<u32>() {
                    Ok(n) if n <= 1_000_000 => n,
                    _ => {
                        return Err(SettingsError {
                            name: "REGISTRATIONS_PER_CLIENT_PER_HOUR",
                            value: v,
                            expected: "a whole number, 0 (no limit) or more",
                        })
                    }
                },
            },
            email_verification: match read("ACCOUNT_EMAIL_VERIFICATION").as_deref() {
                None | Some("none") => Verification::None,
                Some("optional") => Verification::Optional,
                Some("mandatory") => Verification::Mandatory,
                Some(other) => {
                    return Err(SettingsError {
                        name: "ACCOUNT_EMAIL_VERIFICATION",
                        value: other.to_owned(),
                        expected: "none, optional or mandatory",
                    })
                }
            },
            password_reset_timeout: seconds(
                "PASSWORD_RESET_TIMEOUT_SECONDS",
                defaults.password_reset_timeout,
                1,
            )?,
            email_confirmation_expire: seconds(
                "EMAIL_CONFIRMATION_EXPIRE_SECONDS",
                defaults.email_confirmation_expire,
                1,
            )?,
            email_from: read("EMAIL_FROM").unwrap_or(defaults.email_from),
            frontend_url: read("FRONTEND_URL").map(|url| url.trim_end_matches('/').to_owned()),
            password_reset_url: read("PASSWORD_RESET_URL").unwrap_or(defaults.password_reset_url),
            email_verification_url: read("EMAIL_VERIFICATION_URL")
                .unwrap_or(defaults.email_verification_url),
            totp_issuer: read("MFA_TOTP_ISSUER").unwrap_or(defaults.totp_issuer),
            webauthn_rp_id: read("WEBAUTHN_RP_ID"),
            webauthn_rp_name: read("WEBAUTHN_RP_NAME").unwrap_or(defaults.webauthn_rp_name),
            webauthn_origins: read("WEBAUTHN_ORIGINS")
                .map(|list| {
                    list.split(',')
                        .map(|origin| origin.trim().trim_end_matches('/').to_owned())
                        .filter(|origin| !origin.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            round_trips_header: boolean("STORAGE_ROUND_TRIPS_HEADER", defaults.round_trips_header)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_vars(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        Settings::from_vars(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn unset_and_empty_variables_take_the_documented_defaults() {
        assert_eq!(check_vars(&[]), Ok(Settings::default()));
        assert_eq!(
            check_vars(&[("JWT_ISSUER", ""), ("JWT_SIGNING_KID", " ")]),
            Ok(Settings::default())
        );
    }

    #[test]
    fn the_slowest_accepted_hash_is_never_faster_than_new_hashes() {
        assert_eq!(check_vars(&[]).unwrap().pbkdf2_max_iterations, 1_000_000);
        let settings = check_vars(&[("PBKDF2_ITERATIONS", "1200000")]).unwrap();
        assert_eq!(settings.pbkdf2_max_iterations, 1_200_000);
        let settings = check_vars(&[("PBKDF2_MAX_ITERATIONS", "870000")]).unwrap();
        assert_eq!(settings.pbkdf2_max_iterations, 870_000);
        let error = check_vars(&[("PBKDF2_MAX_ITERATIONS", "500000")]).unwrap_err();
        assert_eq!(error.name, "PBKDF2_MAX_ITERATIONS");
    }

    #[test]
    fn the_family_lifetime_and_the_session_cap_are_read() {
        let settings = check_vars(&[
            ("REFRESH_FAMILY_MAX_AGE_SECONDS", "3600"),
            ("MAX_SESSIONS_PER_USER", "3"),
        ])
        .unwrap();
        assert_eq!(
            (settings.family_max_age, settings.max_sessions_per_user),
            (3600, 3)
        );
        assert_eq!(
            check_vars(&[("MAX_SESSIONS_PER_USER", "0")])
                .unwrap_err()
                .name,
            "MAX_SESSIONS_PER_USER"
        );
    }

    #[test]
    fn booleans_accept_true_false_one_zero_in_any_case() {
        for (text, want) in [("TRUE", true), ("False", false), ("1", true), ("0", false)] {
            let settings = check_vars(&[("ROTATE_REFRESH_TOKENS", text)]).unwrap();
            assert_eq!(settings.rotate_refresh_tokens, want, "{text}");
            let settings = check_vars(&[("STORAGE_ROUND_TRIPS_HEADER", text)]).unwrap();
            assert_eq!(settings.round_trips_header, want, "{text}");
        }
    }

    #[test]
    fn a_malformed_variable_is_an_error_that_names_it() {
        let err = check_vars(&[("ROTATE_REFRESH_TOKENS", "yes")]).unwrap_err();
        assert_eq!(err.name, "ROTATE_REFRESH_TOKENS");
        assert!(err.to_string().contains("true, false, 1 or 0"));
        assert_eq!(
            check_vars(&[("PBKDF2_ITERATIONS", "0")]).unwrap_err().name,
            "PBKDF2_ITERATIONS"
        );
        assert_eq!(
            check_vars(&[("ACCESS_TOKEN_LIFETIME_SECONDS", "-5")])
                .unwrap_err()
                .name,
            "ACCESS_TOKEN_LIFETIME_SECONDS"
        );
    }

    #[test]
    fn issuer_and_audience_are_read_when_set() {
        let settings = check_vars(&[
            ("JWT_ISSUER", "https://auth.example"),
            ("JWT_AUDIENCE", "api"),
        ])
        .unwrap();
        assert_eq!(settings.issuer.as_deref(), Some("https://auth.example"));
        assert_eq!(settings.audience.as_deref(), Some("api"));
    }
}
