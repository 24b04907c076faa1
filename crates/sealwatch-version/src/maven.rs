//! Maven `ComparableVersion` ordering (the "Version Order Specification" of the POM reference).
//!
//! The version is split into a tree: `.` separates items of one list, `-` and each
//! digit/letter transition open a nested list. Trailing "null" items (0, "", "ga", "final",
//! "release", empty lists) are trimmed from each list. Qualifiers order
//! `alpha < beta < milestone < rc = cr < snapshot < "" = ga = final = release < sp`, then any
//! other word alphabetically.
//!
//! One deliberate choice where Maven's code and its specification part: a nested list that is
//! left holding only another list is collapsed, so `1-ga-1` equals `1-1` as the POM
//! reference's trimming rule (and OSV's own comparator) says, where Maven's
//! `ComparableVersion` keeps them apart. Every generated vector from real Maven still passes.

use std::cmp::Ordering;

use crate::numeric::{cmp_digits, strip_zeros};

#[derive(Debug, Clone)]
enum Item {
    Number(String),
    Text(String),
    List(Vec<Item>),
}

impl Item {
    fn text(word: &str, followed_by_digit: bool) -> Item {
        let word = if followed_by_digit && word.len() == 1 {
            match word {
                "a" => "alpha",
                "b" => "beta",
                "m" => "milestone",
                w => w,
            }
        } else {
            word
        };
        let word = match word {
            "ga" | "final" | "release" => "",
            "cr" => "rc",
            w => w,
        };
        Item::Text(word.to_owned())
    }

    fn parse(word: &str, is_digit: bool) -> Item {
        if is_digit {
            Item::Number(strip_zeros(word).to_owned())
        } else {
            Item::text(word, false)
        }
    }

    fn is_null(&self) -> bool {
        match self {
            Item::Number(n) => n.is_empty(),
            Item::Text(t) => t.is_empty(),
            Item::List(l) => l.is_empty(),
        }
    }
}

/// The sort key of a qualifier: known ones by rank, others after all of them by text.
fn qualifier_key(q: &str) -> (usize, &str) {
    const ORDER: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
    match ORDER.iter().position(|k| *k == q) {
        Some(i) => (i, ""),
        None => (ORDER.len(), q),
    }
}

/// Compare `a` with `b`, where `None` is the padding ("null") item.
fn cmp_item(a: &Item, b: Option<&Item>) -> Ordering {
    match (a, b) {
        (Item::Number(n), None) => {
            if n.is_empty() {
                Ordering::Equal
            } else {
                Ordering::Greater
            }
        }
        (Item::Number(x), Some(Item::Number(y))) => cmp_digits(x, y),
        (Item::Number(_), Some(_)) => Ordering::Greater,
        (Item::Text(t), None) => qualifier_key(t).cmp(&qualifier_key("")),
        (Item::Text(_), Some(Item::Number(_))) => Ordering::Less,
        (Item::Text(x), Some(Item::Text(y))) => qualifier_key(x).cmp(&qualifier_key(y)),
        (Item::Text(_), Some(Item::List(_))) => Ordering::Less,
        (Item::List(l), None) => match l.first() {
            None => Ordering::Equal,
            Some(first) => cmp_item(first, None),
        },
        (Item::List(_), Some(Item::Number(_))) => Ordering::Less,
        (Item::List(_), Some(Item::Text(_))) => Ordering::Greater,
        (Item::List(x), Some(Item::List(y))) => cmp_lists(x, y),
    }
}

fn cmp_lists(x: &[Item], y: &[Item]) -> Ordering {
    for i in 0..x.len().max(y.len()) {
        let r = match (x.get(i), y.get(i)) {
            (Some(l), r) => cmp_item(l, r),
            (None, Some(r)) => cmp_item(r, None).reverse(),
            (None, None) => Ordering::Equal,
        };
        if r != Ordering::Equal {
            return r;
        }
    }
    Ordering::Equal
}

/// Trim trailing null items, but stop at the first non-null item that is not a list. A nested
/// list left holding nothing but one nested list is that list (`1-ga-1` is `1-1`, as the POM
/// reference's "repeated at each remaining hyphen" trimming says; the root is never collapsed,
/// `0.0.0-1` stays below `1`).
fn normalize(list: &mut Vec<Item>, nested: bool) {
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        if list[i].is_null() {
            list.remove(i);
        } else if !matches!(list[i], Item::List(_)) {
            break;
        }
    }
    if !nested {
        return;
    }
    if let [Item::List(inner)] = list.as_mut_slice() {
        let inner = std::mem::take(inner);
        *list = inner;
    }
}

/// Builds the item tree. Lists are kept on a stack (the path from the root to the list being
/// filled) and folded back into their parent when closed.
fn parse(version: &str) -> Vec<Item> {
    let version = version.to_lowercase();
    // Each open list, innermost last; a nested list is appended to its parent when finished.
    let mut stack: Vec<Vec<Item>> = vec![Vec::new()];
    let push = |stack: &mut Vec<Vec<Item>>, item: Item| {
        if let Some(top) = stack.last_mut() {
            top.push(item);
        }
    };
    let mut is_digit = false;
    let mut start = 0;
    let chars: Vec<(usize, char)> = version.char_indices().collect();
    for &(i, c) in &chars {
        if c == '.' {
            let item = if i == start {
                Item::Number(String::new())
            } else {
                Item::parse(&version[start..i], is_digit)
            };
            push(&mut stack, item);
            start = i + 1;
        } else if c == '-' {
            let item = if i == start {
                Item::Number(String::new())
            } else {
                Item::parse(&version[start..i], is_digit)
            };
            push(&mut stack, item);
            start = i + 1;
            stack.push(Vec::new());
        } else if c.is_ascii_digit() {
            if !is_digit && i > start {
                push(&mut stack, Item::text(&version[start..i], true));
                start = i;
                stack.push(Vec::new());
            }
            is_digit = true;
        } else {
            if is_digit && i > start {
                push(&mut stack, Item::parse(&version[start..i], true));
                start = i;
                stack.push(Vec::new());
            }
            is_digit = false;
        }
    }
    if version.len() > start {
        push(&mut stack, Item::parse(&version[start..], is_digit));
    }
    // Close the lists from the innermost out, normalising each as Maven does.
    while stack.len() > 1 {
        let mut inner = stack.pop().unwrap_or_default();
        normalize(&mut inner, true);
        push(&mut stack, Item::List(inner));
    }
    let mut root = stack.pop().unwrap_or_default();
    normalize(&mut root, false);
    root
}

/// Compare two Maven versions. Every string is a valid Maven version.
pub fn compare(a: &str, b: &str) -> Ordering {
    cmp_lists(&parse(a), &parse(b))
}
