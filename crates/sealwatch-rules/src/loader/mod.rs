//! The Falco rules-file loader: YAML streams of `rule`, `macro`, `list`,
//! `required_engine_version` and `required_plugin_versions` items, with Falco's override/append
//! semantics across files and every diagnostic at once.
//!
//! The loader is pure: it takes (file name, bytes) pairs in load order. Reading files and folders
//! (Falco's `-r` semantics) is the caller's job.
//!
//! - The YAML parser is `saphyr-parser` (positions for every node); yaml-cpp's leniency about a
//!   flow sequence's closing bracket at the key's indentation, which the upstream files rely on,
//!   is reproduced (see `yaml.rs`).
//! - Falco stops at a file's first error; this loader reports every error and warning, skipping
//!   only the item an error is in, so it rejects the same files but tells everything at once.
//! - `required_plugin_versions` naming Falco's `container` plugin is met: sealwatch provides the
//!   container and k8s fields itself. Any other plugin requirement is an error.
//! - [`Ruleset`] takes the loaded files further: parse, resolve macros in definition
//!   order, compile, check outputs, select and index rules.
//!
//! ```
//! use sealwatch_rules::loader::Loader;
//! let mut loader = Loader::new();
//! loader.load("a.yaml", b"- list: shells\n  items: [bash, sh]\n- macro: shell\n  condition: proc.name in (shells)\n");
//! let loaded = loader.finish();
//! assert!(loaded.diagnostics.is_empty());
//! assert_eq!(loaded.macro_conditions[0], "proc.name in ( bash, sh )");
//! ```

mod collector;
pub mod expand;
pub mod model;
mod reader;
mod ruleset;
mod yaml;

use std::collections::BTreeSet;

pub use expand::ExpandedList;
pub use model::{
    ExceptionEntry, ExceptionInfo, ListInfo, MacroInfo, PluginRequirement, Priority, RuleInfo,
    RulesFiles, Version, ENGINE_VERSION,
};
pub use ruleset::{known_field, load_and_compile, CompiledRule, EventFields, Ruleset, Selection};

use crate::diagnostic::{Code, Diagnostic, ItemKind, Location};

/// Decides whether a field name (with its argument, e.g. `proc.aname[2]`) exists; used to check
/// exception fields. Without one, every field is accepted.
pub type FieldCheck = dyn Fn(&str) -> bool + Send + Sync;

/// Loads rules files in order, like Falco's collector.
pub struct Loader {
    files: RulesFiles,
    diagnostics: Vec<Diagnostic>,
    counter: u32,
    field_check: Option<Box<FieldCheck>>,
}

impl Default for Loader {
    fn default() -> Self {
        Self::new()
    }
}

/// A rule's modification by `override:` or `append: true`.
#[derive(Debug, Clone)]
pub(crate) struct RuleUpdate {
    pub name: String,
    pub location: Location,
    pub condition: Option<String>,
    pub condition_location: Option<Location>,
    pub output: Option<String>,
    pub desc: Option<String>,
    pub tags: Option<BTreeSet<String>>,
    pub exceptions: Option<Vec<ExceptionInfo>>,
    pub priority: Option<Priority>,
    pub enabled: Option<bool>,
    pub warn_evttypes: Option<bool>,
    pub skip_if_unknown_filter: Option<bool>,
    pub capture: Option<bool>,
    pub capture_duration: Option<u64>,
}

impl RuleUpdate {
    fn new(name: String, location: Location) -> Self {
        RuleUpdate {
            name,
            location,
            condition: None,
            condition_location: None,
            output: None,
            desc: None,
            tags: None,
            exceptions: None,
            priority: None,
            enabled: None,
            warn_evttypes: None,
            skip_if_unknown_filter: None,
            capture: None,
            capture_duration: None,
        }
    }
}

/// What loading produced: the items as defined, their text-expanded conditions, and every
/// diagnostic. Macro references are still unresolved in the conditions (that needs the parser).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub files: RulesFiles,
    /// Lists with lists of lists expanded, parallel to `files.lists`.
    pub lists: Vec<ExpandedList>,
    /// Each macro's condition with lists substituted, parallel to `files.macros`.
    pub macro_conditions: Vec<String>,
    /// Each rule's condition with exceptions applied and lists substituted, parallel to
    /// `files.rules`.
    pub rule_conditions: Vec<String>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    pub fn has_errors(&self) -> bool {
        crate::diagnostic::has_errors(&self.diagnostics)
    }
}

impl Loader {
    pub fn new() -> Self {
        Loader {
            files: RulesFiles::default(),
            diagnostics: Vec::new(),
            counter: 0,
            field_check: None,
        }
    }

    /// Check exception fields with `check` (normally the field catalogue).
    pub fn with_field_check(mut self, check: Box<FieldCheck>) -> Self {
        self.field_check = Some(check);
        self
    }

    /// Load one rules file. Files must be given in load order: an item can only modify
    /// something defined earlier, in this file or an earlier one.
    pub fn load(&mut self, file_name: &str, bytes: &[u8]) {
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t,
            Err(err) => {
                let (line, column) = line_col(bytes, err.valid_up_to());
                self.diagnostics.push(Diagnostic::new(
                    Code::ErrYamlParse,
                    Location {
                        file: file_name.to_string(),
                        line,
                        column,
                    },
                    format!("Rules file is not valid UTF-8: {err}"),
                ));
                return;
            }
        };
        match yaml::parse_stream(text) {
            Err(err) => self.diagnostics.push(Diagnostic::new(
                Code::ErrYamlParse,
                Location {
                    file: file_name.to_string(),
                    line: err.pos.line,
                    column: err.pos.column,
                },
                err.message,
            )),
            Ok(docs) => {
                for doc in docs.iter().flatten() {
                    if !doc.is_null() {
                        self.read_document(file_name, doc);
                    }
                }
            }
        }
    }

    /// The diagnostics found so far.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// Expand lists and exceptions, report unused lists, and hand everything back.
    pub fn finish(self) -> Loaded {
        let Loader {
            files,
            mut diagnostics,
            ..
        } = self;
        let (lists, mut list_used) = expand::expand_lists(&files.lists);
        let mut resolve = |cond: &str| {
            let mut text = cond.to_string();
            for (i, list) in lists.iter().enumerate() {
                if expand::resolve_list(&mut text, list) {
                    if let Some(u) = list_used.get_mut(i) {
                        *u = true;
                    }
                }
            }
            text
        };
        let macro_conditions: Vec<String> =
            files.macros.iter().map(|m| resolve(&m.condition)).collect();
        let rule_conditions: Vec<String> = files
            .rules
            .iter()
            .map(|r| {
                if r.exceptions.is_empty() {
                    resolve(&r.condition)
                } else {
                    resolve(&expand::apply_exceptions(&r.condition, &r.exceptions))
                }
            })
            .collect();
        for (list, used) in files.lists.iter().zip(&list_used) {
            if !used {
                diagnostics.push(
                    Diagnostic::new(
                        Code::UnusedList,
                        list.location.clone(),
                        "List not referred to by any other rule/macro",
                    )
                    .in_item(ItemKind::List, list.name.clone()),
                );
            }
        }
        Loaded {
            files,
            lists,
            macro_conditions,
            rule_conditions,
            diagnostics,
        }
    }
}

/// Load several files in order and finish.
pub fn load_all<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Loaded {
    let mut loader = Loader::new();
    for (name, bytes) in files {
        loader.load(name, bytes);
    }
    loader.finish()
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(bytes: &[u8], offset: usize) -> (u32, u32) {
    let before = bytes.get(..offset).unwrap_or(bytes);
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(before.get(line_start..).unwrap_or_default())
        .chars()
        .count()
        + 1;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(column).unwrap_or(u32::MAX),
    )
}
