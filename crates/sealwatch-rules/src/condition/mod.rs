//! The Falco condition language: AST, parser and the AST helpers the loader needs (macro and list
//! substitution, field collection).
//!
//! The grammar and its quirks follow libsinsp's recursive-descent parser (`filter/parser.cpp`); the
//! conformance cases in `tests/conformance_parser.rs` pin the accepted language, the exact error
//! messages and positions. The parser is written by hand because no parser crate would reproduce
//! those quirks (keyword/blank rules, `not` parity, modifier look-ahead, depth accounting).

mod parser;

pub use parser::{parse, parse_with, ParseError, ParseOptions, Parsed};

/// A position in the condition text: 0-based byte offset, 1-based line and column (libsinsp counts
/// both `\r` and `\n` as line breaks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pos {
    pub offset: usize,
    pub line: u32,
    pub col: u32,
}

impl Pos {
    /// The start of the input.
    pub const START: Pos = Pos {
        offset: 0,
        line: 1,
        col: 1,
    };
}

impl Default for Pos {
    fn default() -> Self {
        Pos::START
    }
}

/// A boolean expression node of a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Ast {
    And {
        children: Vec<Ast>,
        pos: Pos,
    },
    Or {
        children: Vec<Ast>,
        pos: Pos,
    },
    Not {
        child: Box<Ast>,
        pos: Pos,
    },
    /// A bare identifier in check position: a macro reference.
    Identifier {
        name: String,
        pos: Pos,
    },
    /// A field (or transformer) compared with an operator.
    Check(Box<Check>),
}

impl Ast {
    /// Where this node starts in the condition text.
    pub fn pos(&self) -> Pos {
        match self {
            Ast::And { pos, .. }
            | Ast::Or { pos, .. }
            | Ast::Not { pos, .. }
            | Ast::Identifier { pos, .. } => *pos,
            Ast::Check(check) => check.pos,
        }
    }
}

/// `left op [modifier] right`, or `left exists` (then `right` is `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub left: Operand,
    pub op: CmpOp,
    pub modifier: Option<Modifier>,
    pub right: Option<Operand>,
    pub pos: Pos,
}

impl Check {
    /// The operator as written, with its modifier: `"=="`, `"startswith anyof"`.
    pub fn op_text(&self) -> String {
        match self.modifier {
            Some(m) => format!("{} {}", self.op.as_str(), m.as_str()),
            None => self.op.as_str().to_owned(),
        }
    }
}

/// Comparison operators. `=` and `==` are kept apart only to render the AST as written; they
/// compare the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CmpOp {
    Exists,
    Eq,
    EqEq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    IContains,
    BContains,
    StartsWith,
    BStartsWith,
    EndsWith,
    Glob,
    IGlob,
    Regex,
    In,
    Intersects,
    PMatch,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Exists => "exists",
            CmpOp::Eq => "=",
            CmpOp::EqEq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Contains => "contains",
            CmpOp::IContains => "icontains",
            CmpOp::BContains => "bcontains",
            CmpOp::StartsWith => "startswith",
            CmpOp::BStartsWith => "bstartswith",
            CmpOp::EndsWith => "endswith",
            CmpOp::Glob => "glob",
            CmpOp::IGlob => "iglob",
            CmpOp::Regex => "regex",
            CmpOp::In => "in",
            CmpOp::Intersects => "intersects",
            CmpOp::PMatch => "pmatch",
        }
    }

    /// `in`, `intersects`, `pmatch`: the right side is a list.
    pub fn is_list_op(self) -> bool {
        matches!(self, CmpOp::In | CmpOp::Intersects | CmpOp::PMatch)
    }

    /// `=` or `==`.
    pub fn is_eq(self) -> bool {
        matches!(self, CmpOp::Eq | CmpOp::EqEq)
    }
}

impl std::fmt::Display for CmpOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// libs 0.25 string-operator modifiers: `proc.name startswith anyof (/a, /b)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Modifier {
    OneOf,
    AnyOf,
    AllOf,
}

impl Modifier {
    pub fn as_str(self) -> &'static str {
        match self {
            Modifier::OneOf => "oneof",
            Modifier::AnyOf => "anyof",
            Modifier::AllOf => "allof",
        }
    }
}

/// Field transformers. `Val` is only valid on the right-hand side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transformer {
    Val,
    ToLower,
    ToUpper,
    B64,
    Basename,
    Len,
    Join,
    Concat,
    GetOpt,
}

impl Transformer {
    pub fn as_str(self) -> &'static str {
        match self {
            Transformer::Val => "val",
            Transformer::ToLower => "tolower",
            Transformer::ToUpper => "toupper",
            Transformer::B64 => "b64",
            Transformer::Basename => "basename",
            Transformer::Len => "len",
            Transformer::Join => "join",
            Transformer::Concat => "concat",
            Transformer::GetOpt => "getopt",
        }
    }
}

/// A field reference as written: `proc.aname[2]` is `{name: "proc.aname", arg: Some("2")}`;
/// `evt.arg.flags` keeps its dotted argument inside the name (resolved by [`crate::fields`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldRef {
    pub name: String,
    pub arg: Option<String>,
    pub pos: Pos,
}

impl FieldRef {
    /// The field as written: `name` or `name[arg]`.
    pub fn text(&self) -> String {
        match &self.arg {
            Some(a) => format!("{}[{}]", self.name, a),
            None => self.name.clone(),
        }
    }
}

/// One side of a check.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Field(FieldRef),
    /// `tolower(proc.name)`, `join("-", (fd.name, fd.directory))`, `val(proc.pname)`; `arg` is an
    /// optional `[arg]` written after the closing parenthesis.
    Transform {
        transformer: Transformer,
        args: Vec<Operand>,
        arg: Option<String>,
        pos: Pos,
    },
    /// A bare or quoted value (quotes removed, escapes resolved); a bare word on the right of a
    /// list operator may name a list the loader substitutes.
    Value {
        text: String,
        pos: Pos,
    },
    /// `(a, b, c)` on the right of a list operator or a modifier.
    List {
        items: Vec<String>,
        pos: Pos,
    },
    /// `(fd.name, "x", 1)` as an argument of `join`/`concat`.
    TransformerList {
        items: Vec<Operand>,
        pos: Pos,
    },
}

impl Operand {
    pub fn pos(&self) -> Pos {
        match self {
            Operand::Field(f) => f.pos,
            Operand::Transform { pos, .. }
            | Operand::Value { pos, .. }
            | Operand::List { pos, .. }
            | Operand::TransformerList { pos, .. } => *pos,
        }
    }

    fn visit_fields<'a>(&'a self, f: &mut dyn FnMut(&'a FieldRef)) {
        match self {
            Operand::Field(r) => f(r),
            Operand::Transform { args, .. } | Operand::TransformerList { items: args, .. } => {
                for a in args {
                    a.visit_fields(f);
                }
            }
            Operand::Value { .. } | Operand::List { .. } => {}
        }
    }
}

impl Ast {
    /// Calls `f` for every macro reference (bare identifier), in text order.
    pub fn visit_identifiers<'a>(&'a self, f: &mut dyn FnMut(&'a str, Pos)) {
        match self {
            Ast::And { children, .. } | Ast::Or { children, .. } => {
                for c in children {
                    c.visit_identifiers(f);
                }
            }
            Ast::Not { child, .. } => child.visit_identifiers(f),
            Ast::Identifier { name, pos } => f(name, *pos),
            Ast::Check(_) => {}
        }
    }

    /// Replaces macro references: `resolve(name, pos)` returns the macro's (already resolved) AST,
    /// or `None` to leave the identifier in place (the caller reports it as undefined).
    pub fn substitute_identifiers(&mut self, resolve: &mut dyn FnMut(&str, Pos) -> Option<Ast>) {
        match self {
            Ast::And { children, .. } | Ast::Or { children, .. } => {
                for c in children {
                    c.substitute_identifiers(resolve);
                }
            }
            Ast::Not { child, .. } => child.substitute_identifiers(resolve),
            Ast::Identifier { name, pos } => {
                if let Some(replacement) = resolve(name, *pos) {
                    *self = replacement;
                }
            }
            Ast::Check(_) => {}
        }
    }

    /// Calls `f` for every check, in text order.
    pub fn visit_checks<'a>(&'a self, f: &mut dyn FnMut(&'a Check)) {
        match self {
            Ast::And { children, .. } | Ast::Or { children, .. } => {
                for c in children {
                    c.visit_checks(f);
                }
            }
            Ast::Not { child, .. } => child.visit_checks(f),
            Ast::Identifier { .. } => {}
            Ast::Check(c) => f(c),
        }
    }

    fn visit_checks_mut(&mut self, f: &mut dyn FnMut(&mut Check)) {
        match self {
            Ast::And { children, .. } | Ast::Or { children, .. } => {
                for c in children {
                    c.visit_checks_mut(f);
                }
            }
            Ast::Not { child, .. } => child.visit_checks_mut(f),
            Ast::Identifier { .. } => {}
            Ast::Check(c) => f(c),
        }
    }

    /// Every field referenced (left sides, `val()` and transformer arguments), in text order.
    pub fn fields(&self) -> Vec<&FieldRef> {
        let mut out = Vec::new();
        self.visit_checks(&mut |c| {
            c.left.visit_fields(&mut |r| out.push(r));
            if let Some(r) = &c.right {
                r.visit_fields(&mut |r| out.push(r));
            }
        });
        out
    }

    /// Expands list names in list-valued operands (`in`, `intersects`, `pmatch` and modifier
    /// lists): an item for which `resolve` returns `Some(items)` is replaced by those items, and a
    /// bare word right operand (`proc.name in shell_binaries`) naming a list becomes that list.
    /// `resolve` should return already-expanded items (lists of lists are expanded when each list
    /// is defined, as Falco does). Returns the names that were expanded, for unused-list warnings.
    pub fn expand_lists(
        &mut self,
        resolve: &mut dyn FnMut(&str) -> Option<Vec<String>>,
    ) -> Vec<String> {
        let mut used = Vec::new();
        self.visit_checks_mut(&mut |c| {
            if !(c.op.is_list_op() || c.modifier.is_some()) {
                return;
            }
            match &mut c.right {
                Some(Operand::List { items, .. }) => {
                    let mut out = Vec::with_capacity(items.len());
                    for item in items.drain(..) {
                        match resolve(&item) {
                            Some(expanded) => {
                                out.extend(expanded);
                                used.push(item);
                            }
                            None => out.push(item),
                        }
                    }
                    *items = out;
                }
                Some(Operand::Value { text, pos }) => {
                    if let Some(expanded) = resolve(text) {
                        used.push(std::mem::take(text));
                        let pos = *pos;
                        c.right = Some(Operand::List {
                            items: expanded,
                            pos,
                        });
                    }
                }
                _ => {}
            }
        });
        used
    }
}
