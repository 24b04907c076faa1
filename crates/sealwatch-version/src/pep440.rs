//! PEP 440 (PyPI) version ordering, with the pre-PEP 440 "legacy" fallback that pip used for
//! strings PEP 440 rejects (they sort before every valid version).
//!
//! `pep440_rs` would do the PEP 440 part, but rejects the legacy strings that real package
//! histories still contain and moved into uv's tree; the ordering itself is small.

use std::cmp::Ordering;
use std::sync::LazyLock;

use regex::Regex;

use crate::numeric::{cmp_digits, strip_zeros};

/// The grammar of PEP 440's "Appendix B" (normalisation rules included).
static PEP440: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)^\s*
        v?
        (?:(?P<epoch>[0-9]+)!)?
        (?P<release>[0-9]+(?:\.[0-9]+)*)
        (?:[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?
        (?:(?:-(?P<post_n1>[0-9]+))|(?:[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?))?
        (?:[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?
        (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
        \s*$",
    )
    .unwrap_or_else(|e| unreachable!("constant regex: {e}"))
});

#[derive(Debug, Clone, PartialEq, Eq)]
enum LocalPart {
    Text(String),
    Number(String),
}

impl Ord for LocalPart {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (LocalPart::Number(a), LocalPart::Number(b)) => cmp_digits(a, b),
            (LocalPart::Number(_), LocalPart::Text(_)) => Ordering::Greater,
            (LocalPart::Text(_), LocalPart::Number(_)) => Ordering::Less,
            (LocalPart::Text(a), LocalPart::Text(b)) => a.cmp(b),
        }
    }
}

impl PartialOrd for LocalPart {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A parsed PEP 440 version; numbers are kept as digit strings without leading zeros.
#[derive(Debug, Clone)]
struct Pep440 {
    epoch: String,
    release: Vec<String>,
    /// (0 = a, 1 = b, 2 = rc, number)
    pre: Option<(u8, String)>,
    post: Option<String>,
    dev: Option<String>,
    local: Option<Vec<LocalPart>>,
}

fn parse(version: &str) -> Option<Pep440> {
    let lower = version.to_ascii_lowercase();
    let caps = PEP440.captures(&lower)?;
    let num = |name: &str| caps.name(name).map(|m| strip_zeros(m.as_str()).to_owned());
    let mut release: Vec<String> = caps
        .name("release")
        .map(|m| {
            m.as_str()
                .split('.')
                .map(|p| strip_zeros(p).to_owned())
                .collect()
        })
        .unwrap_or_default();
    // Trailing zeros do not count: 1.0 == 1.0.0.
    while release.last().is_some_and(|p| p.is_empty()) {
        release.pop();
    }
    let pre = caps.name("pre_l").map(|l| {
        let kind = match l.as_str() {
            "a" | "alpha" => 0,
            "b" | "beta" => 1,
            _ => 2,
        };
        (kind, num("pre_n").unwrap_or_default())
    });
    let post = if caps.name("post_n1").is_some() {
        num("post_n1")
    } else if caps.name("post_l").is_some() {
        Some(num("post_n2").unwrap_or_default())
    } else {
        None
    };
    let dev = caps.name("dev_l").map(|_| num("dev_n").unwrap_or_default());
    let local = caps.name("local").map(|m| {
        m.as_str()
            .split(['-', '_', '.'])
            .map(|p| {
                if p.bytes().all(|c| c.is_ascii_digit()) {
                    LocalPart::Number(strip_zeros(p).to_owned())
                } else {
                    LocalPart::Text(p.to_owned())
                }
            })
            .collect()
    });
    Some(Pep440 {
        epoch: num("epoch").unwrap_or_default(),
        release,
        pre,
        post,
        dev,
        local,
    })
}

fn cmp_release(a: &[String], b: &[String]) -> Ordering {
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).map(String::as_str).unwrap_or("");
        let y = b.get(i).map(String::as_str).unwrap_or("");
        let r = cmp_digits(x, y);
        if r != Ordering::Equal {
            return r;
        }
    }
    Ordering::Equal
}

/// Sort key of the pre-release segment: a dev release without a pre-release sorts before
/// every pre-release; a final release after all of them.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum PreKey<'a> {
    DevOnly,
    Pre(u8, NumKey<'a>),
    Final,
}

#[derive(PartialEq, Eq)]
struct NumKey<'a>(&'a str);

impl Ord for NumKey<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_digits(self.0, other.0)
    }
}

impl PartialOrd for NumKey<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn cmp_pep440(a: &Pep440, b: &Pep440) -> Ordering {
    let pre_key = |v: &'_ Pep440| -> (bool, u8, String) {
        match (&v.pre, &v.post, &v.dev) {
            (None, None, Some(_)) => (false, 0, String::new()),
            (Some((k, n)), _, _) => (true, *k, n.clone()),
            (None, _, _) => (true, 3, String::new()),
        }
    };
    let (da, ka, na) = pre_key(a);
    let (db, kb, nb) = pre_key(b);
    let key_a = if !da {
        PreKey::DevOnly
    } else if ka == 3 {
        PreKey::Final
    } else {
        PreKey::Pre(ka, NumKey(&na))
    };
    let key_b = if !db {
        PreKey::DevOnly
    } else if kb == 3 {
        PreKey::Final
    } else {
        PreKey::Pre(kb, NumKey(&nb))
    };
    cmp_digits(&a.epoch, &b.epoch)
        .then_with(|| cmp_release(&a.release, &b.release))
        .then_with(|| key_a.cmp(&key_b))
        // No post release sorts before any post release.
        .then_with(|| match (&a.post, &b.post) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => cmp_digits(x, y),
        })
        // No dev release sorts after any dev release.
        .then_with(|| match (&a.dev, &b.dev) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(x), Some(y)) => cmp_digits(x, y),
        })
        .then_with(|| match (&a.local, &b.local) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => x.cmp(y),
        })
}

/// setuptools' legacy key: numbers zero-padded to 8, words prefixed with `*`, `-` as
/// `*final-`, pre-release words mapped so that they sort before `*final`.
fn legacy_key(version: &str) -> Vec<String> {
    let lower = version.to_ascii_lowercase();
    let mut parts: Vec<String> = Vec::new();
    let mut push = |part: String, parts: &mut Vec<String>| {
        if part.starts_with('*') {
            if part.as_str() < "*final" {
                while parts.last().is_some_and(|p| p == "*final-") {
                    parts.pop();
                }
            }
            while parts.last().is_some_and(|p| p == "00000000") {
                parts.pop();
            }
        }
        parts.push(part);
    };
    let bytes = lower.as_bytes();
    let mut i = 0;
    let mut pending_other = String::new();
    let flush_other = |other: &mut String,
                       parts: &mut Vec<String>,
                       push: &mut dyn FnMut(String, &mut Vec<String>)| {
        if !other.is_empty() {
            push(format!("*{other}"), parts);
            other.clear();
        }
    };
    while i < bytes.len() {
        let c = bytes[i];
        let run_end = |pred: fn(&u8) -> bool| {
            i + bytes[i..]
                .iter()
                .position(|b| !pred(b))
                .unwrap_or(bytes.len() - i)
        };
        if c.is_ascii_digit() {
            flush_other(&mut pending_other, &mut parts, &mut push);
            let end = run_end(u8::is_ascii_digit);
            push(format!("{:0>8}", &lower[i..end]), &mut parts);
            i = end;
        } else if c.is_ascii_lowercase() {
            flush_other(&mut pending_other, &mut parts, &mut push);
            let end = run_end(u8::is_ascii_lowercase);
            let word = match &lower[i..end] {
                "pre" | "preview" | "rc" => "c",
                "dev" => "@",
                w => w,
            };
            push(format!("*{word}"), &mut parts);
            i = end;
        } else if c == b'.' || c == b'-' {
            flush_other(&mut pending_other, &mut parts, &mut push);
            if c == b'-' {
                push("*final-".to_owned(), &mut parts);
            }
            i += 1;
        } else {
            // Any other run of characters is one word of its own.
            let ch_len = lower[i..].chars().next().map_or(1, char::len_utf8);
            pending_other.push_str(&lower[i..i + ch_len]);
            i += ch_len;
        }
    }
    flush_other(&mut pending_other, &mut parts, &mut push);
    push("*final".to_owned(), &mut parts);
    parts
}

/// Compare two PyPI versions. Never fails: strings PEP 440 rejects use the legacy ordering
/// and sort before every PEP 440 version, as pip did.
pub fn compare(a: &str, b: &str) -> Ordering {
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => cmp_pep440(&x, &y),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => legacy_key(a).cmp(&legacy_key(b)),
    }
}

/// Whether `version` is a valid PEP 440 version.
pub fn is_valid(version: &str) -> bool {
    parse(version).is_some()
}
