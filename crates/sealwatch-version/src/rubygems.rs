//! RubyGems (`Gem::Version`) ordering.
//!
//! Segments are runs of digits (numbers) or letters (strings); `-` means `.pre.`. Trailing
//! zeros of the numeric part and of the part after the first string are dropped; a string
//! segment sorts before a number (it marks a pre-release).

use std::cmp::Ordering;

use crate::numeric::{cmp_digits, strip_zeros};
use crate::VersionError;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Number(String),
    Text(String),
}

fn segments(version: &str) -> Vec<Segment> {
    let v = version.trim().replace('-', ".pre.");
    let mut out = Vec::new();
    let bytes = v.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let class = |b: &u8| {
            if b.is_ascii_digit() {
                1
            } else if b.is_ascii_alphabetic() {
                2
            } else {
                0
            }
        };
        let k = class(&c);
        if k == 0 {
            i += 1;
            continue;
        }
        let end = i + bytes[i..]
            .iter()
            .position(|b| class(b) != k)
            .unwrap_or(bytes.len() - i);
        let run = &v[i..end];
        out.push(if k == 1 {
            Segment::Number(strip_zeros(run).to_owned())
        } else {
            Segment::Text(run.to_owned())
        });
        i = end;
    }
    out
}

/// Drop trailing zeros from the numeric prefix and from the rest, as `canonical_segments` does.
fn canonical(segs: Vec<Segment>) -> Vec<Segment> {
    let split = segs
        .iter()
        .position(|s| matches!(s, Segment::Text(_)))
        .unwrap_or(segs.len());
    let mut numeric = segs[..split].to_vec();
    let mut rest = segs[split..].to_vec();
    let is_zero = |s: &Segment| matches!(s, Segment::Number(n) if n.is_empty());
    while numeric.last().is_some_and(is_zero) {
        numeric.pop();
    }
    while rest.last().is_some_and(is_zero) {
        rest.pop();
    }
    numeric.extend(rest);
    numeric
}

/// Compare two RubyGems versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    for v in [a, b] {
        if !v.trim().starts_with(|c: char| c.is_ascii_digit()) {
            return Err(VersionError::invalid(
                "RubyGems",
                v,
                "does not start with a number",
            ));
        }
    }
    if a.trim() == b.trim() {
        return Ok(Ordering::Equal);
    }
    let (x, y) = (canonical(segments(a)), canonical(segments(b)));
    let zero = Segment::Number(String::new());
    for i in 0..x.len().max(y.len()) {
        let l = x.get(i).unwrap_or(&zero);
        let r = y.get(i).unwrap_or(&zero);
        let ord = match (l, r) {
            (Segment::Number(p), Segment::Number(q)) => cmp_digits(p, q),
            (Segment::Text(_), Segment::Number(_)) => Ordering::Less,
            (Segment::Number(_), Segment::Text(_)) => Ordering::Greater,
            (Segment::Text(p), Segment::Text(q)) => p.cmp(q),
        };
        if ord != Ordering::Equal {
            return Ok(ord);
        }
    }
    Ok(Ordering::Equal)
}
