//! Text-level expansion Falco does before parsing a condition: lists (including lists of lists)
//! and exceptions. Macros are resolved later, on the parsed condition.

use super::collector::LIST_OPERATORS;
use super::model::{ExceptionEntry, ExceptionInfo, ListInfo};

/// Quote an item containing a space, unless it is already quoted (Falco's `quote_item`).
pub fn quote_item(item: &str) -> String {
    if item.contains(' ') && !item.starts_with('"') && !item.starts_with('\'') {
        format!("\"{item}\"")
    } else {
        item.to_string()
    }
}

/// A list with the earlier lists its items name expanded in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpandedList {
    pub name: String,
    pub items: Vec<String>,
}

/// Expand list references inside lists. Only lists defined before (by index) the referencing
/// list's last definition are expanded; other items stay literal. Returns the expanded lists and,
/// for each list, whether another list used it.
pub fn expand_lists(lists: &[ListInfo]) -> (Vec<ExpandedList>, Vec<bool>) {
    let mut used = vec![false; lists.len()];
    let mut out = Vec::with_capacity(lists.len());
    for list in lists {
        let mut items = Vec::with_capacity(list.items.len());
        for item in &list.items {
            let referenced = lists
                .iter()
                .position(|l| &l.name == item && l.index < list.visibility);
            match referenced.and_then(|i| lists.get(i).map(|l| (i, l))) {
                Some((i, l)) => {
                    if let Some(u) = used.get_mut(i) {
                        *u = true;
                    }
                    items.extend(l.items.iter().cloned());
                }
                None => items.push(item.clone()),
            }
        }
        out.push(ExpandedList {
            name: list.name.clone(),
            items,
        });
    }
    (out, used)
}

const BLANKS: &[u8] = b" \t\n\r";

fn is_delim(b: u8) -> bool {
    BLANKS.contains(&b) || matches!(b, b'(' | b')' | b',' | b'=')
}

/// Replace every delimited occurrence of the list's name by its comma-joined items
/// (Falco's `resolve_list`). Returns whether the list was used.
pub fn resolve_list(condition: &mut String, list: &ExpandedList) -> bool {
    let name = list.name.as_str();
    if name.is_empty() {
        return false;
    }
    let mut used = false;
    let mut search_from = 0;
    while let Some(found) = condition.get(search_from..).and_then(|s| s.find(name)) {
        let start = search_from + found;
        let end = start + name.len();
        let bytes = condition.as_bytes();
        let before_ok = start == 0 || bytes.get(start - 1).copied().is_some_and(is_delim);
        let after_ok = end >= bytes.len() || bytes.get(end).copied().is_some_and(is_delim);
        if !(before_ok && after_ok) {
            search_from = start + 1;
            continue;
        }
        let mut s = start;
        let mut e = end;
        while s > 0 && bytes.get(s - 1).is_some_and(|b| BLANKS.contains(b)) {
            s -= 1;
        }
        while e < bytes.len() && bytes.get(e).is_some_and(|b| BLANKS.contains(b)) {
            e += 1;
        }
        let sub: Vec<String> = list.items.iter().map(|i| quote_item(i)).collect();
        let sub = sub.join(", ");
        if sub.is_empty() {
            // An empty list takes a neighbouring comma with it, so `(a, empty_list)` stays valid.
            if s > 0 && bytes.get(s - 1) == Some(&b',') {
                s -= 1;
            } else if bytes.get(e) == Some(&b',') {
                e += 1;
            }
        }
        let mut replaced = String::with_capacity(condition.len() + sub.len() + 2);
        if s > 0 {
            replaced.push_str(condition.get(..s).unwrap_or_default());
            replaced.push(' ');
        }
        let resume = replaced.len() + sub.len() + 1;
        replaced.push_str(&sub);
        replaced.push(' ');
        replaced.push_str(condition.get(e..).unwrap_or_default());
        *condition = replaced;
        search_from = resume.min(condition.len());
        used = true;
    }
    used
}

fn entry_text(entry: &ExceptionEntry, comp: &str) -> String {
    match entry {
        ExceptionEntry::List(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|i| match i {
                    ExceptionEntry::Item(s) => quote_item(s),
                    nested @ ExceptionEntry::List(_) => entry_text(nested, comp),
                })
                .collect();
            format!("({})", parts.join(", "))
        }
        ExceptionEntry::Item(s) if LIST_OPERATORS.contains(&comp) => {
            if s.starts_with('(') {
                s.clone()
            } else {
                format!("({s})")
            }
        }
        ExceptionEntry::Item(s) => quote_item(s),
    }
}

/// Build a rule's condition with its exceptions, as Falco compiles them:
/// `(<cond>) and not (f in (v1, v2)) and not ((f1 c1 v1 and f2 c2 v2) or (...))`.
/// Exceptions must have been validated (fields and comps filled in).
pub fn apply_exceptions(condition: &str, exceptions: &[ExceptionInfo]) -> String {
    let mut out = format!("({condition})");
    for ex in exceptions {
        let clause = match (&ex.fields, &ex.comps) {
            (Some(ExceptionEntry::Item(field)), Some(ExceptionEntry::Item(comp))) => {
                let values: Vec<String> = ex
                    .values
                    .iter()
                    .filter_map(|v| match v {
                        ExceptionEntry::Item(s) => Some(quote_item(s)),
                        ExceptionEntry::List(_) => None,
                    })
                    .collect();
                if values.is_empty() {
                    String::new()
                } else {
                    format!("({field} {comp} ({}))", values.join(", "))
                }
            }
            (Some(ExceptionEntry::List(fields)), Some(ExceptionEntry::List(comps))) => {
                let mut tuples = Vec::new();
                for value in &ex.values {
                    let ExceptionEntry::List(values) = value else {
                        continue;
                    };
                    let checks: Vec<String> = fields
                        .iter()
                        .zip(comps)
                        .zip(values)
                        .filter_map(|((f, c), v)| match (f, c) {
                            (ExceptionEntry::Item(f), ExceptionEntry::Item(c)) => {
                                Some(format!("{f} {c} {}", entry_text(v, c)))
                            }
                            _ => None,
                        })
                        .collect();
                    tuples.push(format!("({})", checks.join(" and ")));
                }
                if tuples.is_empty() {
                    String::new()
                } else {
                    format!("({})", tuples.join(" or "))
                }
            }
            _ => String::new(),
        };
        if !clause.is_empty() {
            out.push_str(" and not ");
            out.push_str(&clause);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Location;

    fn list(name: &str, items: &[&str]) -> ExpandedList {
        ExpandedList {
            name: name.into(),
            items: items.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn lists_resolve_only_between_delimiters() {
        let check = |cond: &str, l: ExpandedList, expect: &str, expect_used: bool| {
            let mut c = cond.to_string();
            let used = resolve_list(&mut c, &l);
            assert_eq!((c.as_str(), used), (expect, expect_used), "{cond}");
        };
        check(
            "proc.name in (shells)",
            list("shells", &["bash", "sh"]),
            "proc.name in ( bash, sh )",
            true,
        );
        check(
            "proc.name in (my_shells)",
            list("shells", &["bash"]),
            "proc.name in (my_shells)",
            false,
        );
        check(
            "proc.name in (a, empty)",
            list("empty", &[]),
            "proc.name in (a  )",
            true,
        );
        check(
            "fd.name in (files)",
            list("files", &["/a b", "/c"]),
            "fd.name in ( \"/a b\", /c )",
            true,
        );
        check(
            "x=l or y in (l)",
            list("l", &["v"]),
            "x= v or y in ( v )",
            true,
        );
    }

    #[test]
    fn lists_of_lists_expand_only_earlier_lists() {
        let info = |name: &str, items: &[&str], index: u32, visibility: u32| ListInfo {
            name: name.into(),
            items: items.iter().map(|s| s.to_string()).collect(),
            location: Location::default(),
            index,
            visibility,
        };
        let lists = vec![
            info("a", &["x", "y"], 0, 0),
            info("b", &["a", "z", "c"], 1, 1),
            info("c", &["q"], 2, 2),
        ];
        let (out, used) = expand_lists(&lists);
        assert_eq!(
            out.get(1).map(|l| l.items.clone()),
            Some(vec!["x".into(), "y".into(), "z".into(), "c".into()])
        );
        assert_eq!(used, vec![true, false, false]);
    }

    #[test]
    fn exceptions_compile_like_falco() {
        let item = |s: &str| ExceptionEntry::Item(s.into());
        let lst = |v: Vec<ExceptionEntry>| ExceptionEntry::List(v);
        let scalar = ExceptionInfo {
            name: "a".into(),
            fields: Some(item("proc.name")),
            comps: Some(item("in")),
            values: vec![item("bash"), item("my sh")],
            location: Location::default(),
        };
        let tuple = ExceptionInfo {
            name: "b".into(),
            fields: Some(lst(vec![item("proc.name"), item("fd.name")])),
            comps: Some(lst(vec![item("="), item("in")])),
            values: vec![
                lst(vec![item("cat"), lst(vec![item("/a"), item("/b")])]),
                lst(vec![item("ls"), item("/c")]),
            ],
            location: Location::default(),
        };
        assert_eq!(
            apply_exceptions("evt.type=open", &[scalar, tuple]),
            "(evt.type=open) and not (proc.name in (bash, \"my sh\")) and not ((proc.name = cat and fd.name in (/a, /b)) or (proc.name = ls and fd.name in (/c)))"
        );
    }
}
