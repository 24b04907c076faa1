//! The set of event types a condition can match, computed as libsinsp's `ppm_codes` does:
//! negations are pushed down to the leaves (De Morgan), `and` intersects, `or` unites;
//! `evt.type = x` / `in (...)` / `!=` give explicit sets; `evt.num = 0` is never true; every
//! other check is neutral (all types, not inverted by `not`).

use crate::condition::{Ast, CmpOp, Operand};
use crate::event::{EventType, EventTypeSet};

/// The event types `ast` can match. A condition without `evt.type` restriction matches all.
pub fn event_types(ast: &Ast) -> EventTypeSet {
    visit(ast, false)
}

fn names_to_set<'a>(names: impl IntoIterator<Item = &'a str>) -> EventTypeSet {
    let mut set = EventTypeSet::EMPTY;
    for n in names {
        if let Some(t) = EventType::from_name(n) {
            set.insert(t);
        }
    }
    set
}

fn invert_if(set: EventTypeSet, negated: bool) -> EventTypeSet {
    if negated {
        set.complement()
    } else {
        set
    }
}

/// `evt.num` starts at 1: `evt.num = 0` and friends can be decided statically.
fn evt_num_invariant(op: CmpOp, right: Option<&Operand>) -> Option<bool> {
    let parse = |s: &str| s.parse::<u64>().ok();
    match (op, right?) {
        (CmpOp::In, Operand::List { items, .. }) => {
            if items.iter().all(|v| parse(v) == Some(0)) {
                Some(false)
            } else {
                None
            }
        }
        (op, Operand::Value { text, .. }) => {
            let n = parse(text)?;
            match op {
                CmpOp::Eq | CmpOp::EqEq if n == 0 => Some(false),
                CmpOp::Ne if n == 0 => Some(true),
                CmpOp::Lt if n <= 1 => Some(false),
                CmpOp::Le if n == 0 => Some(false),
                CmpOp::Gt if n == 0 => Some(true),
                CmpOp::Ge if n <= 1 => Some(true),
                _ => None,
            }
        }
        _ => None,
    }
}

fn visit(ast: &Ast, negated: bool) -> EventTypeSet {
    match ast {
        Ast::And { children, .. } | Ast::Or { children, .. } => {
            let is_and = matches!(ast, Ast::And { .. });
            // Under negation, and/or swap (De Morgan).
            if is_and != negated {
                children.iter().fold(EventTypeSet::all(), |acc, c| {
                    acc.intersection(&visit(c, negated))
                })
            } else {
                children
                    .iter()
                    .fold(EventTypeSet::EMPTY, |acc, c| acc.union(&visit(c, negated)))
            }
        }
        Ast::Not { child, .. } => visit(child, !negated),
        Ast::Identifier { .. } => EventTypeSet::all(),
        Ast::Check(check) => {
            if let Operand::Field(f) = &check.left {
                if f.name == "evt.num" && f.arg.is_none() {
                    if let Some(always) = evt_num_invariant(check.op, check.right.as_ref()) {
                        let set = if always {
                            EventTypeSet::all()
                        } else {
                            EventTypeSet::EMPTY
                        };
                        return invert_if(set, negated);
                    }
                }
                let is_evttype =
                    (f.name == "evt.type" || f.name == "syscall.type") && f.arg.is_none();
                let set_op = matches!(check.op, CmpOp::Eq | CmpOp::EqEq | CmpOp::Ne | CmpOp::In)
                    && check.modifier.is_none();
                if is_evttype && set_op {
                    let set = match &check.right {
                        Some(Operand::Value { text, .. }) => names_to_set([text.as_str()]),
                        Some(Operand::List { items, .. }) => {
                            names_to_set(items.iter().map(String::as_str))
                        }
                        // Field comparisons cannot be resolved statically.
                        _ => return EventTypeSet::all(),
                    };
                    let set = invert_if(set, negated);
                    return if check.op == CmpOp::Ne {
                        set.complement()
                    } else {
                        set
                    };
                }
            }
            EventTypeSet::all()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::event_types;
    use crate::condition::parse;
    use crate::event::{EventType, EventTypeSet};

    fn names(cond: &str) -> Vec<&'static str> {
        let ast = parse(cond).expect("parses");
        let set = event_types(&ast);
        if set.is_all() {
            return vec!["*"];
        }
        let mut v: Vec<_> = set.iter().map(EventType::name).collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn evttype_sets() {
        let all_but_open = {
            let mut s = EventTypeSet::EMPTY;
            s.insert(EventType::from_name("open").expect("open"));
            s.complement().len()
        };
        for (cond, expect) in [
            ("evt.type = open", vec!["open"]),
            (
                "evt.type in (open, openat, nosuchcall)",
                vec!["open", "openat"],
            ),
            ("proc.name = cat", vec!["*"]),
            ("not proc.name = cat", vec!["*"]),
            ("evt.type = open and proc.name = cat", vec!["open"]),
            ("evt.type = open or proc.name = cat", vec!["*"]),
            (
                "evt.type = open or evt.type = execve",
                vec!["execve", "open"],
            ),
            (
                "evt.type in (open, execve) and evt.type = open",
                vec!["open"],
            ),
            ("not not evt.type = open", vec!["open"]),
            ("not evt.type != open", vec!["open"]),
            ("not (evt.type != open or evt.type != openat)", vec![]),
            ("evt.num = 0", vec![]),
            ("not evt.num = 0", vec!["*"]),
            ("evt.type = execve and evt.num = 0", vec![]),
            ("evt.type = open and evt.num > 0", vec!["open"]),
            ("evt.type contains open", vec!["*"]),
        ] {
            assert_eq!(names(cond), expect, "{cond}");
        }
        let ne = parse("evt.type != open").expect("parses");
        assert_eq!(event_types(&ne).len(), all_but_open);
        let not_eq = parse("not evt.type = open").expect("parses");
        assert_eq!(event_types(&not_eq).len(), all_but_open);
    }
}
