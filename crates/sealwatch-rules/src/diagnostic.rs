//! Load diagnostics: every error and warning found in a rules file, each with its place.
//!
//! The codes mirror Falco's load result codes (`falco_load_result.h`) so that a user who knows
//! Falco's messages recognises ours, and so that tests can compare by code rather than by text.

use std::fmt;

/// How bad a diagnostic is. Errors make the rules set unusable; warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// Falco's load result codes, errors first then warnings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Code {
    ErrFileRead,
    ErrYamlParse,
    ErrYamlValidate,
    ErrCompileCondition,
    ErrCompileOutput,
    ErrValidate,
    ErrExtension,
    UnknownSource,
    UnsafeNaCheck,
    NoEvttype,
    UnknownFilter,
    UnusedMacro,
    UnusedList,
    UnknownItem,
    DeprecatedItem,
    WarningExtension,
    AppendNoValues,
    ExceptionNameNotUnique,
    InvalidMacroName,
    InvalidListName,
    CompileCondition,
    UnknownKey,
}

impl Code {
    /// Falco's name for the code.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::ErrFileRead => "LOAD_ERR_FILE_READ",
            Code::ErrYamlParse => "LOAD_ERR_YAML_PARSE",
            Code::ErrYamlValidate => "LOAD_ERR_YAML_VALIDATE",
            Code::ErrCompileCondition => "LOAD_ERR_COMPILE_CONDITION",
            Code::ErrCompileOutput => "LOAD_ERR_COMPILE_OUTPUT",
            Code::ErrValidate => "LOAD_ERR_VALIDATE",
            Code::ErrExtension => "LOAD_ERR_EXTENSION",
            Code::UnknownSource => "LOAD_UNKNOWN_SOURCE",
            Code::UnsafeNaCheck => "LOAD_UNSAFE_NA_CHECK",
            Code::NoEvttype => "LOAD_NO_EVTTYPE",
            Code::UnknownFilter => "LOAD_UNKNOWN_FILTER",
            Code::UnusedMacro => "LOAD_UNUSED_MACRO",
            Code::UnusedList => "LOAD_UNUSED_LIST",
            Code::UnknownItem => "LOAD_UNKNOWN_ITEM",
            Code::DeprecatedItem => "LOAD_DEPRECATED_ITEM",
            Code::WarningExtension => "LOAD_WARNING_EXTENSION",
            Code::AppendNoValues => "LOAD_APPEND_NO_VALUES",
            Code::ExceptionNameNotUnique => "LOAD_EXCEPTION_NAME_NOT_UNIQUE",
            Code::InvalidMacroName => "LOAD_INVALID_MACRO_NAME",
            Code::InvalidListName => "LOAD_INVALID_LIST_NAME",
            Code::CompileCondition => "LOAD_COMPILE_CONDITION",
            Code::UnknownKey => "LOAD_UNKNOWN_KEY",
        }
    }

    /// Whether Falco treats this code as an error (the `LOAD_ERR_*` family).
    pub fn severity(self) -> Severity {
        match self {
            Code::ErrFileRead
            | Code::ErrYamlParse
            | Code::ErrYamlValidate
            | Code::ErrCompileCondition
            | Code::ErrCompileOutput
            | Code::ErrValidate
            | Code::ErrExtension => Severity::Error,
            _ => Severity::Warning,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of item a diagnostic is about, as Falco names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemKind {
    RequiredEngineVersion,
    RequiredPluginVersions,
    List,
    Macro,
    Rule,
    Exception,
    Unknown,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::RequiredEngineVersion => "required_engine_version",
            ItemKind::RequiredPluginVersions => "required_plugin_versions",
            ItemKind::List => "list",
            ItemKind::Macro => "macro",
            ItemKind::Rule => "rule",
            ItemKind::Exception => "exception",
            ItemKind::Unknown => "item",
        }
    }
}

/// A place in a rules file: 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Location {
    pub file: String,
    pub line: u32,
    pub column: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// One problem found while loading rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub message: String,
    pub location: Location,
    pub item_kind: Option<ItemKind>,
    pub item_name: Option<String>,
}

impl Diagnostic {
    pub fn new(code: Code, location: Location, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            message: message.into(),
            location,
            item_kind: None,
            item_name: None,
        }
    }

    /// Name the item the diagnostic belongs to (`rule 'Foo'`).
    pub fn in_item(mut self, kind: ItemKind, name: impl Into<String>) -> Self {
        self.item_kind = Some(kind);
        self.item_name = Some(name.into());
        self
    }

    pub fn severity(&self) -> Severity {
        self.code.severity()
    }

    pub fn is_error(&self) -> bool {
        self.severity() == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    /// `file:line:col: error: message [LOAD_ERR_...] (rule 'Name')`, one line, like compilers print.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: {} [{}]",
            self.location,
            self.severity().as_str(),
            self.message,
            self.code
        )?;
        if let (Some(kind), Some(name)) = (self.item_kind, &self.item_name) {
            write!(f, " ({} '{}')", kind.as_str(), name)?;
        }
        Ok(())
    }
}

/// Whether any diagnostic in the list is an error.
pub fn has_errors(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(Diagnostic::is_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_place_severity_code_and_item() {
        let diag = Diagnostic::new(
            Code::ErrValidate,
            Location {
                file: "r.yaml".into(),
                line: 3,
                column: 5,
            },
            "Invalid priority",
        )
        .in_item(ItemKind::Rule, "Foo");
        assert_eq!(
            diag.to_string(),
            "r.yaml:3:5: error: Invalid priority [LOAD_ERR_VALIDATE] (rule 'Foo')"
        );
        let warn = Diagnostic::new(Code::UnknownKey, Location::default(), "x");
        assert_eq!(warn.severity(), Severity::Warning);
        assert!(!has_errors(&[warn]));
    }
}
