//! CRAN and Hackage: versions are plain lists of numbers, compared element by element; a
//! longer list with an equal prefix is greater (`1.8 < 1.8.0`).

use std::cmp::Ordering;

use crate::numeric::cmp_digits;
use crate::VersionError;

fn parts<'a>(
    ecosystem: &'static str,
    version: &'a str,
    separators: &[char],
) -> Result<Vec<&'a str>, VersionError> {
    let parts: Vec<&str> = version.trim().split(separators).collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(VersionError::invalid(
            ecosystem,
            version,
            "expected numbers separated by dots",
        ));
    }
    Ok(parts)
}

fn compare_lists(a: &[&str], b: &[&str]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let r = cmp_digits(x, y);
        if r != Ordering::Equal {
            return r;
        }
    }
    a.len().cmp(&b.len())
}

/// Compare two CRAN versions (numbers separated by `.` or `-`).
pub fn compare_cran(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(compare_lists(
        &parts("CRAN", a, &['.', '-'])?,
        &parts("CRAN", b, &['.', '-'])?,
    ))
}

/// Compare two Hackage versions (numbers separated by `.`).
pub fn compare_hackage(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(compare_lists(
        &parts("Hackage", a, &['.'])?,
        &parts("Hackage", b, &['.'])?,
    ))
}
