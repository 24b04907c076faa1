//! Alert output: Falco's `%field` format strings, its text line and its JSON alert.
//!
//! - A format is literal text with `%field` tokens (`%proc.name`, `%proc.aname[2]`,
//!   `%evt.arg.flags`), optionally with a width (`%20proc.name`), a transformer
//!   (`%tolower(proc.name)`) or in parentheses (`%(proc.name)`). Missing values print `<NA>`.
//! - The text line is `HH:MM:SS.nnnnnnnnn: Priority message` (`falco:formats.cpp`), with the
//!   event time in UTC.
//! - The JSON alert carries `time` (RFC 3339, nanoseconds), `rule`, `priority`, `source`,
//!   `hostname`, `output`, `output_fields` (typed values, `null` when missing) and `tags`.
//!   falcosidekick rejects an alert whose `output_fields` is empty, so an output without any
//!   field gets `evt.time` as its one field.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::loader::Priority;

/// Falco's text for a value that cannot be extracted.
pub const NOT_AVAILABLE: &str = "<NA>";

/// A typed field value, rendered as Falco renders it in text and in `output_fields`.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Str(String),
    Int(i64),
    Uint(u64),
    Bool(bool),
    Double(f64),
    /// Nanoseconds since the epoch: text `HH:MM:SS.nnnnnnnnn`, JSON a number.
    AbsTime(u64),
    /// A multi-valued field (e.g. `proc.aname` without index): text joined by spaces.
    List(Vec<String>),
}

impl FieldValue {
    pub fn to_text(&self) -> String {
        match self {
            FieldValue::Str(s) => s.clone(),
            FieldValue::Int(n) => n.to_string(),
            FieldValue::Uint(n) => n.to_string(),
            FieldValue::Bool(b) => b.to_string(),
            FieldValue::Double(d) => d.to_string(),
            FieldValue::AbsTime(ns) => clock_time(*ns),
            FieldValue::List(items) => items.join(" "),
        }
    }

    pub fn to_json(&self) -> Value {
        match self {
            FieldValue::Str(s) => Value::String(s.clone()),
            FieldValue::Int(n) => Value::from(*n),
            FieldValue::Uint(n) | FieldValue::AbsTime(n) => Value::from(*n),
            FieldValue::Bool(b) => Value::Bool(*b),
            FieldValue::Double(d) => {
                serde_json::Number::from_f64(*d).map_or(Value::Null, Value::Number)
            }
            FieldValue::List(items) => Value::String(items.join(" ")),
        }
    }
}

/// Where formatted values come from: the event (and its process and container state).
pub trait FieldSource {
    /// The value of a field named as in a condition (`proc.name`, `proc.aname[2]`,
    /// `evt.arg.flags`), or `None` when it cannot be extracted.
    fn field(&self, name: &str) -> Option<FieldValue>;
}

impl<F: Fn(&str) -> Option<FieldValue>> FieldSource for F {
    fn field(&self, name: &str) -> Option<FieldValue> {
        self(name)
    }
}

/// A malformed output format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at byte {offset} of the output format)")]
pub struct FormatError {
    pub message: String,
    pub offset: usize,
}

const TRANSFORMERS: &[&str] = &["tolower", "toupper", "b64", "basename", "len"];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(String),
    Field {
        name: String,
        transformers: Vec<String>,
        width: usize,
    },
}

/// A parsed output format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFormat {
    tokens: Vec<Token>,
    /// Fields that appear in `output_fields`, in first-appearance order, without duplicates.
    fields: Vec<String>,
}

fn is_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The longest syntactic field name at the start of `s`: `class.name(.more)*` plus an optional
/// `[arg]`. A trailing `.` not followed by a name character is not part of it.
fn scan_field(s: &[u8]) -> usize {
    let mut i = 0;
    if !s.first().is_some_and(|c| c.is_ascii_alphabetic()) {
        return 0;
    }
    while s.get(i).copied().is_some_and(is_name_char) {
        i += 1;
    }
    while s.get(i) == Some(&b'.') && s.get(i + 1).copied().is_some_and(is_name_char) {
        i += 1;
        while s.get(i).copied().is_some_and(is_name_char) {
            i += 1;
        }
    }
    if s.get(i) == Some(&b'[') {
        if let Some(close) = s
            .get(i..)
            .and_then(|rest| rest.iter().position(|c| *c == b']'))
        {
            i += close + 1;
        }
    }
    i
}

impl OutputFormat {
    /// Parse a format, accepting any syntactically valid field name.
    pub fn parse(format: &str) -> Result<OutputFormat, FormatError> {
        Self::parse_with(format, &|_| true)
    }

    /// Parse a format; `is_field` says whether a field name (with argument) exists. Like
    /// libsinsp, the longest prefix that names a field is taken, so `%proc.name.` is the field
    /// `proc.name` followed by a `.`.
    pub fn parse_with(
        format: &str,
        is_field: &dyn Fn(&str) -> bool,
    ) -> Result<OutputFormat, FormatError> {
        // Falco always prints with a leading `*`: "print even if some values are missing".
        let text = format.strip_prefix('*').unwrap_or(format);
        let bytes = text.as_bytes();
        let mut tokens = Vec::new();
        let mut literal_start = 0;
        let mut i = 0;
        while i < bytes.len() {
            if bytes.get(i) != Some(&b'%') {
                i += 1;
                continue;
            }
            if literal_start < i {
                tokens.push(Token::Literal(
                    text.get(literal_start..i).unwrap_or_default().to_string(),
                ));
            }
            let err = |message: &str, offset: usize| FormatError {
                message: message.to_string(),
                offset,
            };
            if i + 1 >= bytes.len() {
                return Err(err(
                    "invalid formatting syntax: formatting cannot end with a %",
                    i,
                ));
            }
            let mut j = i + 1;
            let mut width = 0usize;
            while let Some(d) = bytes.get(j).filter(|c| c.is_ascii_digit()) {
                width = width
                    .saturating_mul(10)
                    .saturating_add(usize::from(d - b'0'));
                j += 1;
            }
            if j >= bytes.len() {
                return Err(err(
                    "invalid formatting syntax: formatting cannot end with a number",
                    i,
                ));
            }
            // Transformers and parentheses wrap the field: `tolower(`, `(`.
            let mut transformers = Vec::new();
            let mut parens = 0usize;
            loop {
                let rest = bytes.get(j..).unwrap_or_default();
                if rest.first() == Some(&b'(') {
                    parens += 1;
                    j += 1;
                    continue;
                }
                let word = rest.iter().take_while(|c| is_name_char(**c)).count();
                let name = text.get(j..j + word).unwrap_or_default();
                if rest.get(word) == Some(&b'(') && TRANSFORMERS.contains(&name) {
                    transformers.push(name.to_string());
                    parens += 1;
                    j += word + 1;
                    continue;
                }
                break;
            }
            let rest = bytes.get(j..).unwrap_or_default();
            let mut len = scan_field(rest);
            // Shrink to the longest prefix that names a known field, at `.` boundaries.
            while len > 0 && !is_field(text.get(j..j + len).unwrap_or_default()) {
                match text.get(j..j + len).and_then(|s| s.rfind(['.', '['])) {
                    Some(cut) if cut > 0 => len = cut,
                    _ => len = 0,
                }
            }
            if len == 0 {
                let shown: String = text.get(i..).unwrap_or_default().chars().take(40).collect();
                return Err(err(&format!("invalid formatting token {shown}"), i));
            }
            let name = text.get(j..j + len).unwrap_or_default().to_string();
            j += len;
            for _ in 0..parens {
                if bytes.get(j) != Some(&b')') {
                    return Err(err(
                        &format!("missing ')' after field {name} in output format"),
                        j,
                    ));
                }
                j += 1;
            }
            tokens.push(Token::Field {
                name,
                transformers,
                width,
            });
            i = j;
            literal_start = j;
        }
        if literal_start < bytes.len() {
            tokens.push(Token::Literal(
                text.get(literal_start..).unwrap_or_default().to_string(),
            ));
        }
        let mut fields: Vec<String> = Vec::new();
        for t in &tokens {
            if let Token::Field { name, .. } = t {
                if !fields.contains(name) {
                    fields.push(name.clone());
                }
            }
        }
        Ok(OutputFormat { tokens, fields })
    }

    /// The field names the format uses, as they appear in `output_fields`.
    pub fn field_names(&self) -> &[String] {
        &self.fields
    }

    /// Render the message: each field's text, `<NA>` when missing.
    pub fn render(&self, source: &dyn FieldSource) -> String {
        let mut out = String::new();
        for t in &self.tokens {
            match t {
                Token::Literal(s) => out.push_str(s),
                Token::Field {
                    name,
                    transformers,
                    width,
                } => {
                    let mut text = match source.field(name) {
                        Some(v) => apply_transformers(v.to_text(), transformers),
                        None => NOT_AVAILABLE.to_string(),
                    };
                    if *width > 0 {
                        // libsinsp pads or cuts to the width.
                        let count = text.chars().count();
                        if count > *width {
                            text = text.chars().take(*width).collect();
                        } else {
                            text.extend(std::iter::repeat_n(' ', width - count));
                        }
                    }
                    out.push_str(&text);
                }
            }
        }
        out
    }

    /// The typed values for `output_fields`, `None` for missing values.
    pub fn output_fields(&self, source: &dyn FieldSource) -> Vec<(String, Option<FieldValue>)> {
        self.fields
            .iter()
            .map(|name| (name.clone(), source.field(name)))
            .collect()
    }
}

fn apply_transformers(mut text: String, transformers: &[String]) -> String {
    // Innermost transformer applies first.
    for t in transformers.iter().rev() {
        text = match t.as_str() {
            "tolower" => text.to_lowercase(),
            "toupper" => text.to_uppercase(),
            "basename" => {
                if text.ends_with('/') {
                    String::new()
                } else {
                    text.rsplit('/').next().unwrap_or_default().to_string()
                }
            }
            "len" => text.len().to_string(),
            "b64" => decode_base64(&text).unwrap_or(text),
            _ => text,
        };
    }
    text
}

fn decode_base64(text: &str) -> Option<String> {
    let mut bits: u32 = 0;
    let mut nbits = 0;
    let mut out = Vec::new();
    for c in text.bytes().filter(|c| *c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push(u8::try_from((bits >> nbits) & 0xff).ok()?);
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// `HH:MM:SS.nnnnnnnnn` of a UTC timestamp in nanoseconds.
pub fn clock_time(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let nanos = ns % 1_000_000_000;
    let day = secs % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:09}",
        day / 3600,
        (day % 3600) / 60,
        day % 60,
        nanos
    )
}

/// RFC 3339 UTC with nanoseconds, e.g. `2023-05-25T13:44:05.478445995Z`.
pub fn rfc3339_nanos(ns: u64) -> String {
    let nanos = i128::from(ns);
    match time::OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.nanosecond()
        ),
        Err(_) => "1970-01-01T00:00:00.000000000Z".to_string(),
    }
}

/// One alert, ready to print or send.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Event time, nanoseconds since the epoch.
    pub time_ns: u64,
    pub rule: String,
    pub priority: Priority,
    pub source: String,
    pub hostname: String,
    /// The rule's output with fields substituted (no time or priority).
    pub message: String,
    pub output_fields: Vec<(String, Option<FieldValue>)>,
    pub tags: BTreeSet<String>,
}

impl Alert {
    /// Build an alert for a rule that matched: format the message and collect the fields.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        format: &OutputFormat,
        source_values: &dyn FieldSource,
        time_ns: u64,
        rule: &str,
        priority: Priority,
        source: &str,
        hostname: &str,
        tags: &BTreeSet<String>,
    ) -> Alert {
        let mut output_fields = format.output_fields(source_values);
        if output_fields.is_empty() {
            output_fields.push(("evt.time".to_string(), Some(FieldValue::AbsTime(time_ns))));
        }
        Alert {
            time_ns,
            rule: rule.to_string(),
            priority,
            source: source.to_string(),
            hostname: hostname.to_string(),
            message: format.render(source_values),
            output_fields,
            tags: tags.clone(),
        }
    }

    /// Falco's text line: `HH:MM:SS.nnnnnnnnn: Priority message`.
    pub fn text_line(&self) -> String {
        format!(
            "{}: {} {}",
            clock_time(self.time_ns),
            self.priority,
            self.message
        )
    }

    /// Falco's JSON alert.
    pub fn to_json(&self) -> Value {
        let mut fields = Map::new();
        for (name, value) in &self.output_fields {
            fields.insert(
                name.clone(),
                value.as_ref().map_or(Value::Null, FieldValue::to_json),
            );
        }
        let mut obj = Map::new();
        obj.insert("hostname".into(), Value::String(self.hostname.clone()));
        obj.insert("output".into(), Value::String(self.text_line()));
        obj.insert(
            "priority".into(),
            Value::String(self.priority.as_str().to_string()),
        );
        obj.insert("rule".into(), Value::String(self.rule.clone()));
        obj.insert("source".into(), Value::String(self.source.clone()));
        obj.insert(
            "tags".into(),
            Value::Array(self.tags.iter().cloned().map(Value::String).collect()),
        );
        obj.insert("time".into(), Value::String(rfc3339_nanos(self.time_ns)));
        obj.insert("output_fields".into(), Value::Object(fields));
        Value::Object(obj)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(name: &str) -> Option<FieldValue> {
        match name {
            "proc.name" => Some(FieldValue::Str("Bash".into())),
            "proc.tty" => Some(FieldValue::Uint(34816)),
            "user.loginuid" => Some(FieldValue::Int(-1)),
            "proc.aname[2]" => Some(FieldValue::Str("sshd".into())),
            "evt.arg.flags" => Some(FieldValue::Str("O_RDONLY".into())),
            "fd.name" => Some(FieldValue::Str("/etc/shadow".into())),
            _ => None,
        }
    }

    #[test]
    fn formats_render_like_falco() {
        let check = |format: &str, expect: &str| {
            let parsed = OutputFormat::parse(format).unwrap_or_else(|e| panic!("{format}: {e}"));
            assert_eq!(parsed.render(&values), expect, "{format}");
        };
        check("shell=%proc.name tty=%proc.tty", "shell=Bash tty=34816");
        check("(container=%container.name)", "(container=<NA>)");
        check(
            "anc=%proc.aname[2] flags=%evt.arg.flags.",
            "anc=sshd flags=O_RDONLY.",
        );
        check(
            "%tolower(proc.name)|%toupper(proc.name)|%basename(fd.name)",
            "bash|BASH|shadow",
        );
        check("%(proc.name)", "Bash");
        check("[%6proc.name]", "[Bash  ]");
        check("*%proc.name", "Bash");
    }

    #[test]
    fn bad_formats_are_errors() {
        for bad in ["ends with %", "%12", "%.x", "%tolower(proc.name"] {
            assert!(OutputFormat::parse(bad).is_err(), "{bad}");
        }
        let known = |f: &str| f == "proc.name";
        assert!(OutputFormat::parse_with("%proc.nam", &known).is_err());
        let parsed = OutputFormat::parse_with("%proc.name.x", &known).map(|f| f.render(&values));
        assert_eq!(parsed, Ok("Bash.x".to_string()));
    }

    #[test]
    fn alert_text_and_json_match_falco() {
        let format = OutputFormat::parse(
            "Shell (user=%user.name shell=%proc.name tty=%proc.tty uid=%user.loginuid)",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let tags: BTreeSet<String> = ["shell".to_string(), "container".to_string()].into();
        let alert = Alert::new(
            &format,
            &values,
            1_685_022_245_478_445_995,
            "R",
            Priority::Critical,
            "syscall",
            "h",
            &tags,
        );
        assert_eq!(
            alert.text_line(),
            "13:44:05.478445995: Critical Shell (user=<NA> shell=Bash tty=34816 uid=-1)"
        );
        let json = alert.to_json();
        assert_eq!(json["time"], "2023-05-25T13:44:05.478445995Z");
        assert_eq!(json["priority"], "Critical");
        assert_eq!(json["output"], alert.text_line().as_str());
        assert_eq!(json["tags"], serde_json::json!(["container", "shell"]));
        assert_eq!(
            json["output_fields"],
            serde_json::json!({"user.name": null, "proc.name": "Bash", "proc.tty": 34816, "user.loginuid": -1})
        );
    }

    #[test]
    fn an_output_without_fields_still_has_one_for_falcosidekick() {
        let format = OutputFormat::parse("no fields here").unwrap_or_else(|e| panic!("{e}"));
        let alert = Alert::new(
            &format,
            &values,
            5,
            "R",
            Priority::Notice,
            "syscall",
            "h",
            &BTreeSet::new(),
        );
        assert_eq!(
            alert.to_json()["output_fields"],
            serde_json::json!({"evt.time": 5})
        );
    }
}
