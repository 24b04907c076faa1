//! Packagist (Composer) ordering: PHP's `version_compare` over the canonical form.
//!
//! The version (a leading `v` dropped) is split into digit runs, letter runs and single other
//! characters; `.`, `-`, `_`, `+` only separate. Numbers compare by value; words by their PHP
//! "special form" rank `dev < alpha = a < beta = b < RC = rc < # < pl = p`, matched by prefix
//! and case-sensitively as PHP does (so `ALPHA` and `BETA` are unknown words and equal), unknown
//! words below all; a number ranks like `#`. When one version runs out, its
//! missing parts rank like `#` too (so `1.0 < 1.0.1`, `1.0-dev < 1.0`, `1.0 < 1.0pl1`).

use std::cmp::Ordering;

use crate::numeric::cmp_digits;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Number(String),
    Word(String),
}

fn parts(version: &str) -> Vec<Part> {
    let v = version.trim();
    let v = v.strip_prefix(['v', 'V']).unwrap_or(v);
    let mut out = Vec::new();
    let mut chars = v.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if matches!(c, '.' | '-' | '_' | '+') {
            continue;
        }
        let digit = c.is_ascii_digit();
        let alpha = c.is_alphabetic();
        let mut end = i + c.len_utf8();
        if digit || alpha {
            while let Some(&(j, d)) = chars.peek() {
                if (digit && d.is_ascii_digit()) || (alpha && d.is_alphabetic()) {
                    end = j + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
        }
        let text = &v[i..end];
        out.push(if digit {
            Part::Number(text.to_owned())
        } else {
            Part::Word(text.to_owned())
        });
    }
    out
}

/// PHP's special-form rank; `#` is what a number counts as against a word.
fn rank(word: &str) -> i32 {
    const FORMS: [(&str, i32); 10] = [
        ("dev", 0),
        ("alpha", 1),
        ("a", 1),
        ("beta", 2),
        ("b", 2),
        ("RC", 3),
        ("rc", 3),
        ("#", 4),
        ("pl", 5),
        ("p", 5),
    ];
    FORMS
        .iter()
        .find(|(name, _)| word.starts_with(name))
        .map_or(-6, |(_, r)| *r)
}

const NUMBER_RANK: i32 = 4;

fn part_rank(p: &Part) -> i32 {
    match p {
        Part::Number(_) => NUMBER_RANK,
        Part::Word(w) => rank(w),
    }
}

/// Compare two Composer versions. Every string has an ordering.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (x, y) = (parts(a), parts(b));
    for i in 0..x.len().max(y.len()) {
        let r = match (x.get(i), y.get(i)) {
            (Some(Part::Number(p)), Some(Part::Number(q))) => cmp_digits(p, q),
            (Some(Part::Number(_)), None) => Ordering::Greater,
            (None, Some(Part::Number(_))) => Ordering::Less,
            (Some(p), Some(q)) => part_rank(p).cmp(&part_rank(q)),
            (Some(p), None) => part_rank(p).cmp(&NUMBER_RANK),
            (None, Some(q)) => NUMBER_RANK.cmp(&part_rank(q)),
            (None, None) => Ordering::Equal,
        };
        if r != Ordering::Equal {
            return r;
        }
    }
    Ordering::Equal
}
