//! Type checking and compilation of a condition AST into an evaluable filter, the event-type
//! analysis, and the per-event-type rule index.
//!
//! Compilation follows libsinsp's filter compiler: the operator must suit the (transformed)
//! field type, constant values are parsed with the field's type, and the same value warnings are
//! produced (a value that looks like a field or a transformer, a regex that could be a simpler
//! operator). Evaluation never allocates, except where a value has to be built: transformers
//! (`tolower`, `join`, ...) and `evt.time`. The upstream rulesets use none of them.
//!
//! [`RuleIndex`] buckets rules by the event types their conditions can match and keeps, per
//! bucket, the condition specialised for that type (`evt.type` checks folded away).

mod eval;
mod evttypes;
pub(crate) mod glob;
mod index;
#[cfg(test)]
mod semantics_tests;

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

pub use evttypes::event_types;
pub use index::{RuleId, RuleIndex};

use crate::condition::{Ast, CmpOp, Modifier, Operand, Pos, Transformer};
use crate::event::{Event, EventType, EventTypeSet};
use crate::fields::{self, FieldId, FieldType, FieldValue, IpNet, ResolvedField};

/// A field supplied by the caller (a plugin, or a test's mock fields): a name, a libsinsp type
/// and an extraction function.
#[derive(Clone)]
pub struct CustomField {
    pub name: String,
    pub ftype: FieldType,
    pub extract: for<'e> fn(&'e Event) -> Option<FieldValue<'e>>,
}

impl std::fmt::Debug for CustomField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomField")
            .field("name", &self.name)
            .field("ftype", &self.ftype)
            .finish_non_exhaustive()
    }
}

/// Compiler options.
#[derive(Debug, Clone, Default)]
pub struct CompileOptions {
    /// Extra fields, looked up before the built-in catalogue.
    pub custom_fields: Vec<CustomField>,
}

/// A condition that does not compile. Messages follow libsinsp's (`filter error: ...`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at line {}, column {})", pos.line, pos.col)]
pub struct CompileError {
    pub message: String,
    pub pos: Pos,
}

/// A compiler warning (the condition still compiles).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileWarning {
    pub message: String,
    pub pos: Pos,
}

/// A compiled condition.
#[derive(Debug)]
pub struct CompiledFilter {
    root: Node,
    event_types: EventTypeSet,
    warnings: Vec<CompileWarning>,
}

impl CompiledFilter {
    /// The condition specialised for events of type `t`.
    pub(crate) fn specialized(&self, t: EventType) -> Node {
        self.root.specialize(t)
    }

    /// Whether the event satisfies the condition.
    pub fn matches(&self, event: &Event) -> bool {
        eval::node(&self.root, event)
    }

    /// The event types the condition can match (all types when it has no `evt.type`
    /// restriction; empty when it can never be true).
    pub fn event_types(&self) -> EventTypeSet {
        self.event_types
    }

    /// Whether the condition restricts nothing by event type (Falco warns about these).
    pub fn matches_all_event_types(&self) -> bool {
        self.event_types.is_all()
    }

    pub fn warnings(&self) -> &[CompileWarning] {
        &self.warnings
    }
}

/// Compiles an AST whose macros and lists were already substituted.
pub fn compile(ast: &Ast, options: &CompileOptions) -> Result<CompiledFilter, CompileError> {
    let mut c = Compiler {
        options,
        warnings: Vec::new(),
    };
    let root = c.node(ast)?;
    Ok(CompiledFilter {
        root,
        event_types: event_types(ast),
        warnings: c.warnings,
    })
}

// ---- compiled representation ------------------------------------------------------------------

#[derive(Debug, Clone)]
pub(crate) enum Node {
    And(Box<[Node]>),
    Or(Box<[Node]>),
    Not(Box<Node>),
    /// `evt.type = x` / `in (...)`, compiled to a set lookup.
    /// (Boxed: the set is 64 bytes and would make every node that large.)
    EventTypeIn(Box<EventTypeSet>),
    Check(Arc<CheckNode>),
    /// A sub-condition decided statically (after specialising for one event type).
    Const(bool),
}

// Nodes are walked for every event: keep them small.
const _: () = assert!(std::mem::size_of::<Node>() <= 24);

impl Node {
    /// A copy of this tree for events of type `t` only: `evt.type` checks become constants and
    /// are folded away, so a rule evaluated from the `t` bucket skips what cannot change.
    pub(crate) fn specialize(&self, t: EventType) -> Node {
        match self {
            Node::EventTypeIn(set) => Node::Const(set.contains(t)),
            Node::Const(b) => Node::Const(*b),
            Node::Check(c) => Node::Check(Arc::clone(c)),
            Node::Not(child) => match child.specialize(t) {
                Node::Const(b) => Node::Const(!b),
                other => Node::Not(Box::new(other)),
            },
            Node::And(children) | Node::Or(children) => {
                let is_and = matches!(self, Node::And(_));
                let mut kept = Vec::with_capacity(children.len());
                for c in children.iter() {
                    match c.specialize(t) {
                        // `false` decides an and, `true` decides an or.
                        Node::Const(b) if b != is_and => return Node::Const(b),
                        Node::Const(_) => {}
                        other => kept.push(other),
                    }
                }
                match kept.len() {
                    0 => Node::Const(is_and),
                    1 => kept.pop().unwrap_or(Node::Const(is_and)),
                    _ if is_and => Node::And(kept.into_boxed_slice()),
                    _ => Node::Or(kept.into_boxed_slice()),
                }
            }
        }
    }
}

#[derive(Debug)]
pub(crate) struct CheckNode {
    pub left: Lhs,
    pub op: CmpOp,
    pub modifier: Option<Modifier>,
    pub rhs: Rhs,
}

/// The left side: what to extract.
#[derive(Debug)]
pub(crate) enum Lhs {
    Field(ResolvedField),
    Custom(CustomField),
    Transform(Transformer, Box<Lhs>),
    /// `join(sep, (a, b))` and `concat(a, b)`: the parts' values joined into one string; not
    /// extractable when a part is not.
    Joined {
        sep: String,
        parts: Vec<Part>,
    },
}

/// One part of `join`/`concat`.
#[derive(Debug)]
pub(crate) enum Part {
    Literal(String),
    Value(Lhs),
}

/// A constant, parsed with the type of the left side.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Const {
    Str(String),
    Bytes(Vec<u8>),
    Int(i64),
    Uint(u64),
    Double(f64),
    Bool(bool),
    Ip(IpAddr),
    Net(IpNet),
}

#[derive(Debug)]
pub(crate) enum Rhs {
    /// `exists`.
    None,
    /// One value, or the list of `in`/`intersects`/`pmatch`/a modifier.
    Values(Vec<Const>),
    /// A large list of strings for `in`/`intersects`.
    StrSet(HashSet<String>),
    /// Lower-cased needle for `icontains`.
    Lowered(String),
    Regex(regex::Regex),
    /// `regex` with a modifier.
    Regexes(Vec<regex::Regex>),
    /// `val(field)` or a transformer: compare with another extracted value.
    Field(Lhs),
}

/// Lists longer than this become hash sets.
const SET_THRESHOLD: usize = 8;

struct Compiler<'o> {
    options: &'o CompileOptions,
    warnings: Vec<CompileWarning>,
}

fn err(pos: Pos, message: impl Into<String>) -> CompileError {
    CompileError {
        message: message.into(),
        pos,
    }
}

impl Compiler<'_> {
    fn node(&mut self, ast: &Ast) -> Result<Node, CompileError> {
        Ok(match ast {
            Ast::And { children, .. } => Node::And(
                children
                    .iter()
                    .map(|c| self.node(c))
                    .collect::<Result<Vec<_>, _>>()?
                    .into_boxed_slice(),
            ),
            Ast::Or { children, .. } => Node::Or(
                children
                    .iter()
                    .map(|c| self.node(c))
                    .collect::<Result<Vec<_>, _>>()?
                    .into_boxed_slice(),
            ),
            Ast::Not { child, .. } => Node::Not(Box::new(self.node(child)?)),
            Ast::Identifier { name, pos } => {
                return Err(err(
                    *pos,
                    format!("filter error: unexpected identifier '{name}'"),
                ))
            }
            Ast::Check(check) => self.check(check)?,
        })
    }

    fn lhs(&mut self, operand: &Operand, pos: Pos) -> Result<(Lhs, FieldType, bool), CompileError> {
        match operand {
            Operand::Field(f) => {
                if f.arg.is_none() {
                    if let Some(custom) =
                        self.options.custom_fields.iter().find(|c| c.name == f.name)
                    {
                        return Ok((Lhs::Custom(custom.clone()), custom.ftype, false));
                    }
                }
                let resolved = fields::resolve_ref(f).map_err(|e| err(f.pos, e.to_string()))?;
                let ftype = resolved.info.ftype;
                let is_list = resolved.info.is_list();
                if ftype == FieldType::Dyn {
                    // evt.rawarg's type depends on the argument; compare as a string.
                    return Ok((Lhs::Field(resolved), FieldType::CharBuf, false));
                }
                Ok((Lhs::Field(resolved), ftype, is_list))
            }
            Operand::Transform {
                transformer,
                args,
                arg,
                pos: tpos,
            } => {
                if arg.is_some() {
                    return Err(err(
                        *tpos,
                        format!(
                            "filter error: transformer '{}' does not support field arguments",
                            transformer.as_str()
                        ),
                    ));
                }
                match transformer {
                    Transformer::Join => return self.join(args, *tpos, pos),
                    Transformer::Concat => return self.concat(args, *tpos, pos),
                    _ => {}
                }
                if args.len() != 1 {
                    return Err(err(
                        *tpos,
                        format!(
                            "filter error: transformer '{}' with several arguments is not supported",
                            transformer.as_str()
                        ),
                    ));
                }
                let Some(inner_operand) = args.first() else {
                    return Err(err(*tpos, "filter error: transformer without argument"));
                };
                let (inner, itype, is_list) = self.lhs(inner_operand, pos)?;
                if let Lhs::Field(f) = &inner {
                    if !f.info.allows_transformers() && *transformer != Transformer::Val {
                        return Err(err(
                            *tpos,
                            format!(
                                "filter error: field '{}' does not support transformers",
                                f.display_name()
                            ),
                        ));
                    }
                }
                let out = match transformer {
                    Transformer::Val => return Ok((inner, itype, is_list)),
                    Transformer::ToLower | Transformer::ToUpper | Transformer::Basename => {
                        if itype != FieldType::CharBuf {
                            return Err(transformer_type_error(*transformer, itype, *tpos));
                        }
                        FieldType::CharBuf
                    }
                    Transformer::B64 => {
                        if itype != FieldType::CharBuf && itype != FieldType::ByteBuf {
                            return Err(transformer_type_error(*transformer, itype, *tpos));
                        }
                        itype
                    }
                    Transformer::Len => {
                        if itype != FieldType::CharBuf && itype != FieldType::ByteBuf && !is_list {
                            return Err(transformer_type_error(*transformer, itype, *tpos));
                        }
                        FieldType::Uint64
                    }
                    Transformer::Join | Transformer::Concat | Transformer::GetOpt => {
                        return Err(err(
                            *tpos,
                            format!(
                                "filter error: transformer '{}' is not supported",
                                transformer.as_str()
                            ),
                        ))
                    }
                };
                Ok((Lhs::Transform(*transformer, Box::new(inner)), out, false))
            }
            Operand::Value { .. } | Operand::List { .. } | Operand::TransformerList { .. } => Err(
                err(pos, "filter error: missing field in left-hand of check"),
            ),
        }
    }

    /// A part of `join`/`concat`: a literal, or a field (possibly transformed).
    fn part(&mut self, operand: &Operand, pos: Pos) -> Result<(Part, bool), CompileError> {
        match operand {
            Operand::Value { text, .. } => Ok((Part::Literal(text.clone()), true)),
            Operand::Field(_) | Operand::Transform { .. } => {
                let (lhs, ftype, is_list) = self.lhs(operand, pos)?;
                Ok((Part::Value(lhs), ftype == FieldType::CharBuf && !is_list))
            }
            Operand::List { pos: p, .. } | Operand::TransformerList { pos: p, .. } => Err(err(
                *p,
                "filter error: a list is not a valid transformer argument here",
            )),
        }
    }

    fn join(
        &mut self,
        args: &[Operand],
        tpos: Pos,
        pos: Pos,
    ) -> Result<(Lhs, FieldType, bool), CompileError> {
        let [sep, list] = args else {
            return Err(err(
                tpos,
                "join() requires exactly 2 arguments: separator and list",
            ));
        };
        let Operand::Value { text: sep, .. } = sep else {
            return Err(err(
                tpos,
                "join() first argument (separator) must be a single value, not a list",
            ));
        };
        let Operand::TransformerList { items, .. } = list else {
            return Err(err(tpos, "join() second argument must be a list"));
        };
        let parts = items
            .iter()
            .map(|i| self.part(i, pos).map(|(p, _)| p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((
            Lhs::Joined {
                sep: sep.clone(),
                parts,
            },
            FieldType::CharBuf,
            false,
        ))
    }

    fn concat(
        &mut self,
        args: &[Operand],
        tpos: Pos,
        pos: Pos,
    ) -> Result<(Lhs, FieldType, bool), CompileError> {
        if args.len() < 2 {
            return Err(err(tpos, "concat() requires at least 2 arguments"));
        }
        let mut parts = Vec::with_capacity(args.len());
        for a in args {
            let (part, is_string) = self.part(a, pos)?;
            if !is_string {
                return Err(err(tpos, "concat() arguments must be strings"));
            }
            parts.push(part);
        }
        Ok((
            Lhs::Joined {
                sep: String::new(),
                parts,
            },
            FieldType::CharBuf,
            false,
        ))
    }

    fn check(&mut self, check: &crate::condition::Check) -> Result<Node, CompileError> {
        let pos = check.pos;
        let (left, ftype, is_list) = self.lhs(&check.left, pos)?;
        comparable(check.op, check.modifier, ftype, is_list).map_err(|m| err(pos, m))?;

        if let Lhs::Field(f) = &left {
            if f.info.id == FieldId::EvtDir {
                self.warnings.push(CompileWarning {
                    message: "'evt.dir' is deprecated: only exit events exist; '>' matches nothing and '<' matches everything".to_owned(),
                    pos,
                });
            }
        }

        let Some(right) = &check.right else {
            return Ok(Node::Check(Arc::new(CheckNode {
                left,
                op: check.op,
                modifier: check.modifier,
                rhs: Rhs::None,
            })));
        };

        // evt.type = x / in (...): a set lookup.
        if let Lhs::Field(f) = &left {
            if f.info.id == FieldId::EvtType
                && check.modifier.is_none()
                && matches!(check.op, CmpOp::Eq | CmpOp::EqEq | CmpOp::In | CmpOp::Ne)
            {
                let names: Option<Vec<&str>> = match right {
                    Operand::Value { text, .. } => Some(vec![text.as_str()]),
                    Operand::List { items, .. } => Some(items.iter().map(String::as_str).collect()),
                    _ => None,
                };
                if let Some(names) = names {
                    for n in &names {
                        self.value_warnings(check.op, n, right.pos());
                    }
                    let mut set = EventTypeSet::EMPTY;
                    for n in names {
                        if let Some(t) = EventType::from_name(n) {
                            set.insert(t);
                        }
                    }
                    return Ok(if check.op == CmpOp::Ne {
                        Node::Not(Box::new(Node::EventTypeIn(Box::new(set))))
                    } else {
                        Node::EventTypeIn(Box::new(set))
                    });
                }
            }
        }

        let rhs = match right {
            Operand::Field(_) | Operand::Transform { .. } => {
                if matches!(check.op, CmpOp::Regex | CmpOp::PMatch) {
                    return Err(err(
                        pos,
                        format!(
                            "filter error: '{}' operator does not support field comparisons",
                            check.op
                        ),
                    ));
                }
                if let Operand::Field(f) = right {
                    if let Ok(r) = fields::resolve_ref(f) {
                        if !r.info.allowed_on_rhs() {
                            return Err(err(
                                f.pos,
                                format!(
                                    "filter error: field '{}' can't be used on the right-hand side of a comparison",
                                    r.display_name()
                                ),
                            ));
                        }
                    }
                }
                let (rl, _, _) = self.lhs(right, pos)?;
                Rhs::Field(rl)
            }
            Operand::TransformerList { pos: p, .. } => {
                return Err(err(
                    *p,
                    "filter error: transformer lists are not supported here",
                ))
            }
            Operand::Value { text, pos: vpos } => {
                self.value_warnings(check.op, text, *vpos);
                self.constants(
                    check.op,
                    check.modifier,
                    ftype,
                    std::slice::from_ref(text),
                    *vpos,
                )?
            }
            Operand::List { items, pos: lpos } => {
                for v in items {
                    self.value_warnings(check.op, v, *lpos);
                }
                self.constants(check.op, check.modifier, ftype, items, *lpos)?
            }
        };
        Ok(Node::Check(Arc::new(CheckNode {
            left,
            op: check.op,
            modifier: check.modifier,
            rhs,
        })))
    }

    fn constants(
        &mut self,
        op: CmpOp,
        modifier: Option<Modifier>,
        ftype: FieldType,
        values: &[String],
        pos: Pos,
    ) -> Result<Rhs, CompileError> {
        if op == CmpOp::Regex {
            if modifier.is_some() {
                return values
                    .iter()
                    .map(|v| build_regex(v).map_err(|m| err(pos, m)))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Rhs::Regexes);
            }
            let v = values.first().map(String::as_str).unwrap_or_default();
            return build_regex(v).map(Rhs::Regex).map_err(|m| err(pos, m));
        }
        if op == CmpOp::IContains && modifier.is_none() && ftype == FieldType::CharBuf {
            let v = values.first().map(String::as_str).unwrap_or_default();
            return Ok(Rhs::Lowered(v.to_ascii_lowercase()));
        }
        let consts = values
            .iter()
            .map(|v| parse_const(op, ftype, v).map_err(|m| err(pos, m)))
            .collect::<Result<Vec<_>, _>>()?;
        if matches!(op, CmpOp::In | CmpOp::Intersects)
            && ftype == FieldType::CharBuf
            && consts.len() > SET_THRESHOLD
        {
            let set = consts
                .into_iter()
                .filter_map(|c| match c {
                    Const::Str(s) => Some(s),
                    _ => None,
                })
                .collect();
            return Ok(Rhs::StrSet(set));
        }
        Ok(Rhs::Values(consts))
    }

    /// libsinsp's value heuristics: a value that names a field or looks like a transformer
    /// call, and a regex that a simpler operator could do.
    fn value_warnings(&mut self, op: CmpOp, v: &str, pos: Pos) {
        let nospaces: String = v.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        if op == CmpOp::Regex && regex_is_trivial(v) {
            self.warnings.push(CompileWarning {
                message: format!(
                    "regex check with '{v}' may be optimized with simpler operators such as '=', 'contains', 'startswith', 'endswith'"
                ),
                pos,
            });
        }
        let names_field = self
            .options
            .custom_fields
            .iter()
            .any(|c| c.name == nospaces)
            || looks_like_field(&nospaces);
        if names_field {
            self.warnings.push(CompileWarning {
                message: format!("'{v}' may be a valid field misused as a const string value"),
                pos,
            });
        }
        for t in [
            "val", "tolower", "toupper", "b64", "basename", "len", "join", "concat", "getopt",
        ] {
            if nospaces.len() >= t.len() + 2
                && nospaces.starts_with(t)
                && nospaces.as_bytes().get(t.len()) == Some(&b'(')
                && nospaces.ends_with(')')
            {
                self.warnings.push(CompileWarning {
                    message: format!(
                        "'{v}' may be a valid field transformer misused as a const string value"
                    ),
                    pos,
                });
            }
        }
    }
}

/// Whether a string would resolve as a field reference (`evt.plugininfo`, `proc.aname[2]`).
fn looks_like_field(s: &str) -> bool {
    let (name, arg) = match s.split_once('[') {
        Some((n, rest)) => match rest.strip_suffix(']') {
            Some(a) => (n, Some(a)),
            None => return false,
        },
        None => (s, None),
    };
    fields::resolve(name, arg).is_ok()
}

/// libsinsp's heuristic: a regex whose only special characters are anchors at the ends or a
/// leading/trailing `.*`/`.+`/`.?` is really `=`, `contains`, `startswith` or `endswith`.
fn regex_is_trivial(v: &str) -> bool {
    const SPECIAL: &[u8] = b".+*?^$()[]{}|\\";
    const OCCURRENCE: &[u8] = b"+*?";
    let b = v.as_bytes();
    let len = b.len();
    let mut i = 0;
    while i < len {
        let c = b[i];
        if (i == 0 && c == b'^') || (i == len - 1 && c == b'$') {
            i += 1;
            continue;
        }
        if ((i == 0 && len > 1) || (len >= 2 && i == len - 2))
            && c == b'.'
            && b.get(i + 1).is_some_and(|n| OCCURRENCE.contains(n))
        {
            i += 2;
            continue;
        }
        if SPECIAL.contains(&c) {
            return false;
        }
        i += 1;
    }
    true
}

fn build_regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(&format!("^(?:{pattern})$"))
        .map_err(|e| format!("filter error: invalid regular expression '{pattern}': {e}"))
}

fn transformer_type_error(t: Transformer, ftype: FieldType, pos: Pos) -> CompileError {
    err(
        pos,
        format!(
            "filter error: transformer '{}' is not supported on type '{}'",
            t.as_str(),
            ftype.display_name()
        ),
    )
}

/// libsinsp's `flt_is_comparable`.
fn comparable(
    op: CmpOp,
    modifier: Option<Modifier>,
    ftype: FieldType,
    is_list: bool,
) -> Result<(), String> {
    use CmpOp::*;
    if op == Exists {
        return Ok(());
    }
    let opname = match modifier {
        Some(m) => format!("{} {}", op_upper(op), m.as_str()),
        None => op_upper(op).to_owned(),
    };
    if is_list {
        return if matches!(op, In | Intersects) {
            Ok(())
        } else {
            Err(format!(
                "filter error: '{opname}' operator not supported list filters"
            ))
        };
    }
    let (ok, kind) = match ftype {
        FieldType::Int16
        | FieldType::Int32
        | FieldType::Int64
        | FieldType::Uint32
        | FieldType::Uint64
        | FieldType::AbsTime
        | FieldType::RelTime
        | FieldType::Port
        | FieldType::Double => (
            matches!(op, Eq | EqEq | Ne | Lt | Le | Gt | Ge | In | Intersects),
            "numeric filters",
        ),
        FieldType::Bool => (
            matches!(op, Eq | EqEq | Ne | In | Intersects),
            "numeric filters",
        ),
        FieldType::IpAddr | FieldType::IpNet => (
            matches!(op, Eq | EqEq | Ne | In | Intersects),
            "ip address and network filters",
        ),
        FieldType::CharBuf | FieldType::Dyn => {
            (!matches!(op, BContains | BStartsWith), "string filters")
        }
        FieldType::ByteBuf => (
            matches!(
                op,
                Eq | EqEq
                    | Ne
                    | Contains
                    | In
                    | StartsWith
                    | EndsWith
                    | Intersects
                    | BContains
                    | BStartsWith
            ),
            "buffer filters",
        ),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "filter error: '{opname}' operator not supported for {kind}"
        ))
    }
}

/// libsinsp's `cmpop_to_str` spelling.
fn op_upper(op: CmpOp) -> &'static str {
    // libsinsp names `==` as `=` in its messages; every other operator as written.
    match op {
        CmpOp::EqEq => "=",
        other => other.as_str(),
    }
}

/// `sscanf("%d%c")`-style integer parsing: optional leading blanks and sign, digits, nothing
/// after. Returns the value with sign applied (unsigned parsing wraps negatives, as C does).
fn scan_int(s: &str) -> Option<i128> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let v: i128 = digits.parse().ok()?;
    Some(if neg { -v } else { v })
}

fn not_a_number(s: &str) -> String {
    format!("{s} is not a valid number")
}

/// Well-known service names `PT_PORT` values may use (`getservbyname`).
fn service_port(name: &str) -> Option<u16> {
    Some(match name {
        "ftp" => 21,
        "ssh" => 22,
        "telnet" => 23,
        "smtp" => 25,
        "domain" => 53,
        "http" => 80,
        "pop3" => 110,
        "ntp" => 123,
        "imap" => 143,
        "snmp" => 161,
        "ldap" => 389,
        "https" => 443,
        "imaps" => 993,
        "pop3s" => 995,
        "mysql" => 3306,
        "postgresql" => 5432,
        _ => return None,
    })
}

/// Parses a constant with the left side's type (libsinsp `string_to_rawval`).
pub(crate) fn parse_const(op: CmpOp, ftype: FieldType, v: &str) -> Result<Const, String> {
    if v.contains('\0') {
        return Err("filter error: filter value cannot contain a NUL byte (\\x00)".to_owned());
    }
    if matches!(op, CmpOp::BContains | CmpOp::BStartsWith) {
        return unhex(v).map(Const::Bytes).ok_or_else(|| {
            "filter error: bcontains and bstartswith operator support hex strings only".to_owned()
        });
    }
    Ok(match ftype {
        FieldType::Int16 | FieldType::Int32 | FieldType::Int64 => {
            let n = scan_int(v).ok_or_else(|| not_a_number(v))?;
            let (min, max) = match ftype {
                FieldType::Int16 => (i128::from(i16::MIN), i128::from(i16::MAX)),
                FieldType::Int32 => (i128::from(i32::MIN), i128::from(i32::MAX)),
                _ => (i128::from(i64::MIN), i128::from(i64::MAX)),
            };
            Const::Int(i64::try_from(n.clamp(min, max)).unwrap_or_default())
        }
        FieldType::Uint32 => {
            let n = scan_int(v).ok_or_else(|| not_a_number(v))?;
            // C's strtoul wraps negatives modulo 2^32.
            Const::Uint(u64::from(n.rem_euclid(1 << 32) as u32))
        }
        FieldType::Uint64 | FieldType::AbsTime | FieldType::RelTime => {
            let n = scan_int(v).ok_or_else(|| not_a_number(v))?;
            Const::Uint(n.rem_euclid(1 << 64) as u64)
        }
        FieldType::Double => {
            let n = scan_int(v).ok_or_else(|| not_a_number(v))?;
            Const::Double(n as f64)
        }
        FieldType::Port => {
            if v.is_empty() {
                Const::Uint(0)
            } else if v.bytes().all(|c| c.is_ascii_digit()) {
                Const::Uint(u64::from(
                    v.parse::<u64>()
                        .ok()
                        .and_then(|n| u16::try_from(n % 65_536).ok())
                        .unwrap_or_default(),
                ))
            } else {
                Const::Uint(u64::from(
                    service_port(v).ok_or_else(|| format!("unrecognized protocol {v}"))?,
                ))
            }
        }
        FieldType::Bool => match v {
            "true" => Const::Bool(true),
            "false" => Const::Bool(false),
            _ => return Err(format!("filter error: unrecognized boolean value {v}")),
        },
        FieldType::IpAddr => Const::Ip(
            v.parse::<IpAddr>()
                .map_err(|_| format!("filter error: unrecognized IP address {v}"))?,
        ),
        FieldType::IpNet => Const::Net(
            IpNet::parse(v).ok_or_else(|| format!("filter error: unrecognized IP network {v}"))?,
        ),
        FieldType::ByteBuf => Const::Bytes(v.as_bytes().to_vec()),
        FieldType::CharBuf | FieldType::Dyn => Const::Str(v.to_owned()),
    })
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks(2)
        .map(|pair| {
            let hi = char::from(*pair.first()?).to_digit(16)?;
            let lo = char::from(*pair.get(1)?).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{regex_is_trivial, scan_int, unhex};

    #[test]
    fn regex_triviality() {
        for (re, trivial) in [
            ("syscall", true),
            ("^syscall$", true),
            (".*syscall", true),
            ("syscall.*", true),
            (".+syscall.+", true),
            (".?syscall.?", true),
            ("syscall.{1}", false),
            ("syscall\\.*", false),
            ("s.*l", false),
            ("syscal[l]?", false),
        ] {
            assert_eq!(regex_is_trivial(re), trivial, "{re}");
        }
    }

    #[test]
    fn scanf_numbers() {
        for (s, v) in [
            ("1", Some(1)),
            ("-1", Some(-1)),
            ("+7", Some(7)),
            (" 12", Some(12)),
            ("1.0", None),
            ("0x10", None),
            ("", None),
            ("a", None),
        ] {
            assert_eq!(scan_int(s), v, "{s}");
        }
    }

    #[test]
    fn hex_strings() {
        assert_eq!(unhex("48545450"), Some(b"HTTP".to_vec()));
        assert_eq!(
            unhex("12ab001fc5"),
            Some(vec![0x12, 0xab, 0x00, 0x1f, 0xc5])
        );
        assert_eq!(unhex("g"), None);
        assert_eq!(unhex("123Z"), None);
        assert_eq!(unhex("abc_1"), None);
    }
}
