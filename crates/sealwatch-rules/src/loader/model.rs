//! What the loader produces: lists, macros and rules as Falco's collector holds them.

use std::collections::BTreeSet;
use std::fmt;

use crate::diagnostic::Location;

/// A semantic version `major.minor.patch`, as Falco compares engine and plugin versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

impl Version {
    pub const fn new(major: u64, minor: u64, patch: u64) -> Self {
        Version {
            major,
            minor,
            patch,
        }
    }

    /// Parse `x.y.z` (a pre-release or build suffix after `-`/`+` is accepted and ignored).
    pub fn parse(text: &str) -> Option<Version> {
        let core = text.trim().split(['-', '+']).next()?;
        let mut parts = core.split('.');
        let mut next = || -> Option<u64> {
            let p = parts.next()?;
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            p.parse().ok()
        };
        let version = Version {
            major: next()?,
            minor: next()?,
            patch: next()?,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(version)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The rules engine version sealwatch implements: Falco 0.42's engine, the one the current
/// upstream rules files require (`required_engine_version: 0.57.0`).
pub const ENGINE_VERSION: Version = Version::new(0, 57, 0);

/// Falco's rule priorities, most severe first (the order Falco compares them in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    Emergency,
    Alert,
    Critical,
    Error,
    Warning,
    Notice,
    Informational,
    Debug,
}

impl Priority {
    /// Case-insensitive, like Falco; `info` is accepted for `Informational`.
    pub fn parse(text: &str) -> Option<Priority> {
        let p = match text.to_ascii_lowercase().as_str() {
            "emergency" => Priority::Emergency,
            "alert" => Priority::Alert,
            "critical" => Priority::Critical,
            "error" => Priority::Error,
            "warning" => Priority::Warning,
            "notice" => Priority::Notice,
            "informational" | "info" => Priority::Informational,
            "debug" => Priority::Debug,
            _ => return None,
        };
        Some(p)
    }

    /// The long name Falco prints in alerts.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Emergency => "Emergency",
            Priority::Alert => "Alert",
            Priority::Critical => "Critical",
            Priority::Error => "Error",
            Priority::Warning => "Warning",
            Priority::Notice => "Notice",
            Priority::Informational => "Informational",
            Priority::Debug => "Debug",
        }
    }

    /// Whether this priority is at least as severe as `minimum`.
    pub fn at_least(self, minimum: Priority) -> bool {
        self <= minimum
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `required_plugin_versions` entry: the first alternative is the named plugin itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginRequirement {
    pub alternatives: Vec<(String, String)>,
    pub location: Location,
}

/// A list as defined (items may still name earlier lists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListInfo {
    pub name: String,
    pub items: Vec<String>,
    pub location: Location,
    /// Position in definition order; a redefinition keeps the first definition's index.
    pub index: u32,
    /// Items defined before this value are visible to this list.
    pub visibility: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroInfo {
    pub name: String,
    pub condition: String,
    pub location: Location,
    pub condition_location: Location,
    pub index: u32,
    pub visibility: u32,
}

/// A scalar or a (possibly nested) list, as exception `fields`, `comps` and `values` are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExceptionEntry {
    Item(String),
    List(Vec<ExceptionEntry>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionInfo {
    pub name: String,
    pub fields: Option<ExceptionEntry>,
    pub comps: Option<ExceptionEntry>,
    pub values: Vec<ExceptionEntry>,
    pub location: Location,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    pub name: String,
    pub condition: String,
    pub output: String,
    pub desc: String,
    pub priority: Priority,
    pub source: String,
    pub enabled: bool,
    pub tags: BTreeSet<String>,
    pub exceptions: Vec<ExceptionInfo>,
    pub warn_evttypes: bool,
    pub skip_if_unknown_filter: bool,
    pub capture: bool,
    pub capture_duration: Option<u64>,
    pub location: Location,
    pub condition_location: Location,
    pub output_location: Location,
    pub index: u32,
    pub visibility: u32,
    /// The source is not one sealwatch knows: the rule is kept for diagnostics but never compiled.
    pub unknown_source: bool,
}

/// Everything the rules files defined, in Falco's collector order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RulesFiles {
    pub required_engine_version: Option<Version>,
    pub required_plugins: Vec<PluginRequirement>,
    pub lists: Vec<ListInfo>,
    pub macros: Vec<MacroInfo>,
    pub rules: Vec<RuleInfo>,
}

impl RulesFiles {
    pub fn rule(&self, name: &str) -> Option<&RuleInfo> {
        self.rules.iter().find(|r| r.name == name)
    }

    pub fn macro_info(&self, name: &str) -> Option<&MacroInfo> {
        self.macros.iter().find(|m| m.name == name)
    }

    pub fn list(&self, name: &str) -> Option<&ListInfo> {
        self.lists.iter().find(|l| l.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_priorities_parse_like_falco() {
        let check = |text: &str, expect: Option<(u64, u64, u64)>| {
            assert_eq!(
                Version::parse(text),
                expect.map(|(a, b, c)| Version::new(a, b, c)),
                "{text}"
            );
        };
        check("0.57.0", Some((0, 57, 0)));
        check("1.2.3-rc1", Some((1, 2, 3)));
        check("1.2", None);
        check("1.2.x", None);
        check("1.2.3.4", None);
        assert_eq!(Priority::parse("WARNING"), Some(Priority::Warning));
        assert_eq!(Priority::parse("info"), Some(Priority::Informational));
        assert_eq!(Priority::parse("warn"), None);
        assert!(Priority::Critical.at_least(Priority::Warning));
        assert!(!Priority::Debug.at_least(Priority::Warning));
    }
}
