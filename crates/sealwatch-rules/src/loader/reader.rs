//! Reading YAML items into list/macro/rule definitions, with Falco's validation messages.
//!
//! Falco stops at the first error of a file; this reader reports an error, skips the item it is
//! in, and goes on, so a user sees every problem at once. The files Falco rejects are the same.

use std::collections::BTreeSet;

use super::model::{
    ExceptionEntry, ExceptionInfo, ListInfo, MacroInfo, PluginRequirement, Priority, RuleInfo,
    Version,
};
use super::yaml::{Node, NodeKind, Pos};
use super::{Loader, RuleUpdate};
use crate::diagnostic::{Code, Diagnostic, ItemKind, Location};

/// Keys each item kind knows; anything else draws `LOAD_UNKNOWN_KEY`.
const LIST_KEYS: &[&str] = &["list", "items", "append", "override"];
const MACRO_KEYS: &[&str] = &["macro", "condition", "append", "override"];
const RULE_KEYS: &[&str] = &[
    "rule",
    "condition",
    "output",
    "desc",
    "priority",
    "source",
    "enabled",
    "tags",
    "exceptions",
    "warn_evttypes",
    "skip-if-unknown-filter",
    "capture",
    "capture_duration",
    "override",
    "append",
];
const PLUGIN_KEYS: &[&str] = &["name", "version", "alternatives"];
const EXCEPTION_KEYS: &[&str] = &["name", "fields", "comps", "values"];

const RULE_APPENDABLE: &[&str] = &["condition", "output", "desc", "tags", "exceptions"];
const RULE_REPLACEABLE: &[&str] = &[
    "condition",
    "output",
    "desc",
    "priority",
    "capture",
    "capture_duration",
    "tags",
    "exceptions",
    "enabled",
    "warn_evttypes",
    "skip-if-unknown-filter",
];

pub(super) const WARNING_APPEND: &str =
    "'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.";
pub(super) const WARNING_ENABLED: &str = "The standalone 'enabled' key usage is deprecated. The correct approach requires also a 'replace' entry under the 'override' key (i.e. 'enabled: replace').";
pub(super) const ERROR_OVERRIDE_APPEND: &str = "Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.";

/// An error that ends the reading of one item; the reader has already recorded it.
pub(super) struct Skip;

type Read<T> = Result<T, Skip>;

/// Per-item context: where the item is and what it is called, for every diagnostic about it.
pub(super) struct Ctx<'a> {
    pub file: &'a str,
    pub kind: ItemKind,
    pub name: String,
}

impl Ctx<'_> {
    pub fn at(&self, pos: Pos) -> Location {
        Location {
            file: self.file.to_string(),
            line: pos.line,
            column: pos.column,
        }
    }

    pub fn diag(&self, code: Code, pos: Pos, message: impl Into<String>) -> Diagnostic {
        let d = Diagnostic::new(code, self.at(pos), message);
        if self.name.is_empty() {
            Diagnostic {
                item_kind: Some(self.kind),
                ..d
            }
        } else {
            d.in_item(self.kind, self.name.clone())
        }
    }
}

fn yaml_bool(text: &str) -> Option<bool> {
    // yaml-cpp's conversion, which is what Falco's `as<bool>` accepts.
    match text {
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "y" | "Y" | "on" | "On" | "ON" => {
            Some(true)
        }
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "n" | "N" | "off" | "Off" | "OFF" => {
            Some(false)
        }
        _ => None,
    }
}

impl Loader {
    fn error(&mut self, ctx: &Ctx<'_>, pos: Pos, message: impl Into<String>) -> Skip {
        self.diagnostics
            .push(ctx.diag(Code::ErrYamlValidate, pos, message));
        Skip
    }

    fn warn(&mut self, ctx: &Ctx<'_>, code: Code, pos: Pos, message: impl Into<String>) {
        self.diagnostics.push(ctx.diag(code, pos, message));
    }

    /// A required non-empty scalar string.
    fn req_str(&mut self, item: &Node, key: &str, ctx: &Ctx<'_>) -> Read<String> {
        match self.opt_str(item, key, ctx)? {
            Some(s) => Ok(s),
            None => Err(self.error(
                ctx,
                item.pos,
                format!("Item has no mapping for key '{key}'"),
            )),
        }
    }

    fn opt_str(&mut self, item: &Node, key: &str, ctx: &Ctx<'_>) -> Read<Option<String>> {
        let Some(val) = item.get(key) else {
            return Ok(None);
        };
        if val.is_null() {
            return Err(self.error(ctx, val.pos, format!("Mapping for key '{key}' is empty")));
        }
        match &val.kind {
            NodeKind::Scalar { text, .. } if text.is_empty() => Err(self.error(
                ctx,
                val.pos,
                format!("Value for key '{key}' must be non-empty"),
            )),
            NodeKind::Scalar { text, .. } => Ok(Some(text.clone())),
            _ => Err(self.error(
                ctx,
                val.pos,
                format!("Value for key '{key}' is not a scalar value"),
            )),
        }
    }

    fn opt_bool(&mut self, item: &Node, key: &str, ctx: &Ctx<'_>) -> Read<Option<bool>> {
        let Some(text) = self.opt_str(item, key, ctx)? else {
            return Ok(None);
        };
        match yaml_bool(&text) {
            Some(b) => Ok(Some(b)),
            None => {
                let pos = item.get(key).map_or(item.pos, |v| v.pos);
                Err(self.error(
                    ctx,
                    pos,
                    format!(
                        "Can't decode YAML scalar value for key '{key}' as a boolean: '{text}'"
                    ),
                ))
            }
        }
    }

    fn opt_u64(&mut self, item: &Node, key: &str, ctx: &Ctx<'_>) -> Read<Option<u64>> {
        let Some(text) = self.opt_str(item, key, ctx)? else {
            return Ok(None);
        };
        match text.trim().parse::<u64>() {
            Ok(n) => Ok(Some(n)),
            Err(_) => {
                let pos = item.get(key).map_or(item.pos, |v| v.pos);
                Err(self.error(
                    ctx,
                    pos,
                    format!(
                        "Can't decode YAML scalar value for key '{key}' as an integer: '{text}'"
                    ),
                ))
            }
        }
    }

    /// A sequence of scalars (`items`, `tags`).
    fn str_seq(&mut self, val: &Node, key: &str, ctx: &Ctx<'_>) -> Read<Vec<String>> {
        let Some(items) = val.as_seq() else {
            return Err(self.error(
                ctx,
                val.pos,
                format!("Value for key '{key}' is not a sequence"),
            ));
        };
        let mut out = Vec::with_capacity(items.len());
        let mut bad = false;
        for v in items {
            match &v.kind {
                NodeKind::Scalar { text, .. } if !v.is_null() => out.push(text.clone()),
                _ => {
                    self.error(
                        ctx,
                        v.pos,
                        format!("Sequence value in key '{key}' is not scalar"),
                    );
                    bad = true;
                }
            }
        }
        if bad {
            Err(Skip)
        } else {
            Ok(out)
        }
    }

    fn check_keys(&mut self, item: &Node, known: &[&str], ctx: &Ctx<'_>) {
        let Some(entries) = item.as_map() else { return };
        let mut seen: Vec<&str> = Vec::new();
        for (k, _) in entries {
            let key = k.as_scalar().unwrap_or("");
            if seen.contains(&key) {
                self.diagnostics.push(ctx.diag(
                    Code::ErrYamlValidate,
                    k.pos,
                    format!("Duplicate key '{key}'"),
                ));
            }
            seen.push(key);
            if !known.contains(&key) {
                self.warn(
                    ctx,
                    Code::UnknownKey,
                    k.pos,
                    format!("Unknown key '{key}': it is ignored"),
                );
            }
        }
    }

    /// Read one YAML document of a rules file.
    pub(super) fn read_document(&mut self, file: &str, doc: &Node) {
        let ctx = Ctx {
            file,
            kind: ItemKind::Unknown,
            name: String::new(),
        };
        let Some(items) = doc.as_seq() else {
            let msg = if doc.as_map().is_some() {
                "Rules content is not yaml array of objects"
            } else {
                "Rules content is not yaml"
            };
            self.error(&ctx, doc.pos, msg);
            return;
        };
        for item in items {
            if item.is_null() {
                continue;
            }
            // Errors are recorded as they are found; `Skip` only ends this item.
            let _ = self.read_item(file, item);
        }
    }

    fn read_item(&mut self, file: &str, item: &Node) -> Read<()> {
        let mut ctx = Ctx {
            file,
            kind: ItemKind::Unknown,
            name: String::new(),
        };
        if item.as_map().is_none() {
            return Err(self.error(
                &ctx,
                item.pos,
                "Unexpected element type. Each element should be a yaml associative array.",
            ));
        }
        if item.get("required_engine_version").is_some() {
            ctx.kind = ItemKind::RequiredEngineVersion;
            self.check_keys(item, &["required_engine_version"], &ctx);
            self.read_engine_version(item, &ctx)
        } else if let Some(plugins) = item.get("required_plugin_versions") {
            ctx.kind = ItemKind::RequiredPluginVersions;
            self.check_keys(item, &["required_plugin_versions"], &ctx);
            self.read_plugin_versions(plugins, &ctx)
        } else if item.get("list").is_some() {
            ctx.kind = ItemKind::List;
            ctx.name = self.req_str(item, "list", &ctx)?;
            self.check_keys(item, LIST_KEYS, &ctx);
            self.read_list(item, &ctx)
        } else if item.get("macro").is_some() {
            ctx.kind = ItemKind::Macro;
            ctx.name = self.req_str(item, "macro", &ctx)?;
            self.check_keys(item, MACRO_KEYS, &ctx);
            self.read_macro(item, &ctx)
        } else if item.get("rule").is_some() {
            ctx.kind = ItemKind::Rule;
            ctx.name = self.req_str(item, "rule", &ctx)?;
            self.check_keys(item, RULE_KEYS, &ctx);
            self.read_rule(item, &ctx)
        } else {
            self.warn(&ctx, Code::UnknownItem, item.pos, "Unknown top level item");
            Ok(())
        }
    }

    fn read_engine_version(&mut self, item: &Node, ctx: &Ctx<'_>) -> Read<()> {
        let text = self.req_str(item, "required_engine_version", ctx)?;
        let pos = item
            .get("required_engine_version")
            .map_or(item.pos, |v| v.pos);
        // An integer N is the pre-semver form and means 0.N.0.
        let version = if let Ok(n) = text.trim().parse::<u64>() {
            Version::new(0, n, 0)
        } else if let Some(v) = Version::parse(&text) {
            v
        } else {
            return Err(self.error(
                ctx,
                pos,
                format!("Unable to parse engine version '{text}' as a semver string. Expected \"x.y.z\" semver format."),
            ));
        };
        self.define_engine_version(version, ctx, pos);
        Ok(())
    }

    fn read_plugin_versions(&mut self, plugins: &Node, ctx: &Ctx<'_>) -> Read<()> {
        let Some(entries) = plugins.as_seq() else {
            return Err(self.error(
                ctx,
                plugins.pos,
                "Value of required_plugin_versions must be a sequence",
            ));
        };
        for entry in entries {
            let _ = self.read_plugin_entry(entry, ctx);
        }
        Ok(())
    }

    fn read_plugin_entry(&mut self, entry: &Node, parent: &Ctx<'_>) -> Read<()> {
        let mut ctx = Ctx {
            file: parent.file,
            kind: parent.kind,
            name: String::new(),
        };
        if entry.as_map().is_none() {
            return Err(self.error(&ctx, entry.pos, "Plugin version must be a mapping"));
        }
        ctx.name = self.req_str(entry, "name", &ctx)?;
        self.check_keys(entry, PLUGIN_KEYS, &ctx);
        let version = self.req_str(entry, "version", &ctx)?;
        let mut alternatives = vec![(ctx.name.clone(), version)];
        if let Some(alts) = entry.get("alternatives") {
            let Some(alts) = alts.as_seq() else {
                return Err(self.error(
                    &ctx,
                    alts.pos,
                    "Value of plugin version alternatives must be a sequence",
                ));
            };
            for alt in alts {
                if alt.as_map().is_none() {
                    return Err(self.error(
                        &ctx,
                        alt.pos,
                        "Plugin version alternative must be a mapping",
                    ));
                }
                let alt_ctx = Ctx {
                    file: ctx.file,
                    kind: ctx.kind,
                    name: ctx.name.clone(),
                };
                self.check_keys(alt, &["name", "version"], &alt_ctx);
                let name = self.req_str(alt, "name", &alt_ctx)?;
                let version = self.req_str(alt, "version", &alt_ctx)?;
                alternatives.push((name, version));
            }
        }
        let mut bad = false;
        for (i, (name, version)) in alternatives.iter().enumerate() {
            if Version::parse(version).is_none() {
                self.diagnostics.push(ctx.diag(
                    Code::ErrYamlValidate,
                    entry.pos,
                    format!("Plugin '{name}' has an invalid version '{version}'. Expected \"x.y.z\" semver format."),
                ));
                bad = true;
            }
            if alternatives.iter().take(i).any(|(n, _)| n == name) {
                self.diagnostics.push(ctx.diag(
                    Code::ErrYamlValidate,
                    entry.pos,
                    format!(
                        "Plugin '{name}' is listed more than once in the same set of alternatives"
                    ),
                ));
                bad = true;
            }
        }
        if bad {
            return Err(Skip);
        }
        self.define_plugin_requirement(
            PluginRequirement {
                alternatives,
                location: ctx.at(entry.pos),
            },
            &ctx,
        );
        Ok(())
    }

    /// Decode `override:`; returns the keys to append and to replace.
    fn read_overrides(
        &mut self,
        item: &Node,
        appendable: &[&str],
        replaceable: &[&str],
        ctx: &Ctx<'_>,
    ) -> Read<(BTreeSet<String>, BTreeSet<String>)> {
        let mut append = BTreeSet::new();
        let mut replace = BTreeSet::new();
        let Some(ov) = item.get("override") else {
            return Ok((append, replace));
        };
        let Some(entries) = ov.as_map() else {
            return Err(self.error(
                ctx,
                ov.pos,
                "Value of 'override' must be a mapping of keys to 'append' or 'replace'",
            ));
        };
        let mut bad = false;
        for (k, v) in entries {
            let key = k.as_scalar().unwrap_or_default().to_string();
            let op = v.as_scalar().unwrap_or_default();
            let can_append = appendable.contains(&key.as_str());
            let can_replace = replaceable.contains(&key.as_str());
            let problem = match op {
                "append" if !can_append => Some(format!(
                    "Key '{key}' cannot be appended to, use 'replace' instead"
                )),
                "append" => {
                    append.insert(key.clone());
                    None
                }
                "replace" if !can_replace => Some(format!("Key '{key}' cannot be replaced")),
                "replace" => {
                    replace.insert(key.clone());
                    None
                }
                other => {
                    let mut allowed = String::new();
                    if can_append {
                        allowed.push_str("append ");
                    }
                    if can_replace {
                        allowed.push_str("replace ");
                    }
                    Some(format!(
                        "Invalid override operation for key '{key}': '{other}'. Allowed values are: {}",
                        allowed.trim_end()
                    ))
                }
            };
            if let Some(msg) = problem {
                let pos = if op == "append" || op == "replace" {
                    k.pos
                } else {
                    v.pos
                };
                self.error(ctx, pos, msg);
                bad = true;
            }
        }
        if bad {
            Err(Skip)
        } else {
            Ok((append, replace))
        }
    }

    fn read_list(&mut self, item: &Node, ctx: &Ctx<'_>) -> Read<()> {
        if !is_bare_string(&ctx.name) {
            self.warn(
                ctx,
                Code::InvalidListName,
                item.pos,
                "List has an invalid name. List names must match a regular expression: ([^()\"'[:space:]=,]+)",
            );
        }
        let items_node = item.get("items");
        let items = match items_node {
            None => return Err(self.error(ctx, item.pos, "Item has no mapping for key 'items'")),
            Some(n) => self.str_seq(n, "items", ctx),
        };
        let append = self.read_append_flag(item, ctx)?;
        let (ov_append, _ov_replace) = self.read_overrides(item, &["items"], &["items"], ctx)?;
        let items = items?;
        self.reject_append_with_override(item, append, ctx)?;
        let info = ListInfo {
            name: ctx.name.clone(),
            items,
            location: ctx.at(item.pos),
            index: 0,
            visibility: 0,
        };
        if append || ov_append.contains("items") {
            self.append_list(info, ctx);
        } else {
            self.define_list(info);
        }
        Ok(())
    }

    /// Falco refuses `append: true` together with a non-empty `override` block.
    fn reject_append_with_override(
        &mut self,
        item: &Node,
        append: bool,
        ctx: &Ctx<'_>,
    ) -> Read<()> {
        let has_overrides = item
            .get("override")
            .and_then(Node::as_map)
            .is_some_and(|m| !m.is_empty());
        if append && has_overrides {
            return Err(self.error(ctx, item.pos, ERROR_OVERRIDE_APPEND));
        }
        Ok(())
    }

    fn read_append_flag(&mut self, item: &Node, ctx: &Ctx<'_>) -> Read<bool> {
        let append = self.opt_bool(item, "append", ctx)?.unwrap_or(false);
        if append {
            self.warn(ctx, Code::DeprecatedItem, item.pos, WARNING_APPEND);
        }
        Ok(append)
    }

    fn read_macro(&mut self, item: &Node, ctx: &Ctx<'_>) -> Read<()> {
        if !is_identifier(&ctx.name) {
            self.warn(
                ctx,
                Code::InvalidMacroName,
                item.pos,
                "Macro has an invalid name. Macro names must match a regular expression: ([a-zA-Z]+[a-zA-Z0-9_]*)",
            );
        }
        let condition = self.req_str(item, "condition", ctx);
        let append = self.read_append_flag(item, ctx)?;
        let (ov_append, _) = self.read_overrides(item, &["condition"], &["condition"], ctx)?;
        let condition = condition?;
        self.reject_append_with_override(item, append, ctx)?;
        let cond_pos = item.get("condition").map_or(item.pos, |n| n.pos);
        let info = MacroInfo {
            name: ctx.name.clone(),
            condition,
            location: ctx.at(item.pos),
            condition_location: ctx.at(cond_pos),
            index: 0,
            visibility: 0,
        };
        if append || ov_append.contains("condition") {
            self.append_macro(info, ctx);
        } else {
            self.define_macro(info);
        }
        Ok(())
    }

    fn read_rule(&mut self, item: &Node, ctx: &Ctx<'_>) -> Read<()> {
        let append_flag = self.read_append_flag(item, ctx)?;
        let (ov_append, ov_replace) =
            self.read_overrides(item, RULE_APPENDABLE, RULE_REPLACEABLE, ctx)?;
        let has_overrides = !ov_append.is_empty() || !ov_replace.is_empty();
        if append_flag && has_overrides {
            return Err(self.error(ctx, item.pos, ERROR_OVERRIDE_APPEND));
        }
        if has_overrides {
            return self.read_rule_override(item, ctx, &ov_append, &ov_replace);
        }
        if append_flag {
            let mut update = RuleUpdate::new(ctx.name.clone(), ctx.at(item.pos));
            update.condition = self.opt_str(item, "condition", ctx)?;
            update.condition_location = item.get("condition").map(|n| ctx.at(n.pos));
            if item.get("exceptions").is_some() {
                update.exceptions = Some(self.read_exceptions(item, ctx, true)?);
            }
            self.append_rule(update, ctx);
            return Ok(());
        }
        let defining = ["condition", "output", "desc", "priority"]
            .iter()
            .any(|k| item.get(k).is_some());
        if !defining {
            let Some(enabled) = self.opt_bool(item, "enabled", ctx)? else {
                return Err(self.error(ctx, item.pos, "Item has no mapping for key 'enabled'"));
            };
            self.warn(ctx, Code::DeprecatedItem, item.pos, WARNING_ENABLED);
            let mut update = RuleUpdate::new(ctx.name.clone(), ctx.at(item.pos));
            update.enabled = Some(enabled);
            self.enable_rule(update, ctx);
            return Ok(());
        }
        // Collect every problem of a new rule before giving up on it.
        let condition = self.req_str(item, "condition", ctx);
        let output = self.req_str(item, "output", ctx);
        let desc = self.req_str(item, "desc", ctx);
        let priority_text = self.req_str(item, "priority", ctx);
        let priority = match &priority_text {
            Ok(text) => match Priority::parse(text) {
                Some(p) => Ok(p),
                None => {
                    let pos = item.get("priority").map_or(item.pos, |n| n.pos);
                    Err(self.error(ctx, pos, "Invalid priority"))
                }
            },
            Err(Skip) => Err(Skip),
        };
        let source = self.opt_str(item, "source", ctx);
        let enabled = self.opt_bool(item, "enabled", ctx);
        let warn_evttypes = self.opt_bool(item, "warn_evttypes", ctx);
        let skip_unknown = self.opt_bool(item, "skip-if-unknown-filter", ctx);
        let capture = self.opt_bool(item, "capture", ctx);
        let capture_duration = self.opt_u64(item, "capture_duration", ctx);
        let tags = match item.get("tags") {
            Some(n) if !n.is_null() => self
                .str_seq(n, "tags", ctx)
                .map(|t| t.into_iter().collect()),
            _ => Ok(BTreeSet::new()),
        };
        let exceptions = self.read_exceptions(item, ctx, false);
        let pos_of = |key: &str| item.get(key).map_or(item.pos, |n| n.pos);
        let rule = RuleInfo {
            name: ctx.name.clone(),
            condition: condition?,
            output: output?.trim().to_string(),
            desc: desc?,
            priority: priority?,
            source: source?.unwrap_or_else(|| "syscall".to_string()),
            enabled: enabled?.unwrap_or(true),
            tags: tags?,
            exceptions: exceptions?,
            warn_evttypes: warn_evttypes?.unwrap_or(true),
            skip_if_unknown_filter: skip_unknown?.unwrap_or(false),
            capture: capture?.unwrap_or(false),
            capture_duration: capture_duration?,
            location: ctx.at(item.pos),
            condition_location: ctx.at(pos_of("condition")),
            output_location: ctx.at(pos_of("output")),
            index: 0,
            visibility: 0,
            unknown_source: false,
        };
        self.define_rule(rule, ctx);
        Ok(())
    }

    fn read_rule_override(
        &mut self,
        item: &Node,
        ctx: &Ctx<'_>,
        ov_append: &BTreeSet<String>,
        ov_replace: &BTreeSet<String>,
    ) -> Read<()> {
        let mut bad = false;
        // Keys that are set and could be overridden must each be named under `override`.
        let mut overridable: Vec<&str> = RULE_APPENDABLE
            .iter()
            .chain(RULE_REPLACEABLE)
            .copied()
            .collect();
        overridable.sort_unstable();
        overridable.dedup();
        for key in overridable {
            if let Some(n) = item.get(key) {
                if !ov_append.contains(key) && !ov_replace.contains(key) {
                    self.error(
                        ctx,
                        n.pos,
                        format!("Unexpected key '{key}': no corresponding entry under 'override' is defined."),
                    );
                    bad = true;
                }
            }
        }
        let ov_pos = item.get("override").map_or(item.pos, |n| n.pos);
        for (op, keys) in [("append", ov_append), ("replace", ov_replace)] {
            for key in keys {
                if item.get(key).is_none() {
                    self.error(
                        ctx,
                        ov_pos,
                        format!(
                            "An {op} override for '{key}' was specified but '{key}' is not defined"
                        ),
                    );
                    bad = true;
                }
            }
        }
        if bad {
            return Err(Skip);
        }
        for (is_append, keys) in [(true, ov_append), (false, ov_replace)] {
            if keys.is_empty() {
                continue;
            }
            let mut update = RuleUpdate::new(ctx.name.clone(), ctx.at(item.pos));
            for key in keys {
                match key.as_str() {
                    "condition" => {
                        update.condition = self.opt_str(item, key, ctx)?;
                        update.condition_location = item.get(key).map(|n| ctx.at(n.pos));
                    }
                    "output" => {
                        update.output = self.opt_str(item, key, ctx)?.map(|s| s.trim().to_string())
                    }
                    "desc" => update.desc = self.opt_str(item, key, ctx)?,
                    "tags" => {
                        update.tags = match item.get(key) {
                            Some(n) if !n.is_null() => {
                                Some(self.str_seq(n, key, ctx)?.into_iter().collect())
                            }
                            _ => Some(BTreeSet::new()),
                        }
                    }
                    "exceptions" => {
                        update.exceptions = Some(self.read_exceptions(item, ctx, true)?)
                    }
                    "priority" => {
                        let text = self.req_str(item, key, ctx)?;
                        let Some(p) = Priority::parse(&text) else {
                            let pos = item.get(key).map_or(item.pos, |n| n.pos);
                            return Err(self.error(ctx, pos, "Invalid priority"));
                        };
                        update.priority = Some(p);
                    }
                    "enabled" => update.enabled = self.opt_bool(item, key, ctx)?,
                    "warn_evttypes" => update.warn_evttypes = self.opt_bool(item, key, ctx)?,
                    "skip-if-unknown-filter" => {
                        update.skip_if_unknown_filter = self.opt_bool(item, key, ctx)?
                    }
                    "capture" => update.capture = self.opt_bool(item, key, ctx)?,
                    "capture_duration" => update.capture_duration = self.opt_u64(item, key, ctx)?,
                    _ => {}
                }
            }
            if is_append {
                self.append_rule(update, ctx);
            } else {
                self.replace_rule(update, ctx);
            }
        }
        Ok(())
    }

    fn read_exceptions(
        &mut self,
        item: &Node,
        ctx: &Ctx<'_>,
        appending: bool,
    ) -> Read<Vec<ExceptionInfo>> {
        let Some(exs) = item.get("exceptions") else {
            return Ok(Vec::new());
        };
        if exs.is_null() {
            return Ok(Vec::new());
        }
        let Some(entries) = exs.as_seq() else {
            return Err(self.error(ctx, exs.pos, "Rule exceptions must be a sequence"));
        };
        let mut out: Vec<ExceptionInfo> = Vec::new();
        let mut bad = false;
        for ex in entries {
            if ex.as_map().is_none() {
                self.error(ctx, ex.pos, "Rule exception must be a mapping");
                bad = true;
                continue;
            }
            let ex_ctx = Ctx {
                file: ctx.file,
                kind: ctx.kind,
                name: ctx.name.clone(),
            };
            self.check_keys(ex, EXCEPTION_KEYS, &ex_ctx);
            let Ok(name) = self.req_str(ex, "name", &ex_ctx) else {
                bad = true;
                continue;
            };
            if out.iter().any(|e| e.name == name) {
                self.warn(
                    ctx,
                    Code::ExceptionNameNotUnique,
                    ex.pos,
                    format!("Multiple definitions of exception '{name}' in the same rule"),
                );
            }
            let fields = match ex.get("fields") {
                None if appending => None,
                None => {
                    self.error(
                        ctx,
                        ex.pos,
                        format!("Exception '{name}': item has no mapping for key 'fields'"),
                    );
                    bad = true;
                    continue;
                }
                Some(n) => match self.exception_entry(n, &name, "fields", ctx) {
                    Ok(e) => Some(e),
                    Err(Skip) => {
                        bad = true;
                        continue;
                    }
                },
            };
            let comps = match ex.get("comps") {
                None => None,
                Some(n) => match self.exception_entry(n, &name, "comps", ctx) {
                    Ok(e) => Some(e),
                    Err(Skip) => {
                        bad = true;
                        continue;
                    }
                },
            };
            let mut values = Vec::new();
            match ex.get("values") {
                Some(vals) => {
                    let Some(vals) = vals.as_seq() else {
                        self.error(
                            ctx,
                            vals.pos,
                            format!("Exception '{name}': values must be a sequence"),
                        );
                        bad = true;
                        continue;
                    };
                    for v in vals {
                        match self.exception_entry(v, &name, "values", ctx) {
                            Ok(e) => values.push(e),
                            Err(Skip) => bad = true,
                        }
                    }
                }
                None if appending => {
                    self.warn(
                        ctx,
                        Code::AppendNoValues,
                        ex.pos,
                        "Overriding/appending exception with no values",
                    );
                }
                None => {}
            }
            out.push(ExceptionInfo {
                name,
                fields,
                comps,
                values,
                location: ctx.at(ex.pos),
            });
        }
        if bad {
            Err(Skip)
        } else {
            Ok(out)
        }
    }

    fn exception_entry(
        &mut self,
        node: &Node,
        ex: &str,
        key: &str,
        ctx: &Ctx<'_>,
    ) -> Read<ExceptionEntry> {
        match &node.kind {
            NodeKind::Scalar { text, .. } if !node.is_null() && !text.is_empty() => {
                Ok(ExceptionEntry::Item(text.clone()))
            }
            NodeKind::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                for v in items {
                    out.push(self.exception_entry(v, ex, key, ctx)?);
                }
                Ok(ExceptionEntry::List(out))
            }
            NodeKind::Map(_) => Err(self.error(
                ctx,
                node.pos,
                format!("Exception '{ex}': {key} must be a string or a list, not a mapping"),
            )),
            NodeKind::Scalar { .. } => Err(self.error(
                ctx,
                node.pos,
                format!("Exception '{ex}': {key} value must be non-empty"),
            )),
        }
    }
}

/// Falco's `RGX_BARESTR`: no parentheses, quotes, blanks, `=` or `,`.
pub(crate) fn is_bare_string(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| matches!(c, '(' | ')' | '"' | '\'' | '=' | ',') || c.is_whitespace())
}

/// Falco's `RGX_IDENTIFIER`: a letter, then letters, digits and `_`.
pub(crate) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
