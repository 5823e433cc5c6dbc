//! SHA-256's compression function (FIPS 180-4 §6.2.2) on words, for the one block that every
//! PBKDF2-HMAC-SHA256 iteration hashes twice (`src/domain/passwords.rs`).
//!
//! Why not `sha2::compress256`: it takes 64-byte blocks, so each iteration turned the two
//! digests into big-endian bytes and parsed all sixteen words of both blocks back, half of
//! them constant padding; wasm has no byte-swap instruction, and that cost real time. Here the
//! digest stays as words, the padding words are constants, and the crate is optimised for
//! speed in every profile. Measured in workerd, alternating with the loop over `compress256`,
//! for 600 000 iterations: 0.90× its time with the scalar schedule, 0.81–0.83× with the SIMD
//! one that wasm builds use (BENCHMARKS.md, "Password hashing"). The password tests of
//! `src/domain/passwords.rs` hold it to the `pbkdf2` crate, RFC 7914's vector and Django.
#![no_std]

/// SHA-256's round constants (FIPS 180-4 §4.2.2).
const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// Words 8 to 15 of the block: after a 32-byte message that follows one 64-byte block,
/// SHA-256 pads with 0x80, zeros and the length in bits, 768.
const PADDING: [u32; 8] = [0x8000_0000, 0, 0, 0, 0, 0, 0, 768];

/// The SHA-256 state after one 64-byte block (`state`, its compression) and then the 32 bytes
/// of `message` as big-endian words; that is, the digest of the two, as words. In HMAC-SHA256
/// of a 32-byte message, with the key blocks compressed in advance, both hashes end with it.
#[cfg(not(target_arch = "wasm32"))]
pub fn digest_after_block(state: &[u32; 8], message: &[u32; 8]) -> [u32; 8] {
    // The schedule rolls through sixteen words. Unrolled, every index is a constant, and the
    // compiler folds the padding words into the schedule and the first sixteen rounds.
    let mut w = [0; 16];
    w[..8].copy_from_slice(message);
    w[8..].copy_from_slice(&PADDING);
    let mut s = *state;
    macro_rules! rounds {
        ($($t:literal)*) => {$({
            const T: usize = $t;
            if T >= 16 {
                w[T % 16] = w[T % 16]
                    .wrapping_add(small_sigma0(w[(T - 15) % 16]))
                    .wrapping_add(w[(T - 7) % 16])
                    .wrapping_add(small_sigma1(w[(T - 2) % 16]));
            }
            s = round(s, K[T].wrapping_add(w[T % 16]));
        })*};
    }
    rounds!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31
        32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60
        61 62 63);
    core::array::from_fn(|i| state[i].wrapping_add(s[i]))
}

/// The same in wasm, with the message schedule four words at a time in SIMD (simd128, which
/// V8 and so workerd support): the schedule then lives in vector registers, which leaves the
/// general ones to the rounds. Measured in workerd: 0.90× the time of the scalar schedule for
/// 600 000 iterations (BENCHMARKS.md, "Password hashing"). Native builds, and so the unit
/// tests, run the scalar schedule above; the end-to-end tests check this one, logging in with
/// hashes made by Django and by Node.
#[cfg(target_arch = "wasm32")]
#[target_feature(enable = "simd128")]
pub fn digest_after_block(state: &[u32; 8], message: &[u32; 8]) -> [u32; 8] {
    use core::arch::wasm32::{
        i32x4_add, i32x4_extract_lane, i32x4_shl, i32x4_shuffle, u32x4, u32x4_shr, v128_xor,
    };
    macro_rules! rotate_right {
        ($x:expr, $n:literal) => {
            v128_xor(u32x4_shr($x, $n), i32x4_shl($x, 32 - $n))
        };
    }
    macro_rules! small_sigma0 {
        ($x:expr) => {
            v128_xor(
                v128_xor(rotate_right!($x, 7), rotate_right!($x, 18)),
                u32x4_shr($x, 3),
            )
        };
    }
    macro_rules! small_sigma1 {
        ($x:expr) => {
            v128_xor(
                v128_xor(rotate_right!($x, 17), rotate_right!($x, 19)),
                u32x4_shr($x, 10),
            )
        };
    }
    let four = |words: &[u32]| u32x4(words[0], words[1], words[2], words[3]);
    let zero = u32x4(0, 0, 0, 0);
    // W[t - 16..t] as four vectors of four words.
    let mut w = [
        four(&message[..4]),
        four(&message[4..]),
        four(&PADDING[..4]),
        four(&PADDING[4..]),
    ];
    let mut s = *state;
    for k in K.chunks_exact(4) {
        let kw = i32x4_add(w[0], four(k));
        s = round(s, i32x4_extract_lane::<0>(kw) as u32);
        s = round(s, i32x4_extract_lane::<1>(kw) as u32);
        s = round(s, i32x4_extract_lane::<2>(kw) as u32);
        s = round(s, i32x4_extract_lane::<3>(kw) as u32);
        // W[t..t + 4] = W[t - 16..] + σ0(W[t - 15..]) + W[t - 7..] + σ1(W[t - 2..t + 2]): σ1
        // of W[t - 2] and W[t - 1] makes the first two words, then σ1 of those the last two.
        let [w0, w1, w2, w3] = w;
        let x = i32x4_add(w0, small_sigma0!(i32x4_shuffle::<1, 2, 3, 4>(w0, w1)));
        let x = i32x4_add(x, i32x4_shuffle::<1, 2, 3, 4>(w2, w3));
        let x = i32x4_add(x, i32x4_shuffle::<2, 3, 4, 4>(small_sigma1!(w3), zero));
        let x = i32x4_add(x, i32x4_shuffle::<4, 4, 0, 1>(small_sigma1!(x), zero));
        w = [w1, w2, w3, x];
    }
    core::array::from_fn(|i| state[i].wrapping_add(s[i]))
}

#[cfg(not(target_arch = "wasm32"))]
fn small_sigma0(x: u32) -> u32 {
    x.rotate_right(7) ^ x.rotate_right(18) ^ (x >> 3)
}

#[cfg(not(target_arch = "wasm32"))]
fn small_sigma1(x: u32) -> u32 {
    x.rotate_right(17) ^ x.rotate_right(19) ^ (x >> 10)
}

/// One round on the working variables a–h, with `kw` = K[t] + W[t]. Maj(a, b, c) is written
/// b ^ ((a ^ b) & (b ^ c)): this round's a ^ b is the next one's b ^ c, so in unrolled rounds
/// it is computed once.
#[inline(always)]
fn round([a, b, c, d, e, f, g, h]: [u32; 8], kw: u32) -> [u32; 8] {
    let t1 = h
        .wrapping_add(e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25))
        .wrapping_add(g ^ (e & (f ^ g)))
        .wrapping_add(kw);
    let t2 = (a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22))
        .wrapping_add(b ^ ((a ^ b) & (b ^ c)));
    [t1.wrapping_add(t2), a, b, c, d.wrapping_add(t1), e, f, g]
}
