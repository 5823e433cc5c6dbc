//! Django's password-reset links and signed values, byte for byte, so that a link made by a
//! Django app sharing the same `SECRET_KEY` is accepted here and a link made here is accepted
//! by Django:
//!
//! * [`uid_encode`] / [`uid_decode`]: the `uidb64` of a reset link,
//!   `urlsafe_base64_encode(force_bytes(pk))`;
//! * [`make_token`] / [`check_token`]: `django.contrib.auth.tokens.PasswordResetTokenGenerator`
//!   (Django 4.0 and later: SHA-256, the e-mail address in the hash);
//! * [`dumps`] / [`loads`]: `django.core.signing.dumps` / `loads` (a `TimestampSigner` with
//!   SHA-256 and the JSON serializer, uncompressed), as e-mail confirmation keys use them.
//!
//! Pure: the secret and `now` (epoch seconds) come in, no clock is read. Every check that
//! compares a MAC compares in constant time.

use core::fmt;
use core::fmt::Write as _;

use base64ct::{Base64UrlUnpadded, Encoding};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::domain::secret::Secret;

/// `PasswordResetTokenGenerator.key_salt`.
pub const PASSWORD_RESET_KEY_SALT: &str = "django.contrib.auth.tokens.PasswordResetTokenGenerator";

/// What [`make_token`] returns when it cannot compute Django's token (a `last_login` it cannot
/// read, a clock before 2001): no `-`, so [`check_token`] and Django's `check_token` refuse it.
/// Hashing the unreadable text instead would make a token that Django never makes, and that
/// would silently stop working once the row is repaired.
pub const UNMATCHABLE_TOKEN: &str = "!";

/// 2001-01-01T00:00:00Z in epoch seconds: the origin of a reset token's timestamp.
const EPOCH_2001: i64 = 978_307_200;
/// The largest integer a JavaScript client (and D1) holds exactly.
const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;
/// Longest `uidb64` read: 48 digits, far more than any id has.
const MAX_UID_LENGTH: usize = 64;
/// Longest reset token read. Django's are 38 characters until 2069.
const MAX_TOKEN_LENGTH: usize = 64;
/// Django's `base36_to_int` refuses more than 13 digits.
const MAX_BASE36_DIGITS: usize = 13;
/// Longest signed value read. `[id, address]` signs to under 500 characters for an ASCII
/// address of 254; each character JSON escapes (non-ASCII, controls) costs six, so a long
/// address made mostly of them signs to more and is refused.
const MAX_SIGNED_LENGTH: usize = 1024;
const BASE36: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
/// `django.core.signing.BASE62_ALPHABET`: digits, then upper case, then lower case.
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const HEX: &[u8; 16] = b"0123456789abcdef";

// ---------------------------------------------------------------------------------------------
// uidb64

/// Django's `urlsafe_base64_encode(force_bytes(pk))`: the decimal digits in base64url without
/// padding (42 → `NDI`).
pub fn uid_encode(pk: i64) -> String {
    Base64UrlUnpadded::encode_string(pk.to_string().as_bytes())
}

/// The id in a `uidb64`, or `None`. Accepts what Django's
/// `int(urlsafe_base64_decode(uid).decode())` accepts for an id in 1..=2^53-1 when the text is
/// base64url that decodes to ASCII digits: trailing `=` padding in any amount (Django re-adds
/// some and Python ignores the excess), non-zero unused bits in the last character, leading
/// zeros (`MDA3` is 7). Refused, although Python would take them: characters outside the
/// base64url alphabet (Python skips them, and reads `+` and `/` as `-` and `_`), anything after
/// a `=`, and what only `int()` tolerates (signs, whitespace, `_` separators, non-ASCII
/// digits). Longer than 64 characters: refused before decoding.
pub fn uid_decode(uid: &str) -> Option<i64> {
    if uid.len() > MAX_UID_LENGTH {
        return None;
    }
    let digits = decode_base64url_lenient(uid.trim_end_matches('='))?;
    parse_decimal(&digits).filter(|pk| (1..=MAX_SAFE_INTEGER).contains(pk))
}

/// Base64url as Python's non-strict decoder reads it, over the base64url alphabet only: a
/// length of 4n+1 is an error, the unused low bits of the last character are ignored.
fn decode_base64url_lenient(text: &str) -> Option<Vec<u8>> {
    if text.len() % 4 == 1 {
        return None;
    }
    let mut bytes = Vec::with_capacity(text.len() * 3 / 4);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let sextet = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(sextet);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(bytes)
}

/// ASCII digits only, at least one; leading zeros allowed; `None` past `i64`.
fn parse_decimal(digits: &[u8]) -> Option<i64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0i64, |n, &d| {
        d.is_ascii_digit()
            .then(|| n.checked_mul(10)?.checked_add(i64::from(d - b'0')))
            .flatten()
    })
}

// ---------------------------------------------------------------------------------------------
// Password-reset tokens

/// The user fields Django's token hashes. `Debug` never shows the password hash.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ResetSubject<'a> {
    pub pk: i64,
    /// The stored password hash (Django's `user.password`), whatever its format.
    pub password: &'a str,
    /// `last_login` as stored: SQLite `datetime()` text or ISO 8601 (see [`login_timestamp`]).
    pub last_login: Option<&'a str>,
    /// The e-mail address as stored ("" when there is none, as Django's `or ""`).
    pub email: &'a str,
}

impl fmt::Debug for ResetSubject<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResetSubject")
            .field("pk", &self.pk)
            .field("password", &"<redacted>")
            .field("last_login", &self.last_login)
            .field("email", &self.email)
            .finish()
    }
}

/// Django's `make_token(user)` at `now`: `<seconds since 2001-01-01 in base36>-<hash>`.
/// The timestamp is counted in UTC (Django counts in `TIME_ZONE`, so a Django app must run with
/// `TIME_ZONE = "UTC"` for both sides to agree on a token's age). Returns
/// [`UNMATCHABLE_TOKEN`] when `last_login` cannot be read or `now` is before 2001.
pub fn make_token(subject: &ResetSubject<'_>, secret: &Secret, now: i64) -> String {
    now.checked_sub(EPOCH_2001)
        .filter(|ts| (0..=1 << 53).contains(ts))
        .and_then(|ts| token_at(subject, secret, ts))
        .unwrap_or_else(|| UNMATCHABLE_TOKEN.to_owned())
}

/// Django's `check_token(user, token)` with `PASSWORD_RESET_TIMEOUT = timeout`: the token is
/// the one Django would make for this user at its timestamp (constant-time comparison), and
/// `now - timestamp <= timeout`. As in Django, a timestamp in the future is not refused. The
/// token dies when the password hash, `last_login` or the e-mail address change.
pub fn check_token(
    subject: &ResetSubject<'_>,
    secret: &Secret,
    token: &str,
    now: i64,
    timeout: i64,
) -> bool {
    let Some(ts) = parse_token(token) else {
        return false;
    };
    let Some(expected) = token_at(subject, secret, ts) else {
        return false;
    };
    if !bool::from(expected.as_bytes().ct_eq(token.as_bytes())) {
        return false;
    }
    i128::from(now) - i128::from(EPOCH_2001) - i128::from(ts) <= i128::from(timeout)
}

/// When a well-formed token says it was made, in epoch seconds. Its hash is not checked: use
/// this only with a token that [`check_token`] accepted.
pub fn timestamp_of(token: &str) -> Option<i64> {
    parse_token(token).map(|ts| ts + EPOCH_2001)
}

/// The timestamp of a token of the only shape [`make_token`] (and Django) write: lowercase
/// base36 without leading zeros, at most 2^53, then `-` and 32 lowercase hex digits. Anything
/// else could never equal a token made here, so it is refused before any hashing.
fn parse_token(token: &str) -> Option<i64> {
    if token.len() > MAX_TOKEN_LENGTH {
        return None;
    }
    let (ts_b36, hash) = token.split_once('-')?;
    let canonical = !ts_b36.is_empty()
        && ts_b36.len() <= MAX_BASE36_DIGITS
        && (ts_b36 == "0" || !ts_b36.starts_with('0'));
    if !canonical || hash.len() != 32 || !hash.bytes().all(|b| HEX.contains(&b)) {
        return None;
    }
    ts_b36
        .bytes()
        .try_fold(0i64, |n, d| {
            let digit = BASE36.iter().position(|&c| c == d)?;
            n.checked_mul(36)?.checked_add(digit as i64)
        })
        .filter(|ts| *ts <= 1 << 53)
}

/// `_make_token_with_timestamp(user, ts, secret)`; `None` when `last_login` cannot be read.
fn token_at(subject: &ResetSubject<'_>, secret: &Secret, ts: i64) -> Option<String> {
    let login = match subject.last_login {
        None => String::new(),
        Some(text) => login_timestamp(text)?,
    };
    // `_make_hash_value`: f"{pk}{password}{login_timestamp}{timestamp}{email}".
    let value = format!(
        "{}{}{login}{ts}{}",
        subject.pk, subject.password, subject.email
    );
    let digest = salted_hmac(PASSWORD_RESET_KEY_SALT, value.as_bytes(), secret);
    let mut token = base36(ts);
    token.push('-');
    // `.hexdigest()[::2]`: every other hex digit, which is the high nibble of each byte.
    token.extend(digest.iter().map(|b| HEX[usize::from(b >> 4)] as char));
    Some(token)
}

fn base36(mut n: i64) -> String {
    let mut digits = Vec::new();
    loop {
        digits.push(BASE36[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    digits.iter().rev().map(|&d| d as char).collect()
}

/// Django's `salted_hmac(key_salt, value, secret, algorithm="sha256")`: HMAC-SHA256 keyed
/// with SHA-256(key_salt ‖ secret).
fn salted_hmac(key_salt: &str, value: &[u8], secret: &Secret) -> [u8; 32] {
    let key = Sha256::new()
        .chain_update(key_salt.as_bytes())
        .chain_update(secret.expose().as_bytes())
        .finalize();
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes keys of any length");
    mac.update(value);
    mac.finalize().into_bytes().into()
}

/// `last_login` as Django writes it into the token: `str(last_login.replace(microsecond=0,
/// tzinfo=None))` of the aware UTC datetime Django reads from its database, i.e.
/// `YYYY-MM-DD HH:MM:SS` in UTC. Reads SQLite `datetime()` text (`2026-12-01 11:02:33`, UTC)
/// and ISO 8601 as dumpdata writes it (`2024-01-02T03:04:05.123Z`, `…+00:00`); fractions of
/// a second are dropped, not rounded; an offset (`±HH:MM`, `±HHMM`, `±HH`) is converted to
/// UTC. `None` for anything else, including impossible dates and years outside 1..=9999.
pub fn login_timestamp(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let number = |range: core::ops::Range<usize>| parse_decimal(b.get(range)?);
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    let separators = at(4, b'-') && at(7, b'-') && (at(10, b' ') || at(10, b'T'));
    if !(separators && at(13, b':') && at(16, b':')) {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &fraction[digits..];
    }
    let offset_minutes = match rest.as_bytes() {
        [] | [b'Z'] => 0,
        [sign @ (b'+' | b'-'), offset @ ..] => {
            let (hours, minutes) = match offset {
                [h1, h2] => ([*h1, *h2], [b'0', b'0']),
                [h1, h2, m1, m2] | [h1, h2, b':', m1, m2] => ([*h1, *h2], [*m1, *m2]),
                _ => return None,
            };
            let (hours, minutes) = (
                parse_decimal(&hours).filter(|h| *h < 24)?,
                parse_decimal(&minutes).filter(|m| *m < 60)?,
            );
            let minutes = hours * 60 + minutes;
            if *sign == b'-' {
                -minutes
            } else {
                minutes
            }
        }
        _ => return None,
    };
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second
        - offset_minutes * 60;
    let (days, time) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    if !(1..=9999).contains(&year) {
        return None;
    }
    let (hour, minute, second) = (time / 3_600, time % 3_600 / 60, time % 60);
    Some(format!(
        "{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}"
    ))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

// ---------------------------------------------------------------------------------------------
// django.core.signing

/// `signing.dumps(value, key=secret, salt=salt)` at `now`:
/// `<base64url of the JSON>:<base62 timestamp>:<base64url of the HMAC-SHA256>`. The JSON is
/// Python's `json.dumps(value, separators=(",", ":"))`: non-ASCII escaped as `\uXXXX`, floats
/// as Python's `repr`. Object members come out in key order (`serde_json`'s map), which is
/// Django's output for a dict built in that order; [`loads`] on either side does not care.
pub fn dumps(secret: &Secret, salt: &str, value: &Value, now: i64) -> String {
    let mut json = String::new();
    write_python_json(value, &mut json);
    let mut signed = Base64UrlUnpadded::encode_string(json.as_bytes());
    signed.push(':');
    signed.push_str(&base62(now));
    let signature = signature(secret, salt, &signed);
    signed.push(':');
    signed.push_str(&signature);
    signed
}

/// `signing.loads(signed, key=secret, salt=salt, max_age=max_age)` at `now`: the value, or
/// `None` when the signature does not match, when `now - timestamp > max_age` (Django compares
/// with a fractional clock, so it expires a value during the last second this still accepts),
/// or when the input is longer than 1024 characters, compressed (a leading `.`), without a
/// timestamp, or not JSON that `serde_json` reads (Python also reads `NaN`, `Infinity` and
/// lone surrogates). The payload bytes are read as Latin-1, as Django's `JSONSerializer`
/// reads them.
pub fn loads(secret: &Secret, salt: &str, signed: &str, max_age: i64, now: i64) -> Option<Value> {
    if signed.len() > MAX_SIGNED_LENGTH {
        return None;
    }
    let (value, presented) = signed.rsplit_once(':')?;
    let expected = signature(secret, salt, value);
    if !bool::from(expected.as_bytes().ct_eq(presented.as_bytes())) {
        return None;
    }
    let (payload, timestamp) = value.rsplit_once(':')?;
    let timestamp = parse_base62(timestamp)?;
    if i128::from(now) - i128::from(timestamp) > i128::from(max_age) {
        return None;
    }
    if payload.starts_with('.') {
        return None;
    }
    let bytes = decode_base64url_lenient(payload.trim_end_matches('='))?;
    let text: String = bytes.iter().map(|&b| char::from(b)).collect();
    serde_json::from_str(&text).ok()
}

/// `Signer.signature(value)`: `base64_hmac(salt + "signer", value, key, "sha256")`.
fn signature(secret: &Secret, salt: &str, value: &str) -> String {
    let key_salt = format!("{salt}signer");
    Base64UrlUnpadded::encode_string(&salted_hmac(&key_salt, value.as_bytes(), secret))
}

/// `signing.b62_encode`: `-` before the digits of a negative number.
fn base62(n: i64) -> String {
    let mut rest = n.unsigned_abs();
    let mut digits = Vec::new();
    loop {
        digits.push(BASE62[(rest % 62) as usize]);
        rest /= 62;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        digits.push(b'-');
    }
    digits.iter().rev().map(|&d| d as char).collect()
}

/// A non-negative base62 timestamp of at most 2^53; Django only writes negative ones for a
/// clock before 1970.
fn parse_base62(text: &str) -> Option<i64> {
    if text.is_empty() || text.len() > 10 {
        return None;
    }
    text.bytes()
        .try_fold(0i64, |n, d| {
            let digit = BASE62.iter().position(|&c| c == d)?;
            n.checked_mul(62)?.checked_add(digit as i64)
        })
        .filter(|n| *n <= 1 << 53)
}

/// Python's `json.dumps(value, separators=(",", ":"))` with its default `ensure_ascii=True`.
fn write_python_json(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => match n.as_f64().filter(|_| n.is_f64()) {
            Some(float) => out.push_str(&python_float_repr(float)),
            // An integer: its decimal digits, in Python as here.
            None => {
                let _ = write!(out, "{n}");
            }
        },
        Value::String(s) => write_python_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_python_json(item, out);
            }
            out.push(']');
        }
        Value::Object(members) => {
            out.push('{');
            for (i, (key, item)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_python_string(key, out);
                out.push(':');
                write_python_json(item, out);
            }
            out.push('}');
        }
    }
}

/// A JSON string as Python's ASCII encoder writes it: printable ASCII as is, the five short
/// escapes, everything else as `\uXXXX` in lowercase hex (UTF-16 surrogate pairs above U+FFFF).
fn write_python_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// Python's `repr(float)` of a finite number: the shortest digits that read back the same
/// (Rust's `{:e}` finds the same ones), written in positional notation when the decimal point
/// falls within -4 < point ≤ 16 (with `.0` for a whole number), else as `d.ddde±XX`.
fn python_float_repr(x: f64) -> String {
    let scientific = format!("{x:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    // The decimal point falls after `point` digits.
    let point = exponent + 1;
    let mut out = String::from(sign);
    if !(-3..=16).contains(&point) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(
            out,
            "e{}{:02}",
            if exponent < 0 { '-' } else { '+' },
            exponent.abs()
        );
    } else if point <= 0 {
        out.push_str("0.");
        out.extend(core::iter::repeat_n('0', point.unsigned_abs() as usize));
        out.push_str(&digits);
    } else if point as usize >= digits.len() {
        out.push_str(&digits);
        out.extend(core::iter::repeat_n('0', point as usize - digits.len()));
        out.push_str(".0");
    } else {
        out.push_str(&digits[..point as usize]);
        out.push('.');
        out.push_str(&digits[point as usize..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // The vectors below were made by Django 5.2 with tests/e2e/django_tokens.py, that is:
    //
    //     settings.configure(SECRET_KEY=SECRET, USE_TZ=True, TIME_ZONE="UTC", ...)
    //     class FixedClockGenerator(PasswordResetTokenGenerator):
    //         def _now(self):
    //             return datetime.fromtimestamp(NOW, timezone.utc).replace(tzinfo=None)
    //     user = User(pk=42, password=HASH, email="alice@example.com",
    //                 last_login=parse_datetime(last_login).astimezone(timezone.utc))
    //     # (naive text taken as UTC; in UTC, as Django reads it from its database)
    //     urlsafe_base64_encode(force_bytes(user.pk)), FixedClockGenerator().make_token(user)
    //
    //     with mock.patch("django.core.signing.time.time", return_value=NOW):
    //         signing.dumps(value, key=SECRET, salt="account")

    const SECRET: &str = "vector-secret-not-for-production-4f9c2e7a1b";
    const HASH: &str = "pbkdf2_sha256$1000$seasalt$mQnueSakb748zqBAC1tmWVZsZbi2zPGZarEzTGdfmso=";
    const EMAIL: &str = "alice@example.com";
    /// 2027-01-15T08:00:00Z.
    const NOW: i64 = 1_800_000_000;
    /// Django's default `PASSWORD_RESET_TIMEOUT`, three days.
    const TIMEOUT: i64 = 259_200;
    /// Django's token for `alice()` at `NOW`.
    const ALICE_TOKEN: &str = "dl7q80-0acbff55a562d855721df902a83e4218";
    /// Django's `signing.dumps([42, "alice@example.com"], key=SECRET, salt="account")` at `NOW`.
    const ALICE_KEY: &str =
        "WzQyLCJhbGljZUBleGFtcGxlLmNvbSJd:1xocE4:HS_oKxIaQqTMFoVO1DnoK9b5GNCDUK_XNawvVniQ2ek";

    fn secret() -> Secret {
        Secret::new(SECRET)
    }

    fn alice() -> ResetSubject<'static> {
        ResetSubject {
            pk: 42,
            password: HASH,
            last_login: None,
            email: EMAIL,
        }
    }

    fn with_login(last_login: &'static str) -> ResetSubject<'static> {
        ResetSubject {
            last_login: Some(last_login),
            ..alice()
        }
    }

    // uidb64

    #[test]
    fn uid_encode_writes_djangos_uidb64() {
        assert_eq!(uid_encode(1), "MQ");
        assert_eq!(uid_encode(42), "NDI");
        assert_eq!(uid_encode(MAX_SAFE_INTEGER), "OTAwNzE5OTI1NDc0MDk5MQ");
    }

    #[test]
    fn uid_decode_reads_djangos_uidb64() {
        assert_eq!(uid_decode("MQ"), Some(1));
        assert_eq!(uid_decode("NDI"), Some(42));
        assert_eq!(uid_decode("OTAwNzE5OTI1NDc0MDk5MQ"), Some(MAX_SAFE_INTEGER));
    }

    proptest::proptest! {
        #[test]
        fn uid_decode_reverses_uid_encode(pk in 1..=MAX_SAFE_INTEGER) {
            proptest::prop_assert_eq!(uid_decode(&uid_encode(pk)), Some(pk));
        }
    }

    #[test]
    fn uid_decode_takes_the_spellings_django_takes_for_the_same_id() {
        // Python: urlsafe_base64_decode(s) re-adds padding, ignores excess `=` and unused bits.
        for (uid, pk) in [
            ("MQ==", 1),
            ("MQ=", 1),
            ("MQ=====", 1),
            ("MR", 1),
            ("MTI=", 12),
            ("MTIzNB", 1234),
            ("MDA3", 7),
        ] {
            assert_eq!(uid_decode(uid), Some(pk), "{uid}");
        }
    }

    #[test]
    fn uid_decode_refuses_garbage_and_ids_outside_1_to_2_pow_53_minus_1() {
        let too_long = format!("{}MQ", "MDAw".repeat(16));
        for uid in [
            "",
            "====",
            "M",                          // 4n+1 characters
            "MTIzN",                      // 4n+1 characters
            "M Q",                        // whitespace (Python skips it)
            "M*Q",                        // outside the alphabet (Python skips it)
            "+Q",                         // standard base64 (Python reads it as `-`)
            "=MQ",                        // padding first
            "MQ==MQ",                     // data after padding
            "Kzc",                        // "+7"
            "IDc",                        // " 7"
            "NyA",                        // "7 "
            "NV8w",                       // "5_0"
            "2aU",                        // "٥", an Arabic-Indic five
            "LTU",                        // "-5"
            "MA",                         // "0"
            "YWJj",                       // "abc"
            "OTAwNzE5OTI1NDc0MDk5Mg",     // 2^53
            "OTIyMzM3MjAzNjg1NDc3NTgwOA", // 2^63
            "bsOpZQ",                     // non-ASCII bytes
            "NDIé",
            too_long.as_str(),
        ] {
            assert_eq!(uid_decode(uid), None, "{uid:?}");
        }
        assert_eq!(too_long.len(), 66);
    }

    // Password-reset tokens

    #[test]
    fn make_token_writes_djangos_token_without_last_login() {
        assert_eq!(make_token(&alice(), &secret(), NOW), ALICE_TOKEN);
    }

    #[test]
    fn make_token_writes_djangos_token_for_every_stored_form_of_last_login() {
        for (last_login, token) in [
            (
                "2024-01-02T03:04:05.123Z",
                "dl7q80-6cedb6437fd368d9ed439f8d0b93cf6d",
            ),
            (
                "2026-12-01 11:02:33",
                "dl7q80-015f8bbed0f0acfa874f701841f3d8e8",
            ),
            (
                "2024-02-01T00:00:00Z",
                "dl7q80-0fab583c2589604ba068051cece296b8",
            ),
            (
                "2024-02-01T00:00:00+00:00",
                "dl7q80-0fab583c2589604ba068051cece296b8",
            ),
            (
                "2024-01-02T01:30:05.999999+02:00",
                "dl7q80-aa228c70e9c87a80fc18aecccdde7a8b",
            ),
            (
                "2024-01-01T23:30:00-01:00",
                "dl7q80-ea026da3b7382fe8883bc391da031416",
            ),
        ] {
            assert_eq!(
                make_token(&with_login(last_login), &secret(), NOW),
                token,
                "{last_login}"
            );
        }
    }

    #[test]
    fn make_token_writes_djangos_token_for_an_unusable_password_and_no_email() {
        let subject = ResetSubject {
            pk: MAX_SAFE_INTEGER,
            password: "!unusablehash",
            last_login: None,
            email: "",
        };
        assert_eq!(
            make_token(&subject, &secret(), NOW),
            "dl7q80-6b0f2ab3cf73b1b0c70decd34fbfcfbe"
        );
    }

    #[test]
    fn make_token_writes_djangos_token_at_the_first_second_of_2001() {
        let subject = ResetSubject {
            pk: 1,
            email: "zoë@exämple.com",
            ..alice()
        };
        assert_eq!(
            make_token(&subject, &secret(), EPOCH_2001),
            "0-4ce206ff44fdcca335ac12c33c437c16"
        );
    }

    #[test]
    fn make_token_keys_the_hmac_with_the_secrets_utf8_bytes() {
        let subject = ResetSubject {
            pk: 7,
            email: "a@b.c",
            ..alice()
        };
        assert_eq!(
            make_token(&subject, &Secret::new("sécret-ünïcode"), NOW),
            "dl7q80-08639bce3a1feb72181aea45e01b28e0"
        );
    }

    #[test]
    fn make_token_before_2001_makes_the_unmatchable_token() {
        assert_eq!(
            make_token(&alice(), &secret(), EPOCH_2001 - 1),
            UNMATCHABLE_TOKEN
        );
        assert!(!check_token(
            &alice(),
            &secret(),
            UNMATCHABLE_TOKEN,
            NOW,
            TIMEOUT
        ));
    }

    #[test]
    fn login_timestamp_writes_pythons_str_of_the_utc_datetime() {
        for (stored, django) in [
            ("2026-12-01 11:02:33", "2026-12-01 11:02:33"),
            ("2024-02-01T00:00:00Z", "2024-02-01 00:00:00"),
            ("2024-01-02T03:04:05.123Z", "2024-01-02 03:04:05"),
            ("2024-01-02 03:04:05.999999", "2024-01-02 03:04:05"),
            ("2024-01-02T03:04:05+00:00", "2024-01-02 03:04:05"),
            ("2024-01-02T01:30:05.5+02:00", "2024-01-01 23:30:05"),
            ("2024-01-02T01:30:05+0200", "2024-01-01 23:30:05"),
            ("2024-01-02T01:30:05+02", "2024-01-01 23:30:05"),
            ("2024-12-31T23:30:00-01:00", "2025-01-01 00:30:00"),
            ("2024-03-01T00:30:00+01:00", "2024-02-29 23:30:00"),
            ("0999-06-01 00:00:00", "0999-06-01 00:00:00"),
        ] {
            assert_eq!(login_timestamp(stored).as_deref(), Some(django), "{stored}");
        }
    }

    #[test]
    fn login_timestamp_refuses_what_is_not_a_datetime() {
        for stored in [
            "",
            "yesterday",
            "2024-01-02",
            "2024-01-02T03:04",
            " 2024-01-02 03:04:05",
            "2024-01-02 03:04:05 ",
            "2024/01/02 03:04:05",
            "2023-02-29 00:00:00",
            "2024-04-31 00:00:00",
            "2024-13-01 00:00:00",
            "2024-01-02 24:00:00",
            "2024-01-02 03:60:00",
            "2024-01-02 03:04:60",
            "2024-01-02T03:04:05.",
            "2024-01-02T03:04:05.12x",
            "2024-01-02T03:04:05+2",
            "2024-01-02T03:04:05+24:00",
            "2024-01-02T03:04:05z",
            "0000-01-01 00:00:00",
            "0001-01-01T00:30:00+01:00",
            "9999-12-31T23:30:00-01:00",
            "+024-01-02 03:04:05",
            "2024-01-02 03:04:05Zé",
        ] {
            assert_eq!(login_timestamp(stored), None, "{stored:?}");
        }
    }

    #[test]
    fn an_unreadable_last_login_makes_no_token_and_accepts_none() {
        let subject = with_login("last tuesday");
        assert_eq!(make_token(&subject, &secret(), NOW), UNMATCHABLE_TOKEN);
        assert!(!check_token(&subject, &secret(), ALICE_TOKEN, NOW, TIMEOUT));
    }

    #[test]
    fn check_token_accepts_djangos_token_up_to_the_timeout_inclusive() {
        assert!(check_token(&alice(), &secret(), ALICE_TOKEN, NOW, TIMEOUT));
        assert!(check_token(
            &alice(),
            &secret(),
            ALICE_TOKEN,
            NOW + TIMEOUT,
            TIMEOUT
        ));
        assert!(!check_token(
            &alice(),
            &secret(),
            ALICE_TOKEN,
            NOW + TIMEOUT + 1,
            TIMEOUT
        ));
    }

    #[test]
    fn check_token_accepts_a_token_from_the_future_as_django_does() {
        assert!(check_token(
            &alice(),
            &secret(),
            ALICE_TOKEN,
            NOW - 1_000,
            TIMEOUT
        ));
    }

    #[test]
    fn check_token_accepts_its_own_tokens_for_a_user_with_a_last_login() {
        let subject = with_login("2026-12-01 11:02:33");
        let token = make_token(&subject, &secret(), NOW);
        assert!(check_token(&subject, &secret(), &token, NOW + 60, TIMEOUT));
    }

    #[test]
    fn a_token_dies_when_the_password_last_login_email_id_or_secret_change() {
        let subject = with_login("2026-12-01 11:02:33");
        let token = make_token(&subject, &secret(), NOW);
        let changed = [
            ResetSubject {
                password: "pbkdf2_sha256$1000$othersalt$x=",
                ..subject
            },
            ResetSubject {
                last_login: Some("2026-12-01 11:02:34"),
                ..subject
            },
            ResetSubject {
                last_login: None,
                ..subject
            },
            ResetSubject {
                email: "Alice@example.com",
                ..subject
            },
            ResetSubject { pk: 43, ..subject },
        ];
        for other in changed {
            assert!(
                !check_token(&other, &secret(), &token, NOW, TIMEOUT),
                "{other:?}"
            );
        }
        assert!(!check_token(
            &subject,
            &Secret::new("another secret"),
            &token,
            NOW,
            TIMEOUT
        ));
    }

    #[test]
    fn a_login_in_another_offset_at_the_same_instant_keeps_the_token_alive() {
        let token = make_token(&with_login("2024-01-01 23:30:05"), &secret(), NOW);
        let same_instant = with_login("2024-01-02T01:30:05.250+02:00");
        assert!(check_token(&same_instant, &secret(), &token, NOW, TIMEOUT));
    }

    #[test]
    fn check_token_refuses_malformed_tokens() {
        let (ts, hash) = ALICE_TOKEN.split_once('-').unwrap();
        let tokens = [
            String::new(),
            "-".to_owned(),
            ts.to_owned(),
            hash.to_owned(),
            format!("{ts}{hash}"),
            format!("{ts}-{hash}-"),
            format!("{ts}--{hash}"),
            format!("-{ts}-{hash}"),
            format!("{}-{hash}", ts.to_uppercase()),
            format!("{ts}-{}", hash.to_uppercase()),
            format!("0{ts}-{hash}"),
            format!("+{ts}-{hash}"),
            format!(" {ts}-{hash}"),
            format!("{ts}-{hash} "),
            format!("{ts}-{}", &hash[..31]),
            format!("{ts}-{hash}0"),
            format!("{ts}-{}g", &hash[..31]),
            format!("2gosa7pa2gx-{hash}"),    // 2^53 + 1
            format!("zzzzzzzzzzzzzz-{hash}"), // 14 base36 digits
            format!("{ts}-{hash}{}", "0".repeat(64)),
        ];
        for token in &tokens {
            assert!(
                !check_token(&alice(), &secret(), token, NOW, TIMEOUT),
                "{token:?}"
            );
        }
    }

    #[test]
    fn check_token_refuses_a_changed_timestamp() {
        let (_, hash) = ALICE_TOKEN.split_once('-').unwrap();
        assert!(!check_token(
            &alice(),
            &secret(),
            &format!("dl7q81-{hash}"),
            NOW,
            TIMEOUT
        ));
    }

    #[test]
    fn timestamp_of_tells_when_a_token_was_made() {
        assert_eq!(timestamp_of(ALICE_TOKEN), Some(NOW));
        assert_eq!(
            timestamp_of("0-4ce206ff44fdcca335ac12c33c437c16"),
            Some(EPOCH_2001)
        );
        let latest = "2gosa7pa2gw-00000000000000000000000000000000";
        assert_eq!(timestamp_of(latest), Some((1 << 53) + EPOCH_2001));
    }

    #[test]
    fn timestamp_of_refuses_malformed_tokens() {
        for token in [
            "",
            UNMATCHABLE_TOKEN,
            "dl7q80",
            "DL7Q80-0acbff55a562d855721df902a83e4218",
            "dl7q80-0acbff55a562d855721df902a83e421",
            "2gosa7pa2gx-0acbff55a562d855721df902a83e4218",
        ] {
            assert_eq!(timestamp_of(token), None, "{token:?}");
        }
    }

    #[test]
    fn debug_never_shows_the_password_hash() {
        let shown = format!("{:?}", alice());
        assert!(!shown.contains("pbkdf2"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    // django.core.signing

    #[test]
    fn dumps_writes_djangos_e_mail_confirmation_key() {
        assert_eq!(
            dumps(&secret(), "account", &json!([42, EMAIL]), NOW),
            ALICE_KEY
        );
    }

    #[test]
    fn dumps_escapes_strings_as_pythons_json_does() {
        let value = json!([
            MAX_SAFE_INTEGER,
            "zoë@exämple.com 😀 \"q\" \\\\ \u{1}\u{7f}\t/"
        ]);
        assert_eq!(
            dumps(&secret(), "account", &value, NOW),
            "WzkwMDcxOTkyNTQ3NDA5OTEsInpvXHUwMGViQGV4XHUwMGU0bXBsZS5jb20gXHVkODNkXHVkZTAwIFwicVwi\
             IFxcXFwgXHUwMDAxXHUwMDdmXHQvIl0:1xocE4:xLRUDo-DKbYZ-HMyxK_vi6tOsI6N3RVuKFYIUbvK-AY"
        );
    }

    #[test]
    fn dumps_writes_floats_as_pythons_repr() {
        let value = json!([
            1.5,
            1e16,
            1e15,
            0.0001,
            1e-5,
            0.1,
            -0.0,
            123456789.125,
            1e300,
            5e-324,
            -2.5e-7,
            100.0
        ]);
        // The payload is [1.5,1e+16,1000000000000000.0,0.0001,1e-05,0.1,-0.0,123456789.125,
        // 1e+300,5e-324,-2.5e-07,100.0].
        assert_eq!(
            dumps(&secret(), "account", &value, NOW),
            "WzEuNSwxZSsxNiwxMDAwMDAwMDAwMDAwMDAwLjAsMC4wMDAxLDFlLTA1LDAuMSwtMC4wLDEyMzQ1Njc4OS4x\
             MjUsMWUrMzAwLDVlLTMyNCwtMi41ZS0wNywxMDAuMF0:1xocE4:vSef9YWINT5T2HfQBSsFrjH7erqoJSPIgbhL4syJs54"
        );
    }

    #[test]
    fn python_float_repr_matches_python() {
        for (x, python) in [
            (1.0 / 3.0, "0.3333333333333333"),
            (2.0 / 3.0 * 1e20, "6.666666666666666e+19"),
            (f64::MAX, "1.7976931348623157e+308"),
            (2.2250738585072014e-308, "2.2250738585072014e-308"),
            (123.456e-10, "1.23456e-08"),
            (0.0, "0.0"),
            (1e16 - 2.0, "9999999999999998.0"),
        ] {
            assert_eq!(python_float_repr(x), python);
        }
    }

    #[test]
    fn dumps_writes_objects_keys_in_sorted_order_and_scalars_as_django() {
        let value = json!({"d": "x", "c": {}, "b": 1, "a": [true, false, null]});
        assert_eq!(
            dumps(&secret(), "account", &value, NOW),
            "eyJhIjpbdHJ1ZSxmYWxzZSxudWxsXSwiYiI6MSwiYyI6e30sImQiOiJ4In0:1xocE4:\
             FDhE4N6DTqkOBeCOccvGty-TOsAscdciM2Oh6V2kQ9k"
        );
        assert_eq!(
            dumps(&secret(), "account", &json!("x"), NOW),
            "Ingi:1xocE4:cdbCKemrS59U6lMTlm4EDf03RNOrFAK73gaDNPK-YRw"
        );
        assert_eq!(
            dumps(&secret(), "account", &json!(42), NOW),
            "NDI:1xocE4:AA0AKZipD1b41-79I1GLJ__TiqYNqH7nocbu2I-Hczk"
        );
    }

    #[test]
    fn dumps_signs_with_the_salt_and_the_time() {
        let value = json!([42, EMAIL]);
        assert_eq!(
            dumps(&secret(), "django.core.signing", &value, NOW),
            "WzQyLCJhbGljZUBleGFtcGxlLmNvbSJd:1xocE4:cH9WBM-ZFnY0M7uWYfiqCHOJn-I97Oa9cJ0DhXPuSyI"
        );
        assert_eq!(
            dumps(&secret(), "account", &value, 0),
            "WzQyLCJhbGljZUBleGFtcGxlLmNvbSJd:0:7kwpnV91Pfq-KaWhEC2Vh0V4LJNeRD1YKxIOijwMMD4"
        );
    }

    #[test]
    fn loads_reads_djangos_values_back() {
        assert_eq!(
            loads(&secret(), "account", ALICE_KEY, 3_600, NOW),
            Some(json!([42, EMAIL]))
        );
        // Django's dict {"b": 1, "a": [...], "c": {}}, keys in insertion order.
        let unsorted = "eyJiIjoxLCJhIjpbdHJ1ZSxmYWxzZSxudWxsXSwiYyI6e319:1xocE4:\
                        5mfaHzxf6cJMpNX-xQwJ1GxONiwru-Fr921qJd-mxtQ";
        assert_eq!(
            loads(&secret(), "account", unsorted, 3_600, NOW),
            Some(json!({"a": [true, false, null], "b": 1, "c": {}}))
        );
        let escaped = dumps(&secret(), "account", &json!(["zoë 😀"]), NOW);
        assert_eq!(
            loads(&secret(), "account", &escaped, 3_600, NOW),
            Some(json!(["zoë 😀"]))
        );
    }

    #[test]
    fn loads_accepts_a_value_up_to_max_age_inclusive() {
        assert!(loads(&secret(), "account", ALICE_KEY, 3_600, NOW + 3_600).is_some());
        assert_eq!(
            loads(&secret(), "account", ALICE_KEY, 3_600, NOW + 3_601),
            None
        );
    }

    #[test]
    fn loads_refuses_another_salt_or_secret() {
        assert_eq!(loads(&secret(), "other", ALICE_KEY, 3_600, NOW), None);
        assert_eq!(
            loads(
                &Secret::new("another secret"),
                "account",
                ALICE_KEY,
                3_600,
                NOW
            ),
            None
        );
    }

    #[test]
    fn loads_refuses_a_changed_payload_timestamp_or_signature() {
        let (payload, rest) = ALICE_KEY.split_once(':').unwrap();
        let (timestamp, signature) = rest.split_once(':').unwrap();
        for forged in [
            format!("WzQzLCJhbGljZUBleGFtcGxlLmNvbSJd:{timestamp}:{signature}"),
            format!("{payload}:1xocE5:{signature}"),
            format!("{payload}:{timestamp}:{}", &signature[1..]),
            format!("{payload}:{timestamp}:{signature}A"),
            format!("{payload}:{timestamp}:{signature}:"),
            format!("{payload}:{timestamp}"),
            format!("{payload}:{timestamp}:{signature}=").replace("HS_", "HS/"),
            payload.to_owned(),
            String::new(),
        ] {
            assert_eq!(
                loads(&secret(), "account", &forged, 3_600, NOW),
                None,
                "{forged}"
            );
        }
    }

    #[test]
    fn loads_refuses_a_compressed_value_even_when_signed() {
        // Django: signing.dumps(list(range(1, 40)), key=SECRET, salt="account", compress=True).
        let compressed = ".eJwNzEERwDAMA0FC94gkx4mxdMqfRgtg9xEmFJvmcBm0kJBRUKGNGh100eCFf2McXHjjxgd\
                          fPGQRkb8MKbJJk0MumfcDgzMVIQ:1xocE4:W1EQDm0jBrV6R_MbKndjxxSreSJxPzTZqCt_cU4Vtt0";
        assert_eq!(loads(&secret(), "account", compressed, 3_600, NOW), None);
    }

    #[test]
    fn loads_refuses_a_signed_value_without_a_timestamp() {
        // Django: Signer(key=SECRET, salt="account").sign_object([42, "alice@example.com"]).
        let untimed =
            "WzQyLCJhbGljZUBleGFtcGxlLmNvbSJd:Qq5My-do1Hj-IlLc0URpAtcH8WEpjPG1bhHX2h_w7w0";
        assert_eq!(loads(&secret(), "account", untimed, 3_600, NOW), None);
    }

    #[test]
    fn loads_refuses_input_longer_than_1024_characters() {
        let long = json!(["x".repeat(760)]);
        let signed = dumps(&secret(), "account", &long, NOW);
        assert!(signed.len() > MAX_SIGNED_LENGTH);
        assert_eq!(loads(&secret(), "account", &signed, 3_600, NOW), None);
        let fits = dumps(&secret(), "account", &json!(["x".repeat(690)]), NOW);
        assert!(fits.len() <= MAX_SIGNED_LENGTH);
        assert!(loads(&secret(), "account", &fits, 3_600, NOW).is_some());
    }

    #[test]
    fn loads_refuses_a_signed_payload_that_is_not_json() {
        let signed = |payload: &str| {
            let value = format!("{payload}:1xocE4");
            format!("{value}:{}", signature(&secret(), "account", &value))
        };
        assert_eq!(
            loads(&secret(), "account", &signed("bm90IGpzb24"), 3_600, NOW),
            None
        );
        assert_eq!(loads(&secret(), "account", &signed("M"), 3_600, NOW), None);
        assert_eq!(
            loads(&secret(), "account", &signed("Wz*d"), 3_600, NOW),
            None
        );
        // The same construction with a JSON payload is read: the test builds real keys.
        assert_eq!(
            loads(&secret(), "account", &signed("WzQyXQ"), 3_600, NOW),
            Some(json!([42]))
        );
    }

    #[test]
    fn loads_reads_payload_bytes_as_latin_1_as_django_does() {
        // "é" as UTF-8 (C3 A9) in a payload that some other signer wrote: Django's
        // `data.decode("latin-1")` reads two characters, "Ã©".
        let payload = Base64UrlUnpadded::encode_string("[\"é\"]".as_bytes());
        let value = format!("{payload}:1xocE4");
        let signed = format!("{value}:{}", signature(&secret(), "account", &value));
        assert_eq!(
            loads(&secret(), "account", &signed, 3_600, NOW),
            Some(json!(["Ã©"]))
        );
    }
}
