//! Declared license text -> SPDX expression, with the `spdx` crate's identifier and alias tables.

/// Maps a declared license to an SPDX expression when every part maps to a known SPDX id.
///
/// Accepts an SPDX expression as is (`MIT OR Apache-2.0`), the space-separated lists apk and rpm write
/// (`MIT BSD-2-Clause`, joined with AND), and common spellings (`GPLv2+`, `Apache 2.0`) through
/// `spdx`'s imprecise-name table. Returns `None` when any part is unknown: guessing a license is worse
/// than reporting only the declared text.
pub fn to_spdx(declared: &str) -> Option<String> {
    let declared = declared.trim();
    if declared.is_empty() {
        return None;
    }
    if let Ok(expr) = spdx::Expression::parse(declared) {
        return Some(expr.to_string());
    }
    // A whole-string alias ("Apache 2.0", "GPLv2+").
    if let Some(id) = single(declared) {
        return Some(id);
    }
    // apk/rpm style: several licenses separated by spaces or commas, all applying.
    let parts: Vec<&str> = declared
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter(|p| !p.is_empty() && !p.eq_ignore_ascii_case("and"))
        .collect();
    if parts.len() > 1 {
        let mapped: Option<Vec<String>> = parts.iter().map(|p| single(p)).collect();
        if let Some(ids) = mapped {
            return Some(ids.join(" AND "));
        }
    }
    None
}

fn single(text: &str) -> Option<String> {
    let text = text.trim();
    if let Some(id) = spdx::license_id(text) {
        return Some(id.name.to_owned());
    }
    let (base, plus) = match text.strip_suffix('+') {
        Some(base) => (base, true),
        None => (text, false),
    };
    // The table matches prefixes; only a match of the whole text counts.
    let (id, _) = spdx::imprecise_license_id(base).filter(|(_, len)| *len == base.len())?;
    Some(match (plus, id.name.strip_suffix("-only")) {
        (true, Some(stem)) => format!("{stem}-or-later"),
        (true, None) if !id.name.ends_with("-or-later") => format!("{}+", id.name),
        _ => id.name.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_declared_licenses() {
        for (declared, expect) in [
            ("MIT", Some("MIT")),
            ("MIT OR Apache-2.0", Some("MIT OR Apache-2.0")),
            ("MIT BSD-2-Clause", Some("MIT AND BSD-2-Clause")),
            ("GPL-2.0-or-later", Some("GPL-2.0-or-later")),
            ("GPLv2+", Some("GPL-2.0-or-later")),
            ("", None),
            ("Proprietary blob license 7", None),
        ] {
            assert_eq!(to_spdx(declared).as_deref(), expect, "{declared:?}");
        }
    }
}
