//! Line splitting shared by the text-database parsers: reports bytes that are not UTF-8 per line.

use std::borrow::Cow;

use crate::Diagnostic;

/// Lines of `bytes` with 1-based numbers. A line that is not UTF-8 yields a diagnostic and is decoded
/// lossily, so one bad byte costs one field, not the whole database.
pub fn lines<'a>(
    path: &str,
    bytes: &'a [u8],
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<(usize, Cow<'a, str>)> {
    let mut out = Vec::new();
    for (index, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = match std::str::from_utf8(raw) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => {
                diagnostics.push(Diagnostic::new(
                    path,
                    Some(index + 1),
                    "line is not valid UTF-8",
                ));
                String::from_utf8_lossy(raw)
            }
        };
        out.push((index + 1, line));
    }
    // A trailing newline is not an extra empty line.
    if bytes.ends_with(b"\n") {
        out.pop();
    }
    out
}

/// RFC 822-style stanzas (dpkg control, Python METADATA): `Key: value` with continuation lines starting
/// with a space or tab, stanzas separated by blank lines.
#[derive(Debug, Default)]
pub struct Stanza {
    /// 1-based line of the stanza's first field.
    pub line: usize,
    pub fields: Vec<(String, String, usize)>,
}

impl Stanza {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v, _)| v.as_str())
    }

    pub fn get_all<'s>(&'s self, key: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.fields
            .iter()
            .filter(move |(k, _, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v, _)| v.as_str())
    }
}

/// Parses RFC 822 stanzas, with a diagnostic for every line that is neither a field nor a continuation.
/// With `first_only`, stops at the first blank line (Python METADATA: the body follows).
pub fn stanzas(
    path: &str,
    bytes: &[u8],
    first_only: bool,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Stanza> {
    let mut out = Vec::new();
    let mut current = Stanza::default();
    for (number, line) in lines(path, bytes, diagnostics) {
        if line.trim().is_empty() {
            if !current.fields.is_empty() {
                out.push(std::mem::take(&mut current));
                if first_only {
                    return out;
                }
            }
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            match current.fields.last_mut() {
                Some((_, value, _)) => {
                    value.push('\n');
                    value.push_str(line.trim());
                }
                None => diagnostics.push(Diagnostic::new(
                    path,
                    Some(number),
                    "continuation line without a field",
                )),
            }
            continue;
        }
        match line.split_once(':') {
            Some((key, value)) if !key.is_empty() && !key.contains(' ') => {
                if current.fields.is_empty() {
                    current.line = number;
                }
                current
                    .fields
                    .push((key.to_owned(), value.trim().to_owned(), number));
            }
            _ => diagnostics.push(Diagnostic::new(
                path,
                Some(number),
                format!("expected `Field: value`, found {:?}", truncate(&line, 60)),
            )),
        }
    }
    if !current.fields.is_empty() {
        out.push(current);
    }
    out
}

/// At most `max` characters of `text`, for messages.
pub fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stanzas_with_continuations_and_bad_lines() {
        let mut diags = Vec::new();
        let input = b"Package: a\nDescription: x\n more\n\n\nPackage: b\nbad line\n\xff: y\n";
        let got = stanzas("f", input, false, &mut diags);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].get("description"), Some("x\nmore"));
        assert_eq!(got[1].line, 6);
        let lines: Vec<_> = diags.iter().map(|d| d.line).collect();
        assert_eq!(lines, vec![Some(8), Some(7)]);
    }
}
