//! Falco's collector: defining, replacing, appending to and overriding items in load order.

use super::model::{
    ExceptionEntry, ExceptionInfo, ListInfo, MacroInfo, PluginRequirement, RuleInfo, Version,
};
use super::reader::Ctx;
use super::yaml::Pos;
use super::{Loader, RuleUpdate, ENGINE_VERSION};
use crate::diagnostic::{Code, Diagnostic, Location};

pub(super) const ERROR_NO_PREVIOUS_MACRO: &str =
    "Macro uses 'append' or 'override.condition: append' but no macro by that name already exists";
pub(super) const ERROR_NO_PREVIOUS_LIST: &str =
    "List uses 'append' or 'override.items: append' but no list by that name already exists";
pub(super) const ERROR_NO_PREVIOUS_RULE_APPEND: &str =
    "Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists";
pub(super) const ERROR_NO_PREVIOUS_RULE_REPLACE: &str =
    "An 'override.<key>: replace' to a rule was requested but no rule by that name already exists";

/// The sources whose fields sealwatch provides.
const KNOWN_SOURCES: &[&str] = &["syscall"];

/// Every comparison operator of the condition language (libsinsp `supported_operators`).
const OPERATORS: &[&str] = &[
    "=",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "contains",
    "icontains",
    "bcontains",
    "startswith",
    "bstartswith",
    "endswith",
    "glob",
    "iglob",
    "regex",
    "in",
    "intersects",
    "pmatch",
    "exists",
];
/// Operators whose right side is a list.
pub(super) const LIST_OPERATORS: &[&str] = &["in", "intersects", "pmatch"];

fn is_operator(op: &str) -> bool {
    if OPERATORS.contains(&op) {
        return true;
    }
    // Falco 0.44 modifiers: `startswith oneof`, `= anyof`, …
    let mut words = op.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some(base), Some(modifier), None) => {
            OPERATORS.contains(&base)
                && !LIST_OPERATORS.contains(&base)
                && matches!(modifier, "oneof" | "anyof" | "allof")
        }
        _ => false,
    }
}

fn is_scalar_field_operator(op: &str) -> bool {
    LIST_OPERATORS.contains(&op) || (is_operator(op) && op.split_whitespace().count() == 2)
}

impl Loader {
    fn next_index(&mut self) -> u32 {
        let idx = self.counter;
        self.counter = self.counter.saturating_add(1);
        idx
    }

    fn validate_error(&mut self, ctx: &Ctx<'_>, location: &Location, message: impl Into<String>) {
        let diag = ctx.diag(Code::ErrValidate, Pos::default(), message);
        self.diagnostics.push(Diagnostic {
            location: location.clone(),
            ..diag
        });
    }

    pub(super) fn define_engine_version(&mut self, version: Version, ctx: &Ctx<'_>, pos: Pos) {
        if version > ENGINE_VERSION {
            self.diagnostics.push(ctx.diag(
                Code::ErrValidate,
                pos,
                format!("Rules require engine version {version}, but engine version is {ENGINE_VERSION}"),
            ));
        }
        let current = self.files.required_engine_version.get_or_insert(version);
        if version > *current {
            *current = version;
        }
    }

    pub(super) fn define_plugin_requirement(&mut self, req: PluginRequirement, ctx: &Ctx<'_>) {
        // sealwatch provides the container plugin's fields itself; no other plugin can be loaded.
        let satisfied = req.alternatives.iter().any(|(name, _)| name == "container");
        if !satisfied {
            let names: Vec<String> = req
                .alternatives
                .iter()
                .map(|(n, v)| format!("{n} {v}"))
                .collect();
            let diag = ctx.diag(
                Code::ErrValidate,
                Pos::default(),
                format!(
                    "Plugin requirement not satisfied: {} (sealwatch provides only the fields of the 'container' plugin)",
                    names.join(" or ")
                ),
            );
            self.diagnostics.push(Diagnostic {
                location: req.location.clone(),
                ..diag
            });
        }
        self.files.required_plugins.push(req);
    }

    pub(super) fn define_list(&mut self, mut info: ListInfo) {
        let idx = self.next_index();
        info.visibility = idx;
        if let Some(prev) = self.files.lists.iter_mut().find(|l| l.name == info.name) {
            info.index = prev.index;
            *prev = info;
        } else {
            info.index = idx;
            self.files.lists.push(info);
        }
    }

    pub(super) fn append_list(&mut self, info: ListInfo, ctx: &Ctx<'_>) {
        let idx = self.next_index();
        match self.files.lists.iter_mut().find(|l| l.name == info.name) {
            Some(prev) => {
                prev.items.extend(info.items);
                prev.visibility = idx;
            }
            None => self.validate_error(ctx, &info.location, ERROR_NO_PREVIOUS_LIST),
        }
    }

    pub(super) fn define_macro(&mut self, mut info: MacroInfo) {
        let idx = self.next_index();
        info.visibility = idx;
        if let Some(prev) = self.files.macros.iter_mut().find(|m| m.name == info.name) {
            info.index = prev.index;
            *prev = info;
        } else {
            info.index = idx;
            self.files.macros.push(info);
        }
    }

    pub(super) fn append_macro(&mut self, info: MacroInfo, ctx: &Ctx<'_>) {
        let idx = self.next_index();
        match self.files.macros.iter_mut().find(|m| m.name == info.name) {
            Some(prev) => {
                // Plain text concatenation with one space, exactly as Falco does: no brackets.
                prev.condition.push(' ');
                prev.condition.push_str(&info.condition);
                prev.visibility = idx;
            }
            None => self.validate_error(ctx, &info.location, ERROR_NO_PREVIOUS_MACRO),
        }
    }

    pub(super) fn define_rule(&mut self, mut info: RuleInfo, ctx: &Ctx<'_>) {
        let idx = self.next_index();
        info.visibility = idx;
        if !KNOWN_SOURCES.contains(&info.source.as_str()) {
            info.unknown_source = true;
            self.diagnostics.push(Diagnostic {
                location: info.location.clone(),
                ..ctx.diag(
                    Code::UnknownSource,
                    Pos::default(),
                    format!("Unknown source {}, skipping", info.source),
                )
            });
        } else {
            let mut ok = true;
            for ex in &mut info.exceptions {
                ok &=
                    validate_exception(ex, self.field_check.as_deref(), &mut self.diagnostics, ctx);
            }
            if !ok {
                return;
            }
        }
        let prev_source = self
            .files
            .rules
            .iter()
            .find(|r| r.name == info.name)
            .map(|r| r.source.clone());
        if let Some(prev_source) = prev_source {
            if prev_source != info.source {
                self.validate_error(
                    ctx,
                    &info.location,
                    "Rule has been re-defined with a different source",
                );
                return;
            }
        }
        if let Some(prev) = self.files.rules.iter_mut().find(|r| r.name == info.name) {
            info.index = prev.index;
            *prev = info;
        } else {
            info.index = idx;
            self.files.rules.push(info);
        }
    }

    pub(super) fn append_rule(&mut self, update: RuleUpdate, ctx: &Ctx<'_>) {
        let idx = self.next_index();
        let Some(pos) = self.files.rules.iter().position(|r| r.name == update.name) else {
            self.validate_error(ctx, &update.location, ERROR_NO_PREVIOUS_RULE_APPEND);
            return;
        };
        let field_check = self.field_check.as_deref();
        let Some(prev) = self.files.rules.get_mut(pos) else {
            return;
        };
        if let Some(exceptions) = update.exceptions {
            for mut ex in exceptions {
                if let Some(existing) = prev.exceptions.iter_mut().find(|e| e.name == ex.name) {
                    if ex.fields.is_some() || ex.comps.is_some() {
                        let msg = format!(
                            "Can not append exception fields or comps to existing exception '{}', only values",
                            ex.name
                        );
                        let diag = ctx.diag(Code::ErrValidate, Pos::default(), msg);
                        self.diagnostics.push(Diagnostic {
                            location: ex.location.clone(),
                            ..diag
                        });
                        continue;
                    }
                    existing.values.extend(ex.values);
                } else if validate_exception(&mut ex, field_check, &mut self.diagnostics, ctx) {
                    prev.exceptions.push(ex);
                }
            }
        }
        if let Some(cond) = update.condition {
            prev.condition.push(' ');
            prev.condition.push_str(&cond);
        }
        if let Some(output) = update.output {
            prev.output.push(' ');
            prev.output.push_str(&output);
        }
        if let Some(desc) = update.desc {
            prev.desc.push(' ');
            prev.desc.push_str(&desc);
        }
        if let Some(tags) = update.tags {
            prev.tags.extend(tags);
        }
        prev.visibility = idx;
    }

    pub(super) fn replace_rule(&mut self, update: RuleUpdate, ctx: &Ctx<'_>) {
        let idx = self.next_index();
        let Some(pos) = self.files.rules.iter().position(|r| r.name == update.name) else {
            self.validate_error(ctx, &update.location, ERROR_NO_PREVIOUS_RULE_REPLACE);
            return;
        };
        let field_check = self.field_check.as_deref();
        let Some(prev) = self.files.rules.get_mut(pos) else {
            return;
        };
        if let Some(mut exceptions) = update.exceptions {
            let mut ok = true;
            for ex in &mut exceptions {
                ok &= validate_exception(ex, field_check, &mut self.diagnostics, ctx);
            }
            if ok {
                prev.exceptions = exceptions;
            }
        }
        if let Some(cond) = update.condition {
            prev.condition = cond;
            if let Some(loc) = update.condition_location {
                prev.condition_location = loc;
            }
        }
        if let Some(v) = update.output {
            prev.output = v;
        }
        if let Some(v) = update.desc {
            prev.desc = v;
        }
        if let Some(v) = update.tags {
            prev.tags = v;
        }
        if let Some(v) = update.priority {
            prev.priority = v;
        }
        if let Some(v) = update.enabled {
            prev.enabled = v;
        }
        if let Some(v) = update.warn_evttypes {
            prev.warn_evttypes = v;
        }
        if let Some(v) = update.skip_if_unknown_filter {
            prev.skip_if_unknown_filter = v;
        }
        if let Some(v) = update.capture {
            prev.capture = v;
        }
        if update.capture_duration.is_some() {
            prev.capture_duration = update.capture_duration;
        }
        prev.visibility = idx;
    }

    /// The legacy `enabled`-only item.
    pub(super) fn enable_rule(&mut self, update: RuleUpdate, ctx: &Ctx<'_>) {
        match self.files.rules.iter_mut().find(|r| r.name == update.name) {
            Some(prev) => {
                if let Some(enabled) = update.enabled {
                    prev.enabled = enabled;
                }
            }
            None => self.validate_error(
                ctx,
                &update.location,
                "Rule has 'enabled' key but no rule by that name already exists",
            ),
        }
    }
}

/// Falco's `validate_exception_info`: fill in default comps and check fields, comps and values.
/// Returns false (with diagnostics) when the exception is unusable.
fn validate_exception(
    ex: &mut ExceptionInfo,
    field_check: Option<&(dyn Fn(&str) -> bool + Send + Sync)>,
    diagnostics: &mut Vec<Diagnostic>,
    ctx: &Ctx<'_>,
) -> bool {
    let mut errors: Vec<String> = Vec::new();
    let field_ok = |f: &str| field_check.is_none_or(|check| check(f));
    match &ex.fields {
        None => errors.push(format!(
            "Rule exception '{}' must have a 'fields' property",
            ex.name
        )),
        Some(ExceptionEntry::List(fields)) => {
            let comps = match ex.comps.take() {
                None => fields
                    .iter()
                    .map(|_| ExceptionEntry::Item("=".to_string()))
                    .collect(),
                Some(ExceptionEntry::List(c)) => c,
                Some(ExceptionEntry::Item(c)) => vec![ExceptionEntry::Item(c)],
            };
            if comps.len() != fields.len() {
                errors.push(format!(
                    "Exception '{}': fields and comps lists must have equal length",
                    ex.name
                ));
            }
            for c in &comps {
                match c {
                    ExceptionEntry::Item(op) if is_operator(op) => {}
                    ExceptionEntry::Item(op) => errors.push(format!(
                        "Exception '{}': '{op}' is not a supported comparison operator",
                        ex.name
                    )),
                    ExceptionEntry::List(_) => {
                        errors.push(format!("Exception '{}': comps must be strings", ex.name))
                    }
                }
            }
            for f in fields {
                match f {
                    ExceptionEntry::Item(name) if field_ok(name) => {}
                    ExceptionEntry::Item(name) => errors.push(format!(
                        "Exception '{}': '{name}' is not a supported filter field",
                        ex.name
                    )),
                    ExceptionEntry::List(_) => {
                        errors.push(format!("Exception '{}': fields must be strings", ex.name))
                    }
                }
            }
            for v in &ex.values {
                match v {
                    ExceptionEntry::List(items) if items.len() == fields.len() => {}
                    _ => errors.push(format!(
                        "Exception '{}': fields and values lists must have equal length",
                        ex.name
                    )),
                }
            }
            ex.comps = Some(ExceptionEntry::List(comps));
        }
        Some(ExceptionEntry::Item(field)) => {
            let comp = match ex.comps.take() {
                None => "in".to_string(),
                Some(ExceptionEntry::Item(c)) => c,
                Some(ExceptionEntry::List(_)) => {
                    errors.push(format!(
                        "Exception '{}': fields and comps must both be strings",
                        ex.name
                    ));
                    "in".to_string()
                }
            };
            if !is_scalar_field_operator(&comp) {
                errors.push(format!(
                    "Exception '{}': when fields is a single value, comps must be one of (in, pmatch, intersects) or an operator with a oneof/anyof/allof modifier",
                    ex.name
                ));
            }
            if !field_ok(field) {
                errors.push(format!(
                    "Exception '{}': '{field}' is not a supported filter field",
                    ex.name
                ));
            }
            if ex
                .values
                .iter()
                .any(|v| matches!(v, ExceptionEntry::List(_)))
            {
                errors.push(format!(
                    "Exception '{}': expected values array to contain a list of strings",
                    ex.name
                ));
            }
            ex.comps = Some(ExceptionEntry::Item(comp));
        }
    }
    let ok = errors.is_empty();
    for msg in errors {
        let diag = ctx.diag(Code::ErrValidate, Pos::default(), msg);
        diagnostics.push(Diagnostic {
            location: ex.location.clone(),
            ..diag
        });
    }
    ok
}
