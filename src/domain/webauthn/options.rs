//! The options the browser's `navigator.credentials.create` and `.get` take, in WebAuthn
//! Level 3's JSON form: what `PublicKeyCredential.parseCreationOptionsFromJSON` and
//! `parseRequestOptionsFromJSON` read (binary values as base64url without padding). Built
//! here so that what is offered and what [`super::verify_registration`] and
//! [`super::verify_authentication`] accept are decided in one place.

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::Serialize;

use super::Algorithm;

/// Five minutes, WebAuthn's recommended ceiling for a ceremony with user verification: the
/// challenge should be kept (and accepted) no longer.
pub const TIMEOUT_MS: u32 = 300_000;

/// `PublicKeyCredentialRpEntity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RelyingParty {
    /// The RP ID: the site's registrable domain or a parent of it, without scheme or port.
    pub id: String,
    /// What authenticators show the user.
    pub name: String,
}

/// `PublicKeyCredentialUserEntityJSON`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserEntity {
    /// The user handle, base64url: 1 to 64 random bytes, never the e-mail address or
    /// anything else personal (authenticators may show or sync it).
    pub id: String,
    /// The account's name as the user knows it (the e-mail address).
    pub name: String,
    pub display_name: String,
}

impl UserEntity {
    pub fn new(handle: &[u8], name: &str, display_name: &str) -> Self {
        Self {
            id: Base64UrlUnpadded::encode_string(handle),
            name: name.to_owned(),
            display_name: display_name.to_owned(),
        }
    }
}

/// `PublicKeyCredentialParameters`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CredentialParameters {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub alg: i64,
}

/// `PublicKeyCredentialDescriptorJSON`: a credential the browser should exclude (creation)
/// or may use (request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialDescriptor {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The credential id, base64url.
    pub id: String,
    /// The transports the browser reported at registration; omitted when none were.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transports: Vec<String>,
}

impl CredentialDescriptor {
    pub fn new(credential_id: &[u8], transports: &[String]) -> Self {
        Self {
            kind: PUBLIC_KEY,
            id: Base64UrlUnpadded::encode_string(credential_id),
            transports: transports.to_vec(),
        }
    }
}

/// `AuthenticatorSelectionCriteria`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticatorSelection {
    pub resident_key: &'static str,
    /// Level 1's spelling of `residentKey: "required"`, for browsers that only know it.
    pub require_resident_key: bool,
    pub user_verification: &'static str,
}

/// `PublicKeyCredentialCreationOptionsJSON`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreationOptions {
    pub rp: RelyingParty,
    pub user: UserEntity,
    /// Base64url.
    pub challenge: String,
    pub pub_key_cred_params: [CredentialParameters; 2],
    pub timeout: u32,
    pub exclude_credentials: Vec<CredentialDescriptor>,
    pub authenticator_selection: AuthenticatorSelection,
    pub attestation: &'static str,
}

/// `PublicKeyCredentialRequestOptionsJSON`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestOptions {
    /// Base64url.
    pub challenge: String,
    pub timeout: u32,
    pub rp_id: String,
    /// Empty for a discoverable login: the authenticator offers the passkeys it holds.
    pub allow_credentials: Vec<CredentialDescriptor>,
    pub user_verification: &'static str,
}

const PUBLIC_KEY: &str = "public-key";
/// User verification is asked for but not demanded: a passkey without a PIN or biometric
/// (some security keys) still signs in, as the other factor it replaces.
const USER_VERIFICATION: &str = "preferred";

/// The options of a passkey registration for `user`: a discoverable credential (a passkey,
/// so that login needs no user name), EdDSA or ES256 in that order of preference, and no
/// attestation (`"none"`: which authenticator made the key is not asked, so browsers send
/// nothing to verify and no identifying certificate). `exclude_credentials` should list the
/// user's passkeys, so that an authenticator holding one of them refuses to make another.
pub fn creation_options(
    rp: RelyingParty,
    user: UserEntity,
    challenge: &[u8],
    exclude_credentials: Vec<CredentialDescriptor>,
) -> CreationOptions {
    let parameters = |algorithm: Algorithm| CredentialParameters {
        kind: PUBLIC_KEY,
        alg: algorithm.cose(),
    };
    CreationOptions {
        rp,
        user,
        challenge: Base64UrlUnpadded::encode_string(challenge),
        pub_key_cred_params: [parameters(Algorithm::EdDsa), parameters(Algorithm::Es256)],
        timeout: TIMEOUT_MS,
        exclude_credentials,
        authenticator_selection: AuthenticatorSelection {
            resident_key: "required",
            require_resident_key: true,
            user_verification: USER_VERIFICATION,
        },
        attestation: "none",
    }
}

/// The options of a passkey login on `rp_id`. `allow_credentials` empty asks for any passkey
/// of this RP the authenticator holds (discoverable login); otherwise only those may answer.
pub fn request_options(
    rp_id: &str,
    challenge: &[u8],
    allow_credentials: Vec<CredentialDescriptor>,
) -> RequestOptions {
    RequestOptions {
        challenge: Base64UrlUnpadded::encode_string(challenge),
        timeout: TIMEOUT_MS,
        rp_id: rp_id.to_owned(),
        allow_credentials,
        user_verification: USER_VERIFICATION,
    }
}
