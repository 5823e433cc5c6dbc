//! The `/mfa/` routes' forms (dj-rest-auth 7.2's `mfa` serializers), their refusals in
//! dj-rest-auth's words (docs/accounts.md §5), and the activation's QR code.

use qrcodegen::{QrCode, QrCodeEcc};

use crate::contract::body::{self, max_length_error, FieldErrors, Fields};
use crate::contract::error::ApiError;
use crate::domain::mfa::MfaError;
use crate::domain::secret::Secret;

pub const ALREADY_ENABLED: &str = "MFA is already enabled. Deactivate it before activating again.";
pub const NOT_ENABLED: &str = "MFA is not enabled.";
pub const DEACTIVATED: &str = "TOTP has been deactivated.";
/// `MFAVerifySerializer.code`'s `max_length`.
const CODE_MAX: usize = 9;

/// Required string fields in order: each one's text, or every field's messages.
fn required<const N: usize>(
    fields: &Fields,
    names: [&'static str; N],
    max: [Option<usize>; N],
) -> Result<[Secret; N], FieldErrors> {
    let mut errors = FieldErrors::default();
    let values = names.map(|name| {
        let index = names.iter().position(|n| *n == name).unwrap_or(0);
        let text = body::plain_text(fields, name).and_then(|text| {
            match max[index].and_then(|max| max_length_error(&text, max)) {
                Some(message) => Err(vec![message]),
                None => Ok(text),
            }
        });
        errors
            .collect(name, text)
            .map(Secret::new)
            .unwrap_or_default()
    });
    if errors.is_empty() {
        Ok(values)
    } else {
        Err(errors)
    }
}

/// `TOTPActivateConfirmSerializer`: `activation_token`, `code`.
pub fn activation(fields: &Fields) -> Result<[Secret; 2], FieldErrors> {
    required(fields, ["activation_token", "code"], [None, None])
}

/// `TOTPDeactivateSerializer`: `code`.
pub fn deactivation(fields: &Fields) -> Result<Secret, FieldErrors> {
    let [code] = required(fields, ["code"], [None])?;
    Ok(code)
}

/// `MFAVerifySerializer`: `ephemeral_token`, `code` (at most 9 characters).
pub fn verification(fields: &Fields) -> Result<[Secret; 2], FieldErrors> {
    required(fields, ["ephemeral_token", "code"], [None, Some(CODE_MAX)])
}

/// dj-rest-auth's answer to each refusal.
pub fn error(error: MfaError) -> ApiError {
    match error {
        MfaError::AlreadyEnabled => ApiError::Refused(ALREADY_ENABLED),
        MfaError::NotEnabled => ApiError::Refused(NOT_ENABLED),
        MfaError::BadActivationToken => {
            FieldErrors::one("activation_token", "Invalid or expired activation token.").into()
        }
        MfaError::OthersActivationToken => FieldErrors::one(
            "activation_token",
            "Invalid activation token for this user.",
        )
        .into(),
        MfaError::BadActivationCode => FieldErrors::one(
            "code",
            "Invalid code. Please check your authenticator app and try again.",
        )
        .into(),
        MfaError::BadCode => FieldErrors::one("code", "Invalid code.").into(),
        MfaError::BadEphemeralToken => {
            FieldErrors::one("ephemeral_token", "Invalid or expired token.").into()
        }
        // A serializer's `ValidationError({"detail": …})`: DRF answers it as a field's list.
        MfaError::UserDisabled => FieldErrors::one("detail", "User account is disabled.").into(),
        MfaError::Throttled(wait) => ApiError::Throttled(wait),
        MfaError::Session(error) => error.into(),
        MfaError::Store(error) => error.into(),
    }
}

/// `text` as a QR code (error correction M), an SVG image in a base64 `data:` URI, as
/// dj-rest-auth's `qr_code_data_uri`. One path of unit squares with a four-module margin.
pub fn qr_code_data_uri(text: &str) -> String {
    let Ok(qr) = QrCode::encode_text(text, QrCodeEcc::Medium) else {
        // Longer than a QR code holds: dj-rest-auth answers "" without its QR library.
        return String::new();
    };
    let (size, border) = (qr.size(), 4);
    let mut path = String::new();
    for y in 0..size {
        for x in 0..size {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    let dimension = size + 2 * border;
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {dimension} {dimension}\" \
         shape-rendering=\"crispEdges\"><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\
         <path d=\"{path}\" fill=\"#000\"/></svg>"
    );
    let encoded = <base64ct::Base64 as base64ct::Encoding>::encode_string(svg.as_bytes());
    format!("data:image/svg+xml;base64,{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::body::FieldValue;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        let pairs: Vec<(&str, FieldValue)> = pairs
            .iter()
            .map(|(name, value)| (*name, FieldValue::Text((*value).to_owned())))
            .collect();
        Fields::from_pairs(&pairs)
    }

    fn body(errors: FieldErrors) -> String {
        serde_json::to_string(&errors).unwrap()
    }

    #[test]
    fn verification_requires_both_fields_in_the_serializer_s_order() {
        let errors = verification(&fields(&[])).unwrap_err();
        assert_eq!(
            body(errors),
            r#"{"ephemeral_token":["This field is required."],"code":["This field is required."]}"#
        );
    }

    #[test]
    fn a_verification_code_longer_than_nine_characters_is_refused() {
        let errors =
            verification(&fields(&[("ephemeral_token", "t"), ("code", "0123456789")])).unwrap_err();
        assert_eq!(
            body(errors),
            r#"{"code":["Ensure this field has no more than 9 characters."]}"#
        );
    }

    #[test]
    fn blank_fields_are_refused_as_drf_does() {
        let errors = activation(&fields(&[("activation_token", " "), ("code", "1")])).unwrap_err();
        assert_eq!(
            body(errors),
            r#"{"activation_token":["This field may not be blank."]}"#
        );
    }

    #[test]
    fn the_qr_code_is_an_svg_data_uri() {
        let uri = qr_code_data_uri("otpauth://totp/ann%40example.com?secret=JBSWY3DPEHPK3PXP");
        let encoded = uri.strip_prefix("data:image/svg+xml;base64,").unwrap();
        let svg = <base64ct::Base64 as base64ct::Encoding>::decode_vec(encoded).unwrap();
        let svg = String::from_utf8(svg).unwrap();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 41 41\""));
        assert!(svg.ends_with("</svg>"));
    }
}
