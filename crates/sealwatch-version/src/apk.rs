//! Alpine (apk) version ordering, as apk-tools 3 defines it.
//!
//! Grammar: `digit{.digit}...{letter}{_suffix{number}}...{~hash}{-r number}`. Versions are
//! compared token by token; a digit group after the first that starts with `0` compares as a
//! string. A version that breaks the grammar is compared up to the point where it breaks, and
//! the broken side then sorts lower than anything that continues validly; this is what
//! apk-tools does (it never refuses to compare), so sealwatch does the same and exposes
//! [`is_valid`] separately.
//!
//! One deliberate extension: a number right after the letter (`6.6.2p1`) is read as a further
//! digit group, as apk-tools 2.x did. apk-tools 3 calls such versions invalid and would order
//! `6.0.2p1-r0` equal to `6.0.2p1-r8`, but real Alpine package histories (openssh before 2015)
//! carry them, and matching them against fixes must see the revision. [`is_valid`] still
//! follows apk-tools 3. No crate implements this (the one published wraps GPL C code), so
//! it is written here and tested against apk-tools' own vectors.

use std::cmp::Ordering;

use crate::numeric::cmp_digits;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    InitialDigit,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    CommitHash,
    RevisionNo,
    End,
    Invalid,
}

/// Pre-release suffixes sort below "no suffix", the others above it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Suffix {
    Alpha,
    Beta,
    Pre,
    Rc,
    None,
    Cvs,
    Svn,
    Git,
    Hg,
    P,
}

fn suffix_value(s: &str) -> Option<Suffix> {
    Some(match s {
        "alpha" => Suffix::Alpha,
        "beta" => Suffix::Beta,
        "pre" => Suffix::Pre,
        "rc" => Suffix::Rc,
        "cvs" => Suffix::Cvs,
        "svn" => Suffix::Svn,
        "git" => Suffix::Git,
        "hg" => Suffix::Hg,
        "p" => Suffix::P,
        _ => return None,
    })
}

struct Tokens<'a> {
    /// Accept a number right after the letter (`6.6.2p1`), as apk-tools 2.x did.
    lenient: bool,
    rest: &'a str,
    kind: Kind,
    value: &'a str,
    suffix: Suffix,
}

impl<'a> Tokens<'a> {
    fn first(version: &'a str, lenient: bool) -> Self {
        let mut t = Tokens {
            lenient,
            rest: version,
            kind: Kind::InitialDigit,
            value: "",
            suffix: Suffix::None,
        };
        t.take_digits();
        t
    }

    fn take_digits(&mut self) {
        let (digits, rest) = crate::numeric::split_digits(self.rest);
        self.value = digits;
        self.rest = rest;
        if digits.is_empty() {
            self.kind = Kind::Invalid;
        }
    }

    fn take_while(&mut self, pred: impl Fn(u8) -> bool) {
        let end = self
            .rest
            .bytes()
            .position(|b| !pred(b))
            .unwrap_or(self.rest.len());
        let (value, rest) = self.rest.split_at(end);
        self.value = value;
        self.rest = rest;
    }

    fn next(&mut self) {
        let Some(&first) = self.rest.as_bytes().first() else {
            self.kind = Kind::End;
            return;
        };
        match first {
            b'a'..=b'z' => {
                if self.kind > Kind::Digit {
                    return self.invalid();
                }
                let (value, rest) = self.rest.split_at(1);
                self.value = value;
                self.rest = rest;
                self.kind = Kind::Letter;
            }
            b'.' | b'0'..=b'9' => {
                if first == b'.' {
                    if self.kind > Kind::Digit {
                        return self.invalid();
                    }
                    self.rest = &self.rest[1..];
                }
                self.kind = match self.kind {
                    Kind::InitialDigit | Kind::Digit => Kind::Digit,
                    Kind::Letter if self.lenient && first != b'.' => Kind::Digit,
                    Kind::Suffix => Kind::SuffixNo,
                    _ => return self.invalid(),
                };
                self.take_digits();
            }
            b'_' => {
                if self.kind > Kind::SuffixNo {
                    return self.invalid();
                }
                self.rest = &self.rest[1..];
                self.take_while(|b| b.is_ascii_lowercase());
                match suffix_value(self.value) {
                    Some(s) => {
                        self.suffix = s;
                        self.kind = Kind::Suffix;
                    }
                    None => self.invalid(),
                }
            }
            b'~' => {
                if self.kind >= Kind::CommitHash {
                    return self.invalid();
                }
                self.rest = &self.rest[1..];
                self.take_while(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                if self.value.is_empty() {
                    return self.invalid();
                }
                self.kind = Kind::CommitHash;
            }
            b'-' => {
                if self.kind >= Kind::RevisionNo {
                    return self.invalid();
                }
                match self.rest.strip_prefix("-r") {
                    Some(rest) => {
                        self.rest = rest;
                        self.kind = Kind::RevisionNo;
                        self.take_digits();
                    }
                    None => self.invalid(),
                }
            }
            _ => self.invalid(),
        }
    }

    fn invalid(&mut self) {
        self.kind = Kind::Invalid;
    }
}

fn token_cmp(a: &Tokens<'_>, b: &Tokens<'_>) -> Ordering {
    match a.kind {
        Kind::Digit if a.value.starts_with('0') || b.value.starts_with('0') => a.value.cmp(b.value),
        Kind::Digit | Kind::InitialDigit | Kind::SuffixNo | Kind::RevisionNo => {
            cmp_digits(a.value, b.value)
        }
        Kind::Letter => a.value.cmp(b.value),
        Kind::Suffix => a.suffix.cmp(&b.suffix),
        _ => a.value.cmp(b.value),
    }
}

/// Compare two apk versions. Never fails: see the module docs for invalid versions.
pub fn compare(a: &str, b: &str) -> Ordering {
    compare_fuzzy(a, b, false)
}

/// apk's fuzzy match (`~` operator): `a` matches when `b` is a token-wise prefix of it.
pub fn fuzzy_matches(a: &str, b: &str) -> bool {
    compare_fuzzy(a, b, true) == Ordering::Equal
}

fn compare_fuzzy(a: &str, b: &str, fuzzy: bool) -> Ordering {
    let mut ta = Tokens::first(a, true);
    let mut tb = Tokens::first(b, true);
    while ta.kind == tb.kind && ta.kind < Kind::End {
        let r = token_cmp(&ta, &tb);
        if r != Ordering::Equal {
            return r;
        }
        ta.next();
        tb.next();
    }
    if ta.kind == tb.kind || (fuzzy && tb.kind == Kind::End) {
        return Ordering::Equal;
    }
    // Equal so far: the longer version is greater unless it continues with a pre-release suffix.
    if ta.kind == Kind::Suffix && ta.suffix < Suffix::None {
        return Ordering::Less;
    }
    if tb.kind == Kind::Suffix && tb.suffix < Suffix::None {
        return Ordering::Greater;
    }
    tb.kind.cmp(&ta.kind)
}

/// Whether `version` follows apk's version grammar.
pub fn is_valid(version: &str) -> bool {
    let mut t = Tokens::first(version, false);
    while t.kind < Kind::End {
        t.next();
    }
    t.kind == Kind::End
}
