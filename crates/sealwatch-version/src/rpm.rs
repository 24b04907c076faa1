//! RPM version ordering (`rpmvercmp` with `~` and `^`) over `[epoch:]version[-release]`.
//!
//! Written here: the algorithm is short and `rpm-version`'s parsing differs on inputs real
//! advisories contain (colons that are not epochs).

use std::cmp::Ordering;

use crate::numeric::{cmp_digit_bytes, cmp_digits};
use crate::VersionError;

struct Evr<'a> {
    epoch: &'a str,
    version: &'a str,
    release: Option<&'a str>,
}

/// rpm's `parseEVR`: an epoch is the run of digits before a `:` (so `a:1` has none); the
/// release is what follows the last `-` after it.
fn parse(evr: &str) -> Evr<'_> {
    let digits = evr.bytes().take_while(u8::is_ascii_digit).count();
    let (epoch, rest) = match evr.as_bytes().get(digits) {
        Some(b':') => (&evr[..digits], &evr[digits + 1..]),
        _ => ("0", evr),
    };
    match rest.rsplit_once('-') {
        Some((version, release)) => Evr {
            epoch,
            version,
            release: Some(release),
        },
        None => Evr {
            epoch,
            version: rest,
            release: None,
        },
    }
}

/// rpm's segment comparison, including `~` (sorts before anything, even the end) and `^`
/// (sorts after the end but before any further segment).
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut one, mut two) = (a.as_bytes(), b.as_bytes());
    let separator = |c: &u8| !c.is_ascii_alphanumeric() && *c != b'~' && *c != b'^';
    loop {
        while one.first().is_some_and(separator) {
            one = &one[1..];
        }
        while two.first().is_some_and(separator) {
            two = &two[1..];
        }
        let (c1, c2) = (one.first().copied(), two.first().copied());
        if c1 == Some(b'~') || c2 == Some(b'~') {
            if c1 != Some(b'~') {
                return Ordering::Greater;
            }
            if c2 != Some(b'~') {
                return Ordering::Less;
            }
            one = &one[1..];
            two = &two[1..];
            continue;
        }
        if c1 == Some(b'^') || c2 == Some(b'^') {
            if c1.is_none() {
                return Ordering::Less;
            }
            if c2.is_none() {
                return Ordering::Greater;
            }
            if c1 != Some(b'^') {
                return Ordering::Greater;
            }
            if c2 != Some(b'^') {
                return Ordering::Less;
            }
            one = &one[1..];
            two = &two[1..];
            continue;
        }
        let (Some(c1), Some(_)) = (c1, c2) else { break };
        let numeric = c1.is_ascii_digit();
        let take = |s: &[u8]| -> usize {
            s.iter()
                .position(|c| {
                    if numeric {
                        !c.is_ascii_digit()
                    } else {
                        !c.is_ascii_alphabetic()
                    }
                })
                .unwrap_or(s.len())
        };
        let (n1, n2) = (take(one), take(two));
        let (seg1, seg2) = (&one[..n1], &two[..n2]);
        one = &one[n1..];
        two = &two[n2..];
        // A numeric segment is newer than an alphabetic one.
        if seg2.is_empty() {
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let r = if numeric {
            cmp_digit_bytes(seg1, seg2)
        } else {
            seg1.cmp(seg2)
        };
        if r != Ordering::Equal {
            return r;
        }
    }
    match (one.is_empty(), two.is_empty()) {
        (true, true) => Ordering::Equal,
        (false, _) => Ordering::Greater,
        (true, false) => Ordering::Less,
    }
}

/// Compare two RPM `[epoch:]version[-release]` strings. A missing epoch is 0; a missing
/// release sorts before any release.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    if a.trim().is_empty() || b.trim().is_empty() {
        let bad = if a.trim().is_empty() { a } else { b };
        return Err(VersionError::invalid("RPM", bad, "empty version"));
    }
    let (ea, eb) = (parse(a), parse(b));
    Ok(cmp_digits(ea.epoch, eb.epoch)
        .then_with(|| rpmvercmp(ea.version, eb.version))
        .then_with(|| match (ea.release, eb.release) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(ra), Some(rb)) => rpmvercmp(ra, rb),
        }))
}
