//! Debian (dpkg) version ordering: `[epoch:]upstream[-revision]`, Debian Policy §5.6.12.
//!
//! Written here rather than taken from `debversion` because the whole algorithm is a few dozen
//! lines and the crate would bring its own parse rules (it rejects strings dpkg only warns
//! about, which real advisories contain).

use std::cmp::Ordering;

use crate::numeric::{cmp_digit_bytes, cmp_digits, split_digit_bytes};
use crate::VersionError;

struct Parsed<'a> {
    epoch: &'a str,
    upstream: &'a str,
    revision: &'a str,
}

fn parse(version: &str) -> Result<Parsed<'_>, VersionError> {
    let v = version.trim();
    if v.is_empty() {
        return Err(VersionError::invalid("Debian", version, "empty version"));
    }
    let (epoch, rest) = match v.split_once(':') {
        Some((epoch, rest)) => {
            if epoch.is_empty() || !epoch.bytes().all(|b| b.is_ascii_digit()) {
                return Err(VersionError::invalid(
                    "Debian",
                    version,
                    "epoch is not a number",
                ));
            }
            (epoch, rest)
        }
        None => ("0", v),
    };
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((u, r)) => (u, r),
        None => (rest, ""),
    };
    Ok(Parsed {
        epoch,
        upstream,
        revision,
    })
}

/// dpkg's character weight: `~` below the end of the string, letters below other symbols.
fn weight(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`: alternate non-digit runs (by weight) and digit runs (by value).
pub(crate) fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    while !a.is_empty() || !b.is_empty() {
        while a.first().is_some_and(|c| !c.is_ascii_digit())
            || b.first().is_some_and(|c| !c.is_ascii_digit())
        {
            let wa = weight(a.first().copied().filter(|c| !c.is_ascii_digit()));
            let wb = weight(b.first().copied().filter(|c| !c.is_ascii_digit()));
            if wa != wb {
                return wa.cmp(&wb);
            }
            if a.first().is_some_and(|c| !c.is_ascii_digit()) {
                a = &a[1..];
            }
            if b.first().is_some_and(|c| !c.is_ascii_digit()) {
                b = &b[1..];
            }
        }
        let (da, ra) = split_digit_bytes(a);
        let (db, rb) = split_digit_bytes(b);
        let r = cmp_digit_bytes(da, db);
        if r != Ordering::Equal {
            return r;
        }
        a = ra;
        b = rb;
    }
    Ordering::Equal
}

/// Compare two dpkg versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    let pa = parse(a)?;
    let pb = parse(b)?;
    Ok(cmp_digits(pa.epoch, pb.epoch)
        .then_with(|| verrevcmp(pa.upstream, pb.upstream))
        .then_with(|| verrevcmp(pa.revision, pb.revision)))
}
