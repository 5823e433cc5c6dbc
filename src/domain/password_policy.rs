//! Django's four default password validators (docs/contract.md §4.1), with their exact messages and in
//! their order: similarity to the username and e-mail, minimum length, the 20 000 common
//! passwords of Django 4.2, entirely numeric.

use super::text::{char_len, python_strip};

pub const TOO_SHORT: &str = "This password is too short. It must contain at least 8 characters.";
pub const TOO_COMMON: &str = "This password is too common.";
pub const ENTIRELY_NUMERIC: &str = "This password is entirely numeric.";
const MIN_LENGTH: usize = 8;
/// `UserAttributeSimilarityValidator.DEFAULT_MAX_SIMILARITY`.
const MAX_SIMILARITY: f64 = 0.7;

/// The user attributes a password is compared with, trimmed as submitted (each may be absent).
#[derive(Default)]
pub struct UserAttributes<'a> {
    pub username: Option<&'a str>,
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    pub email: Option<&'a str>,
}

/// Every failing validator's message, in Django's order; empty when the password is acceptable.
pub fn check(password: &str, user: &UserAttributes<'_>) -> Vec<&'static str> {
    let mut messages = Vec::new();
    if let Some(message) = similarity(password, user) {
        messages.push(message);
    }
    if char_len(password) < MIN_LENGTH {
        messages.push(TOO_SHORT);
    }
    if is_common(password) {
        messages.push(TOO_COMMON);
    }
    // Python's `str.isdigit()`; Rust's `is_numeric` is the nearest test (it also counts
    // fractions and Roman numerals, which Python does not).
    if password.chars().all(char::is_numeric) {
        messages.push(ENTIRELY_NUMERIC);
    }
    messages
}

/// `UserAttributeSimilarityValidator`: the first attribute part whose `quick_ratio` with the
/// password reaches 0.7 fails it; parts far shorter than the password are skipped.
fn similarity(password: &str, user: &UserAttributes<'_>) -> Option<&'static str> {
    let password = password.to_lowercase();
    let password_len = char_len(&password);
    let attributes = [
        (
            user.username,
            "The password is too similar to the username.",
        ),
        (
            user.first_name,
            "The password is too similar to the first name.",
        ),
        (
            user.last_name,
            "The password is too similar to the last name.",
        ),
        (user.email, "The password is too similar to the email."),
    ];
    for (value, message) in attributes {
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            continue;
        };
        let value = value.to_lowercase();
        // `re.split(r"\W+", value) + [value]`.
        let parts = value
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .chain([value.as_str()]);
        for part in parts {
            let part_len = char_len(part);
            let exceeds_length_ratio = password_len >= 10 * part_len
                && (part_len as f64) < MAX_SIMILARITY / 2.0 * password_len as f64;
            if exceeds_length_ratio {
                continue;
            }
            if quick_ratio(&password, part) >= MAX_SIMILARITY {
                return Some(message);
            }
        }
    }
    None
}

/// `difflib.SequenceMatcher(a=a, b=b).quick_ratio()`: 2·M / (|a| + |b|), M = the size of the
/// multiset intersection of their characters; 1.0 for two empty strings.
fn quick_ratio(a: &str, b: &str) -> f64 {
    let total = char_len(a) + char_len(b);
    if total == 0 {
        return 1.0;
    }
    let mut available: Vec<char> = b.chars().collect();
    available.sort_unstable();
    let mut wanted: Vec<char> = a.chars().collect();
    wanted.sort_unstable();
    let (mut i, mut j, mut matches) = (0, 0, 0usize);
    while i < wanted.len() && j < available.len() {
        match wanted[i].cmp(&available[j]) {
            core::cmp::Ordering::Less => i += 1,
            core::cmp::Ordering::Greater => j += 1,
            core::cmp::Ordering::Equal => {
                matches += 1;
                i += 1;
                j += 1;
            }
        }
    }
    2.0 * matches as f64 / total as f64
}

static COMMON: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/common_passwords.bin"));
static COMMON_INDEX: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/common_passwords.idx"));

/// `CommonPasswordValidator`: `password.lower().strip()` is one of Django 4.2's 20 000 common
/// passwords. The list is front-coded in blocks (see build.rs): a binary search over the
/// first word of each block, then a scan of one block.
pub fn is_common(password: &str) -> bool {
    let lowered = password.to_lowercase();
    let wanted = python_strip(&lowered).as_bytes();
    let block_start = |block: usize| -> usize {
        let at = block * 4;
        u32::from_le_bytes([
            COMMON_INDEX[at],
            COMMON_INDEX[at + 1],
            COMMON_INDEX[at + 2],
            COMMON_INDEX[at + 3],
        ]) as usize
    };
    let blocks = COMMON_INDEX.len() / 4;
    let first_word = |block: usize| -> &'static [u8] {
        let at = block_start(block);
        &COMMON[at + 2..at + 2 + usize::from(COMMON[at + 1])]
    };
    // The last block whose first word is ≤ the wanted word.
    let (mut low, mut high) = (0, blocks);
    while low < high {
        let middle = (low + high) / 2;
        if first_word(middle) <= wanted {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    let Some(block) = low.checked_sub(1) else {
        return false;
    };
    let end = if block + 1 < blocks {
        block_start(block + 1)
    } else {
        COMMON.len()
    };
    let mut at = block_start(block);
    let mut word: Vec<u8> = Vec::with_capacity(64);
    while at < end {
        let shared = usize::from(COMMON[at]);
        let suffix_len = usize::from(COMMON[at + 1]);
        word.truncate(shared);
        word.extend_from_slice(&COMMON[at + 2..at + 2 + suffix_len]);
        if word == wanted {
            return true;
        }
        at += 2 + suffix_len;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_USER: UserAttributes<'static> = UserAttributes {
        username: None,
        email: None,
        first_name: None,
        last_name: None,
    };

    #[track_caller]
    fn check_messages(password: &str, user: &UserAttributes<'_>, want: &[&str]) {
        assert_eq!(check(password, user), want, "{password}");
    }

    #[test]
    fn a_strong_password_passes_every_validator() {
        check_messages("x7#Lq9!vRt2m", &NO_USER, &[]);
    }

    #[test]
    fn short_common_and_numeric_fail_in_djangos_order() {
        check_messages(
            "1234567",
            &NO_USER,
            &[TOO_SHORT, TOO_COMMON, ENTIRELY_NUMERIC],
        );
        check_messages("password", &NO_USER, &[TOO_COMMON]);
        check_messages("q7z", &NO_USER, &[TOO_SHORT]);
        check_messages("83710492", &NO_USER, &[ENTIRELY_NUMERIC]);
    }

    #[test]
    fn common_passwords_are_matched_lower_cased_and_stripped() {
        assert!(is_common("PassWord"));
        assert!(is_common("qwerty"));
        assert!(is_common("123456"));
        assert!(is_common("пароль"));
        assert!(!is_common("x7#Lq9!vRt2m"));
        assert!(!is_common(""));
        assert!(!is_common("zzzzzzzzzzzzzzzzzzzzzzzz"));
    }

    #[test]
    fn every_word_of_the_list_is_found() {
        // Decode the whole blob and look every word up again.
        let (mut at, mut word, mut count) = (0, Vec::new(), 0);
        while at < COMMON.len() {
            word.truncate(usize::from(COMMON[at]));
            let len = usize::from(COMMON[at + 1]);
            word.extend_from_slice(&COMMON[at + 2..at + 2 + len]);
            assert!(is_common(core::str::from_utf8(&word).unwrap()));
            at += 2 + len;
            count += 1;
        }
        assert_eq!(count, 19_729);
    }

    #[test]
    fn a_password_equal_to_the_username_is_too_similar() {
        let user = UserAttributes {
            username: Some("zebrafish77q"),
            email: Some("z@example.com"),
            ..UserAttributes::default()
        };
        check_messages(
            "zebrafish77q",
            &user,
            &["The password is too similar to the username."],
        );
    }

    #[test]
    fn the_email_is_compared_after_the_username() {
        let user = UserAttributes {
            username: Some("someone"),
            email: Some("marmalade.sky@example.com"),
            ..UserAttributes::default()
        };
        check_messages(
            "marmalade.sky",
            &user,
            &["The password is too similar to the email."],
        );
    }

    #[test]
    fn short_attribute_parts_are_skipped_for_long_passwords() {
        // "ab" is 2 chars: for a 24-char password, 24 >= 10*2 and 2 < 0.35*24, so it is skipped.
        let user = UserAttributes {
            username: Some("ab"),
            email: None,
            ..UserAttributes::default()
        };
        check_messages("abababababababababababab", &user, &[]);
    }

    #[test]
    fn quick_ratio_counts_the_shared_multiset() {
        assert_eq!(quick_ratio("abcd", "bcde"), 0.75);
        assert_eq!(quick_ratio("", ""), 1.0);
        assert_eq!(quick_ratio("aab", "abb"), 2.0 * 2.0 / 6.0);
    }
}
