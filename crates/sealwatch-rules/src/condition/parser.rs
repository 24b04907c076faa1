//! Recursive-descent parser for Falco conditions.
//!
//! The structure mirrors libsinsp's grammar so that the accepted language, the error messages and
//! the recursion-depth accounting are the same: every `parse_*` step that libsinsp guards counts
//! one level of depth, and the error is raised when the depth reaches the maximum.

use super::{Ast, Check, CmpOp, FieldRef, Modifier, Operand, Pos, Transformer};

/// A condition that does not parse. `message` is libsinsp's message; the position is where the
/// parser stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at line {line}, column {col})")]
pub struct ParseError {
    pub message: String,
    pub offset: usize,
    pub line: u32,
    pub col: u32,
}

impl ParseError {
    pub fn pos(&self) -> Pos {
        Pos {
            offset: self.offset,
            line: self.line,
            col: self.col,
        }
    }
}

/// Parser options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Maximum recursion depth; libsinsp's default is 100, Falco raises it to 1000 for rules.
    pub max_depth: u32,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions { max_depth: 100 }
    }
}

impl ParseOptions {
    /// The depth Falco uses for rule conditions.
    pub const FALCO_RULES: ParseOptions = ParseOptions { max_depth: 1000 };
}

/// A successful parse: the AST and the parser position after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub ast: Ast,
    pub end: Pos,
}

/// Parses a condition with the default options (max depth 100).
pub fn parse(input: &str) -> Result<Ast, ParseError> {
    parse_with(input, &ParseOptions::default()).map(|p| p.ast)
}

/// Parses a condition.
pub fn parse_with(input: &str, options: &ParseOptions) -> Result<Parsed, ParseError> {
    let mut p = Parser {
        input: input.as_bytes(),
        pos: Pos::START,
        last_token: String::new(),
        depth: 0,
        max_depth: options.max_depth,
    };
    if input.is_empty() {
        return Err(p.error("filter input string is empty"));
    }
    let ast = p.parse_or()?;
    if p.pos.offset != p.input.len() {
        let msg = format!(
            "unexpected token after '{}', expecting 'or', 'and'",
            p.last_token
        );
        return Err(p.error(&msg));
    }
    Ok(Parsed { ast, end: p.pos })
}

type PResult<T> = Result<T, ParseError>;

const STR_OPS: &[(&str, CmpOp, bool)] = &[
    // (text, op, requires a blank after it)
    ("==", CmpOp::EqEq, false),
    ("=", CmpOp::Eq, false),
    ("!=", CmpOp::Ne, false),
    ("glob", CmpOp::Glob, true),
    ("iglob", CmpOp::IGlob, true),
    ("contains", CmpOp::Contains, true),
    ("icontains", CmpOp::IContains, true),
    ("bcontains", CmpOp::BContains, true),
    ("startswith", CmpOp::StartsWith, true),
    ("bstartswith", CmpOp::BStartsWith, true),
    ("endswith", CmpOp::EndsWith, true),
    ("regex", CmpOp::Regex, true),
];

const NUM_OPS: &[(&str, CmpOp)] = &[
    ("<=", CmpOp::Le),
    ("<", CmpOp::Lt),
    (">=", CmpOp::Ge),
    (">", CmpOp::Gt),
];

const LIST_OPS: &[(&str, CmpOp)] = &[
    ("intersects", CmpOp::Intersects),
    ("in", CmpOp::In),
    ("pmatch", CmpOp::PMatch),
];

const MODIFIERS: &[(&str, Modifier)] = &[
    ("oneof", Modifier::OneOf),
    ("anyof", Modifier::AnyOf),
    ("allof", Modifier::AllOf),
];

const TRANSFORMERS: &[(&str, Transformer)] = &[
    ("tolower(", Transformer::ToLower),
    ("toupper(", Transformer::ToUpper),
    ("b64(", Transformer::B64),
    ("basename(", Transformer::Basename),
    ("len(", Transformer::Len),
    ("join(", Transformer::Join),
    ("concat(", Transformer::Concat),
    ("getopt(", Transformer::GetOpt),
];

const TRANSFORMER_NAMES_WITH_VAL: &str =
    "'val', 'tolower', 'toupper', 'b64', 'basename', 'len', 'join', 'concat', 'getopt'";

const ALL_OPERATORS: &str = "'exists', '<=', '<', '>=', '>', '==', '=', '!=', 'glob', 'iglob', \
'contains', 'icontains', 'bcontains', 'startswith', 'bstartswith', 'endswith', 'regex', \
'intersects', 'in', 'pmatch'";

struct Parser<'a> {
    input: &'a [u8],
    pos: Pos,
    last_token: String,
    depth: u32,
    max_depth: u32,
}

fn is_posix_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn is_alpha(c: u8) -> bool {
    c.is_ascii_alphabetic()
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

impl<'a> Parser<'a> {
    fn error(&self, message: &str) -> ParseError {
        ParseError {
            message: message.to_owned(),
            offset: self.pos.offset,
            line: self.pos.line,
            col: self.pos.col,
        }
    }

    /// The byte at the cursor, 0 at the end (libsinsp reads a C string).
    fn peek(&self) -> u8 {
        self.input.get(self.pos.offset).copied().unwrap_or(0)
    }

    fn rest(&self) -> &'a [u8] {
        self.input.get(self.pos.offset..).unwrap_or(&[])
    }

    fn advance_byte(&mut self) {
        let c = self.peek();
        self.pos.col += 1;
        if c == b'\r' || c == b'\n' {
            self.pos.col = 1;
            self.pos.line += 1;
        }
        self.pos.offset += 1;
    }

    /// Consumes `n` bytes and makes them the last token.
    fn take(&mut self, n: usize) {
        let start = self.pos.offset;
        for _ in 0..n {
            self.advance_byte();
        }
        let bytes = self.input.get(start..start + n).unwrap_or(&[]);
        self.last_token = String::from_utf8_lossy(bytes).into_owned();
    }

    /// Runs `f` one recursion level deeper.
    fn guarded<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        self.depth += 1;
        let result = if self.depth >= self.max_depth {
            Err(self.error(&format!("exceeded max depth limit of {}", self.max_depth)))
        } else {
            f(self)
        };
        self.depth -= 1;
        result
    }

    // ---- lexing -------------------------------------------------------------------------------

    fn lex_blank(&mut self) -> bool {
        let mut found = false;
        while matches!(self.peek(), b' ' | b'\t' | 0x08 | b'\r' | b'\n') {
            found = true;
            self.advance_byte();
        }
        found
    }

    fn lex_str(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s.as_bytes()) {
            self.take(s.len());
            true
        } else {
            false
        }
    }

    /// An operator word; `blank_after` operators need at least one blank, which is consumed.
    fn lex_operator(&mut self, s: &str, blank_after: bool) -> bool {
        if !blank_after {
            return self.lex_str(s);
        }
        let saved = (self.pos, self.last_token.clone());
        if self.lex_str(s) {
            if self.lex_blank() {
                return true;
            }
            self.pos = saved.0;
            self.last_token = saved.1;
        }
        false
    }

    fn ident_len(bytes: &[u8]) -> usize {
        match bytes.first() {
            Some(&c) if is_alpha(c) => {
                1 + bytes[1..].iter().take_while(|&&c| is_ident_char(c)).count()
            }
            _ => 0,
        }
    }

    fn lex_identifier(&mut self) -> bool {
        let n = Self::ident_len(self.rest());
        if n == 0 {
            return false;
        }
        self.take(n);
        true
    }

    fn lex_field_name(&mut self) -> bool {
        let rest = self.rest();
        let mut n = Self::ident_len(rest);
        if n == 0 {
            return false;
        }
        let mut parts = 0;
        while rest.get(n) == Some(&b'.') {
            let m = Self::ident_len(rest.get(n + 1..).unwrap_or(&[]));
            if m == 0 {
                break;
            }
            n += 1 + m;
            parts += 1;
        }
        if parts == 0 {
            return false;
        }
        self.take(n);
        true
    }

    fn lex_class(&mut self, accept: impl Fn(u8) -> bool) -> bool {
        let n = self.rest().iter().take_while(|&&c| accept(c)).count();
        if n == 0 {
            return false;
        }
        self.take(n);
        true
    }

    fn lex_field_arg_bare_str(&mut self) -> bool {
        self.lex_class(|c| {
            !(c == b'[' || c == b']' || c == b'"' || c == b'\'' || is_posix_space(c))
        })
    }

    fn lex_bare_str(&mut self) -> bool {
        self.lex_class(|c| {
            !(matches!(c, b'(' | b')' | b'"' | b'\'' | b'=' | b',') || is_posix_space(c))
        })
    }

    fn lex_hex_num(&mut self) -> bool {
        let rest = self.rest();
        if rest.len() > 2 && rest[0] == b'0' && (rest[1] == b'x' || rest[1] == b'X') {
            let n = rest[2..]
                .iter()
                .take_while(|c| c.is_ascii_hexdigit())
                .count();
            if n > 0 {
                self.take(2 + n);
                return true;
            }
        }
        false
    }

    /// `[+-]?[0-9]+[.]?[0-9]*([eE][+-][0-9]+)?`, longest match.
    fn lex_num(&mut self) -> bool {
        let rest = self.rest();
        let mut n = 0;
        if matches!(rest.first(), Some(b'+' | b'-')) {
            n += 1;
        }
        let digits = rest[n..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return false;
        }
        n += digits;
        if rest.get(n) == Some(&b'.') {
            n += 1;
        }
        n += rest[n..].iter().take_while(|c| c.is_ascii_digit()).count();
        if matches!(rest.get(n), Some(b'e' | b'E')) && matches!(rest.get(n + 1), Some(b'+' | b'-'))
        {
            let exp = rest
                .get(n + 2..)
                .unwrap_or(&[])
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            if exp > 0 {
                n += 2 + exp;
            }
        }
        self.take(n);
        true
    }

    /// A quoted string. As in libsinsp, the closing quote is the first delimiter not preceded
    /// by a backslash (so `'a\\'` does not end at its last quote); escapes are resolved after.
    fn lex_quoted_str(&mut self) -> PResult<bool> {
        let delimiter = self.peek();
        if delimiter != b'\'' && delimiter != b'"' {
            return Ok(false);
        }
        let start = self.pos;
        let mut prev = b'\\';
        loop {
            let c = self.peek();
            if c == 0 {
                break;
            }
            if c == delimiter && prev != b'\\' {
                self.advance_byte();
                let raw = self.input.get(start.offset..self.pos.offset).unwrap_or(&[]);
                self.last_token = unescape(raw).map_err(|m| self.error(&m))?;
                return Ok(true);
            }
            prev = c;
            self.advance_byte();
        }
        self.pos = start;
        Ok(false)
    }

    fn lex_transformer(&mut self) -> Option<Transformer> {
        for &(text, t) in TRANSFORMERS {
            if self.lex_str(text) {
                return Some(t);
            }
        }
        None
    }

    fn list_value_follows(&mut self) -> bool {
        self.peek() == b'(' || Self::ident_len(self.rest()) > 0
    }

    fn bool_keyword_follows(&self) -> bool {
        let rest = self.rest();
        ["and", "or", "not"].iter().any(|kw| {
            rest.starts_with(kw.as_bytes())
                && rest
                    .get(kw.len())
                    .is_none_or(|&c| !c.is_ascii_alphanumeric())
        })
    }

    // ---- grammar ------------------------------------------------------------------------------

    fn parse_or(&mut self) -> PResult<Ast> {
        self.guarded(|p| {
            let pos = p.pos;
            p.lex_blank();
            let mut children = vec![p.parse_and()?];
            p.lex_blank();
            while p.lex_str("or") {
                let child = if !p.lex_blank() {
                    if p.lex_str("(") {
                        p.parse_embedded_remainder()?
                    } else {
                        return Err(p.error("expected blank or '(' after 'or'"));
                    }
                } else {
                    p.parse_and()?
                };
                children.push(child);
                p.lex_blank();
            }
            Ok(if children.len() > 1 {
                Ast::Or { children, pos }
            } else {
                children.pop().unwrap_or(Ast::Or {
                    children: Vec::new(),
                    pos,
                })
            })
        })
    }

    fn parse_and(&mut self) -> PResult<Ast> {
        self.guarded(|p| {
            let pos = p.pos;
            p.lex_blank();
            let mut children = vec![p.parse_not()?];
            p.lex_blank();
            while p.lex_str("and") {
                let child = if !p.lex_blank() {
                    if p.lex_str("(") {
                        p.parse_embedded_remainder()?
                    } else {
                        return Err(p.error("expected blank or '(' after 'and'"));
                    }
                } else {
                    p.parse_not()?
                };
                children.push(child);
                p.lex_blank();
            }
            Ok(if children.len() > 1 {
                Ast::And { children, pos }
            } else {
                children.pop().unwrap_or(Ast::And {
                    children: Vec::new(),
                    pos,
                })
            })
        })
    }

    /// `not` runs toggle a parity bit; one `Not` node per nesting level when it is odd.
    fn lex_not_blank(&mut self) -> bool {
        let rest = self.rest();
        if rest.starts_with(b"not") {
            let n = rest[3..].iter().take_while(|&&c| is_posix_space(c)).count();
            if n > 0 {
                self.take(3 + n);
                return true;
            }
        }
        false
    }

    fn parse_not(&mut self) -> PResult<Ast> {
        self.guarded(|p| {
            let pos = p.pos;
            let mut negated = false;
            p.lex_blank();
            while p.lex_not_blank() {
                negated = !negated;
            }
            let child = if p.lex_str("not(") {
                negated = !negated;
                p.parse_embedded_remainder()?
            } else {
                p.parse_check()?
            };
            Ok(if negated {
                Ast::Not {
                    child: Box::new(child),
                    pos,
                }
            } else {
                child
            })
        })
    }

    fn parse_embedded_remainder(&mut self) -> PResult<Ast> {
        self.guarded(|p| {
            p.lex_blank();
            let child = p.parse_or()?;
            p.lex_blank();
            if !p.lex_str(")") {
                return Err(p.error("expected a ')' token"));
            }
            Ok(child)
        })
    }

    fn parse_check(&mut self) -> PResult<Ast> {
        self.guarded(|p| {
            let pos = p.pos;
            p.lex_blank();
            if p.lex_str("(") {
                return p.parse_embedded_remainder();
            }
            if p.lex_field_name() {
                let name = p.last_token.clone();
                let left = p.parse_field_remainder(name, pos)?;
                return p.parse_condition(left, pos);
            }
            if let Some(t) = p.lex_transformer() {
                p.lex_blank();
                let left = p.parse_transformer_remainder(t, pos)?;
                return p.parse_condition(left, pos);
            }
            if p.lex_identifier() {
                return Ok(Ast::Identifier {
                    name: p.last_token.clone(),
                    pos,
                });
            }
            Err(p.error("expected a '(' token, a field check, or an identifier"))
        })
    }

    fn parse_field_remainder(&mut self, name: String, pos: Pos) -> PResult<Operand> {
        self.guarded(|p| {
            let arg = p.parse_optional_field_arg()?;
            Ok(Operand::Field(FieldRef { name, arg, pos }))
        })
    }

    fn parse_optional_field_arg(&mut self) -> PResult<Option<String>> {
        if !self.lex_str("[") {
            return Ok(None);
        }
        if !self.lex_quoted_str()? && !self.lex_field_arg_bare_str() {
            return Err(
                self.error("expected a valid field argument: a quoted string or a bare string")
            );
        }
        let arg = self.last_token.clone();
        if !self.lex_str("]") {
            return Err(self.error("expected a ']' token"));
        }
        Ok(Some(arg))
    }

    /// After `name(`: arguments separated by commas, then `)` and an optional `[arg]`.
    fn parse_transformer_remainder(&mut self, t: Transformer, pos: Pos) -> PResult<Operand> {
        self.guarded(|p| {
            p.lex_blank();
            let mut args = Vec::new();
            loop {
                let arg_pos = p.pos;
                args.push(p.parse_transformer_arg(arg_pos)?);
                p.lex_blank();
                if !p.lex_str(",") {
                    break;
                }
            }
            p.lex_blank();
            if !p.lex_str(")") {
                return Err(p.error("expected a ')' token closing the transformer"));
            }
            let arg = p.parse_optional_field_arg()?;
            Ok(Operand::Transform {
                transformer: t,
                args,
                arg,
                pos,
            })
        })
    }

    fn parse_transformer_arg(&mut self, pos: Pos) -> PResult<Operand> {
        self.guarded(|p| {
            p.lex_blank();
            if p.lex_hex_num() || p.lex_num() {
                return Ok(p.value(pos));
            }
            if p.lex_quoted_str()? {
                return Ok(p.value(pos));
            }
            if p.lex_str("(") {
                return p.parse_transformer_list(pos);
            }
            if let Some(t) = p.lex_transformer() {
                return p.parse_transformer_remainder(t, pos);
            }
            if p.lex_field_name() {
                let name = p.last_token.clone();
                return p.parse_field_remainder(name, pos);
            }
            Err(p.error(
                "expected field transformer argument: field, transformer, quoted string, number, or transformer list",
            ))
        })
    }

    fn parse_transformer_list(&mut self, pos: Pos) -> PResult<Operand> {
        let mut items = Vec::new();
        self.lex_blank();
        if self.lex_str(")") {
            return Ok(Operand::TransformerList { items, pos });
        }
        items.push(self.parse_transformer_list_arg(pos)?);
        self.lex_blank();
        while self.lex_str(",") {
            self.lex_blank();
            items.push(self.parse_transformer_list_arg(pos)?);
            self.lex_blank();
        }
        if !self.lex_str(")") {
            return Err(self.error("expected ')'"));
        }
        Ok(Operand::TransformerList { items, pos })
    }

    fn parse_transformer_list_arg(&mut self, pos: Pos) -> PResult<Operand> {
        if self.lex_field_name() {
            let name = self.last_token.clone();
            return self.parse_field_remainder(name, pos);
        }
        if let Some(t) = self.lex_transformer() {
            self.lex_blank();
            return self.parse_transformer_remainder(t, pos);
        }
        if self.lex_quoted_str()? {
            return Ok(self.value(pos));
        }
        if self.lex_hex_num() || self.lex_num() {
            return Ok(self.value(pos));
        }
        Err(self.error(
            "expected transformer list argument: field, transformer, quoted string, or number",
        ))
    }

    fn value(&self, pos: Pos) -> Operand {
        Operand::Value {
            text: self.last_token.clone(),
            pos,
        }
    }

    fn parse_condition(&mut self, left: Operand, pos: Pos) -> PResult<Ast> {
        self.guarded(|p| {
            p.lex_blank();
            if p.lex_str("exists") {
                return Ok(Ast::Check(Box::new(Check {
                    left,
                    op: CmpOp::Exists,
                    modifier: None,
                    right: None,
                    pos,
                })));
            }
            p.lex_blank();
            let mut modifier = None;
            let (op, right) = if let Some(op) = p.lex_num_op() {
                (op, p.parse_num_value_or_transformer()?)
            } else if let Some((op, word)) = p.lex_str_op() {
                // Word operators consumed their mandatory blank; symbols may have one.
                let had_blank = word || p.lex_blank();
                let saved = (p.pos, p.last_token.clone());
                let m = if had_blank { p.lex_modifier() } else { None };
                if let Some(m) = m.filter(|_| p.list_value_follows() && !p.bool_keyword_follows()) {
                    modifier = Some(m);
                    (op, p.parse_list_value()?)
                } else {
                    p.pos = saved.0;
                    p.last_token = saved.1;
                    (op, p.parse_str_value_or_transformer(false)?)
                }
            } else if let Some(op) = p.lex_list_op() {
                (op, p.parse_list_value_or_transformer()?)
            } else {
                return Err(p.error(&format!(
                    "expected a valid check operator: one of {ALL_OPERATORS}"
                )));
            };
            Ok(Ast::Check(Box::new(Check {
                left,
                op,
                modifier,
                right: Some(right),
                pos,
            })))
        })
    }

    fn lex_num_op(&mut self) -> Option<CmpOp> {
        NUM_OPS
            .iter()
            .find(|(text, _)| self.lex_str(text))
            .map(|&(_, op)| op)
    }

    /// Returns the operator and whether it is a word operator.
    fn lex_str_op(&mut self) -> Option<(CmpOp, bool)> {
        for &(text, op, word) in STR_OPS {
            if self.lex_operator(text, word) {
                return Some((op, word));
            }
        }
        None
    }

    fn lex_list_op(&mut self) -> Option<CmpOp> {
        LIST_OPS
            .iter()
            .find(|(text, _)| self.lex_str(text))
            .map(|&(_, op)| op)
    }

    fn lex_modifier(&mut self) -> Option<Modifier> {
        for &(text, m) in MODIFIERS {
            if self.lex_operator(text, true) {
                return Some(m);
            }
        }
        None
    }

    fn parse_num_value_or_transformer(&mut self) -> PResult<Operand> {
        self.guarded(|p| {
            p.lex_blank();
            let pos = p.pos;
            if let Some(t) = p.try_parse_transformer_or_val()? {
                return Ok(t);
            }
            if p.lex_hex_num() || p.lex_num() {
                return Ok(p.value(pos));
            }
            Err(p.error(&format!(
                "expected a number value or a field with a valid transformer: {TRANSFORMER_NAMES_WITH_VAL}"
            )))
        })
    }

    fn parse_str_value_or_transformer(&mut self, no_transformer: bool) -> PResult<Operand> {
        self.guarded(|p| {
            p.lex_blank();
            let pos = p.pos;
            if !no_transformer {
                if let Some(t) = p.try_parse_transformer_or_val()? {
                    return Ok(t);
                }
            }
            if p.lex_quoted_str()? || p.lex_bare_str() {
                return Ok(p.value(pos));
            }
            if no_transformer {
                return Err(p.error("expected a string value"));
            }
            Err(p.error(&format!(
                "expected a string value or a field with a valid transformer: {TRANSFORMER_NAMES_WITH_VAL}"
            )))
        })
    }

    fn try_parse_list(&mut self) -> PResult<Option<Operand>> {
        let pos = self.pos;
        if !self.lex_str("(") {
            return Ok(None);
        }
        let mut items = Vec::new();
        self.lex_blank();
        // As in libsinsp, any failure on the first item means "the list is empty".
        if let Ok(first) = self.parse_str_value_or_transformer(true) {
            if let Operand::Value { text, .. } = first {
                items.push(text);
            }
            self.lex_blank();
            while self.lex_str(",") {
                if let Operand::Value { text, .. } = self.parse_str_value_or_transformer(true)? {
                    items.push(text);
                }
                self.lex_blank();
            }
        }
        if !self.lex_str(")") {
            return Err(self.error("expected a ')' token"));
        }
        Ok(Some(Operand::List { items, pos }))
    }

    fn parse_list_value(&mut self) -> PResult<Operand> {
        self.guarded(|p| {
            p.lex_blank();
            let pos = p.pos;
            if let Some(list) = p.try_parse_list()? {
                return Ok(list);
            }
            if p.lex_identifier() {
                return Ok(p.value(pos));
            }
            Err(p.error("expected a list or an identifier"))
        })
    }

    fn parse_list_value_or_transformer(&mut self) -> PResult<Operand> {
        self.guarded(|p| {
            p.lex_blank();
            let pos = p.pos;
            if let Some(list) = p.try_parse_list()? {
                return Ok(list);
            }
            if let Some(t) = p.try_parse_transformer_or_val()? {
                return Ok(t);
            }
            if p.lex_identifier() {
                return Ok(p.value(pos));
            }
            Err(p.error(&format!(
                "expected a list, an identifier, or a field with a valid transformer: {TRANSFORMER_NAMES_WITH_VAL}"
            )))
        })
    }

    fn try_parse_transformer_or_val(&mut self) -> PResult<Option<Operand>> {
        self.guarded(|p| {
            p.lex_blank();
            let pos = p.pos;
            if p.lex_str("val(") {
                p.lex_blank();
                let field_pos = p.pos;
                if !p.lex_field_name() {
                    return Err(p.error("expected a field within 'val' transformer"));
                }
                let name = p.last_token.clone();
                let child = p.parse_field_remainder(name, field_pos)?;
                p.lex_blank();
                if !p.lex_str(")") {
                    return Err(p.error("expected a ')' token closing the transformer"));
                }
                let arg = p.parse_optional_field_arg()?;
                return Ok(Some(Operand::Transform {
                    transformer: Transformer::Val,
                    args: vec![child],
                    arg,
                    pos,
                }));
            }
            if let Some(t) = p.lex_transformer() {
                p.lex_blank();
                return p.parse_transformer_remainder(t, pos).map(Some);
            }
            Ok(None)
        })
    }
}

/// Resolves the escapes of a quoted token (delimiters included), as libsinsp's `unescape_str`.
fn unescape(raw: &[u8]) -> Result<String, String> {
    let quote = raw.first().copied().unwrap_or(b'"');
    let inner = raw.get(1..raw.len().saturating_sub(1)).unwrap_or(&[]);
    let mut out = Vec::with_capacity(inner.len());
    let mut i = 0;
    while let Some(&c) = inner.get(i) {
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let Some(&e) = inner.get(i) else {
            break;
        };
        i += 1;
        match e {
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            // libsinsp keeps `\ ` as a backslash for compatibility with old rules.
            b' ' | b'\\' => out.push(b'\\'),
            b'/' => out.push(b'/'),
            b'"' => {
                if quote != b'"' {
                    return Err("invalid \\\" escape in '-quoted string".to_owned());
                }
                out.push(b'"');
            }
            b'\'' => {
                if quote != b'\'' {
                    return Err("invalid \\' escape in \"-quoted string".to_owned());
                }
                out.push(b'\'');
            }
            b'x' => {
                let Some(hex) = inner.get(i..i + 2) else {
                    return Err("truncated hex char escape sequence".to_owned());
                };
                let text = String::from_utf8_lossy(hex).into_owned();
                let v = if hex.iter().all(u8::is_ascii_hexdigit) {
                    u8::from_str_radix(&text, 16).ok()
                } else {
                    None
                }
                .ok_or_else(|| format!("invalid hex char escape sequence: {text}"))?;
                out.push(v);
                i += 2;
            }
            other => {
                return Err(format!(
                    "unsupported string escape sequence: \\{}",
                    other as char
                ))
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}
