//! The few CBOR reads WebAuthn needs, on minicbor's decoder, stricter than CBOR itself:
//! definite lengths only, no tags, and nesting bounded by [`MAX_DEPTH`]. Authenticators write
//! CTAP2's canonical CBOR, which has none of these, so refusing them loses no real credential;
//! and since skipping an item recurses once per level, the bound is what keeps a hostile
//! extension map from recursing as deep as its bytes allow.

use minicbor::data::Type;
use minicbor::Decoder;

use super::WebauthnError::{self, Malformed};

/// Levels of arrays and maps an item may nest. Extensions use one or two
/// (`{"credProtect": 2}`, `{"largeBlob": {"supported": true}}`).
pub(super) const MAX_DEPTH: u32 = 4;

/// The entry count of the definite-length map at the decoder's position, at most `max`.
pub(super) fn map_len(
    decoder: &mut Decoder<'_>,
    max: u64,
    what: &'static str,
) -> Result<u64, WebauthnError> {
    if !matches!(decoder.datatype(), Ok(Type::Map)) {
        return Err(Malformed(what));
    }
    match decoder.map() {
        Ok(Some(len)) if len <= max => Ok(len),
        _ => Err(Malformed(what)),
    }
}

/// Moves the decoder past one item, nested at most `depth` levels below it.
pub(super) fn skip(
    decoder: &mut Decoder<'_>,
    depth: u32,
    what: &'static str,
) -> Result<(), WebauthnError> {
    let malformed = |_| Malformed(what);
    match decoder.datatype().map_err(malformed)? {
        Type::Bool
        | Type::Null
        | Type::Undefined
        | Type::Simple
        | Type::U8
        | Type::U16
        | Type::U32
        | Type::U64
        | Type::I8
        | Type::I16
        | Type::I32
        | Type::I64
        | Type::Int
        | Type::F16
        | Type::F32
        | Type::F64 => decoder.skip().map_err(malformed),
        Type::Bytes => decoder.bytes().map(drop).map_err(malformed),
        Type::String => decoder.str().map(drop).map_err(malformed),
        Type::Array if depth > 0 => {
            let Ok(Some(len)) = decoder.array() else {
                return Err(Malformed(what));
            };
            // Each item takes at least one byte: the loop ends at the end of the input.
            for _ in 0..len {
                skip(decoder, depth - 1, what)?;
            }
            Ok(())
        }
        Type::Map if depth > 0 => {
            let Ok(Some(len)) = decoder.map() else {
                return Err(Malformed(what));
            };
            for _ in 0..len {
                skip(decoder, depth - 1, what)?;
                skip(decoder, depth - 1, what)?;
            }
            Ok(())
        }
        // Too deep, indefinite lengths, tags, a stray break, reserved bytes.
        _ => Err(Malformed(what)),
    }
}

/// The length in bytes of the one item at the start of `bytes` (what follows is not read).
pub(super) fn item_len(bytes: &[u8], what: &'static str) -> Result<usize, WebauthnError> {
    let mut decoder = Decoder::new(bytes);
    skip(&mut decoder, MAX_DEPTH, what)?;
    Ok(decoder.position())
}

/// Whether the decoder has read all of its input.
pub(super) fn at_end(decoder: &Decoder<'_>) -> bool {
    decoder.position() == decoder.input().len()
}
