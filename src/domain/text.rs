//! Python's notions of text that Django's rules are written in: length in code points and
//! `str.strip()`. Shared by the password rules here and the form fields of the contract.

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
    fn length_counts_code_points_not_bytes() {
        assert_eq!(char_len("é😀"), 2);
    }

    #[test]
    fn strip_removes_the_separators_python_counts_as_white_space() {
        assert_eq!(python_strip("\u{1c}\u{a0} a b \u{1f}\n"), "a b");
    }
}
