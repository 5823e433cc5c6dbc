//! The `/passkeys/` routes' forms and refusals (docs/accounts.md §6): the browser's
//! `PublicKeyCredential` JSON in `credential`, a passkey's `name`.

use serde::de::DeserializeOwned;

use crate::contract::account_forms::LOGIN_REFUSED;
use crate::contract::body::{max_length_error, FieldErrors, FieldValue, Fields};
use crate::contract::error::ApiError;
use crate::domain::passkeys::{PasskeyError, NAME_MAX};
use crate::domain::text::python_strip;

const REQUIRED: &str = "This field is required.";
pub const INVALID: &str = "Invalid passkey.";
pub const BAD_CHALLENGE: &str = "Invalid or expired challenge.";
const DEFAULT_NAME: &str = "Passkey";
/// At `register/begin/` (and at `complete/` when another ceremony got there first).
pub const TOO_MANY: &str = "A user can have at most 20 passkeys.";

/// `credential`: the JSON of `PublicKeyCredential.toJSON()` (as an object, or as text in a
/// form); anything that is not of its shape is an invalid passkey.
pub fn credential<T: DeserializeOwned>(fields: &Fields) -> Result<T, FieldErrors> {
    let parsed = match fields.get("credential") {
        None => return Err(FieldErrors::one("credential", REQUIRED)),
        Some(FieldValue::Composite(json) | FieldValue::Text(json)) => {
            serde_json::from_str(json).ok()
        }
        Some(_) => None,
    };
    parsed.ok_or_else(|| FieldErrors::one("credential", INVALID))
}

/// `name`: optional, at most 64 characters, `Passkey` when absent or blank.
pub fn name(fields: &Fields) -> Result<String, FieldErrors> {
    let text = match fields.get("name") {
        None | Some(FieldValue::Null) => return Ok(DEFAULT_NAME.to_owned()),
        Some(FieldValue::Text(text)) => python_strip(text).to_owned(),
        Some(_) => {
            return Err(FieldErrors::one(
                "name",
                crate::contract::body::NOT_A_STRING,
            ))
        }
    };
    if let Some(message) = max_length_error(&text, NAME_MAX) {
        return Err(FieldErrors::one("name", message));
    }
    if text.contains('\0') {
        return Err(FieldErrors::one(
            "name",
            crate::contract::body::NULL_CHARACTERS,
        ));
    }
    Ok(if text.is_empty() {
        DEFAULT_NAME.to_owned()
    } else {
        text
    })
}

/// Each refusal's answer. A login's failures are one answer, as a password login's are.
pub fn error(error: PasskeyError) -> ApiError {
    match error {
        PasskeyError::BadChallenge => FieldErrors::one("credential", BAD_CHALLENGE).into(),
        PasskeyError::Invalid(_) => FieldErrors::one("credential", INVALID).into(),
        PasskeyError::Duplicate => {
            FieldErrors::one("credential", "This passkey is already registered.").into()
        }
        PasskeyError::TooMany => ApiError::Refused(TOO_MANY),
        PasskeyError::Refused => FieldErrors::one("non_field_errors", LOGIN_REFUSED).into(),
        PasskeyError::NotFound => ApiError::NotFound,
        PasskeyError::Session(error) => error.into(),
        PasskeyError::Store(error) => error.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::webauthn::RegistrationResponse;

    fn fields(pairs: &[(&str, FieldValue)]) -> Fields {
        Fields::from_pairs(pairs)
    }

    #[test]
    fn a_missing_credential_is_required_and_a_malformed_one_invalid() {
        let missing = credential::<RegistrationResponse>(&fields(&[])).unwrap_err();
        assert_eq!(
            serde_json::to_string(&missing).unwrap(),
            r#"{"credential":["This field is required."]}"#
        );
        for value in [
            FieldValue::Number("1".into()),
            FieldValue::Composite("[]".into()),
            FieldValue::Composite(r#"{"id":"x"}"#.into()),
            FieldValue::Text("not json".into()),
        ] {
            let error =
                credential::<RegistrationResponse>(&fields(&[("credential", value)])).unwrap_err();
            assert_eq!(
                serde_json::to_string(&error).unwrap(),
                r#"{"credential":["Invalid passkey."]}"#
            );
        }
    }

    #[test]
    fn the_cap_s_message_names_the_cap() {
        assert_eq!(
            TOO_MANY,
            format!(
                "A user can have at most {} passkeys.",
                crate::domain::passkeys::PER_USER
            )
        );
    }

    #[test]
    fn a_name_defaults_to_passkey_and_is_at_most_64_characters() {
        assert_eq!(name(&fields(&[])).unwrap(), "Passkey");
        assert_eq!(
            name(&fields(&[("name", FieldValue::Text("  ".into()))])).unwrap(),
            "Passkey"
        );
        assert_eq!(
            name(&fields(&[("name", FieldValue::Text(" Laptop ".into()))])).unwrap(),
            "Laptop"
        );
        let long = name(&fields(&[("name", FieldValue::Text("x".repeat(65)))])).unwrap_err();
        assert_eq!(
            serde_json::to_string(&long).unwrap(),
            r#"{"name":["Ensure this field has no more than 64 characters."]}"#
        );
    }
}
