//! Declared license text -> SPDX expression, with the `spdx` crate's identifier and alias tables.

/// Legacy short names that rpm-based distributions (Fedora, RHEL, Mariner) declare and that the `spdx`
/// crate's imprecise table does not know. Only unambiguous ones: `BSD` or `GPL` alone stay unmapped.
const LEGACY_NAMES: &[(&str, &str)] = &[
    ("ASL 2.0", "Apache-2.0"),
    ("ASL 1.1", "Apache-1.1"),
    ("GPLv2", "GPL-2.0-only"),
    ("GPLv2+", "GPL-2.0-or-later"),
    ("GPLv3", "GPL-3.0-only"),
    ("GPLv3+", "GPL-3.0-or-later"),
    ("LGPLv2", "LGPL-2.0-only"),
    ("LGPLv2+", "LGPL-2.0-or-later"),
    ("LGPLv2.1", "LGPL-2.1-only"),
    ("LGPLv2.1+", "LGPL-2.1-or-later"),
    ("LGPLv3", "LGPL-3.0-only"),
    ("LGPLv3+", "LGPL-3.0-or-later"),
    ("AGPLv3", "AGPL-3.0-only"),
    ("AGPLv3+", "AGPL-3.0-or-later"),
    ("MPLv1.1", "MPL-1.1"),
    ("MPLv2.0", "MPL-2.0"),
    ("Boost", "BSL-1.0"),
    ("zlib", "Zlib"),
];

/// SPDX 2.3 syntax, including deprecated ids (`GPL-2.0+` is still a valid SPDX expression and is what
/// SUSE declares); nothing imprecise or unknown.
const VALID: spdx::ParseMode = spdx::ParseMode {
    allow_deprecated: true,
    allow_postfix_plus_on_gpl: true,
    ..spdx::ParseMode::STRICT
};

/// Maps a declared license to an SPDX expression when every part maps to a known SPDX id.
///
/// Accepts an SPDX expression as is (`MIT OR Apache-2.0`), operators in any case (`GPLv2+ and LGPLv2+`),
/// the space-separated lists apk writes (`MIT BSD-2-Clause`, all applying, so joined with AND), legacy
/// rpm names (`ASL 2.0`) and common spellings through `spdx`'s imprecise-name table. Returns `None` when
/// any part is unknown: a guessed license is worse than the declared text alone.
pub fn to_spdx(declared: &str) -> Option<String> {
    let declared = declared.trim();
    if declared.is_empty() {
        return None;
    }
    // Tokens: parentheses on their own, operators upper-cased, runs of other words grouped into operands.
    let spaced = declared.replace('(', " ( ").replace(')', " ) ");
    let mut out: Vec<String> = Vec::new();
    let mut operand: Vec<&str> = Vec::new();
    for token in spaced.split_whitespace() {
        let fixed = match token {
            "(" | ")" => Some(token.to_owned()),
            _ if ["and", "or", "with"]
                .iter()
                .any(|op| token.eq_ignore_ascii_case(op)) =>
            {
                Some(token.to_ascii_uppercase())
            }
            _ => None,
        };
        match fixed {
            Some(fixed) => {
                if !operand.is_empty() {
                    out.push(operand_to_spdx(&operand, out.last().map(String::as_str))?);
                    operand.clear();
                }
                out.push(fixed);
            }
            None => operand.push(token.trim_end_matches([',', ';'])),
        }
    }
    if !operand.is_empty() {
        out.push(operand_to_spdx(&operand, out.last().map(String::as_str))?);
    }
    let text = out.join(" ").replace("( ", "(").replace(" )", ")");
    // Whatever was assembled must itself be a valid expression.
    spdx::Expression::parse_mode(&text, VALID)
        .ok()
        .map(|_| text)
}

/// One operand: a single license name, possibly with spaces (`ASL 2.0`), or a space-separated list
/// where every item is a license (apk).
fn operand_to_spdx(words: &[&str], previous: Option<&str>) -> Option<String> {
    // After WITH comes an exception id, which is not a license.
    if previous == Some("WITH") {
        let text = words.join(" ");
        return spdx::exception_id(&text).map(|e| e.name.to_owned());
    }
    if let Some(id) = single(&words.join(" ")) {
        return Some(id);
    }
    if words.len() > 1 {
        let ids: Option<Vec<String>> = words.iter().map(|w| single(w)).collect();
        return ids.map(|ids| ids.join(" AND "));
    }
    None
}

fn single(text: &str) -> Option<String> {
    let text = text.trim();
    if let Some((_, id)) = LEGACY_NAMES.iter().find(|(name, _)| *name == text) {
        return Some((*id).to_owned());
    }
    let (base, plus) = match text.strip_suffix('+') {
        Some(base) => (base, true),
        None => (text, false),
    };
    let name = match spdx::license_id(base) {
        Some(id) => id.name,
        // The imprecise table matches prefixes; only a match of the whole text counts.
        None => {
            spdx::imprecise_license_id(base)
                .filter(|(_, len)| *len == base.len())?
                .0
                .name
        }
    };
    Some(match (plus, name.strip_suffix("-only")) {
        (true, Some(stem)) => format!("{stem}-or-later"),
        (true, None) if !name.ends_with("-or-later") => format!("{name}+"),
        _ => name.to_owned(),
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
            (
                "GPLv2+ and LGPLv2+",
                Some("GPL-2.0-or-later AND LGPL-2.0-or-later"),
            ),
            ("ASL 2.0", Some("Apache-2.0")),
            ("BSD-3-Clause or GPL-2.0", Some("BSD-3-Clause OR GPL-2.0")),
            ("GPL-2.0+ and LGPL-2.1+", Some("GPL-2.0+ AND LGPL-2.1+")),
            ("SUSE-Public-Domain", None),
            ("MIT and", None),
            ("(MIT or", None),
            (
                "(LGPLv3+ or GPLv2+) and GPLv3+",
                Some("(LGPL-3.0-or-later OR GPL-2.0-or-later) AND GPL-3.0-or-later"),
            ),
            (
                "GPL-2.0-or-later WITH Classpath-exception-2.0",
                Some("GPL-2.0-or-later WITH Classpath-exception-2.0"),
            ),
            ("", None),
            ("Proprietary blob license 7", None),
        ] {
            assert_eq!(to_spdx(declared).as_deref(), expect, "{declared:?}");
        }
    }
}
