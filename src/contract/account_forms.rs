//! The forms (dj-rest-auth serializers) of the account routes (docs/accounts.md §3): fields in,
//! typed input or DRF's field errors out, in each serializer's field order. What needs storage
//! or hashing (the old password, the reset token) is decided in the domain; the forms here
//! take its verdict where dj-rest-auth reports it.

use crate::contract::body::{self, max_length_error, FieldErrors, FieldValue, Fields};
use crate::contract::error::ApiError;
use crate::domain::accounts::{RegisterError, User};
use crate::domain::email;
use crate::domain::password_policy::{self, UserAttributes};
use crate::domain::secret::Secret;
use crate::domain::sessions::Credentials;
use crate::domain::store::Profile;

/// Django's `SetPasswordForm` and dj-rest-auth's password fields: at most 128 characters.
pub const SET_PASSWORD_MAX: usize = 128;
pub const PASSWORDS_DIFFER: &str = "The two password fields didn\u{2019}t match.";
pub const LOGIN_REFUSED: &str = "Unable to log in with provided credentials.";
pub const LOGIN_INCOMPLETE: &str = "Must include \"email\" and \"password\".";
pub const WRONG_OLD_PASSWORD: &str =
    "Your old password was entered incorrectly. Please enter it again.";
pub const WRONG_PASSWORD: &str = "Your password was entered incorrectly. Please enter it again.";
pub const INVALID_VALUE: &str = "Invalid value";
pub const NAME_MAX: usize = 150;

/// A DRF `CharField` that may be absent or blank (`required=False, allow_blank=True`):
/// `Ok(None)` when absent.
fn optional_text(fields: &Fields, name: &str, max: usize) -> Result<Option<String>, Vec<String>> {
    match fields.get(name) {
        None => Ok(None),
        Some(FieldValue::Text(text)) if crate::domain::text::python_strip(text).is_empty() => {
            Ok(Some(String::new()))
        }
        Some(_) => {
            let text = fields
                .text(name, body::NOT_A_STRING)
                .map_err(|m| vec![m.to_owned()])?;
            let mut messages: Vec<String> = max_length_error(&text, max).into_iter().collect();
            if text.contains('\0') {
                messages.push(body::NULL_CHARACTERS.to_owned());
            }
            if messages.is_empty() {
                Ok(Some(text))
            } else {
                Err(messages)
            }
        }
    }
}

/// A DRF `EmailField`: trimmed, at most 254 characters, a valid address.
pub fn email_field(fields: &Fields, name: &str) -> Result<String, Vec<String>> {
    let text = fields
        .text(name, email::INVALID)
        .map_err(|m| vec![m.to_owned()])?;
    let mut messages: Vec<String> = Vec::new();
    if text.contains('\0') {
        messages.push(body::NULL_CHARACTERS.to_owned());
    }
    if text.contains('\0') || !email::is_valid(&text) {
        messages.push(email::INVALID.to_owned());
    }
    if messages.is_empty() {
        Ok(text)
    } else {
        Err(messages)
    }
}

/// A password field of a serializer (trimmed, as DRF's `CharField` does; at most `max`).
fn password_field(fields: &Fields, name: &str, max: usize) -> Result<String, Vec<String>> {
    body::password_text(fields, name, max).and_then(|text| {
        if text.contains('\0') {
            Err(vec![body::NULL_CHARACTERS.to_owned()])
        } else {
            Ok(text)
        }
    })
}

/// dj-rest-auth's `LoginSerializer` with login by e-mail: `username` is ignored, `email`
/// optional but validated when given, `password` required; either missing is
/// `Must include "email" and "password".`
pub fn login(fields: &Fields) -> Result<Credentials, FieldErrors> {
    let mut errors = FieldErrors::default();
    let _ = errors.collect("username", optional_text(fields, "username", usize::MAX));
    let email = match fields.get("email") {
        Some(FieldValue::Text(text)) if crate::domain::text::python_strip(text).is_empty() => {
            Ok(None)
        }
        None => Ok(None),
        Some(_) => email_field(fields, "email").map(Some),
    };
    let email = errors.collect("email", email);
    let password = errors.collect("password", password_field(fields, "password", usize::MAX));
    if !errors.is_empty() {
        return Err(errors);
    }
    match (email.flatten(), password) {
        (Some(email), Some(password)) => Ok(Credentials {
            email,
            password: Secret::new(password),
        }),
        _ => Err(FieldErrors::one("non_field_errors", LOGIN_INCOMPLETE)),
    }
}

/// The `username` field: any text of 1–100 characters without U+0000 (not unique).
fn username_field(fields: &Fields) -> Result<String, Vec<String>> {
    fields
        .text("username", body::NOT_A_STRING)
        .map_err(|m| vec![m.to_owned()])
        .and_then(|text| {
            let mut messages: Vec<String> =
                max_length_error(&text, crate::contract::forms::USERNAME_MAX)
                    .into_iter()
                    .collect();
            if text.contains('\0') {
                messages.push(body::NULL_CHARACTERS.to_owned());
            }
            if messages.is_empty() {
                Ok(text)
            } else {
                Err(messages)
            }
        })
}

/// The names a `/user/` update sets: `username` (1–100 characters; required by PUT),
/// `first_name` and `last_name` (at most 150, may be blank); `pk` and `email` are read-only
/// and ignored. A field left out keeps its value.
pub fn profile(fields: &Fields, user: &User, partial: bool) -> Result<Profile, FieldErrors> {
    let mut errors = FieldErrors::default();
    let username = match fields.get("username") {
        None if partial => Ok(user.username.clone()),
        _ => username_field(fields),
    };
    let username = errors.collect("username", username);
    let first_name = errors.collect("first_name", optional_text(fields, "first_name", NAME_MAX));
    let last_name = errors.collect("last_name", optional_text(fields, "last_name", NAME_MAX));
    match (username, first_name, last_name) {
        (Some(username), Some(first_name), Some(last_name)) => Ok(Profile {
            username,
            first_name: first_name.unwrap_or_else(|| user.first_name.clone()),
            last_name: last_name.unwrap_or_else(|| user.last_name.clone()),
        }),
        _ => Err(errors),
    }
}

/// The two new-password fields of Django's `SetPasswordForm`, checked on their own.
pub struct NewPasswords {
    first: Result<String, Vec<String>>,
    second: Result<String, Vec<String>>,
}

impl NewPasswords {
    pub fn new(fields: &Fields) -> Self {
        Self {
            first: password_field(fields, "new_password1", SET_PASSWORD_MAX),
            second: password_field(fields, "new_password2", SET_PASSWORD_MAX),
        }
    }

    fn collect(&self, errors: &mut FieldErrors) -> Option<(String, String)> {
        let first = errors.collect("new_password1", self.first.clone());
        let second = errors.collect("new_password2", self.second.clone());
        first.zip(second)
    }

    /// `SetPasswordForm`'s own checks once both fields passed: equal, then Django's
    /// validators for `user` (errors under `new_password2`).
    fn finish(first: String, second: &str, user: Option<&User>) -> Result<Secret, FieldErrors> {
        if first != second {
            return Err(FieldErrors::one("new_password2", PASSWORDS_DIFFER));
        }
        let attributes = UserAttributes {
            username: user.map(|u| u.username.as_str()),
            first_name: user.map(|u| u.first_name.as_str()),
            last_name: user.map(|u| u.last_name.as_str()),
            email: user.map(|u| u.email.as_str()),
        };
        let messages = password_policy::check(&first, &attributes);
        if !messages.is_empty() {
            let messages = messages.into_iter().map(str::to_owned).collect();
            return Err(FieldErrors(vec![("new_password2", messages)]));
        }
        Ok(Secret::new(first))
    }
}

/// dj-rest-auth's `PasswordChangeSerializer` with `OLD_PASSWORD_FIELD_ENABLED`: its fields,
/// checked on their own first, then the verdict on the old password, then `SetPasswordForm`.
pub struct PasswordChange {
    old: Result<String, Vec<String>>,
    new: NewPasswords,
}

impl PasswordChange {
    pub fn new(fields: &Fields) -> Self {
        Self {
            old: password_field(fields, "old_password", SET_PASSWORD_MAX),
            new: NewPasswords::new(fields),
        }
    }

    /// The old password, when it is a well-formed field: the domain checks it.
    pub fn old(&self) -> Option<Secret> {
        self.old.as_ref().ok().map(|old| Secret::new(old.as_str()))
    }

    /// `old_matches`: the domain's verdict on [`Self::old`] (`None` when it had none).
    pub fn finish(self, old_matches: Option<bool>, user: &User) -> Result<Secret, FieldErrors> {
        let mut errors = FieldErrors::default();
        let old = match (self.old, old_matches) {
            (Err(messages), _) => Err(messages),
            (Ok(_), Some(false)) => Err(vec![WRONG_OLD_PASSWORD.to_owned()]),
            (Ok(old), _) => Ok(old),
        };
        let old = errors.collect("old_password", old);
        let new = self.new.collect(&mut errors);
        match (old, new) {
            (Some(_), Some((first, second))) => NewPasswords::finish(first, &second, Some(user)),
            _ => Err(errors),
        }
    }
}

/// dj-rest-auth's `PasswordResetConfirmSerializer`: the four fields on their own; then, in
/// the domain, the uid, the token and `SetPasswordForm` ([`ResetConfirm::validate`]).
pub struct ResetConfirm {
    pub new: NewPasswords,
    pub uid: String,
    pub token: String,
}

impl ResetConfirm {
    pub fn new(fields: &Fields) -> Result<Self, FieldErrors> {
        let new = NewPasswords::new(fields);
        let mut errors = FieldErrors::default();
        let passwords = new.collect(&mut errors);
        let uid = errors.collect("uid", body::plain_text(fields, "uid"));
        let token = errors.collect("token", body::plain_text(fields, "token"));
        match (passwords, uid, token) {
            (Some(_), Some(uid), Some(token)) => Ok(Self { new, uid, token }),
            _ => Err(errors),
        }
    }

    /// `SetPasswordForm` for the user the uid names.
    pub fn validate(new: &NewPasswords, user: &User) -> Result<Secret, FieldErrors> {
        match (&new.first, &new.second) {
            (Ok(first), Ok(second)) => NewPasswords::finish(first.clone(), second, Some(user)),
            _ => Err(FieldErrors::default()),
        }
    }
}

/// A form of one required e-mail field (`/password/reset/`, `/registration/resend-email/`).
pub fn email_only(fields: &Fields) -> Result<String, FieldErrors> {
    email_field(fields, "email").map_err(|messages| FieldErrors(vec![("email", messages)]))
}

/// A form of one required password field (`/user/delete/`).
pub fn password_only(fields: &Fields) -> Result<Secret, FieldErrors> {
    password_field(fields, "password", crate::contract::forms::PASSWORD_MAX)
        .map(Secret::new)
        .map_err(|messages| FieldErrors(vec![("password", messages)]))
}

/// The key of `/registration/verify-email/`.
pub fn key(fields: &Fields) -> Result<Secret, FieldErrors> {
    body::plain_text(fields, "key")
        .map(Secret::new)
        .map_err(|messages| FieldErrors(vec![("key", messages)]))
}

pub const REGISTERED_EMAIL: &str = "User is already registered with this e-mail address.";
pub const REGISTRATION_PASSWORDS_DIFFER: &str = "The two password fields didn't match.";

/// dj-rest-auth's `RegisterSerializer` (docs/accounts.md §3): `username` (1–100 characters,
/// not unique), `email` (unique ASCII-case-insensitively), `password1` (Django's validators
/// but similarity), `password2`; then the two passwords equal, then similarity to the
/// username and e-mail (reported as a non-field error, as allauth's save does).
pub struct RegistrationForm {
    username: Result<String, Vec<String>>,
    email: Result<String, Vec<String>>,
    password1: Result<String, Vec<String>>,
    password2: Result<String, Vec<String>>,
}

impl RegistrationForm {
    pub fn new(fields: &Fields) -> Self {
        let username = username_field(fields);
        let email = email_field(fields, "email").and_then(|email| {
            match max_length_error(&email, crate::contract::forms::EMAIL_MAX) {
                Some(message) => Err(vec![message]),
                None => Ok(email),
            }
        });
        let max = crate::contract::forms::PASSWORD_MAX;
        let password1 = password_field(fields, "password1", max).and_then(|text| {
            let messages: Vec<String> = password_policy::check(&text, &UserAttributes::default())
                .into_iter()
                .map(str::to_owned)
                .collect();
            if messages.is_empty() {
                Ok(text)
            } else {
                Err(messages)
            }
        });
        let password2 = password_field(fields, "password2", max);
        Self {
            username,
            email,
            password1,
            password2,
        }
    }

    /// The e-mail whose registration status decides the uniqueness check, when it is valid.
    pub fn email(&self) -> Option<&str> {
        self.email.as_deref().ok()
    }

    pub fn finish(
        self,
        email_taken: bool,
    ) -> Result<crate::domain::accounts::Registration, FieldErrors> {
        let mut errors = FieldErrors::default();
        let username = errors.collect("username", self.username);
        let email = if email_taken && self.email.is_ok() {
            Err(vec![REGISTERED_EMAIL.to_owned()])
        } else {
            self.email
        };
        let email = errors.collect("email", email);
        let password1 = errors.collect("password1", self.password1);
        let password2 = errors.collect("password2", self.password2);
        let (Some(username), Some(email), Some(password1), Some(password2)) =
            (username, email, password1, password2)
        else {
            return Err(errors);
        };
        if password1 != password2 {
            return Err(FieldErrors::one(
                "non_field_errors",
                REGISTRATION_PASSWORDS_DIFFER,
            ));
        }
        let attributes = UserAttributes {
            username: Some(&username),
            email: Some(&email),
            ..UserAttributes::default()
        };
        if let Some(similar) = password_policy::check(&password1, &attributes).first() {
            return Err(FieldErrors::one("non_field_errors", *similar));
        }
        Ok(crate::domain::accounts::Registration {
            email,
            username,
            password: Secret::new(password1),
        })
    }
}

/// `/registration/`'s answer to a failed registration: as `/register/`'s, but a race lost to a
/// concurrent registration of the address says what dj-rest-auth says of a taken one.
pub fn registration_error(error: RegisterError<FieldErrors>) -> ApiError {
    match error {
        RegisterError::EmailTaken => ApiError::Fields(FieldErrors::one("email", REGISTERED_EMAIL)),
        other => other.into(),
    }
}

#[cfg(test)]
mod registration_error_tests {
    use super::*;

    #[test]
    fn a_lost_race_for_an_address_answers_dj_rest_auths_message() {
        let reply = registration_error(RegisterError::EmailTaken).reply();
        assert_eq!(
            (reply.status, reply.body.as_deref()),
            (
                400,
                Some(r#"{"email":["User is already registered with this e-mail address."]}"#)
            )
        );
    }
}
