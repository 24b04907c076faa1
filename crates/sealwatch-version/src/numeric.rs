//! Comparison of decimal digit strings of any length.
//!
//! Real version strings carry numbers far beyond `u64` (dates with times, the
//! `999999999999999999999999999991` vectors), so numbers are compared as text:
//! strip leading zeros, then the longer is larger, then byte order decides.

use std::cmp::Ordering;

/// Compare two strings of ASCII digits by numeric value. Empty counts as zero.
pub(crate) fn cmp_digits(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// The digits with leading zeros removed ("" for zero).
pub(crate) fn strip_zeros(s: &str) -> &str {
    s.trim_start_matches('0')
}

/// Compare two byte strings of ASCII digits by numeric value. Empty counts as zero.
pub(crate) fn cmp_digit_bytes(a: &[u8], b: &[u8]) -> Ordering {
    let a = &a[a.iter().position(|&c| c != b'0').unwrap_or(a.len())..];
    let b = &b[b.iter().position(|&c| c != b'0').unwrap_or(b.len())..];
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Split `s` into its leading run of ASCII digits and the rest.
pub(crate) fn split_digit_bytes(s: &[u8]) -> (&[u8], &[u8]) {
    let end = s
        .iter()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(s.len());
    s.split_at(end)
}

/// Split `s` into its leading run of ASCII digits and the rest.
pub(crate) fn split_digits(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s.split_at(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_compare_by_value() {
        let check =
            |a: &str, b: &str, expect: Ordering| assert_eq!(cmp_digits(a, b), expect, "{a} vs {b}");
        check("", "0", Ordering::Equal);
        check("007", "7", Ordering::Equal);
        check("9", "10", Ordering::Less);
        check(
            "999999999999999999999999999991",
            "999999999999999999999999999999",
            Ordering::Less,
        );
        check("12", "011", Ordering::Greater);
    }
}
