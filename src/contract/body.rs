//! Request bodies (docs/contract.md §2.3): JSON, URL-encoded forms and multipart forms, turned into
//! [`Fields`], and the string-field rules every endpoint shares (trimming, blank, null,
//! wrong type, NUL characters), with Django REST framework's messages.
//!
//! Pure: takes the `Content-Type` header and the bytes, already capped at
//! [`MAX_BODY_BYTES`] by the caller. Never panics on any input.

use std::collections::BTreeMap;

use crate::contract::json::compact_json;
use crate::domain::text::{char_len, python_strip};
use serde_json::value::RawValue;

/// Largest accepted body (docs/contract.md §7); larger bodies get 413.
pub const MAX_BODY_BYTES: usize = 1_048_576;
/// Deepest accepted JSON nesting (docs/contract.md §7); deeper documents are a parse error.
pub const MAX_JSON_DEPTH: usize = 128;

pub const REQUIRED: &str = "This field is required.";
pub const NULL: &str = "This field may not be null.";
pub const BLANK: &str = "This field may not be blank.";
pub const NOT_A_STRING: &str = "Not a valid string.";
pub const NULL_CHARACTERS: &str = "Null characters are not allowed.";

/// One submitted value, as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    /// A JSON string or a form value.
    Text(String),
    /// A JSON number, as written in the document.
    Number(String),
    Bool(bool),
    Null,
    /// A JSON array or object, as compact JSON text.
    Composite(String),
}

/// Why a body could not be read (each maps to one answer of docs/contract.md §2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// 415, with the `Content-Type` header verbatim (empty when absent).
    UnsupportedMediaType(String),
    /// 400 `{"detail": …}` with the whole message, e.g. `JSON parse error - …`.
    Parse(String),
    /// 400: the document is JSON `null`.
    NoData,
    /// 400: the document is not an object; the Python name of what it is.
    NotAnObject(&'static str),
}

/// The submitted fields of a request; a repeated name keeps its last value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields(BTreeMap<String, FieldValue>);

impl Fields {
    pub fn get(&self, name: &str) -> Option<&FieldValue> {
        self.0.get(name)
    }

    /// A Django REST framework `CharField` with `trim_whitespace`: the trimmed text, or the
    /// one message that stops it (`invalid` is the field's wrong-type message). Validators
    /// that run on the trimmed text (length, NUL, format) are the caller's.
    pub fn text(&self, name: &str, invalid: &'static str) -> Result<String, &'static str> {
        let text = match self.get(name) {
            None => return Err(REQUIRED),
            Some(FieldValue::Null) => return Err(NULL),
            Some(FieldValue::Bool(_) | FieldValue::Composite(_)) => return Err(invalid),
            Some(FieldValue::Text(text)) => text.clone(),
            Some(FieldValue::Number(raw)) => python_number_text(raw),
        };
        let trimmed = python_strip(&text);
        if trimmed.is_empty() {
            return Err(BLANK);
        }
        Ok(trimmed.to_owned())
    }

    #[cfg(test)]
    pub fn from_pairs(pairs: &[(&str, FieldValue)]) -> Self {
        Self(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        )
    }
}

/// Field validation errors in the endpoint's field order (docs/contract.md §2.2): failing fields only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<(&'static str, Vec<String>)>);

impl FieldErrors {
    /// Records `result`'s messages for `field` and passes its value on.
    pub fn collect<T>(&mut self, field: &'static str, result: Result<T, Vec<String>>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(messages) => {
                self.0.push((field, messages));
                None
            }
        }
    }

    pub fn one(field: &'static str, message: impl Into<String>) -> Self {
        Self(vec![(field, vec![message.into()])])
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `{"field":["msg",…],…}` in the order the fields were checked.
impl serde::Serialize for FieldErrors {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (field, messages) in &self.0 {
            map.serialize_entry(field, messages)?;
        }
        map.end()
    }
}

/// A plain string field with no length limit (token fields, the login e-mail): the trimmed
/// text, or its messages.
pub fn plain_text(fields: &Fields, name: &str) -> Result<String, Vec<String>> {
    let text = fields
        .text(name, NOT_A_STRING)
        .map_err(|m| vec![m.to_owned()])?;
    if text.contains('\0') {
        return Err(vec![NULL_CHARACTERS.to_owned()]);
    }
    Ok(text)
}

/// A password field: at most `max` characters, and when it is longer, no other check runs
/// (docs/contract.md §4.1: nothing longer than the cap is ever hashed).
pub fn password_text(fields: &Fields, name: &str, max: usize) -> Result<String, Vec<String>> {
    let text = fields
        .text(name, NOT_A_STRING)
        .map_err(|m| vec![m.to_owned()])?;
    if let Some(message) = max_length_error(&text, max) {
        return Err(vec![message]);
    }
    Ok(text)
}

/// `Ensure this field has no more than N characters.` when `text` is longer than `max`.
pub fn max_length_error(text: &str, max: usize) -> Option<String> {
    (char_len(text) > max).then(|| format!("Ensure this field has no more than {max} characters."))
}

/// Reads a body according to its `Content-Type` (docs/contract.md §2.3).
pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Fields, BodyError> {
    if body.is_empty() {
        return Ok(Fields::default());
    }
    let header = content_type.unwrap_or("");
    let media_type = header
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match media_type.as_str() {
        "application/json" => parse_json(body),
        "application/x-www-form-urlencoded" => Ok(parse_urlencoded(body)),
        "multipart/form-data" => parse_multipart(header, body),
        _ => Err(BodyError::UnsupportedMediaType(header.to_owned())),
    }
}

fn json_error(message: impl core::fmt::Display) -> BodyError {
    BodyError::Parse(format!("JSON parse error - {message}"))
}

fn parse_json(body: &[u8]) -> Result<Fields, BodyError> {
    let text = core::str::from_utf8(body)
        .map_err(|e| json_error(format_args!("invalid UTF-8 at byte {}", e.valid_up_to())))?;
    check_depth_and_surrogates(text)?;
    let start = text.trim_start_matches([' ', '\t', '\n', '\r']);
    if start.starts_with('{') {
        let map: BTreeMap<String, &RawValue> = serde_json::from_str(text).map_err(json_error)?;
        let fields = map
            .into_iter()
            .map(|(name, raw)| (name, field_value(raw.get())))
            .collect();
        return Ok(Fields(fields));
    }
    let raw: &RawValue = serde_json::from_str(text).map_err(json_error)?;
    let raw = raw.get();
    Err(match raw.as_bytes()[0] {
        b'n' => BodyError::NoData,
        b'[' => BodyError::NotAnObject("list"),
        b'"' => BodyError::NotAnObject("str"),
        b't' | b'f' => BodyError::NotAnObject("bool"),
        _ if is_integer_literal(raw) => BodyError::NotAnObject("int"),
        _ => BodyError::NotAnObject("float"),
    })
}

/// Classifies one member of the top-level object. `raw` is valid JSON (serde checked it).
fn field_value(raw: &str) -> FieldValue {
    match raw.as_bytes()[0] {
        // Cannot fail: the text is a valid JSON string without lone surrogates.
        b'"' => FieldValue::Text(serde_json::from_str(raw).unwrap_or_default()),
        b't' => FieldValue::Bool(true),
        b'f' => FieldValue::Bool(false),
        b'n' => FieldValue::Null,
        b'[' | b'{' => FieldValue::Composite(compact_json(raw)),
        _ => FieldValue::Number(raw.to_owned()),
    }
}

/// Rejects nesting deeper than [`MAX_JSON_DEPTH`] and lone UTF-16 surrogate escapes anywhere
/// in the document (serde_json checks surrogates only in the strings it decodes).
fn check_depth_and_surrogates(text: &str) -> Result<(), BodyError> {
    let bytes = text.as_bytes();
    let hex4 = |at: usize| -> Option<u32> {
        let digits = bytes.get(at..at + 4)?;
        u32::from_str_radix(core::str::from_utf8(digits).ok()?, 16).ok()
    };
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] != b'\\' {
                        i += 1;
                        continue;
                    }
                    if bytes.get(i + 1) == Some(&b'u') {
                        match hex4(i + 2) {
                            Some(0xD800..=0xDBFF) => {
                                let low_follows = bytes.get(i + 6..i + 8) == Some(b"\\u")
                                    && matches!(hex4(i + 8), Some(0xDC00..=0xDFFF));
                                if !low_follows {
                                    return Err(json_error("lone leading surrogate in hex escape"));
                                }
                                i += 12;
                                continue;
                            }
                            Some(0xDC00..=0xDFFF) => {
                                return Err(json_error("lone trailing surrogate in hex escape"))
                            }
                            _ => {}
                        }
                    }
                    i += 2;
                }
                i += 1;
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return Err(json_error(format_args!(
                        "nesting deeper than {MAX_JSON_DEPTH} levels at byte {i}"
                    )));
                }
                i += 1;
            }
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

fn is_integer_literal(raw: &str) -> bool {
    !raw.contains(['.', 'e', 'E'])
}

/// What Python's `str()` gives for a number parsed by `json.loads` (DRF converts numbers
/// submitted to string fields this way): integers exactly, floats as `repr(float)`.
pub fn python_number_text(raw: &str) -> String {
    if is_integer_literal(raw) {
        return if raw == "-0" {
            "0".to_owned()
        } else {
            raw.to_owned()
        };
    }
    python_float_repr(raw.parse::<f64>().unwrap_or(f64::NAN))
}

/// Python's `repr(float)`: the shortest round-trip digits, positional when the decimal
/// exponent is in -4..16, otherwise `d.ddde±XX`.
fn python_float_repr(value: f64) -> String {
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    if value.is_nan() {
        return "nan".to_owned();
    }
    let sign = if value.is_sign_negative() { "-" } else { "" };
    if value == 0.0 {
        return format!("{sign}0.0");
    }
    let scientific = format!("{:e}", value.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if (-4..16).contains(&exponent) {
        if exponent >= 0 {
            let int_len = exponent as usize + 1;
            if digits.len() <= int_len {
                format!("{sign}{digits}{}.0", "0".repeat(int_len - digits.len()))
            } else {
                format!("{sign}{}.{}", &digits[..int_len], &digits[int_len..])
            }
        } else {
            format!("{sign}0.{}{digits}", "0".repeat((-exponent - 1) as usize))
        }
    } else {
        let mantissa = if digits.len() == 1 {
            digits
        } else {
            format!("{}.{}", &digits[..1], &digits[1..])
        };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{exp_sign}{:02}", exponent.abs())
    }
}

fn parse_urlencoded(body: &[u8]) -> Fields {
    // form_urlencoded decodes %-escapes and `+`, replacing bad UTF-8 with U+FFFD.
    let fields = form_urlencoded::parse(body)
        .map(|(name, value)| (name.into_owned(), FieldValue::Text(value.into_owned())))
        .collect();
    Fields(fields)
}

/// A `name=value` parameter of a header such as `Content-Type` or `Content-Disposition`.
fn header_parameter<'a>(header: &'a str, wanted: &str) -> Option<&'a str> {
    header.split(';').skip(1).find_map(|part| {
        let (name, value) = part.split_once('=')?;
        name.trim().eq_ignore_ascii_case(wanted).then(|| {
            let value = value.trim();
            value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value)
        })
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The non-file parts of a `multipart/form-data` body (RFC 7578); file parts are skipped.
fn parse_multipart(content_type: &str, body: &[u8]) -> Result<Fields, BodyError> {
    let boundary = header_parameter(content_type, "boundary")
        .filter(|b| !b.is_empty() && b.len() <= 70)
        .ok_or_else(|| {
            BodyError::Parse(
                "Multipart form parse error - Invalid boundary in multipart: None".into(),
            )
        })?;
    let delimiter = format!("--{boundary}");
    let mut fields = BTreeMap::new();
    let Some(first) = find(body, delimiter.as_bytes()) else {
        return Ok(Fields(fields));
    };
    let mut rest = &body[first + delimiter.len()..];
    let next_delimiter = format!("\r\n--{boundary}");
    loop {
        if rest.starts_with(b"--") {
            break;
        }
        let Some(line_end) = find(rest, b"\r\n") else {
            break;
        };
        rest = &rest[line_end + 2..];
        let Some(part_end) = find(rest, next_delimiter.as_bytes()) else {
            break;
        };
        let part = &rest[..part_end];
        rest = &rest[part_end + next_delimiter.len()..];
        let Some(head_end) = find(part, b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&part[..head_end]);
        let content = &part[head_end + 4..];
        let disposition = head.split("\r\n").find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("content-disposition")
                .then_some(value)
        });
        let Some(disposition) = disposition else {
            continue;
        };
        if header_parameter(disposition, "filename").is_some() {
            continue;
        }
        if let Some(name) = header_parameter(disposition, "name") {
            let value = String::from_utf8_lossy(content).into_owned();
            fields.insert(name.to_owned(), FieldValue::Text(value));
        }
    }
    Ok(Fields(fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: Option<&str> = Some("application/json");

    #[track_caller]
    fn check_json(body: &str, want: Result<Fields, BodyError>) {
        assert_eq!(parse(JSON, body.as_bytes()), want);
    }

    #[track_caller]
    fn check_parse_error(content_type: Option<&str>, body: &[u8]) {
        match parse(content_type, body) {
            Err(BodyError::Parse(message)) => assert!(
                message.starts_with("JSON parse error - ") || message.starts_with("Multipart"),
                "{message}"
            ),
            other => panic!("expected a parse error, got {other:?}"),
        }
    }

    fn text(value: &str) -> FieldValue {
        FieldValue::Text(value.to_owned())
    }

    #[test]
    fn an_empty_body_has_no_fields_whatever_its_content_type() {
        assert_eq!(parse(Some("text/plain"), b""), Ok(Fields::default()));
        assert_eq!(parse(None, b""), Ok(Fields::default()));
    }

    #[test]
    fn other_content_types_are_unsupported_and_quoted_verbatim() {
        assert_eq!(
            parse(Some("text/plain; charset=UTF-8"), b"x"),
            Err(BodyError::UnsupportedMediaType(
                "text/plain; charset=UTF-8".into()
            ))
        );
        assert_eq!(
            parse(None, b"x"),
            Err(BodyError::UnsupportedMediaType(String::new()))
        );
    }

    #[test]
    fn json_members_are_classified_and_duplicates_keep_the_last() {
        check_json(
            r#"{"a":"x","a":" y ","n":12345678901234,"b":true,"z":null,"o":{ "k" : [1, 2] }}"#,
            Ok(Fields::from_pairs(&[
                ("a", text(" y ")),
                ("n", FieldValue::Number("12345678901234".into())),
                ("b", FieldValue::Bool(true)),
                ("z", FieldValue::Null),
                ("o", FieldValue::Composite(r#"{"k":[1,2]}"#.into())),
            ])),
        );
    }

    #[test]
    fn json_charset_parameters_and_letter_case_are_ignored() {
        let fields = parse(Some("Application/JSON; charset=latin-1"), br#"{"a":"b"}"#).unwrap();
        assert_eq!(fields.get("a"), Some(&text("b")));
    }

    #[test]
    fn non_object_documents_name_their_python_type() {
        check_json("null", Err(BodyError::NoData));
        check_json(" [1]", Err(BodyError::NotAnObject("list")));
        check_json("\"s\"", Err(BodyError::NotAnObject("str")));
        check_json("12", Err(BodyError::NotAnObject("int")));
        check_json("-1.5e3", Err(BodyError::NotAnObject("float")));
        check_json("false", Err(BodyError::NotAnObject("bool")));
    }

    #[test]
    fn malformed_json_is_a_parse_error() {
        for body in [
            "{",
            "{\"a\":}",
            "{} x",
            "   ",
            "{'a':1}",
            "NaN",
            "\u{feff}{}",
        ] {
            check_parse_error(JSON, body.as_bytes());
        }
        check_parse_error(JSON, b"{\"a\":\"\xff\"}");
    }

    #[test]
    fn lone_surrogates_are_a_parse_error_even_in_ignored_members() {
        check_parse_error(JSON, br#"{"unknown":"\ud800"}"#);
        check_parse_error(JSON, br#"{"unknown":["\udc00x"]}"#);
        check_json(
            r#"{"a":"\ud83d\ude00"}"#,
            Ok(Fields::from_pairs(&[("a", text("\u{1F600}"))])),
        );
    }

    #[test]
    fn nesting_is_accepted_to_128_levels_and_refused_beyond() {
        let nested = |depth: usize| {
            format!(
                "{{\"a\":{}1{}}}",
                "[".repeat(depth - 1),
                "]".repeat(depth - 1)
            )
        };
        assert!(parse(JSON, nested(128).as_bytes()).is_ok());
        check_parse_error(JSON, nested(129).as_bytes());
        check_parse_error(JSON, "[".repeat(10_000).as_bytes());
    }

    #[test]
    fn brackets_inside_strings_do_not_count_as_nesting() {
        let body = format!("{{\"a\":\"{}\"}}", "[".repeat(500));
        assert!(parse(JSON, body.as_bytes()).is_ok());
    }

    #[test]
    fn numbers_become_the_text_python_would_print() {
        for (raw, want) in [
            ("12345678901234", "12345678901234"),
            (
                "123456789012345678901234567890",
                "123456789012345678901234567890",
            ),
            ("-0", "0"),
            ("1.0", "1.0"),
            ("1e5", "100000.0"),
            ("1.5e-7", "1.5e-07"),
            ("0.0001", "0.0001"),
            ("1e16", "1e+16"),
            ("123.456", "123.456"),
            ("-2.5E+20", "-2.5e+20"),
            ("1e400", "inf"),
            ("-0.0", "-0.0"),
        ] {
            assert_eq!(python_number_text(raw), want, "{raw}");
        }
    }

    #[test]
    fn form_bodies_decode_plus_percent_and_keep_the_last_value() {
        let fields = parse(
            Some("application/x-www-form-urlencoded"),
            b"a=1&a=x+y%21&b=%ff",
        )
        .unwrap();
        assert_eq!(
            fields,
            Fields::from_pairs(&[("a", text("x y!")), ("b", text("\u{fffd}"))])
        );
    }

    #[test]
    fn multipart_bodies_give_their_non_file_parts() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\na@b.co\r\n\
--XyZ\r\ncontent-disposition: form-data; name=\"f\"; filename=\"x.txt\"\r\nContent-Type: text/plain\r\n\r\nfile\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nlast@b.co\r\n--XyZ--\r\n";
        let fields = parse(Some("multipart/form-data; boundary=XyZ"), body).unwrap();
        assert_eq!(fields, Fields::from_pairs(&[("email", text("last@b.co"))]));
    }

    #[test]
    fn multipart_without_a_boundary_is_a_parse_error() {
        check_parse_error(Some("multipart/form-data"), b"x");
    }

    #[track_caller]
    fn check_text(value: Option<FieldValue>, want: Result<&str, &str>) {
        let fields = match value {
            Some(v) => Fields::from_pairs(&[("f", v)]),
            None => Fields::default(),
        };
        let got = fields.text("f", NOT_A_STRING);
        assert_eq!(got.as_deref().map_err(|e| *e), want);
    }

    #[test]
    fn string_fields_follow_django_rest_framework() {
        check_text(None, Err(REQUIRED));
        check_text(Some(FieldValue::Null), Err(NULL));
        check_text(Some(FieldValue::Bool(false)), Err(NOT_A_STRING));
        check_text(Some(FieldValue::Composite("[]".into())), Err(NOT_A_STRING));
        check_text(Some(text(" \t\u{1f}\u{a0} ")), Err(BLANK));
        check_text(Some(text("  pass word \n")), Ok("pass word"));
        check_text(Some(FieldValue::Number("12".into())), Ok("12"));
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_in_any_content_type_parse_or_fail_cleanly(
            content_type in proptest::option::of(".{0,40}"),
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        ) {
            let _ = parse(content_type.as_deref(), &bytes);
            let _ = parse(Some("application/json"), &bytes);
            let _ = parse(Some("multipart/form-data; boundary=b"), &bytes);
        }

        #[test]
        fn json_string_members_round_trip(name in "[a-z]{1,8}", value in "\\PC{0,40}") {
            let body = serde_json::json!({ name.clone(): value.clone() }).to_string();
            let fields = parse(JSON, body.as_bytes()).unwrap();
            proptest::prop_assert_eq!(fields.get(&name), Some(&FieldValue::Text(value)));
        }
    }

    #[test]
    fn compact_json_removes_only_white_space_outside_strings() {
        assert_eq!(
            compact_json("{ \"a b\" : [ 1 , \"\\\" x\" ] }"),
            "{\"a b\":[1,\"\\\" x\"]}"
        );
    }
}
