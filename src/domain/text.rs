//! Python's notions of text that Django's rules are written in: length in code points and
//! `str.strip()`. Shared by the password rules here and the form fields of the contract.

/// Lower-case hex of `bytes` (Python's `bytes.hex()`): ids, digests, recovery codes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Number of Unicode code points: the unit of every length limit of the contract.
pub fn char_len(text: &str) -> usize {
    text.chars().count()
}

/// Python's `str.strip()`: Unicode white space plus the ASCII separators U+001C–U+001F,
/// which Python counts as white space and Rust does not.
pub fn python_strip(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lower_case_two_digits_a_byte() {
        assert_eq!(hex(&[0, 0x0a, 0xff]), "000aff");
    }

    #[test]
    fn length_counts_code_points_not_bytes() {
        assert_eq!(char_len("é😀"), 2);
    }

    #[test]
    fn strip_removes_the_separators_python_counts_as_white_space() {
        assert_eq!(python_strip("\u{1c}\u{a0} a b \u{1f}\n"), "a b");
    }
}
