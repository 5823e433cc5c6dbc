//! Credential public keys: the COSE_Key (RFC 9052 §7, RFC 9053) an authenticator returns at
//! registration, which is also the form a passkey's key is stored in, and the verification of
//! assertion signatures with it.
//!
//! Two algorithms: ES256 (ECDSA on P-256 with SHA-256, what nearly every authenticator offers)
//! and EdDSA on Ed25519 (already a dependency for the JWTs). RS256 is left out: only some
//! Windows Hello setups still need it, and it would bring the `rsa` crate, several times the
//! size of the rest of this module in the Worker's wasm; those authenticators also offer ES256
//! when RS256 is not in `pubKeyCredParams`.

use minicbor::Decoder;
use p256::ecdsa::signature::Verifier as _;

use super::cbor;
use super::WebauthnError::{self, BadSignature, InvalidKey, Malformed, UnsupportedAlgorithm};

/// A signature algorithm this relying party verifies, by its COSE name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// COSE -7: ECDSA on P-256 with SHA-256, signatures DER-encoded.
    Es256,
    /// COSE -8: EdDSA on Ed25519, signatures of 64 bytes.
    EdDsa,
}

impl Algorithm {
    /// Its COSE identifier (the `alg` of `pubKeyCredParams`).
    pub const fn cose(self) -> i64 {
        match self {
            Self::Es256 => ES256,
            Self::EdDsa => EDDSA,
        }
    }
}

const ES256: i64 = -7;
const EDDSA: i64 = -8;
// COSE_Key labels and values.
const KTY: i64 = 1;
const ALG: i64 = 3;
const CRV: i64 = -1;
const X: i64 = -2;
const Y: i64 = -3;
const KTY_OKP: i64 = 1;
const KTY_EC2: i64 = 2;
const CRV_P256: i64 = 1;
const CRV_ED25519: i64 = 6;
/// Entries read in a COSE_Key: an EC2 key has five; a few more optional ones (`kid`,
/// `key_ops`) are skipped.
const MAX_ENTRIES: usize = 16;
const WHAT: &str = "credential public key";

/// A credential's public key, checked: a point on its curve, and for Ed25519 not of small
/// order (such a key would let one signature verify for any message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PublicKey {
    Es256(p256::ecdsa::VerifyingKey),
    EdDsa(ed25519_dalek::VerifyingKey),
}

impl PublicKey {
    pub(super) fn algorithm(&self) -> Algorithm {
        match self {
            Self::Es256(_) => Algorithm::Es256,
            Self::EdDsa(_) => Algorithm::EdDsa,
        }
    }

    /// Whether `signature` is this key's signature of `message`. Ed25519 is verified strictly
    /// (canonical `S`, no small-order `R`), so one message has one valid signature per key.
    /// ECDSA signatures with a high `S` are accepted: authenticators write both.
    pub(super) fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), WebauthnError> {
        match self {
            Self::Es256(key) => {
                let signature =
                    p256::ecdsa::Signature::from_der(signature).map_err(|_| BadSignature)?;
                key.verify(message, &signature).map_err(|_| BadSignature)
            }
            Self::EdDsa(key) => {
                let signature =
                    ed25519_dalek::Signature::from_slice(signature).map_err(|_| BadSignature)?;
                key.verify_strict(message, &signature)
                    .map_err(|_| BadSignature)
            }
        }
    }
}

/// The key of a COSE_Key that is exactly `bytes`: a definite-length map with integer labels,
/// each at most once. `kty` and `alg` must be EC2 and ES256, or OKP and EdDSA, and `crv` P-256
/// or Ed25519 (otherwise [`UnsupportedAlgorithm`]); the coordinates must be byte strings of
/// the curve's length that make a valid point (otherwise [`InvalidKey`]).
pub(super) fn parse(bytes: &[u8]) -> Result<PublicKey, WebauthnError> {
    let mut decoder = Decoder::new(bytes);
    let len = cbor::map_len(&mut decoder, MAX_ENTRIES as u64, WHAT)?;
    let mut labels = [0i64; MAX_ENTRIES];
    let (mut kty, mut alg) = (None, None);
    // The parameters -1, -2 and -3 mean different things for each key type (`crv`, `x`, `y`
    // for EC2 and OKP; `n`, `e` for RSA): kept as raw items until the type is known.
    let mut parameters: [Option<&[u8]>; 3] = [None; 3];
    for i in 0..len as usize {
        let label = decoder.i64().map_err(|_| Malformed(WHAT))?;
        if labels[..i].contains(&label) {
            return Err(Malformed("credential public key has a label twice"));
        }
        labels[i] = label;
        match label {
            KTY => kty = Some(decoder.i64().map_err(|_| Malformed(WHAT))?),
            ALG => alg = Some(decoder.i64().map_err(|_| Malformed(WHAT))?),
            CRV | X | Y => {
                let start = decoder.position();
                cbor::skip(&mut decoder, cbor::MAX_DEPTH, WHAT)?;
                parameters[(-1 - label) as usize] = Some(&bytes[start..decoder.position()]);
            }
            _ => cbor::skip(&mut decoder, cbor::MAX_DEPTH, WHAT)?,
        }
    }
    if !cbor::at_end(&decoder) {
        return Err(Malformed("trailing bytes after the credential public key"));
    }
    let (Some(kty), Some(alg)) = (kty, alg) else {
        return Err(Malformed("credential public key without kty or alg"));
    };
    let [crv, x, y] = parameters;
    let crv = crv.and_then(|item| Decoder::new(item).i64().ok());
    match (alg, kty, crv) {
        (ES256, KTY_EC2, Some(CRV_P256)) => {
            // A boolean `y` (point compression) is refused with the rest: WebAuthn keys are
            // uncompressed.
            let (Some(x), Some(y)) = (coordinate(x), coordinate(y)) else {
                return Err(InvalidKey);
            };
            if x.len() != 32 || y.len() != 32 {
                return Err(InvalidKey);
            }
            let point = p256::EncodedPoint::from_affine_coordinates(x.into(), y.into(), false);
            p256::ecdsa::VerifyingKey::from_encoded_point(&point)
                .map(PublicKey::Es256)
                .map_err(|_| InvalidKey)
        }
        (EDDSA, KTY_OKP, Some(CRV_ED25519)) => {
            let (Some(x), None) = (coordinate(x), y) else {
                return Err(InvalidKey);
            };
            let x: &[u8; 32] = x.try_into().map_err(|_| InvalidKey)?;
            let key = ed25519_dalek::VerifyingKey::from_bytes(x).map_err(|_| InvalidKey)?;
            if key.is_weak() {
                return Err(InvalidKey);
            }
            Ok(PublicKey::EdDsa(key))
        }
        _ => Err(UnsupportedAlgorithm),
    }
}

/// The byte string that a raw parameter is, if it is one.
fn coordinate(item: Option<&[u8]>) -> Option<&[u8]> {
    Decoder::new(item?).bytes().ok()
}
