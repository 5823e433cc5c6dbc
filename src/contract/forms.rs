//! The forms (DRF serializers) of registration, login and the token routes (docs/contract.md §4.1,
//! §4.2, §4.3): fields in, typed input of the domain or DRF's field errors out. Validation
//! here is complete except for the one fact only storage knows: whether the e-mail is already
//! registered, which the registration flow looks up and hands to [`RegistrationCheck::finish`].

use crate::contract::body::{self, max_length_error, FieldErrors, Fields, NULL_CHARACTERS};
use crate::domain::accounts::Registration;
use crate::domain::password_policy::{self, UserAttributes};
use crate::domain::secret::Secret;
use crate::domain::sessions::Credentials;

pub const EMAIL_MAX: usize = 254;
pub const USERNAME_MAX: usize = 100;
pub const PASSWORD_MAX: usize = 4096;
pub const DUPLICATE_EMAIL: &str = "user with this email already exists.";
pub const PASSWORDS_DIFFER: &str = "Password do not match";

/// Each registration field validated on its own (DRF runs every field's validators).
#[derive(Debug)]
pub struct RegistrationCheck {
    email: Result<String, Vec<String>>,
    username: Result<String, Vec<String>>,
    password: Result<String, Vec<String>>,
    password2: Result<String, Vec<String>>,
}

fn with_null_check(text: String, mut messages: Vec<String>) -> Result<String, Vec<String>> {
    if text.contains('\0') {
        messages.push(NULL_CHARACTERS.to_owned());
    }
    if messages.is_empty() {
        Ok(text)
    } else {
        Err(messages)
    }
}

impl RegistrationCheck {
    pub fn new(fields: &Fields) -> Self {
        let email = fields
            .text("email", crate::domain::email::INVALID)
            .map_err(|m| vec![m.to_owned()])
            .and_then(|text| {
                let mut messages: Vec<String> =
                    max_length_error(&text, EMAIL_MAX).into_iter().collect();
                let has_null = text.contains('\0');
                if has_null {
                    messages.push(NULL_CHARACTERS.to_owned());
                }
                if has_null || !crate::domain::email::is_valid(&text) {
                    messages.push(crate::domain::email::INVALID.to_owned());
                }
                if messages.is_empty() {
                    Ok(text)
                } else {
                    Err(messages)
                }
            });
        let username = fields
            .text("username", body::NOT_A_STRING)
            .map_err(|m| vec![m.to_owned()])
            .and_then(|text| {
                let messages = max_length_error(&text, USERNAME_MAX).into_iter().collect();
                with_null_check(text, messages)
            });
        // The similarity validator compares with the submitted, trimmed username and e-mail.
        let attribute = |name: &str| fields.text(name, body::NOT_A_STRING).ok();
        let (submitted_username, submitted_email) = (attribute("username"), attribute("email"));
        let user = UserAttributes {
            username: submitted_username.as_deref(),
            email: submitted_email.as_deref(),
            ..UserAttributes::default()
        };
        let password = body::password_text(fields, "password", PASSWORD_MAX).and_then(|text| {
            let messages = password_policy::check(&text, &user)
                .into_iter()
                .map(str::to_owned)
                .collect();
            with_null_check(text, messages)
        });
        let password2 = body::password_text(fields, "password2", PASSWORD_MAX)
            .and_then(|text| with_null_check(text, Vec::new()));
        Self {
            email,
            username,
            password,
            password2,
        }
    }

    /// The e-mail whose registration status decides the uniqueness check, when it is valid.
    pub fn email(&self) -> Option<&str> {
        self.email.as_deref().ok()
    }

    /// Combines the field checks with whether the e-mail is taken, then compares the two
    /// passwords once every field has passed.
    pub fn finish(self, email_taken: bool) -> Result<Registration, FieldErrors> {
        let mut errors = FieldErrors::default();
        let email = if email_taken {
            Err(vec![DUPLICATE_EMAIL.to_owned()])
        } else {
            self.email
        };
        let email = errors.collect("email", email);
        let username = errors.collect("username", self.username);
        let password = errors.collect("password", self.password);
        let password2 = errors.collect("password2", self.password2);
        let (Some(email), Some(username), Some(password), Some(password2)) =
            (email, username, password, password2)
        else {
            return Err(errors);
        };
        if password != password2 {
            return Err(FieldErrors::one("password", PASSWORDS_DIFFER));
        }
        Ok(Registration {
            email,
            username,
            password: Secret::new(password),
        })
    }
}

/// The login form of `/token/`: `email` is a plain string, `password` at most 4096 chars.
pub fn login(fields: &Fields) -> Result<Credentials, FieldErrors> {
    let mut errors = FieldErrors::default();
    let email = errors.collect("email", body::plain_text(fields, "email"));
    let password = body::password_text(fields, "password", PASSWORD_MAX)
        .and_then(|text| with_null_check(text, Vec::new()));
    let password = errors.collect("password", password);
    match (email, password) {
        (Some(email), Some(password)) => Ok(Credentials {
            email,
            password: Secret::new(password),
        }),
        _ => Err(errors),
    }
}

/// The single token field of `/token/refresh/`, `/token/verify/` and `/token/blacklist/`.
pub fn token_field(fields: &Fields, name: &'static str) -> Result<Secret, FieldErrors> {
    body::plain_text(fields, name)
        .map(Secret::new)
        .map_err(|messages| FieldErrors(vec![(name, messages)]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::body::FieldValue;

    fn text(value: &str) -> FieldValue {
        FieldValue::Text(value.to_owned())
    }

    fn form(email: &str, username: &str, password: &str, password2: &str) -> Fields {
        Fields::from_pairs(&[
            ("email", text(email)),
            ("username", text(username)),
            ("password", text(password)),
            ("password2", text(password2)),
        ])
    }

    #[track_caller]
    fn check_errors(fields: &Fields, email_taken: bool, want: &[(&str, &[&str])]) {
        let got = RegistrationCheck::new(fields)
            .finish(email_taken)
            .unwrap_err();
        let got: Vec<(&str, Vec<&str>)> = got
            .0
            .iter()
            .map(|(f, m)| (*f, m.iter().map(String::as_str).collect()))
            .collect();
        let want: Vec<(&str, Vec<&str>)> = want.iter().map(|(f, m)| (*f, m.to_vec())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_valid_registration_keeps_the_email_as_given_and_trimmed() {
        let registration = RegistrationCheck::new(&form(
            " Ann@Example.COM ",
            "ann",
            "x7#Lq9!vRt2m",
            "x7#Lq9!vRt2m",
        ))
        .finish(false)
        .unwrap();
        assert_eq!(registration.email, "Ann@Example.COM");
        assert_eq!(registration.password.expose(), "x7#Lq9!vRt2m");
    }

    #[test]
    fn an_empty_form_requires_every_field_in_order() {
        let required: &[&str] = &["This field is required."];
        check_errors(
            &Fields::default(),
            false,
            &[
                ("email", required),
                ("username", required),
                ("password", required),
                ("password2", required),
            ],
        );
    }

    #[test]
    fn a_taken_email_is_reported_with_the_other_field_errors() {
        check_errors(
            &form("a@example.com", "ann", "password", "password"),
            true,
            &[
                ("email", &[DUPLICATE_EMAIL]),
                ("password", &["This password is too common."]),
            ],
        );
    }

    #[test]
    fn mismatched_passwords_are_checked_only_when_every_field_passed() {
        check_errors(
            &form("a@example.com", "ann", "x7#Lq9!vRt2m", "x7#Lq9!vRt2n"),
            false,
            &[("password", &[PASSWORDS_DIFFER])],
        );
        check_errors(
            &form("bad", "ann", "x7#Lq9!vRt2m", "other"),
            false,
            &[("email", &["Enter a valid email address."])],
        );
    }

    #[test]
    fn an_overlong_email_reports_the_length_then_the_format() {
        let long_valid = format!("{}@example.com", "a".repeat(250));
        check_errors(
            &form(&long_valid, "ann", "x7#Lq9!vRt2m", "x7#Lq9!vRt2m"),
            false,
            &[(
                "email",
                &["Ensure this field has no more than 254 characters."],
            )],
        );
        let long = format!("{}@example", "a".repeat(250));
        check_errors(
            &form(&long, "ann", "x7#Lq9!vRt2m", "x7#Lq9!vRt2m"),
            false,
            &[(
                "email",
                &[
                    "Ensure this field has no more than 254 characters.",
                    "Enter a valid email address.",
                ],
            )],
        );
    }

    #[test]
    fn an_overlong_password_gets_only_the_length_message() {
        let long = "1".repeat(4097);
        check_errors(
            &form("a@example.com", "ann", &long, &long),
            false,
            &[
                (
                    "password",
                    &["Ensure this field has no more than 4096 characters."],
                ),
                (
                    "password2",
                    &["Ensure this field has no more than 4096 characters."],
                ),
            ],
        );
    }

    #[test]
    fn the_password_is_compared_with_the_submitted_username() {
        check_errors(
            &form(
                "z@example.com",
                "zebrafish77q",
                "zebrafish77q",
                "zebrafish77q",
            ),
            false,
            &[(
                "password",
                &["The password is too similar to the username."],
            )],
        );
    }

    #[test]
    fn email_of_the_wrong_type_is_an_invalid_email() {
        let mut fields = form("x", "ann", "x7#Lq9!vRt2m", "x7#Lq9!vRt2m");
        fields = Fields::from_pairs(&[
            ("email", FieldValue::Bool(true)),
            ("username", fields.get("username").unwrap().clone()),
            ("password", text("x7#Lq9!vRt2m")),
            ("password2", text("x7#Lq9!vRt2m")),
        ]);
        check_errors(
            &fields,
            false,
            &[("email", &["Enter a valid email address."])],
        );
    }

    #[test]
    fn null_characters_are_refused_in_every_field() {
        check_errors(
            &form("a\0@example.com", "a\0", "x7#Lq9!vRt2m\0", "y\0"),
            false,
            &[
                ("email", &[NULL_CHARACTERS, "Enter a valid email address."]),
                ("username", &[NULL_CHARACTERS]),
                ("password", &[NULL_CHARACTERS]),
                ("password2", &[NULL_CHARACTERS]),
            ],
        );
    }

    #[test]
    fn login_requires_email_not_username() {
        let fields = Fields::from_pairs(&[("username", text("u")), ("password", text("p"))]);
        assert_eq!(
            login(&fields).unwrap_err(),
            FieldErrors::one("email", "This field is required.")
        );
    }

    #[test]
    fn token_fields_report_blank_and_null() {
        let blank = Fields::from_pairs(&[("refresh", text("  "))]);
        assert_eq!(
            token_field(&blank, "refresh").unwrap_err(),
            FieldErrors::one("refresh", "This field may not be blank.")
        );
        let null = Fields::from_pairs(&[("refresh", FieldValue::Null)]);
        assert_eq!(
            token_field(&null, "refresh").unwrap_err(),
            FieldErrors::one("refresh", "This field may not be null.")
        );
    }
}
