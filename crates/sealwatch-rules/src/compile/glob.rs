//! `fnmatch(3)` with flags 0 (and `FNM_CASEFOLD` for `iglob`): `*` and `?` also match `/`,
//! bracket expressions with `!`/`^` negation and ranges, backslash escapes. Allocation-free.

fn fold(c: u8, casefold: bool) -> u8 {
    if casefold {
        c.to_ascii_lowercase()
    } else {
        c
    }
}

/// Matches a bracket expression starting after `[` at `p[0..]`. Returns the match result and the
/// length of the expression after `[` (including `]`), or `None` if the bracket is not closed
/// (then `[` is an ordinary character).
fn bracket(p: &[u8], c: u8, casefold: bool) -> Option<(bool, usize)> {
    let mut i = 0;
    let negate = matches!(p.first(), Some(b'!' | b'^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let &pc = p.get(i)?;
        if pc == b']' && !first {
            i += 1;
            break;
        }
        first = false;
        let lo = if pc == b'\\' {
            i += 1;
            *p.get(i)?
        } else {
            pc
        };
        i += 1;
        if p.get(i) == Some(&b'-') && p.get(i + 1).is_some_and(|&n| n != b']') {
            let mut hi = *p.get(i + 1)?;
            i += 2;
            if hi == b'\\' {
                hi = *p.get(i)?;
                i += 1;
            }
            let (lo, hi, c) = (fold(lo, casefold), fold(hi, casefold), fold(c, casefold));
            if lo <= c && c <= hi {
                matched = true;
            }
        } else if fold(lo, casefold) == fold(c, casefold) {
            matched = true;
        }
    }
    Some((matched != negate, i))
}

/// Whether `text` matches the glob `pattern`.
pub fn fnmatch(pattern: &[u8], text: &[u8], casefold: bool) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    // Backtracking point for the last `*`: (pattern index after it, text index it resumes at).
    let mut star: Option<(usize, usize)> = None;
    loop {
        // How far a successful match of one pattern element advances (pattern, text).
        let step = match pattern.get(p) {
            None if t == text.len() => return true,
            None => None,
            Some(b'*') => {
                star = Some((p + 1, t));
                p += 1;
                continue;
            }
            Some(&pc) => match text.get(t).copied() {
                None => None,
                Some(c) => match pc {
                    b'?' => Some((1, 1)),
                    b'[' => match bracket(pattern.get(p + 1..).unwrap_or(&[]), c, casefold) {
                        Some((true, len)) => Some((1 + len, 1)),
                        Some((false, _)) => None,
                        // An unclosed bracket is an ordinary character.
                        None => (c == b'[').then_some((1, 1)),
                    },
                    b'\\' => match pattern.get(p + 1) {
                        Some(&escaped) => {
                            (fold(escaped, casefold) == fold(c, casefold)).then_some((2, 1))
                        }
                        None => (c == b'\\').then_some((1, 1)),
                    },
                    _ => (fold(pc, casefold) == fold(c, casefold)).then_some((1, 1)),
                },
            },
        };
        if let Some((dp, dt)) = step {
            p += dp;
            t += dt;
            continue;
        }
        // Mismatch: let the last `*` swallow one more character.
        match star {
            Some((sp, st)) if st < text.len() => {
                star = Some((sp, st + 1));
                p = sp;
                t = st + 1;
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fnmatch;

    fn check(pattern: &str, text: &str, casefold: bool, expect: bool) {
        assert_eq!(
            fnmatch(pattern.as_bytes(), text.as_bytes(), casefold),
            expect,
            "fnmatch({pattern:?}, {text:?}, casefold={casefold})"
        );
    }

    #[test]
    fn glob_cases() {
        for (p, t, fold, expect) in [
            ("*", "", false, true),
            ("*", "/etc/passwd", false, true),
            ("/etc/*", "/etc/sub/file", false, true),
            ("/etc/?asswd", "/etc/passwd", false, true),
            ("/etc/?asswd", "/etc/asswd", false, false),
            ("*.log", "/var/log/a.log", false, true),
            ("*.log", "/var/log/a.log.1", false, false),
            ("/proc*", "/proc", false, true),
            ("/proc*", "/pro", false, false),
            ("[abc]at", "bat", false, true),
            ("[!abc]at", "bat", false, false),
            ("[^abc]at", "rat", false, true),
            ("[a-c]at", "cat", false, true),
            ("[a-c]at", "dat", false, false),
            ("\\*", "*", false, true),
            ("\\*", "a", false, false),
            ("[", "[", false, true),
            ("ABC*", "abcdef", true, true),
            ("ABC*", "abcdef", false, false),
            ("*a*b*c*", "xxaxxbxxcxx", false, true),
            ("*a*b*c*", "xxaxxcxxbxx", false, false),
            ("", "", false, true),
            ("", "a", false, false),
        ] {
            check(p, t, fold, expect);
        }
    }
}
