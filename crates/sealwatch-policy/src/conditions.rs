//! Kyverno conditions (`any`/`all` of `key`/`operator`/`value`) over a JSON document, with the
//! subset of JMESPath that real `verifyImages` attestation policies use.
//!
//! Supported inside `{{ }}`: field paths (`a.b`, `"quoted-key"`), indexes `[0]`, flatten `[]`,
//! wildcard `[*]`, filters `[?x == 'y']` (`==`, `!=`, `<`, `<=`, `>`, `>=`, `&&`, `||`), the
//! current node `@`, literals (`'raw'`, `` `json` ``, numbers), pipes `|`, and the functions
//! `length`, `to_number`, `to_string`, `contains` and Kyverno's `time_since`. Nested templates
//! (`time_since('', '{{ metadata.scanFinishedOn }}', '')`) are substituted innermost first, as
//! Kyverno does. Anything else is rejected when the policy is loaded.

use serde::Serialize;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use wildmatch::WildMatch;

/// A block of conditions: all of `all` and at least one of `any` (when non-empty) must hold.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ConditionBlock {
    pub any: Vec<Condition>,
    pub all: Vec<Condition>,
}

/// One condition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Condition {
    /// The key: a literal or a `{{ }}` template.
    pub key: Value,
    pub operator: Operator,
    pub value: Value,
    pub message: Option<String>,
}

/// Condition operators (Kyverno names; `Equal`/`NotEqual` are accepted as aliases at load time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Operator {
    Equals,
    NotEquals,
    In,
    AnyIn,
    AllIn,
    NotIn,
    AnyNotIn,
    AllNotIn,
    GreaterThan,
    GreaterThanOrEquals,
    LessThan,
    LessThanOrEquals,
    DurationGreaterThan,
    DurationGreaterThanOrEquals,
    DurationLessThan,
    DurationLessThanOrEquals,
}

impl Operator {
    /// Parses an operator name; `None` for unknown names.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "Equals" | "Equal" => Operator::Equals,
            "NotEquals" | "NotEqual" => Operator::NotEquals,
            "In" => Operator::In,
            "AnyIn" => Operator::AnyIn,
            "AllIn" => Operator::AllIn,
            "NotIn" => Operator::NotIn,
            "AnyNotIn" => Operator::AnyNotIn,
            "AllNotIn" => Operator::AllNotIn,
            "GreaterThan" => Operator::GreaterThan,
            "GreaterThanOrEquals" => Operator::GreaterThanOrEquals,
            "LessThan" => Operator::LessThan,
            "LessThanOrEquals" => Operator::LessThanOrEquals,
            "DurationGreaterThan" => Operator::DurationGreaterThan,
            "DurationGreaterThanOrEquals" => Operator::DurationGreaterThanOrEquals,
            "DurationLessThan" => Operator::DurationLessThan,
            "DurationLessThanOrEquals" => Operator::DurationLessThanOrEquals,
            _ => return None,
        })
    }
}

/// The outcome of evaluating condition blocks.
#[derive(Debug, Clone, PartialEq)]
pub enum ConditionOutcome {
    Pass,
    /// Not satisfied; the message names the failing condition.
    Fail(String),
    /// A key could not be evaluated.
    Error(String),
}

/// Evaluates all blocks against `document` at time `now` (for `time_since`).
pub fn evaluate_blocks(
    blocks: &[ConditionBlock],
    document: &Value,
    now: OffsetDateTime,
) -> ConditionOutcome {
    for block in blocks {
        for condition in &block.all {
            match evaluate_condition(condition, document, now) {
                Ok(true) => {}
                Ok(false) => {
                    return ConditionOutcome::Fail(describe_failure(condition, document, now))
                }
                Err(message) => return ConditionOutcome::Error(message),
            }
        }
        if !block.any.is_empty() {
            let mut failures = Vec::new();
            let mut any_passed = false;
            for condition in &block.any {
                match evaluate_condition(condition, document, now) {
                    Ok(true) => {
                        any_passed = true;
                        break;
                    }
                    Ok(false) => failures.push(describe_failure(condition, document, now)),
                    Err(message) => return ConditionOutcome::Error(message),
                }
            }
            if !any_passed {
                return ConditionOutcome::Fail(failures.join("; "));
            }
        }
    }
    ConditionOutcome::Pass
}

fn describe_failure(condition: &Condition, document: &Value, now: OffsetDateTime) -> String {
    if let Some(message) = &condition.message {
        return message.clone();
    }
    let key_text = match &condition.key {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let resolved = resolve_key(&condition.key, document, now)
        .map(|value| value.to_string())
        .unwrap_or_default();
    format!(
        "condition failed: {key_text} (= {resolved}) {:?} {}",
        condition.operator, condition.value
    )
}

/// Evaluates one condition.
pub fn evaluate_condition(
    condition: &Condition,
    document: &Value,
    now: OffsetDateTime,
) -> Result<bool, String> {
    let key = resolve_key(&condition.key, document, now)?;
    let value = resolve_key(&condition.value, document, now)?;
    Ok(apply_operator(condition.operator, &key, &value))
}

fn resolve_key(key: &Value, document: &Value, now: OffsetDateTime) -> Result<Value, String> {
    match key {
        Value::String(text) if text.contains("{{") => substitute(text, &mut |expr| {
            let parsed = parse_expression(expr)?;
            eval(&parsed, &Ev::Ref(document), now).map(Ev::into_value)
        }),
        other => Ok(other.clone()),
    }
}

/// Checks at load time that every template in `text` is in the supported subset.
pub fn check_template(text: &str) -> Result<(), String> {
    substitute(text, &mut |expr| {
        parse_expression(expr)?;
        Ok(Value::String("placeholder".to_owned()))
    })
    .map(|_| ())
}

/// Replaces `{{ }}` templates innermost first. A string that is exactly one template yields the
/// template's JSON value; otherwise results are spliced in as text.
fn substitute(
    text: &str,
    evaluate: &mut dyn FnMut(&str) -> Result<Value, String>,
) -> Result<Value, String> {
    let mut current = text.to_owned();
    // Each pass removes one template, so the loop is bounded by the input length.
    for _ in 0..=text.len() {
        let Some(close) = current.find("}}") else {
            if current.contains("{{") {
                return Err(format!("unterminated template in {text:?}"));
            }
            return Ok(Value::String(current));
        };
        let Some(open) = current.get(..close).and_then(|head| head.rfind("{{")) else {
            return Err(format!("unbalanced '}}}}' in {text:?}"));
        };
        let inner = current
            .get(open + 2..close)
            .unwrap_or_default()
            .trim()
            .to_owned();
        let value = evaluate(&inner)?;
        if open == 0 && close + 2 == current.len() {
            return Ok(value);
        }
        let spliced = match value {
            Value::String(s) => s,
            Value::Null => String::new(),
            other => other.to_string(),
        };
        let head = current.get(..open).unwrap_or_default();
        let tail = current.get(close + 2..).unwrap_or_default();
        current = format!("{head}{spliced}{tail}");
    }
    Err(format!("too many templates in {text:?}"))
}

// ----------------------------------------------------------------------------------------------
// Operators

fn apply_operator(operator: Operator, key: &Value, value: &Value) -> bool {
    match operator {
        Operator::Equals => equals(key, value),
        Operator::NotEquals => !equals(key, value),
        Operator::AnyIn => as_list(key).iter().any(|k| contained(k, value)),
        Operator::AllIn | Operator::In => {
            let keys = as_list(key);
            !keys.is_empty() && keys.iter().all(|k| contained(k, value))
        }
        Operator::NotIn => !apply_operator(Operator::In, key, value),
        Operator::AnyNotIn => as_list(key).iter().any(|k| !contained(k, value)),
        Operator::AllNotIn => as_list(key).iter().all(|k| !contained(k, value)),
        Operator::GreaterThan => compare(key, value).is_some_and(|o| o.is_gt()),
        Operator::GreaterThanOrEquals => compare(key, value).is_some_and(|o| o.is_ge()),
        Operator::LessThan => compare(key, value).is_some_and(|o| o.is_lt()),
        Operator::LessThanOrEquals => compare(key, value).is_some_and(|o| o.is_le()),
        Operator::DurationGreaterThan => compare_durations(key, value).is_some_and(|o| o.is_gt()),
        Operator::DurationGreaterThanOrEquals => {
            compare_durations(key, value).is_some_and(|o| o.is_ge())
        }
        Operator::DurationLessThan => compare_durations(key, value).is_some_and(|o| o.is_lt()),
        Operator::DurationLessThanOrEquals => {
            compare_durations(key, value).is_some_and(|o| o.is_le())
        }
    }
}

fn as_list(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    }
}

/// Is `key` an element of `value` (a list, or a single value); strings match as wildcards.
fn contained(key: &Value, value: &Value) -> bool {
    match value {
        Value::Array(items) => items.iter().any(|item| equals(key, item)),
        other => equals(key, other),
    }
}

/// Kyverno's Equals: a string value is a wildcard pattern for a string key; numbers compare
/// numerically (also when one side is a numeric string); other values compare structurally.
fn equals(key: &Value, value: &Value) -> bool {
    match (key, value) {
        (Value::String(k), Value::String(v)) => {
            k == v
                || WildMatch::new(v).matches(k)
                || matches!((parse_duration(k), parse_duration(v)), (Some(a), Some(b)) if a == b && looks_like_duration(v))
        }
        (Value::Number(_), _) | (_, Value::Number(_)) => match (as_number(key), as_number(value)) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        },
        _ => key == value,
    }
}

fn looks_like_duration(text: &str) -> bool {
    text.ends_with(|c: char| c.is_ascii_alphabetic())
}

fn as_number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
}

fn compare(key: &Value, value: &Value) -> Option<std::cmp::Ordering> {
    if let (Some(a), Some(b)) = (as_number(key), as_number(value)) {
        return a.partial_cmp(&b);
    }
    compare_durations(key, value)
}

fn compare_durations(key: &Value, value: &Value) -> Option<std::cmp::Ordering> {
    let to_seconds = |v: &Value| match v {
        Value::String(s) => parse_duration(s),
        Value::Number(n) => n.as_f64(),
        _ => None,
    };
    to_seconds(key)?.partial_cmp(&to_seconds(value)?)
}

/// Parses a Go duration (`72h`, `1h30m`, `1.5s`, `300ms`, `-2m`) into seconds.
pub fn parse_duration(text: &str) -> Option<f64> {
    let text = text.trim();
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Some(0.0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest.get(..number_len)?.parse().ok()?;
        rest = rest.get(number_len..)?;
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match rest.get(..unit_len)? {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = rest.get(unit_len..)?;
        total += number * scale;
    }
    Some(if negative { -total } else { total })
}

/// Formats seconds like Go's `time.Duration.String()` (`26h3m4.5s`, `0s`).
pub fn format_duration(seconds: f64) -> String {
    if seconds == 0.0 {
        return "0s".to_owned();
    }
    let sign = if seconds < 0.0 { "-" } else { "" };
    let seconds = seconds.abs();
    let hours = (seconds / 3600.0).floor();
    let minutes = ((seconds - hours * 3600.0) / 60.0).floor();
    let secs = seconds - hours * 3600.0 - minutes * 60.0;
    let mut secs_text = format!("{secs:.9}");
    while secs_text.ends_with('0') {
        secs_text.pop();
    }
    if secs_text.ends_with('.') {
        secs_text.pop();
    }
    if hours > 0.0 {
        format!("{sign}{hours}h{minutes}m{secs_text}s")
    } else if minutes > 0.0 {
        format!("{sign}{minutes}m{secs_text}s")
    } else {
        format!("{sign}{secs_text}s")
    }
}

// ----------------------------------------------------------------------------------------------
// The JMESPath subset

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Current,
    Literal(Value),
    Field(String),
    /// `base` followed by postfix steps.
    Chain(Box<Expr>, Vec<Step>),
    Pipe(Box<Expr>, Box<Expr>),
    Compare(Box<Expr>, CompareOp, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Call(String, Vec<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(i64),
    Flatten,
    Wildcard,
    Filter(Expr),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

const FUNCTIONS: [&str; 5] = ["length", "to_number", "to_string", "contains", "time_since"];

fn parse_expression(text: &str) -> Result<Expr, String> {
    let mut parser = ExprParser {
        chars: text.chars().collect(),
        at: 0,
        depth: 0,
    };
    let expr = parser.pipe()?;
    parser.skip_ws();
    if parser.at < parser.chars.len() {
        return Err(format!(
            "unsupported JMESPath expression {text:?}: unexpected {:?} at offset {}",
            parser.chars.get(parser.at).copied().unwrap_or(' '),
            parser.at
        ));
    }
    Ok(expr)
}

struct ExprParser {
    chars: Vec<char>,
    at: usize,
    depth: usize,
}

/// Nesting bound so hostile expressions cannot overflow the stack.
const MAX_DEPTH: usize = 64;

impl ExprParser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }
    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }
    /// The text between the opening `quote` at the cursor and its closing twin; the cursor ends after it.
    fn delimited(&mut self, quote: char, unterminated: &str) -> Result<String, String> {
        self.at += 1;
        let start = self.at;
        while self.peek().is_some_and(|c| c != quote) {
            self.at += 1;
        }
        let text: String = self
            .chars
            .get(start..self.at)
            .unwrap_or_default()
            .iter()
            .collect();
        if !self.eat(&quote.to_string()) {
            return self.error(unterminated);
        }
        Ok(text)
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_ws();
        let token: Vec<char> = token.chars().collect();
        if self.chars.get(self.at..self.at + token.len()) == Some(&token[..]) {
            self.at += token.len();
            true
        } else {
            false
        }
    }
    fn error<T>(&self, what: &str) -> Result<T, String> {
        let text: String = self.chars.iter().collect();
        Err(format!(
            "unsupported JMESPath expression {text:?}: {what} at offset {}",
            self.at
        ))
    }
    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.error("nesting too deep");
        }
        Ok(())
    }

    fn pipe(&mut self) -> Result<Expr, String> {
        self.enter()?;
        let mut left = self.or()?;
        while self.eat("|") {
            if self.peek() == Some('|') {
                return self.error("'||' after '|'");
            }
            let right = self.or()?;
            left = Expr::Pipe(Box::new(left), Box::new(right));
        }
        self.depth -= 1;
        Ok(left)
    }
    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.eat("||") {
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }
    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.comparison()?;
        while self.eat("&&") {
            let right = self.comparison()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }
    fn comparison(&mut self) -> Result<Expr, String> {
        let left = self.unary()?;
        let op = if self.eat("==") {
            CompareOp::Eq
        } else if self.eat("!=") {
            CompareOp::Ne
        } else if self.eat("<=") {
            CompareOp::Le
        } else if self.eat(">=") {
            CompareOp::Ge
        } else if self.eat("<") {
            CompareOp::Lt
        } else if self.eat(">") {
            CompareOp::Gt
        } else {
            return Ok(left);
        };
        let right = self.unary()?;
        Ok(Expr::Compare(Box::new(left), op, Box::new(right)))
    }
    fn unary(&mut self) -> Result<Expr, String> {
        if self.eat("!") {
            self.enter()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        let base = self.primary()?;
        let mut steps = Vec::new();
        loop {
            self.skip_ws();
            if self.eat("[?") {
                self.enter()?;
                let filter = self.pipe()?;
                self.depth -= 1;
                if !self.eat("]") {
                    return self.error("expected ']' after filter");
                }
                steps.push(Step::Filter(filter));
            } else if self.eat("[]") {
                steps.push(Step::Flatten);
            } else if self.eat("[*]") {
                steps.push(Step::Wildcard);
            } else if self.eat("[") {
                self.skip_ws();
                let start = self.at;
                if self.peek() == Some('-') {
                    self.at += 1;
                }
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.at += 1;
                }
                let digits: String = self
                    .chars
                    .get(start..self.at)
                    .unwrap_or_default()
                    .iter()
                    .collect();
                let Ok(index) = digits.parse::<i64>() else {
                    return self.error("unsupported bracket expression (slices and multiselects are not supported)");
                };
                if !self.eat("]") {
                    return self.error("expected ']'");
                }
                steps.push(Step::Index(index));
            } else if self.eat(".") {
                self.skip_ws();
                if self.peek() == Some('*') {
                    self.at += 1;
                    return self.error("object wildcard '.*' is not supported");
                }
                steps.push(Step::Field(self.identifier()?));
            } else {
                break;
            }
        }
        Ok(if steps.is_empty() {
            base
        } else {
            Expr::Chain(Box::new(base), steps)
        })
    }
    fn identifier(&mut self) -> Result<String, String> {
        self.skip_ws();
        if self.peek() == Some('"') {
            self.at += 1;
            let start = self.at;
            while self.peek().is_some_and(|c| c != '"') {
                self.at += 1;
            }
            let name: String = self
                .chars
                .get(start..self.at)
                .unwrap_or_default()
                .iter()
                .collect();
            if !self.eat("\"") {
                return self.error("unterminated quoted identifier");
            }
            return Ok(name);
        }
        let start = self.at;
        while self
            .peek()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-')
        {
            self.at += 1;
        }
        if start == self.at {
            return self.error("expected an identifier");
        }
        Ok(self
            .chars
            .get(start..self.at)
            .unwrap_or_default()
            .iter()
            .collect())
    }
    fn primary(&mut self) -> Result<Expr, String> {
        self.skip_ws();
        match self.peek() {
            Some('@') => {
                self.at += 1;
                Ok(Expr::Current)
            }
            // `[?...]`, `[]`, `[*]` at the start apply to the current node; the postfix loop
            // in `unary` consumes the bracket.
            Some('[') => Ok(Expr::Current),
            Some('(') => {
                self.at += 1;
                let inner = self.pipe()?;
                if !self.eat(")") {
                    return self.error("expected ')'");
                }
                Ok(inner)
            }
            Some('\'') => {
                let text = self.delimited('\'', "unterminated raw string")?;
                Ok(Expr::Literal(Value::String(text)))
            }
            Some('`') => {
                let text = self.delimited('`', "unterminated literal")?;
                match serde_json::from_str(&text) {
                    Ok(value) => Ok(Expr::Literal(value)),
                    Err(_) => self.error("invalid JSON literal"),
                }
            }
            Some(c) if c.is_ascii_digit() || c == '-' => {
                let start = self.at;
                self.at += 1;
                while self.peek().is_some_and(|c| c.is_ascii_digit() || c == '.') {
                    self.at += 1;
                }
                let text: String = self
                    .chars
                    .get(start..self.at)
                    .unwrap_or_default()
                    .iter()
                    .collect();
                match text
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                {
                    Some(n) if text.contains('.') => Ok(Expr::Literal(Value::Number(n))),
                    _ => match text.parse::<i64>() {
                        Ok(i) => Ok(Expr::Literal(Value::from(i))),
                        Err(_) => self.error("invalid number"),
                    },
                }
            }
            Some(_) => {
                let name = self.identifier()?;
                if self.eat("(") {
                    if !FUNCTIONS.contains(&name.as_str()) {
                        return self.error(&format!("unsupported function {name}()"));
                    }
                    let mut args = Vec::new();
                    if !self.eat(")") {
                        loop {
                            args.push(self.pipe()?);
                            if self.eat(")") {
                                break;
                            }
                            if !self.eat(",") {
                                return self.error("expected ',' or ')'");
                            }
                        }
                    }
                    let arity = match name.as_str() {
                        "time_since" => 3,
                        "contains" => 2,
                        _ => 1,
                    };
                    if args.len() != arity {
                        return self.error(&format!("{name}() takes {arity} argument(s)"));
                    }
                    Ok(Expr::Call(name, args))
                } else {
                    Ok(Expr::Field(name))
                }
            }
            None => self.error("unexpected end of expression"),
        }
    }
}

static NULL: Value = Value::Null;

/// An intermediate result. Evaluation borrows from the document where it can, and keeps
/// projections as lists of borrowed elements: predicates (vulnerability reports) can be large,
/// and copying subtrees at every step would dominate the decision's cost.
#[derive(Debug, Clone)]
enum Ev<'v> {
    Ref(&'v Value),
    Val(Value),
    List(Vec<Ev<'v>>),
}

impl<'v> Ev<'v> {
    fn null() -> Self {
        Ev::Ref(&NULL)
    }

    fn is_null(&self) -> bool {
        match self {
            Ev::Ref(value) => value.is_null(),
            Ev::Val(value) => value.is_null(),
            Ev::List(_) => false,
        }
    }

    fn into_value(self) -> Value {
        match self {
            Ev::Ref(value) => value.clone(),
            Ev::Val(value) => value,
            Ev::List(items) => Value::Array(items.into_iter().map(Ev::into_value).collect()),
        }
    }

    /// A borrowed view when there is one (lists have none).
    fn as_value(&self) -> Option<&Value> {
        match self {
            Ev::Ref(value) => Some(value),
            Ev::Val(value) => Some(value),
            Ev::List(_) => None,
        }
    }

    fn field(&self, name: &str) -> Self {
        match self {
            Ev::Ref(value) => Ev::Ref(value.get(name).unwrap_or(&NULL)),
            Ev::Val(value) => value.get(name).cloned().map_or(Ev::null(), Ev::Val),
            Ev::List(_) => Ev::null(),
        }
    }

    fn index(self, index: i64) -> Self {
        let position = |len: usize| {
            let len = i64::try_from(len).unwrap_or(i64::MAX);
            usize::try_from(if index < 0 { len + index } else { index }).ok()
        };
        match self.elements() {
            Some(items) => position(items.len())
                .and_then(|p| items.into_iter().nth(p))
                .unwrap_or(Ev::null()),
            None => Ev::null(),
        }
    }

    /// The elements of an array or list, or `None` for anything else.
    fn elements(self) -> Option<Vec<Ev<'v>>> {
        match self {
            Ev::Ref(Value::Array(items)) => Some(items.iter().map(Ev::Ref).collect()),
            Ev::Val(Value::Array(items)) => Some(items.into_iter().map(Ev::Val).collect()),
            Ev::List(items) => Some(items),
            _ => None,
        }
    }

    fn truthy(&self) -> bool {
        match self {
            Ev::List(items) => !items.is_empty(),
            Ev::Ref(value) => truthy(value),
            Ev::Val(value) => truthy(value),
        }
    }

    fn equals(&self, other: &Ev<'_>) -> bool {
        match (self.as_value(), other.as_value()) {
            (Some(a), Some(b)) => a == b,
            _ => self.clone().into_value() == other.clone().into_value(),
        }
    }
}

fn eval<'v>(expr: &Expr, current: &Ev<'v>, now: OffsetDateTime) -> Result<Ev<'v>, String> {
    Ok(match expr {
        Expr::Current => current.clone(),
        Expr::Literal(value) => Ev::Val(value.clone()),
        Expr::Field(name) => current.field(name),
        Expr::Chain(base, steps) => {
            let base = eval(base, current, now)?;
            eval_steps(base, steps, now)?
        }
        Expr::Pipe(left, right) => {
            let left = eval(left, current, now)?;
            eval(right, &left, now)?
        }
        Expr::Compare(left, op, right) => {
            // Literals are compared in place: filters run once per array element, and
            // cloning the literal each time would dominate their cost.
            let left_value;
            let left_view = match &**left {
                Expr::Literal(value) => Operand::Literal(value),
                other => {
                    left_value = eval(other, current, now)?;
                    Operand::Evaluated(&left_value)
                }
            };
            let right_value;
            let right_view = match &**right {
                Expr::Literal(value) => Operand::Literal(value),
                other => {
                    right_value = eval(other, current, now)?;
                    Operand::Evaluated(&right_value)
                }
            };
            let (left, right) = (left_view, right_view);
            let ordering = match (left.as_value(), right.as_value()) {
                (Some(Value::Number(a)), Some(Value::Number(b))) => a
                    .as_f64()
                    .zip(b.as_f64())
                    .and_then(|(a, b)| a.partial_cmp(&b)),
                (Some(Value::String(a)), Some(Value::String(b))) => Some(a.cmp(b)),
                _ => None,
            };
            let equal = left.equals(&right) || ordering.is_some_and(|o| o.is_eq());
            Ev::Val(Value::Bool(match op {
                CompareOp::Eq => equal,
                CompareOp::Ne => !equal,
                CompareOp::Lt => ordering.is_some_and(|o| o.is_lt()),
                CompareOp::Le => ordering.is_some_and(|o| o.is_le()),
                CompareOp::Gt => ordering.is_some_and(|o| o.is_gt()),
                CompareOp::Ge => ordering.is_some_and(|o| o.is_ge()),
            }))
        }
        Expr::And(left, right) => {
            let left = eval(left, current, now)?;
            if left.truthy() {
                eval(right, current, now)?
            } else {
                left
            }
        }
        Expr::Or(left, right) => {
            let left = eval(left, current, now)?;
            if left.truthy() {
                left
            } else {
                eval(right, current, now)?
            }
        }
        Expr::Not(inner) => Ev::Val(Value::Bool(!eval(inner, current, now)?.truthy())),
        Expr::Call(name, args) => {
            let args = args
                .iter()
                .map(|arg| eval(arg, current, now))
                .collect::<Result<Vec<_>, _>>()?;
            Ev::Val(call(name, args, now)?)
        }
    })
}

/// One side of a comparison.
enum Operand<'a, 'v> {
    Literal(&'a Value),
    Evaluated(&'a Ev<'v>),
}

impl Operand<'_, '_> {
    fn as_value(&self) -> Option<&Value> {
        match self {
            Operand::Literal(value) => Some(value),
            Operand::Evaluated(ev) => ev.as_value(),
        }
    }

    fn equals(&self, other: &Operand<'_, '_>) -> bool {
        match (self.as_value(), other.as_value()) {
            (Some(a), Some(b)) => a == b,
            _ => self.to_value() == other.to_value(),
        }
    }

    fn to_value(&self) -> Value {
        match self {
            Operand::Literal(value) => (*value).clone(),
            Operand::Evaluated(ev) => (*ev).clone().into_value(),
        }
    }
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Null | Value::Bool(false) => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

fn eval_steps<'v>(
    mut value: Ev<'v>,
    steps: &[Step],
    now: OffsetDateTime,
) -> Result<Ev<'v>, String> {
    for (at, step) in steps.iter().enumerate() {
        let projected: Vec<Ev<'v>> = match step {
            Step::Field(name) => {
                value = value.field(name);
                continue;
            }
            Step::Index(position) => {
                value = value.index(*position);
                continue;
            }
            Step::Flatten => match value.elements() {
                Some(items) => items
                    .into_iter()
                    .flat_map(|item| match item {
                        Ev::Ref(Value::Array(_)) | Ev::Val(Value::Array(_)) | Ev::List(_) => {
                            item.elements().unwrap_or_default()
                        }
                        other => vec![other],
                    })
                    .collect(),
                None => return Ok(Ev::null()),
            },
            Step::Wildcard => match value.elements() {
                Some(items) => items,
                None => return Ok(Ev::null()),
            },
            Step::Filter(filter) => match value.elements() {
                Some(items) => {
                    let mut kept = Vec::new();
                    for item in items {
                        if eval(filter, &item, now)?.truthy() {
                            kept.push(item);
                        }
                    }
                    kept
                }
                None => return Ok(Ev::null()),
            },
        };
        // A projection applies the following steps to each element and drops nulls, up to the
        // next flatten, which applies to the projection's collected result (JMESPath semantics).
        let rest = steps.get(at + 1..).unwrap_or_default();
        let stop = rest
            .iter()
            .position(|step| matches!(step, Step::Flatten))
            .unwrap_or(rest.len());
        let (per_element, after) = rest.split_at(stop);
        let mut results = Vec::new();
        for item in projected {
            let result = eval_steps(item, per_element, now)?;
            if !result.is_null() {
                results.push(result);
            }
        }
        return eval_steps(Ev::List(results), after, now);
    }
    Ok(value)
}

fn call(name: &str, args: Vec<Ev<'_>>, now: OffsetDateTime) -> Result<Value, String> {
    let mut args = args.into_iter();
    let mut next = || args.next().unwrap_or(Ev::null());
    match name {
        "length" => match next() {
            Ev::List(items) => Ok(Value::from(items.len())),
            other => match other.as_value() {
                Some(Value::Array(items)) => Ok(Value::from(items.len())),
                Some(Value::Object(map)) => Ok(Value::from(map.len())),
                Some(Value::String(s)) => Ok(Value::from(s.chars().count())),
                _ => Err(format!("length() of {}", other.into_value())),
            },
        },
        "to_number" => Ok(as_number(&next().into_value())
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number)),
        "to_string" => Ok(match next().into_value() {
            Value::String(s) => Value::String(s),
            other => Value::String(other.to_string()),
        }),
        "contains" => {
            let haystack = next();
            let needle = next();
            Ok(Value::Bool(match haystack {
                Ev::List(items) => items.iter().any(|item| item.equals(&needle)),
                other => match (other.as_value(), needle.as_value()) {
                    (Some(Value::Array(items)), Some(needle)) => items.contains(needle),
                    (Some(Value::String(haystack)), Some(Value::String(needle))) => {
                        haystack.contains(needle.as_str())
                    }
                    _ => false,
                },
            }))
        }
        "time_since" => {
            let layout = next().into_value();
            if !matches!(&layout, Value::String(s) if s.is_empty()) {
                return Err(format!(
                    "time_since() with layout {layout} is not supported; use '' (RFC 3339)"
                ));
            }
            let parse = |value: Value, default: OffsetDateTime| -> Result<OffsetDateTime, String> {
                match value {
                    Value::String(s) if s.is_empty() => Ok(default),
                    Value::String(s) => OffsetDateTime::parse(&s, &Rfc3339)
                        .map_err(|e| format!("time_since(): {s:?} is not an RFC 3339 time: {e}")),
                    other => Err(format!("time_since(): {other} is not a time")),
                }
            };
            let start = parse(next().into_value(), now)?;
            let end = parse(next().into_value(), now)?;
            Ok(Value::String(format_duration(
                (end - start).as_seconds_f64(),
            )))
        }
        other => Err(format!("unsupported function {other}()")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> OffsetDateTime {
        OffsetDateTime::parse("2026-11-27T12:00:00Z", &Rfc3339)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    fn scan_predicate() -> Value {
        json!({
            "scanner": {"result": {"summary": {"criticalCount": 0, "highCount": 3},
              "Results": [
                {"Target": "a", "Vulnerabilities": [
                    {"VulnerabilityID": "CVE-1", "Severity": "HIGH", "FixedVersion": "1.2"},
                    {"VulnerabilityID": "CVE-2", "Severity": "CRITICAL", "FixedVersion": ""}]},
                {"Target": "b", "Vulnerabilities": [
                    {"VulnerabilityID": "CVE-3", "Severity": "CRITICAL"}]}]}},
            "metadata": {"scanFinishedOn": "2026-11-27T02:00:00Z"},
            "invocation": {"configSource": {"uri": "git+https://github.com/your-org/app"}},
            "odd-key": {"x": 1}
        })
    }

    fn key(key: &str) -> Value {
        let text = key.to_owned();
        substitute(&text, &mut |expr| {
            let parsed = parse_expression(expr)?;
            let predicate = scan_predicate();
            eval(&parsed, &Ev::Ref(&predicate), now()).map(Ev::into_value)
        })
        .unwrap_or_else(|e| Value::String(format!("ERROR {e}")))
    }

    #[test]
    fn expressions() {
        let cases: &[(&str, Value)] = &[
            ("{{ scanner.result.summary.criticalCount }}", json!(0)),
            ("{{ scanner.result.summary.missing }}", Value::Null),
            ("{{ scanner.result.Results[0].Target }}", json!("a")),
            ("{{ scanner.result.Results[-1].Target }}", json!("b")),
            ("{{ scanner.result.Results[].Target }}", json!(["a", "b"])),
            ("{{ scanner.result.Results[*].Vulnerabilities[*].VulnerabilityID }}", json!([["CVE-1", "CVE-2"], ["CVE-3"]])),
            ("{{ scanner.result.Results[*].Vulnerabilities[].VulnerabilityID }}", json!(["CVE-1", "CVE-2", "CVE-3"])),
            ("{{ scanner.result.Results[].Vulnerabilities[].VulnerabilityID }}", json!(["CVE-1", "CVE-2", "CVE-3"])),
            ("{{ scanner.result.Results[].Vulnerabilities[?Severity == 'CRITICAL'][] | length(@) }}", json!(2)),
            ("{{ scanner.result.Results[].Vulnerabilities[] | [?Severity == 'CRITICAL' && FixedVersion != ''] | length(@) }}", json!(1)),
            ("{{ scanner.result.Results[].Vulnerabilities[] | [?Severity == 'CRITICAL' && FixedVersion] | length(@) }}", json!(0)),
            ("{{ scanner.result.Results[].Vulnerabilities[] | [?Severity == 'HIGH' && FixedVersion] | length(@) }}", json!(1)),
            ("{{ length(scanner.result.Results) }}", json!(2)),
            ("{{ \"odd-key\".x }}", json!(1)),
            ("{{ time_since('', '{{ metadata.scanFinishedOn }}', '') }}", json!("10h0m0s")),
            ("uri={{ invocation.configSource.uri }}", json!("uri=git+https://github.com/your-org/app")),
            ("plain", json!("plain")),
        ];
        for (input, expect) in cases {
            assert_eq!(&key(input), expect, "{input}");
        }
    }

    #[test]
    fn unsupported_expressions_are_rejected() {
        for bad in [
            "{{ a.* }}",
            "{{ a[0:2] }}",
            "{{ sort_by(a, &b) }}",
            "{{ a[",
            "{{ a }",
            "{{ time_since('') }}",
            "{{ {a: b} }}",
        ] {
            assert!(check_template(bad).is_err(), "{bad} should be rejected");
        }
        for good in [
            "{{ scanner.result.summary.criticalCount }}",
            "{{ time_since('','{{ metadata.scanFinishedOn }}','') }}",
            "{{ a[?b == `1`] | length(@) }}",
        ] {
            assert_eq!(check_template(good), Ok(()), "{good}");
        }
    }

    fn check(key_value: Value, operator: Operator, value: Value, expect: bool) {
        let condition = Condition {
            key: key_value.clone(),
            operator,
            value: value.clone(),
            message: None,
        };
        assert_eq!(
            evaluate_condition(&condition, &scan_predicate(), now()),
            Ok(expect),
            "{key_value} {operator:?} {value}"
        );
    }

    #[test]
    fn operators() {
        use Operator::*;
        check(
            json!("{{ scanner.result.summary.criticalCount }}"),
            Equals,
            json!(0),
            true,
        );
        check(
            json!("{{ scanner.result.summary.criticalCount }}"),
            Equals,
            json!("0"),
            true,
        );
        check(
            json!("{{ scanner.result.summary.highCount }}"),
            Equals,
            json!(0),
            false,
        );
        check(
            json!("{{ scanner.result.summary.highCount }}"),
            NotEquals,
            json!(0),
            true,
        );
        check(
            json!("{{ invocation.configSource.uri }}"),
            Equals,
            json!("git+https://github.com/your-org/*"),
            true,
        );
        check(
            json!("{{ invocation.configSource.uri }}"),
            Equals,
            json!("git+https://github.com/other/*"),
            false,
        );
        check(
            json!("{{ scanner.result.summary.highCount }}"),
            GreaterThan,
            json!(2),
            true,
        );
        check(
            json!("{{ scanner.result.summary.highCount }}"),
            GreaterThan,
            json!(3),
            false,
        );
        check(
            json!("{{ scanner.result.summary.highCount }}"),
            GreaterThanOrEquals,
            json!(3),
            true,
        );
        check(
            json!("{{ scanner.result.summary.highCount }}"),
            LessThan,
            json!("4"),
            true,
        );
        check(
            json!("{{ scanner.result.summary.highCount }}"),
            LessThanOrEquals,
            json!(2),
            false,
        );
        check(json!("a"), In, json!(["a", "b"]), true);
        check(json!(["a", "c"]), In, json!(["a", "b"]), false);
        check(json!(["a", "c"]), AnyIn, json!(["a", "b"]), true);
        check(json!(["a", "b"]), AllIn, json!(["a", "b", "c"]), true);
        check(json!(["a", "z"]), AllIn, json!(["a", "b", "c"]), false);
        check(json!("z"), NotIn, json!(["a", "b"]), true);
        check(json!(["a", "z"]), AnyNotIn, json!(["a", "b"]), true);
        check(json!(["a", "b"]), AnyNotIn, json!(["a", "b"]), false);
        check(json!(["y", "z"]), AllNotIn, json!(["a", "b"]), true);
        check(json!(["a", "z"]), AllNotIn, json!(["a", "b"]), false);
        check(
            json!("{{ scanner.result.Results[].Target }}"),
            AllIn,
            json!(["a*", "b"]),
            true,
        );
        let since = json!("{{ time_since('', '{{ metadata.scanFinishedOn }}', '') }}");
        check(since.clone(), DurationLessThan, json!("24h"), true);
        check(since.clone(), DurationLessThan, json!("9h"), false);
        check(
            since.clone(),
            DurationGreaterThanOrEquals,
            json!("10h"),
            true,
        );
        check(since.clone(), LessThanOrEquals, json!("24h"), true);
        check(since, DurationGreaterThan, json!("1h30m"), true);
    }

    #[test]
    fn blocks_require_all_and_one_of_any() {
        let condition = |key: &str, operator, value| Condition {
            key: json!(key),
            operator,
            value,
            message: None,
        };
        let fresh_and_clean = ConditionBlock {
            all: vec![
                condition("{{ time_since('','{{ metadata.scanFinishedOn }}','') }}", Operator::DurationLessThan, json!("24h")),
                condition("{{ scanner.result.Results[].Vulnerabilities[] | [?Severity == 'CRITICAL' && FixedVersion] | length(@) }}", Operator::Equals, json!(0)),
            ],
            any: vec![],
        };
        assert_eq!(
            evaluate_blocks(
                std::slice::from_ref(&fresh_and_clean),
                &scan_predicate(),
                now()
            ),
            ConditionOutcome::Pass
        );
        let later = now() + time::Duration::hours(20);
        assert!(matches!(
            evaluate_blocks(&[fresh_and_clean], &scan_predicate(), later),
            ConditionOutcome::Fail(_)
        ));
        let any_block = ConditionBlock {
            any: vec![
                condition(
                    "{{ scanner.result.summary.highCount }}",
                    Operator::Equals,
                    json!(0),
                ),
                condition(
                    "{{ scanner.result.summary.criticalCount }}",
                    Operator::Equals,
                    json!(0),
                ),
            ],
            all: vec![],
        };
        assert_eq!(
            evaluate_blocks(&[any_block], &scan_predicate(), now()),
            ConditionOutcome::Pass
        );
        let none_block = ConditionBlock {
            any: vec![condition(
                "{{ scanner.result.summary.highCount }}",
                Operator::Equals,
                json!(0),
            )],
            all: vec![],
        };
        assert!(
            matches!(evaluate_blocks(&[none_block], &scan_predicate(), now()), ConditionOutcome::Fail(m) if m.contains("highCount"))
        );
        let broken = ConditionBlock {
            all: vec![condition(
                "{{ time_since('', '{{ invocation }}', '') }}",
                Operator::DurationLessThan,
                json!("1h"),
            )],
            any: vec![],
        };
        assert!(matches!(
            evaluate_blocks(&[broken], &scan_predicate(), now()),
            ConditionOutcome::Error(_)
        ));
    }

    #[test]
    fn go_durations_round_trip() {
        for (text, seconds) in [
            ("24h", 86400.0),
            ("1h30m", 5400.0),
            ("1.5s", 1.5),
            ("300ms", 0.3),
            ("-2m", -120.0),
            ("0", 0.0),
        ] {
            assert_eq!(parse_duration(text), Some(seconds), "{text}");
        }
        assert_eq!(parse_duration("24"), None);
        assert_eq!(parse_duration("1d"), None);
        assert_eq!(format_duration(93784.5), "26h3m4.5s");
        assert_eq!(format_duration(59.0), "59s");
        assert_eq!(format_duration(0.0), "0s");
    }
}
