//! Passkeys: the relying party's checks of WebAuthn Level 2 (§7.1 registering a new
//! credential, §7.2 verifying an authentication assertion), and the options that start both
//! ceremonies ([`options`]).
//!
//! * [`verify_registration`]: a `navigator.credentials.create` answer (its JSON form,
//!   [`RegistrationResponse`]) → a [`NewPasskey`] to store;
//! * [`presented_credential`]: which credential (and user handle) a login answer names, so
//!   that the stored passkey can be found;
//! * [`verify_authentication`]: a `navigator.credentials.get` answer ([`AuthenticationResponse`])
//!   against that stored passkey → its new signature counter.
//!
//! Pure: the challenge that was issued, the RP ID and the accepted origins come in as
//! [`Expected`]; nothing is stored or read from a clock here. The challenge's single use and
//! its expiry are the caller's: it must be taken from storage (and deleted) before calling.
//!
//! Every input is hostile until checked. Sizes are checked before anything is decoded
//! ([`MAX_CLIENT_DATA_JSON`] and the other limits), CBOR is read strictly (definite lengths,
//! no tags, nesting bounded: `cbor.rs`), nothing panics, and no error carries input bytes, so an error can be logged as it is.
//!
//! Attestation: only the format `"none"` is accepted. The options ask for `attestation:
//! "none"`, and browsers then send format `"none"` with an empty statement. Verifying
//! `packed`, `tpm` or `android-key` statements would need their certificate chains and trust
//! roots, which this service has no use for: it does not restrict which authenticators its
//! users may use. A client that passes another format through despite the option gets
//! [`WebauthnError::UnsupportedAttestation`] rather than a statement silently trusted.

mod cbor;
mod cose;
pub mod options;

use core::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use minicbor::Decoder;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use cose::Algorithm;

use crate::domain::random;

/// Longest `clientDataJSON` read, decoded. Browsers write about 200 bytes (type, challenge,
/// origin, crossOrigin, sometimes topOrigin).
pub const MAX_CLIENT_DATA_JSON: usize = 4096;
/// Longest `attestationObject` read, decoded. With format `"none"` it is the authenticator
/// data plus some 30 bytes.
pub const MAX_ATTESTATION_OBJECT: usize = 8192;
/// Longest authenticator data read: 37 bytes, plus at registration the credential (at most
/// 1023 bytes of id and a key of under 100), plus extensions.
pub const MAX_AUTHENTICATOR_DATA: usize = 4096;
/// Longest signature read: an ES256 signature is at most 72 bytes, an Ed25519 one 64.
pub const MAX_SIGNATURE: usize = 256;
/// WebAuthn's limit on a credential id (`credentialIdLength`, §6.5.1; Level 3 has the relying
/// party refuse longer ones).
pub const MAX_CREDENTIAL_ID: usize = 1023;
/// WebAuthn's limit on a user handle (`user.id`, §5.4.3).
pub const MAX_USER_HANDLE: usize = 64;
/// Bytes of a challenge from [`new_challenge`]; WebAuthn asks for at least 16.
pub const CHALLENGE_LEN: usize = 32;
/// Transports kept from a registration, and the longest name kept.
const MAX_TRANSPORTS: usize = 8;
const MAX_TRANSPORT_LEN: usize = 32;
/// Entries of an attestation object: `fmt`, `attStmt`, `authData`.
const ATTESTATION_ENTRIES: u64 = 3;

// Authenticator data flags (§6.1).
const USER_PRESENT: u8 = 0x01;
const USER_VERIFIED: u8 = 0x04;
const BACKUP_ELIGIBLE: u8 = 0x08;
const BACKED_UP: u8 = 0x10;
const ATTESTED_CREDENTIAL: u8 = 0x40;
const EXTENSIONS: u8 = 0x80;

/// Why a registration or a login answer was refused. None carries input bytes: `Malformed`
/// and `TooLarge` name the part, in words of this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebauthnError {
    /// A part is longer than its limit (checked before decoding).
    TooLarge(&'static str),
    /// A part cannot be read: bad base64url, JSON or CBOR, missing fields, trailing bytes.
    Malformed(&'static str),
    /// The credential's type is not `public-key`, or the client data's type is not the
    /// ceremony's (`webauthn.create`, `webauthn.get`).
    WrongType,
    /// The client data's challenge is not the one issued.
    ChallengeMismatch,
    /// The client data's origin is not one of the accepted origins.
    OriginNotAllowed,
    /// The ceremony ran in a cross-origin iframe (`crossOrigin: true`), which is not offered.
    CrossOrigin,
    /// The authenticator data is for another RP ID.
    RpIdMismatch,
    /// The authenticator did not test for the user's presence (flag UP).
    UserNotPresent,
    /// User verification was required and not performed (flag UV).
    UserNotVerified,
    /// An attestation format other than `"none"`, or a `"none"` statement that is not empty.
    UnsupportedAttestation,
    /// A key of an algorithm, key type or curve other than ES256 on P-256 and EdDSA on Ed25519.
    UnsupportedAlgorithm,
    /// A key of a supported algorithm whose coordinates are not a usable point.
    InvalidKey,
    /// `id`, `rawId`, the authenticator data's credential id or the stored credential disagree.
    CredentialMismatch,
    /// The user handle returned is not the one of the passkey's owner.
    UserHandleMismatch,
    /// The backup eligibility flag (BE) differs from the one seen at registration: it is a
    /// permanent property of a credential (Level 3, §6.1.3).
    BackupEligibilityChanged,
    /// The assertion's signature does not verify with the stored key.
    BadSignature,
    /// The signature counter did not grow: the authenticator may have been cloned.
    CounterRegressed,
}

impl fmt::Display for WebauthnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge(what) => write!(f, "passkey: {what} is too large"),
            Self::Malformed(what) => write!(f, "passkey: malformed {what}"),
            Self::WrongType => f.write_str("passkey: wrong credential or ceremony type"),
            Self::ChallengeMismatch => f.write_str("passkey: not the challenge issued"),
            Self::OriginNotAllowed => f.write_str("passkey: origin not allowed"),
            Self::CrossOrigin => f.write_str("passkey: cross-origin ceremony"),
            Self::RpIdMismatch => f.write_str("passkey: authenticator data for another RP ID"),
            Self::UserNotPresent => f.write_str("passkey: user presence not tested"),
            Self::UserNotVerified => f.write_str("passkey: user not verified"),
            Self::UnsupportedAttestation => f.write_str("passkey: attestation other than none"),
            Self::UnsupportedAlgorithm => f.write_str("passkey: unsupported key algorithm"),
            Self::InvalidKey => f.write_str("passkey: invalid public key"),
            Self::CredentialMismatch => f.write_str("passkey: credential ids disagree"),
            Self::UserHandleMismatch => f.write_str("passkey: user handle of another user"),
            Self::BackupEligibilityChanged => {
                f.write_str("passkey: backup eligibility changed since registration")
            }
            Self::BadSignature => f.write_str("passkey: bad signature"),
            Self::CounterRegressed => {
                f.write_str("passkey: signature counter did not grow (cloned authenticator?)")
            }
        }
    }
}

use WebauthnError::{
    BackupEligibilityChanged, ChallengeMismatch, CounterRegressed, CredentialMismatch, CrossOrigin,
    Malformed, OriginNotAllowed, RpIdMismatch, TooLarge, UnsupportedAttestation,
    UserHandleMismatch, UserNotPresent, UserNotVerified, WrongType,
};

/// What the server issued and accepts for one ceremony.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The challenge issued for this ceremony, as bytes.
    pub challenge: &'a [u8],
    /// The RP ID the options named (`rp.id`, `rpId`).
    pub rp_id: &'a str,
    /// The origins the ceremony may run on, exactly as browsers write them
    /// (`https://example.com`, no path, no trailing slash; a port when not the default).
    pub origins: &'a [String],
    /// Whether flag UV must be set. The options say `userVerification: "preferred"`, which
    /// goes with `false`: presence (UP) is always required.
    pub user_verification: bool,
}

/// `RegistrationResponseJSON` (WebAuthn Level 3 §5.1), as `PublicKeyCredential.toJSON()`
/// writes it after `navigator.credentials.create`. Members not listed are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationResponse {
    /// The credential id, base64url; the same text as `raw_id`.
    pub id: String,
    pub raw_id: String,
    /// `"public-key"`.
    #[serde(rename = "type")]
    pub kind: String,
    pub response: AttestationResponse,
}

/// `AuthenticatorAttestationResponseJSON`; binary members in base64url.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AttestationResponse {
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    #[serde(rename = "attestationObject")]
    pub attestation_object: String,
    #[serde(default)]
    pub transports: Vec<String>,
}

/// `AuthenticationResponseJSON`, as `toJSON()` writes it after `navigator.credentials.get`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationResponse {
    pub id: String,
    pub raw_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub response: AssertionResponse,
}

/// `AuthenticatorAssertionResponseJSON`; binary members in base64url.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AssertionResponse {
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    #[serde(rename = "authenticatorData")]
    pub authenticator_data: String,
    pub signature: String,
    /// Absent (or `null`) when the authenticator returned none.
    #[serde(rename = "userHandle", default)]
    pub user_handle: Option<String>,
}

/// A passkey that passed registration: what to store with its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPasskey {
    /// Unique per passkey (the lookup key at login), at most 1023 bytes.
    pub credential_id: Vec<u8>,
    /// The COSE_Key as the authenticator wrote it: what [`StoredPasskey::public_key`] takes
    /// back, and the form other WebAuthn libraries store (`credentialPublicKey`), so stored
    /// passkeys can move between them.
    pub public_key: Vec<u8>,
    pub algorithm: Algorithm,
    pub sign_count: u32,
    /// The transports the browser reported (`usb`, `nfc`, `ble`, `hybrid`, `internal`, …),
    /// for the descriptors of later options: at most 8 distinct names of lowercase ASCII
    /// letters, digits and `-`, at most 32 characters each; other entries are dropped.
    pub transports: Vec<String>,
    /// The authenticator's model (all zeros when the authenticator does not say).
    pub aaguid: [u8; 16],
    pub user_verified: bool,
    /// BE: the passkey may be synced to other devices (a permanent property).
    pub backup_eligible: bool,
    /// BS: the passkey is synced now (may change at each login).
    pub backed_up: bool,
}

/// A stored passkey, as [`verify_authentication`] checks an assertion against it.
#[derive(Debug, Clone, Copy)]
pub struct StoredPasskey<'a> {
    pub credential_id: &'a [u8],
    /// [`NewPasskey::public_key`].
    pub public_key: &'a [u8],
    pub sign_count: u32,
    /// [`NewPasskey::backup_eligible`].
    pub backup_eligible: bool,
    /// The user handle of the passkey's owner (the `user.id` its registration offered).
    pub user_handle: &'a [u8],
}

/// The credential a login answer names, read before anything is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    pub credential_id: Vec<u8>,
    /// The owner's user handle, when the authenticator returned one (passkeys do).
    pub user_handle: Option<Vec<u8>>,
}

/// A login answer that passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authenticated {
    /// The counter to store in place of [`StoredPasskey::sign_count`].
    pub sign_count: u32,
    pub user_verified: bool,
    /// BS now, to store in place of [`NewPasskey::backed_up`].
    pub backed_up: bool,
}

/// A fresh challenge from the platform's randomness. Issue it in the options, keep it
/// server-side until its ceremony ends (at most [`options::TIMEOUT_MS`]) and use it once.
pub fn new_challenge() -> [u8; CHALLENGE_LEN] {
    let mut challenge = [0; CHALLENGE_LEN];
    random::fill(&mut challenge);
    challenge
}

/// WebAuthn Level 2 §7.1, for attestation `"none"`: the answer to a creation with
/// `expected.challenge` → the passkey to store. In order: sizes, the credential's type and
/// id, the client data (type `webauthn.create`, challenge, origin, not cross-origin), the
/// attestation object, the authenticator data (RP ID hash, UP, UV when required, BS only
/// with BE, attested credential data whose id is `rawId`, extensions well-formed, nothing
/// after them), the key's algorithm and point, then the attestation format.
pub fn verify_registration(
    response: &RegistrationResponse,
    expected: &Expected<'_>,
) -> Result<NewPasskey, WebauthnError> {
    let fields = &response.response;
    check_len(
        &fields.client_data_json,
        MAX_CLIENT_DATA_JSON,
        "clientDataJSON",
    )?;
    check_len(
        &fields.attestation_object,
        MAX_ATTESTATION_OBJECT,
        "attestationObject",
    )?;
    let credential_id = credential_id(&response.id, &response.raw_id, &response.kind)?;

    let client_data = decode(
        &fields.client_data_json,
        MAX_CLIENT_DATA_JSON,
        "clientDataJSON",
    )?;
    check_client_data(&client_data, "webauthn.create", expected)?;

    let attestation_object = decode(
        &fields.attestation_object,
        MAX_ATTESTATION_OBJECT,
        "attestationObject",
    )?;
    let attestation = parse_attestation_object(&attestation_object)?;
    let data = parse_authenticator_data(attestation.auth_data)?;
    check_authenticator_data(&data, expected)?;
    let Some(credential) = data.credential else {
        return Err(Malformed(
            "authenticator data without attested credential data",
        ));
    };
    if credential.id != credential_id.as_slice() {
        return Err(CredentialMismatch);
    }
    let key = cose::parse(credential.public_key)?;
    if attestation.fmt != "none" || !attestation.statement_is_empty {
        return Err(UnsupportedAttestation);
    }
    Ok(NewPasskey {
        credential_id,
        public_key: credential.public_key.to_vec(),
        algorithm: key.algorithm(),
        sign_count: data.sign_count,
        transports: transports(&fields.transports),
        aaguid: credential.aaguid,
        user_verified: data.flags & USER_VERIFIED != 0,
        backup_eligible: data.flags & BACKUP_ELIGIBLE != 0,
        backed_up: data.flags & BACKED_UP != 0,
    })
}

/// The credential id and user handle of a login answer, to find the stored passkey with.
/// Checks only their form (sizes, base64url, type `public-key`, `id` equal to `rawId`, a
/// user handle of 1 to 64 bytes; an empty one counts as absent): nothing here is verified,
/// so nothing here may be trusted beyond choosing what to look up.
pub fn presented_credential(response: &AuthenticationResponse) -> Result<Presented, WebauthnError> {
    let credential_id = credential_id(&response.id, &response.raw_id, &response.kind)?;
    let user_handle = match response.response.user_handle.as_deref() {
        None | Some("") => None,
        Some(text) => Some(decode(text, MAX_USER_HANDLE, "userHandle")?),
    };
    Ok(Presented {
        credential_id,
        user_handle,
    })
}

/// WebAuthn Level 2 §7.2: the answer to a request with `expected.challenge`, checked against
/// the passkey `stored` that [`presented_credential`] led to → its new counter. In order:
/// sizes, the credential's type and id (which must be `stored`'s), the user handle (when
/// present, `stored`'s owner's), the client data (type `webauthn.get`, challenge, origin,
/// not cross-origin), the authenticator data (RP ID hash, UP, UV when required, BS only with
/// BE, BE as at registration, nothing after the extensions), the signature over
/// `authenticatorData ‖ SHA-256(clientDataJSON)`, then the counter: it must grow, unless it
/// is 0 on both sides (authenticators without a counter, such as synced passkeys).
pub fn verify_authentication(
    response: &AuthenticationResponse,
    expected: &Expected<'_>,
    stored: &StoredPasskey<'_>,
) -> Result<Authenticated, WebauthnError> {
    let fields = &response.response;
    check_len(
        &fields.client_data_json,
        MAX_CLIENT_DATA_JSON,
        "clientDataJSON",
    )?;
    check_len(
        &fields.authenticator_data,
        MAX_AUTHENTICATOR_DATA,
        "authenticatorData",
    )?;
    check_len(&fields.signature, MAX_SIGNATURE, "signature")?;
    let presented = presented_credential(response)?;
    if presented.credential_id != stored.credential_id {
        return Err(CredentialMismatch);
    }
    if let Some(handle) = &presented.user_handle {
        if handle.as_slice() != stored.user_handle {
            return Err(UserHandleMismatch);
        }
    }

    let client_data = decode(
        &fields.client_data_json,
        MAX_CLIENT_DATA_JSON,
        "clientDataJSON",
    )?;
    check_client_data(&client_data, "webauthn.get", expected)?;

    let authenticator_data = decode(
        &fields.authenticator_data,
        MAX_AUTHENTICATOR_DATA,
        "authenticatorData",
    )?;
    let data = parse_authenticator_data(&authenticator_data)?;
    check_authenticator_data(&data, expected)?;
    if (data.flags & BACKUP_ELIGIBLE != 0) != stored.backup_eligible {
        return Err(BackupEligibilityChanged);
    }

    let key = cose::parse(stored.public_key)?;
    let signature = decode(&fields.signature, MAX_SIGNATURE, "signature")?;
    let mut signed = Vec::with_capacity(authenticator_data.len() + 32);
    signed.extend_from_slice(&authenticator_data);
    signed.extend_from_slice(&Sha256::digest(&client_data));
    key.verify(&signed, &signature)?;

    if (data.sign_count != 0 || stored.sign_count != 0) && data.sign_count <= stored.sign_count {
        return Err(CounterRegressed);
    }
    Ok(Authenticated {
        sign_count: data.sign_count,
        user_verified: data.flags & USER_VERIFIED != 0,
        backed_up: data.flags & BACKED_UP != 0,
    })
}

/// The longest base64url text (unpadded) of at most `max` bytes.
const fn encoded_len(max: usize) -> usize {
    (max * 4).div_ceil(3)
}

fn check_len(text: &str, max: usize, what: &'static str) -> Result<(), WebauthnError> {
    if text.len() > encoded_len(max) {
        return Err(TooLarge(what));
    }
    Ok(())
}

/// Base64url without padding, canonical (unused bits zero), at most `max` bytes once decoded.
fn decode(text: &str, max: usize, what: &'static str) -> Result<Vec<u8>, WebauthnError> {
    check_len(text, max, what)?;
    Base64UrlUnpadded::decode_vec(text).map_err(|_| Malformed(what))
}

/// The credential id of `id`/`rawId`: type `public-key`, the same text twice (base64url is
/// canonical here, so equal bytes are equal text), 1 to 1023 bytes.
fn credential_id(id: &str, raw_id: &str, kind: &str) -> Result<Vec<u8>, WebauthnError> {
    check_len(raw_id, MAX_CREDENTIAL_ID, "rawId")?;
    if kind != "public-key" {
        return Err(WrongType);
    }
    let credential_id = decode(raw_id, MAX_CREDENTIAL_ID, "rawId")?;
    if credential_id.is_empty() {
        return Err(Malformed("rawId"));
    }
    if id != raw_id {
        return Err(CredentialMismatch);
    }
    Ok(credential_id)
}

/// The challenge a response's `clientDataJSON` (base64url) names, decoded, unverified: for a
/// relying party whose challenges carry their own proof of issue (a MAC), which it checks
/// before [`verify_registration`] or [`verify_authentication`] compares it again.
pub fn challenge_of(client_data_json: &str) -> Result<Vec<u8>, WebauthnError> {
    let bytes = decode(client_data_json, MAX_CLIENT_DATA_JSON, "clientDataJSON")?;
    let data: ClientData =
        serde_json::from_slice(&bytes).map_err(|_| Malformed("clientDataJSON"))?;
    if data.challenge.len() > 4 * CHALLENGE_LEN {
        return Err(Malformed("challenge"));
    }
    Base64UrlUnpadded::decode_vec(&data.challenge).map_err(|_| Malformed("challenge"))
}

/// `CollectedClientData` (§5.8.1), the members checked; others (`topOrigin`, `tokenBinding`,
/// those browsers add to keep parsers lenient) are ignored, a member given twice is refused.
#[derive(Deserialize)]
struct ClientData {
    #[serde(rename = "type")]
    kind: String,
    challenge: String,
    origin: String,
    #[serde(rename = "crossOrigin", default)]
    cross_origin: Option<bool>,
}

/// §7.1 steps 5–9, §7.2 steps 9–13. The challenge is compared as text, in constant time, with
/// the canonical base64url of the one issued: the one spelling a browser writes.
fn check_client_data(
    bytes: &[u8],
    ceremony: &str,
    expected: &Expected<'_>,
) -> Result<(), WebauthnError> {
    let data: ClientData =
        serde_json::from_slice(bytes).map_err(|_| Malformed("clientDataJSON"))?;
    if data.kind != ceremony {
        return Err(WrongType);
    }
    let challenge = Base64UrlUnpadded::encode_string(expected.challenge);
    if !bool::from(challenge.as_bytes().ct_eq(data.challenge.as_bytes())) {
        return Err(ChallengeMismatch);
    }
    if !expected.origins.contains(&data.origin) {
        return Err(OriginNotAllowed);
    }
    if data.cross_origin == Some(true) {
        return Err(CrossOrigin);
    }
    Ok(())
}

/// The three members of an attestation object (§6.5), each once, nothing else.
struct Attestation<'a> {
    fmt: &'a str,
    statement_is_empty: bool,
    auth_data: &'a [u8],
}

fn parse_attestation_object(bytes: &[u8]) -> Result<Attestation<'_>, WebauthnError> {
    const WHAT: &str = "attestationObject";
    let mut decoder = Decoder::new(bytes);
    let len = cbor::map_len(&mut decoder, ATTESTATION_ENTRIES, WHAT)?;
    let (mut fmt, mut statement_is_empty, mut auth_data) = (None, None, None);
    for _ in 0..len {
        let key = decoder.str().map_err(|_| Malformed(WHAT))?;
        let duplicate = match key {
            "fmt" => fmt
                .replace(decoder.str().map_err(|_| Malformed(WHAT))?)
                .is_some(),
            "attStmt" => {
                let entries = cbor::map_len(&mut decoder.clone(), u64::MAX, WHAT)?;
                cbor::skip(&mut decoder, cbor::MAX_DEPTH, WHAT)?;
                statement_is_empty.replace(entries == 0).is_some()
            }
            "authData" => auth_data
                .replace(decoder.bytes().map_err(|_| Malformed(WHAT))?)
                .is_some(),
            _ => return Err(Malformed("attestationObject member")),
        };
        if duplicate {
            return Err(Malformed("attestationObject member given twice"));
        }
    }
    if !cbor::at_end(&decoder) {
        return Err(Malformed("trailing bytes after the attestationObject"));
    }
    match (fmt, statement_is_empty, auth_data) {
        (Some(fmt), Some(statement_is_empty), Some(auth_data)) => Ok(Attestation {
            fmt,
            statement_is_empty,
            auth_data,
        }),
        _ => Err(Malformed(
            "attestationObject without fmt, attStmt or authData",
        )),
    }
}

/// Authenticator data (§6.1), its parts located and its structure checked; no rule applied.
struct AuthenticatorData<'a> {
    rp_id_hash: &'a [u8],
    flags: u8,
    sign_count: u32,
    credential: Option<AttestedCredential<'a>>,
}

/// Attested credential data (§6.5.1).
struct AttestedCredential<'a> {
    aaguid: [u8; 16],
    id: &'a [u8],
    /// One CBOR item, not yet read as a key.
    public_key: &'a [u8],
}

fn parse_authenticator_data(bytes: &[u8]) -> Result<AuthenticatorData<'_>, WebauthnError> {
    const SHORT: WebauthnError = Malformed("authenticator data too short");
    if bytes.len() > MAX_AUTHENTICATOR_DATA {
        return Err(TooLarge("authenticator data"));
    }
    let (rp_id_hash, rest) = bytes.split_at_checked(32).ok_or(SHORT)?;
    let (&flags, rest) = rest.split_first().ok_or(SHORT)?;
    let (counter, mut rest) = rest.split_first_chunk::<4>().ok_or(SHORT)?;
    let credential = if flags & ATTESTED_CREDENTIAL != 0 {
        let (aaguid, after) = rest.split_first_chunk::<16>().ok_or(SHORT)?;
        let (id_len, after) = after.split_first_chunk::<2>().ok_or(SHORT)?;
        let id_len = usize::from(u16::from_be_bytes(*id_len));
        if id_len > MAX_CREDENTIAL_ID {
            return Err(TooLarge("credential id"));
        }
        let (id, after) = after.split_at_checked(id_len).ok_or(SHORT)?;
        let key_len = cbor::item_len(after, "credential public key")?;
        let (public_key, after) = after.split_at(key_len);
        rest = after;
        Some(AttestedCredential {
            aaguid: *aaguid,
            id,
            public_key,
        })
    } else {
        None
    };
    if flags & EXTENSIONS != 0 {
        let mut decoder = Decoder::new(rest);
        cbor::map_len(&mut decoder.clone(), u64::MAX, "extensions")?;
        cbor::skip(&mut decoder, cbor::MAX_DEPTH, "extensions")?;
        rest = &rest[decoder.position()..];
    }
    if !rest.is_empty() {
        return Err(Malformed("trailing bytes after the authenticator data"));
    }
    Ok(AuthenticatorData {
        rp_id_hash,
        flags,
        sign_count: u32::from_be_bytes(*counter),
        credential,
    })
}

/// The rules both ceremonies apply to authenticator data: §7.1 steps 13–15, §7.2 steps
/// 15–17, and Level 3's "BS without BE is invalid".
fn check_authenticator_data(
    data: &AuthenticatorData<'_>,
    expected: &Expected<'_>,
) -> Result<(), WebauthnError> {
    if data.rp_id_hash != Sha256::digest(expected.rp_id.as_bytes()).as_slice() {
        return Err(RpIdMismatch);
    }
    if data.flags & USER_PRESENT == 0 {
        return Err(UserNotPresent);
    }
    if expected.user_verification && data.flags & USER_VERIFIED == 0 {
        return Err(UserNotVerified);
    }
    if data.flags & BACKED_UP != 0 && data.flags & BACKUP_ELIGIBLE == 0 {
        return Err(Malformed("backup state without backup eligibility"));
    }
    Ok(())
}

fn transports(given: &[String]) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    for name in given {
        let well_formed = (1..=MAX_TRANSPORT_LEN).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if well_formed && !kept.contains(name) && kept.len() < MAX_TRANSPORTS {
            kept.push(name.clone());
        }
    }
    kept
}

#[cfg(test)]
pub(crate) mod tests;
