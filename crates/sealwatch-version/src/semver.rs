//! SemVer 2.0 precedence and its relatives: OSV `SEMVER` ranges, npm, crates.io, Hex, Go
//! (with `v`, pseudo-versions, `+incompatible`, and the `stdlib` module's `go1.x` spellings),
//! NuGet (four numeric parts, case-insensitive labels) and Pub (build metadata counts).
//!
//! The `semver` crate is strict Cargo SemVer (exactly three parts, no `v`), while advisories
//! and installed packages carry `v1.2`, `1.0.0.1`, oversized numbers and the like; this parser
//! is lenient in the way OSV's own tooling is and reads the rest as build metadata.

use std::cmp::Ordering;

use crate::numeric::cmp_digits;
use crate::VersionError;

/// Which member of the SemVer family is being compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavor {
    SemVer,
    NuGet,
    Pub,
}

struct Parsed<'a> {
    release: Vec<&'a str>,
    pre: Option<&'a str>,
    build: Option<&'a str>,
}

fn parse<'a>(
    ecosystem: &'static str,
    version: &'a str,
    max_parts: usize,
) -> Result<Parsed<'a>, VersionError> {
    let v = version.trim();
    let v = v.strip_prefix(['v', 'V']).unwrap_or(v);
    let mut release = Vec::new();
    let mut rest = v;
    loop {
        let (digits, after) = crate::numeric::split_digits(rest);
        if digits.is_empty() {
            if release.is_empty() {
                return Err(VersionError::invalid(
                    ecosystem,
                    version,
                    "does not start with a number",
                ));
            }
            break;
        }
        release.push(digits);
        rest = after;
        if release.len() == max_parts {
            break;
        }
        match rest.strip_prefix('.') {
            Some(after) if after.starts_with(|c: char| c.is_ascii_digit()) => rest = after,
            _ => break,
        }
    }
    let (pre, build) = if let Some(after) = rest.strip_prefix('-') {
        match after.split_once('+') {
            Some((pre, build)) => (Some(pre), Some(build)),
            None => (Some(after), None),
        }
    } else if let Some(build) = rest.strip_prefix('+') {
        (None, Some(build))
    } else if rest.is_empty() {
        (None, None)
    } else {
        // Anything else after the numeric parts (`1.1.3.4.5`) is kept as build metadata.
        (None, Some(rest))
    };
    Ok(Parsed {
        release,
        pre,
        build,
    })
}

fn cmp_identifiers(a: &str, b: &str, ignore_case: bool) -> Ordering {
    let mut ia = a.split('.');
    let mut ib = b.split('.');
    loop {
        match (ia.next(), ib.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let nx = !x.is_empty() && x.bytes().all(|c| c.is_ascii_digit());
                let ny = !y.is_empty() && y.bytes().all(|c| c.is_ascii_digit());
                let r = match (nx, ny) {
                    (true, true) => cmp_digits(x, y),
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                    (false, false) if ignore_case => {
                        x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase())
                    }
                    (false, false) => x.cmp(y),
                };
                if r != Ordering::Equal {
                    return r;
                }
            }
        }
    }
}

pub(crate) fn compare_flavor(flavor: Flavor, a: &str, b: &str) -> Result<Ordering, VersionError> {
    let (name, parts) = match flavor {
        Flavor::SemVer => ("SemVer", 3),
        Flavor::NuGet => ("NuGet", 4),
        Flavor::Pub => ("Pub", 3),
    };
    let pa = parse(name, a, parts)?;
    let pb = parse(name, b, parts)?;
    let len = pa.release.len().max(pb.release.len());
    for i in 0..len {
        let x = pa.release.get(i).copied().unwrap_or("0");
        let y = pb.release.get(i).copied().unwrap_or("0");
        let r = cmp_digits(x, y);
        if r != Ordering::Equal {
            return Ok(r);
        }
    }
    let ignore_case = flavor == Flavor::NuGet;
    let r = match (pa.pre, pb.pre) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => cmp_identifiers(x, y, ignore_case),
    };
    if r != Ordering::Equal || flavor != Flavor::Pub {
        return Ok(r);
    }
    // Pub orders build metadata too: none before any, then like pre-release identifiers.
    Ok(match (pa.build, pb.build) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => cmp_identifiers(x, y, false),
    })
}

/// Compare two SemVer versions (lenient: optional `v`, missing parts are 0, build ignored).
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    compare_flavor(Flavor::SemVer, a, b)
}

/// Rewrite a Go toolchain version as OSV's `stdlib` package spells it: `go1.21rc2` ->
/// `1.21.0-rc.2`, `go1.20` -> `1.20.0`, `go1.19.3` -> `1.19.3`. Other strings are returned
/// unchanged (Trivy already reports `v1.24.3`, which the SemVer parser reads).
pub fn go_toolchain_to_semver(version: &str) -> String {
    let Some(rest) = version.strip_prefix("go") else {
        return version.to_owned();
    };
    let split = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (numbers, pre) = rest.split_at(split);
    let mut parts: Vec<&str> = numbers.split('.').filter(|p| !p.is_empty()).collect();
    while parts.len() < 3 {
        parts.push("0");
    }
    let mut out = parts.join(".");
    for label in ["beta", "rc"] {
        if let Some(n) = pre.strip_prefix(label) {
            out.push_str(&format!("-{label}.{n}"));
            return out;
        }
    }
    if !pre.is_empty() {
        out.push('-');
        out.push_str(pre);
    }
    out
}

/// Compare two Go module versions (SemVer with `v`; pseudo-versions and `+incompatible` are
/// pre-release and build metadata). `go1.x` toolchain spellings are accepted too.
pub fn compare_go(a: &str, b: &str) -> Result<Ordering, VersionError> {
    compare(&go_toolchain_to_semver(a), &go_toolchain_to_semver(b))
}
