//! Evaluation of a compiled filter against an event.

use base64::Engine as _;

use super::glob::fnmatch;
use super::{CheckNode, Const, Lhs, Node, Part, Rhs};
use crate::condition::{CmpOp, Modifier, Transformer};
use crate::event::Event;
use crate::fields::{self, FieldValue};

pub(crate) fn node(n: &Node, e: &Event) -> bool {
    match n {
        Node::And(children) => children.iter().all(|c| node(c, e)),
        Node::Or(children) => children.iter().any(|c| node(c, e)),
        Node::Not(child) => !node(child, e),
        Node::EventTypeIn(set) => set.contains(e.event_type),
        Node::Check(c) => check(c, e),
        Node::Const(b) => *b,
    }
}

/// Calls `visit` with each value of the left side until it returns true.
fn lhs_any<'e>(lhs: &Lhs, e: &'e Event, visit: &mut dyn FnMut(FieldValue<'e>) -> bool) -> bool {
    match lhs {
        Lhs::Field(f) => fields::extract_with(e, f, visit),
        Lhs::Custom(c) => (c.extract)(e).is_some_and(visit),
        Lhs::Transform(t, inner) => {
            lhs_any(inner, e, &mut |v| transform(*t, v).is_some_and(&mut *visit))
        }
        Lhs::Joined { sep, parts } => {
            let mut out = String::new();
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    out.push_str(sep);
                }
                match part {
                    Part::Literal(text) => out.push_str(text),
                    Part::Value(lhs) => {
                        let found = lhs_any(lhs, e, &mut |v| {
                            out.push_str(&v.to_string());
                            true
                        });
                        if !found {
                            return false;
                        }
                    }
                }
            }
            visit(FieldValue::Owned(out))
        }
    }
}

fn transform(t: Transformer, v: FieldValue<'_>) -> Option<FieldValue<'_>> {
    use FieldValue as V;
    Some(match (t, v) {
        (Transformer::Val, v) => v,
        (Transformer::ToLower, V::Str(s)) => V::Owned(s.to_ascii_lowercase()),
        (Transformer::ToLower, V::Owned(s)) => V::Owned(s.to_ascii_lowercase()),
        (Transformer::ToUpper, V::Str(s)) => V::Owned(s.to_ascii_uppercase()),
        (Transformer::ToUpper, V::Owned(s)) => V::Owned(s.to_ascii_uppercase()),
        (Transformer::Basename, V::Str(s)) => V::Str(basename(s)),
        (Transformer::Basename, V::Owned(s)) => V::Owned(basename(&s).to_owned()),
        (Transformer::B64, V::Str(s)) => V::Owned(b64_decode(s.as_bytes())?),
        (Transformer::B64, V::Owned(s)) => V::Owned(b64_decode(s.as_bytes())?),
        (Transformer::B64, V::Bytes(b)) => V::Owned(b64_decode(b)?),
        (Transformer::Len, V::Str(s)) => V::Uint(s.len() as u64),
        (Transformer::Len, V::Owned(s)) => V::Uint(s.len() as u64),
        (Transformer::Len, V::Bytes(b)) => V::Uint(b.len() as u64),
        _ => return None,
    })
}

fn basename(s: &str) -> &str {
    match s.rfind('/') {
        Some(i) => &s[i + 1..],
        None => s,
    }
}

fn b64_decode(b: &[u8]) -> Option<String> {
    base64::engine::general_purpose::STANDARD
        .decode(b)
        .ok()
        .map(|d| String::from_utf8_lossy(&d).into_owned())
}

/// A modifier's verdict. As libsinsp, an empty list matches nothing, even with `allof`.
fn count_matches(m: Modifier, total: usize, matched: usize) -> bool {
    if total == 0 {
        return false;
    }
    match m {
        Modifier::OneOf => matched == 1,
        Modifier::AnyOf => matched >= 1,
        Modifier::AllOf => matched == total,
    }
}

fn check(c: &CheckNode, e: &Event) -> bool {
    match (&c.left, &c.rhs) {
        (_, Rhs::None) => lhs_any(&c.left, e, &mut |_| true),
        // Most checks read one plain value: no visitor needed.
        (Lhs::Field(f), _) if !fields::is_multi_valued(f) => {
            fields::single_value(e, f).is_some_and(|v| value_matches(c, &v, e))
        }
        _ => lhs_any(&c.left, e, &mut |v| value_matches(c, &v, e)),
    }
}

/// Whether one extracted left-hand value satisfies the check.
fn value_matches(c: &CheckNode, v: &FieldValue<'_>, e: &Event) -> bool {
    let op = c.op;
    match &c.rhs {
        Rhs::None => true,
        Rhs::Values(consts) => match c.modifier {
            None => consts.iter().any(|k| cmp_const(op, v, k)),
            Some(m) => {
                let n = consts.iter().filter(|k| cmp_const(op, v, k)).count();
                count_matches(m, consts.len(), n)
            }
        },
        Rhs::StrSet(set) => v.as_str().is_some_and(|s| set.contains(s)),
        Rhs::Lowered(needle) => v
            .as_str()
            .is_some_and(|s| icontains(s.as_bytes(), needle.as_bytes())),
        Rhs::Regex(re) => v.as_str().is_some_and(|s| re.is_match(s)),
        Rhs::Regexes(res) => {
            let m = c.modifier.unwrap_or(Modifier::AnyOf);
            let Some(s) = v.as_str() else { return false };
            let n = res.iter().filter(|re| re.is_match(s)).count();
            count_matches(m, res.len(), n)
        }
        Rhs::Field(right) => lhs_any(right, e, &mut |r| cmp_values(op, v, &r)),
    }
}

/// ASCII case-insensitive substring search (libsinsp folds ASCII only), without allocating.
fn icontains(hay: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    if needle.len() > hay.len() {
        return false;
    }
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Path-prefix match by components: `/srv/app` matches `/srv/app` and `/srv/app/x`, not
/// `/srv/app_old`; a component may be a glob.
fn pmatch(prefix: &str, path: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() {
        return path.starts_with('/');
    }
    let mut path_parts = path.split('/');
    for pp in prefix.split('/') {
        let Some(part) = path_parts.next() else {
            return false;
        };
        if pp != part && !fnmatch(pp.as_bytes(), part.as_bytes(), false) {
            return false;
        }
    }
    true
}

fn cmp_ord<T: PartialOrd>(op: CmpOp, a: T, b: T) -> bool {
    match op {
        CmpOp::Eq | CmpOp::EqEq | CmpOp::In | CmpOp::Intersects => a == b,
        CmpOp::Ne => a != b,
        CmpOp::Lt => a < b,
        CmpOp::Le => a <= b,
        CmpOp::Gt => a > b,
        CmpOp::Ge => a >= b,
        _ => false,
    }
}

fn cmp_str(op: CmpOp, s: &str, p: &str) -> bool {
    match op {
        CmpOp::Contains => s.contains(p),
        CmpOp::IContains => icontains(s.as_bytes(), p.as_bytes()),
        CmpOp::StartsWith => s.starts_with(p),
        CmpOp::EndsWith => s.ends_with(p),
        CmpOp::Glob => fnmatch(p.as_bytes(), s.as_bytes(), false),
        CmpOp::IGlob => fnmatch(p.as_bytes(), s.as_bytes(), true),
        CmpOp::PMatch => pmatch(p, s),
        CmpOp::BContains => cmp_bytes(op, s.as_bytes(), p.as_bytes()),
        CmpOp::BStartsWith => s.as_bytes().starts_with(p.as_bytes()),
        _ => cmp_ord(op, s, p),
    }
}

fn cmp_bytes(op: CmpOp, b: &[u8], p: &[u8]) -> bool {
    match op {
        CmpOp::Contains | CmpOp::BContains => {
            p.is_empty() || (p.len() <= b.len() && b.windows(p.len()).any(|w| w == p))
        }
        CmpOp::StartsWith | CmpOp::BStartsWith => b.starts_with(p),
        CmpOp::EndsWith => b.ends_with(p),
        _ => cmp_ord(op, b, p),
    }
}

fn cmp_const(op: CmpOp, v: &FieldValue<'_>, k: &Const) -> bool {
    use FieldValue as V;
    match (v, k) {
        (V::Str(s), Const::Str(p)) => cmp_str(op, s, p),
        (V::Owned(s), Const::Str(p)) => cmp_str(op, s, p),
        (V::Bytes(b), Const::Bytes(p)) => cmp_bytes(op, b, p),
        (V::Str(s), Const::Bytes(p)) => cmp_bytes(op, s.as_bytes(), p),
        (V::Owned(s), Const::Bytes(p)) => cmp_bytes(op, s.as_bytes(), p),
        (V::Int(a), Const::Int(b)) => cmp_ord(op, *a, *b),
        (V::Uint(a), Const::Uint(b)) => cmp_ord(op, *a, *b),
        (V::Int(a), Const::Uint(b)) => cmp_ord(op, i128::from(*a), i128::from(*b)),
        (V::Uint(a), Const::Int(b)) => cmp_ord(op, i128::from(*a), i128::from(*b)),
        (V::Double(a), Const::Double(b)) => cmp_ord(op, *a, *b),
        (V::Uint(a), Const::Double(b)) => cmp_ord(op, *a as f64, *b),
        (V::Int(a), Const::Double(b)) => cmp_ord(op, *a as f64, *b),
        (V::Bool(a), Const::Bool(b)) => cmp_ord(op, *a, *b),
        (V::Ip(a), Const::Ip(b)) => cmp_ord(op, a, b),
        (V::Ip(a), Const::Net(n)) => match op {
            CmpOp::Ne => !n.contains(*a),
            _ => n.contains(*a),
        },
        // A numeric field compared with a string constant (evt.rawarg).
        (V::Int(_) | V::Uint(_), Const::Str(p)) => cmp_str(op, &v.to_string(), p),
        _ => false,
    }
}

fn cmp_values(op: CmpOp, l: &FieldValue<'_>, r: &FieldValue<'_>) -> bool {
    use FieldValue as V;
    match (l, r) {
        (V::Str(_) | V::Owned(_), V::Str(_) | V::Owned(_)) => match (l.as_str(), r.as_str()) {
            (Some(a), Some(b)) => cmp_str(op, a, b),
            _ => false,
        },
        (V::Bytes(a), V::Bytes(b)) => cmp_bytes(op, a, b),
        (V::Int(a), V::Int(b)) => cmp_ord(op, *a, *b),
        (V::Uint(a), V::Uint(b)) => cmp_ord(op, *a, *b),
        (V::Int(a), V::Uint(b)) => cmp_ord(op, i128::from(*a), i128::from(*b)),
        (V::Uint(a), V::Int(b)) => cmp_ord(op, i128::from(*a), i128::from(*b)),
        (V::Double(a), V::Double(b)) => cmp_ord(op, *a, *b),
        (V::Bool(a), V::Bool(b)) => cmp_ord(op, *a, *b),
        (V::Ip(a), V::Ip(b)) => cmp_ord(op, a, b),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::{icontains, pmatch};

    #[test]
    fn pmatch_cases() {
        for (prefix, path, expect) in [
            ("/srv/app", "/srv/app", true),
            ("/srv/app", "/srv/app/x", true),
            ("/srv/app", "/srv/app_old", false),
            ("/srv/app/", "/srv/app/x", true),
            ("/srv/*/bin", "/srv/a/bin/ls", true),
            ("/srv/*/bin", "/srv/a/lib/ls", false),
            ("/etc", "/et", false),
            ("/", "/anything", true),
        ] {
            assert_eq!(pmatch(prefix, path), expect, "{prefix} pmatch {path}");
        }
    }

    #[test]
    fn icontains_cases() {
        assert!(icontains(b"Hello World", b"o wor"));
        assert!(icontains(b"hello world", b"O WOR"));
        assert!(!icontains(b"Hello", b"hellox"));
        assert!(icontains(b"x", b""));
    }
}
