//! Django 4.2's `EmailValidator`, as docs/contract.md §4.1 states it: at most 320 characters, split at
//! the last `@`, an ASCII dot-atom or quoted local part, and a domain that is `localhost`, a
//! host name (tested in IDNA/punycode form when it is not ASCII) or an IP address literal.

use std::net::{Ipv4Addr, Ipv6Addr};

pub const INVALID: &str = "Enter a valid email address.";

/// Whether Django would accept `value` as an e-mail address.
pub fn is_valid(value: &str) -> bool {
    if value.is_empty() || value.chars().count() > 320 {
        return false;
    }
    let Some((local, domain)) = value.rsplit_once('@') else {
        return false;
    };
    if !(is_dot_atom(local) || is_quoted_string(local)) {
        return false;
    }
    if domain == "localhost" || is_domain_part(domain) {
        return true;
    }
    // Django retries with the IDNA form of the domain: `müller.de` → `xn--mller-kva.de`.
    idna_to_ascii(domain).is_some_and(|ascii| is_domain_part(&ascii))
}

fn is_atom_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{}|~-".contains(c)
}

/// `^[-!#$%&'*+/=?^_`{}|~0-9A-Z]+(\.[-!#$%&'*+/=?^_`{}|~0-9A-Z]+)*$`, case-insensitive.
fn is_dot_atom(local: &str) -> bool {
    local
        .split('.')
        .all(|atom| !atom.is_empty() && atom.chars().all(is_atom_char))
}

/// `^"([\x01-\x08\x0b\x0c\x0e-\x1f!#-\[\]-\x7f]|\\[\x01-\x09\x0b\x0c\x0e-\x7f])*"$`.
fn is_quoted_string(local: &str) -> bool {
    let Some(inner) = local.strip_prefix('"').and_then(|l| l.strip_suffix('"')) else {
        return false;
    };
    if local.len() < 2 {
        return false;
    }
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        let ok = match c {
            '\\' => matches!(
                chars.next(),
                Some('\x01'..='\x09' | '\x0b' | '\x0c' | '\x0e'..='\x7f')
            ),
            '\x01'..='\x08'
            | '\x0b'
            | '\x0c'
            | '\x0e'..='\x1f'
            | '!'
            | '#'..='['
            | ']'..='\x7f' => true,
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// A host name (Django's `domain_regex`) or an `[IPv4]` / `[IPv6]` literal.
fn is_domain_part(domain: &str) -> bool {
    if let Some(literal) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        let literal_chars = !literal.is_empty()
            && literal
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
        return literal_chars
            && (literal.parse::<Ipv4Addr>().is_ok() || literal.parse::<Ipv6Addr>().is_ok());
    }
    is_host_name(domain)
}

/// `^((?:[A-Z0-9](?:[A-Z0-9-]{0,61}[A-Z0-9])?\.)+)(?:[A-Z0-9-]{2,63}(?<!-))$`, case-insensitive.
fn is_host_name(domain: &str) -> bool {
    let Some((labels, top)) = domain.rsplit_once('.') else {
        return false;
    };
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let top_ok = (2..=63).contains(&top.len())
        && top.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !top.ends_with('-');
    top_ok && labels.split('.').all(label_ok)
}

/// Python's `domain.encode("idna")` (IDNA 2003 ToASCII per label), with nameprep reduced to
/// lower-casing. `None` where Python raises `UnicodeError` (an empty or over-long label).
fn idna_to_ascii(domain: &str) -> Option<String> {
    let mut labels: Vec<&str> = domain
        .split(['.', '\u{3002}', '\u{ff0e}', '\u{ff61}'])
        .collect();
    let trailing_dot = labels.len() > 1 && labels.last() == Some(&"");
    if trailing_dot {
        labels.pop();
    }
    let mut out = Vec::with_capacity(labels.len());
    for label in labels {
        let label = if label.is_ascii() {
            label.to_owned()
        } else {
            let mapped = label.to_lowercase();
            if mapped.is_ascii() {
                mapped
            } else {
                format!("xn--{}", idna::punycode::encode_str(&mapped)?)
            }
        };
        if label.is_empty() || label.len() >= 64 {
            return None;
        }
        out.push(label);
    }
    let mut ascii = out.join(".");
    if trailing_dot {
        ascii.push('.');
    }
    Some(ascii)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(value: &str, want: bool) {
        assert_eq!(is_valid(value), want, "{value}");
    }

    #[test]
    fn ordinary_addresses_are_valid() {
        check("alice@example.com", true);
        check("Alice.O'Neil+tag@Sub.Example.CO.uk", true);
        check("x@localhost", true);
        check("a@b.c0", true);
        check("user@[127.0.0.1]", true);
        check("user@[::1]", true);
        check("\"john\\ doe\"@example.com", true);
        check("\"john doe\"@example.com", false);
        check("a@b@example.com", false);
    }

    #[test]
    fn malformed_local_parts_are_invalid() {
        check("@example.com", false);
        check("a..b@example.com", false);
        check(".a@example.com", false);
        check("a b@example.com", false);
        check("jürgen@example.com", false);
        check("\"unterminated@example.com", false);
    }

    #[test]
    fn malformed_domains_are_invalid() {
        check("a@example", false);
        check("a@example.c", false);
        check("a@-example.com", false);
        check("a@example-.com", false);
        check("a@example.com-", false);
        check("a@example..com", false);
        check("a@example.com.", false);
        check("a@[1.2.3]", false);
        check("a@[01.2.3.4]", false);
        check(&format!("a@{}.com", "x".repeat(64)), false);
        check(&format!("a@{}.com", "x".repeat(63)), true);
    }

    #[test]
    fn international_domains_are_checked_in_punycode_form() {
        check("a@müller.de", true);
        check("a@MÜLLER.de", true);
        check("a@例え.テスト", true);
        check("a@ü b.de", false);
    }

    #[test]
    fn addresses_over_320_characters_are_invalid() {
        let local = "a".repeat(64);
        let domain = format!("{}.com", vec!["b".repeat(60); 4].join("."));
        assert!(format!("{local}@{domain}").len() <= 320);
        check(&format!("{local}@{domain}"), true);
        check(&format!("{}@{domain}", "a".repeat(100)), false);
    }
}
