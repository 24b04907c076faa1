//! From loaded rules files to an evaluable rule set: parse every condition, resolve macros in
//! definition order, compile, check outputs, select rules, index by event type; then match
//! events and build alerts.

use std::collections::{BTreeSet, HashMap};

use super::model::Priority;
use super::Loaded;
use crate::compile::{self, CompileOptions, CompiledFilter, RuleIndex};
use crate::condition::{self, Ast, ParseOptions};
use crate::diagnostic::{Code, Diagnostic, ItemKind, Location};
use crate::event::Event;
use crate::fields;
use crate::output::{Alert, FieldSource, FieldValue, OutputFormat};

/// Which loaded rules run (Falco's `-D`, `-t`, `-T`, `priority` and `rule_matching`).
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only rules at least this severe.
    pub min_priority: Option<Priority>,
    /// Rule names (or globs with `*`, `?`) to disable.
    pub disabled_rules: Vec<String>,
    /// When not empty, only rules with one of these tags run.
    pub enabled_tags: Vec<String>,
    /// Rules with any of these tags do not run.
    pub disabled_tags: Vec<String>,
    /// Alert for every matching rule instead of the first one (`rule_matching: all`).
    pub match_all: bool,
}

impl Selection {
    fn selects(&self, rule: &CompiledRule) -> bool {
        if !rule.enabled {
            return false;
        }
        if self
            .min_priority
            .is_some_and(|min| !rule.priority.at_least(min))
        {
            return false;
        }
        let glob = |pattern: &String| {
            compile::glob::fnmatch(pattern.as_bytes(), rule.name.as_bytes(), false)
        };
        if self.disabled_rules.iter().any(glob) {
            return false;
        }
        if !self.enabled_tags.is_empty() && !self.enabled_tags.iter().any(|t| rule.tags.contains(t))
        {
            return false;
        }
        !self.disabled_tags.iter().any(|t| rule.tags.contains(t))
    }
}

/// A rule ready to run.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub name: String,
    pub desc: String,
    pub priority: Priority,
    pub source: String,
    pub tags: BTreeSet<String>,
    pub enabled: bool,
    pub output: OutputFormat,
    /// The condition as compiled: exceptions applied, lists and macros expanded (as text before
    /// macro expansion; macros are expanded in the AST).
    pub condition: String,
    pub location: Location,
}

/// Compiled rules indexed by event type.
pub struct Ruleset {
    rules: Vec<CompiledRule>,
    index: RuleIndex,
    active: usize,
    match_all: bool,
}

impl std::fmt::Debug for Ruleset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ruleset")
            .field("rules", &self.rules.len())
            .field("active", &self.active)
            .finish()
    }
}

/// Falco resolves macros in the parsed condition; a macro sees only macros defined before it.
struct MacroTable {
    asts: Vec<Option<Ast>>,
    by_name: HashMap<String, usize>,
    used: Vec<bool>,
}

/// Deepest macro nesting followed (a cycle is impossible with visibility, this is a backstop).
const MAX_MACRO_DEPTH: usize = 64;

impl MacroTable {
    /// Replace macro references in `ast`; `visibility` limits which macros are visible.
    /// Returns the first undefined macro.
    fn resolve(
        &mut self,
        ast: &mut Ast,
        visibility: u32,
        loaded: &Loaded,
        depth: usize,
    ) -> Option<String> {
        let mut undefined: Option<String> = None;
        let mut found: Vec<(usize, String)> = Vec::new();
        ast.visit_identifiers(&mut |name, _| {
            let idx = self.by_name.get(name).copied();
            let visible = idx
                .and_then(|i| loaded.files.macros.get(i))
                .is_some_and(|m| m.index < visibility);
            match idx {
                Some(i) if visible && depth < MAX_MACRO_DEPTH => found.push((i, name.to_string())),
                _ => {
                    if undefined.is_none() {
                        undefined = Some(name.to_string());
                    }
                }
            }
        });
        if undefined.is_some() {
            return undefined;
        }
        let mut expansions: HashMap<String, Ast> = HashMap::new();
        for (i, name) in found {
            if expansions.contains_key(&name) {
                continue;
            }
            if let Some(u) = self.used.get_mut(i) {
                *u = true;
            }
            let Some(Some(mut body)) = self.asts.get(i).cloned() else {
                // The macro itself failed to parse; it was reported where it is defined.
                return Some(name);
            };
            let vis = loaded.files.macros.get(i).map_or(0, |m| m.visibility);
            if let Some(u) = self.resolve(&mut body, vis, loaded, depth + 1) {
                return Some(u);
            }
            expansions.insert(name, body);
        }
        ast.substitute_identifiers(&mut |name, _| expansions.get(name).cloned());
        None
    }
}

/// Split `proc.aname[2]` into name and bracket argument.
fn split_field(name: &str) -> (&str, Option<&str>) {
    match name.find('[') {
        Some(open) if name.ends_with(']') => (
            name.get(..open).unwrap_or(name),
            name.get(open + 1..name.len().saturating_sub(1)),
        ),
        _ => (name, None),
    }
}

fn field_exists(name: &str) -> bool {
    let (n, arg) = split_field(name);
    fields::resolve(n, arg).is_ok()
}

impl Ruleset {
    /// Compile everything that loaded. The diagnostics are the compile-phase ones (condition and
    /// output errors, undefined macros, unused macros, event-type warnings); the loader's are in
    /// `loaded.diagnostics`.
    pub fn build(loaded: &Loaded, selection: &Selection) -> (Ruleset, Vec<Diagnostic>) {
        let mut diags = Vec::new();
        let options = CompileOptions::default();
        let parse =
            |text: &str| condition::parse_with(text, &ParseOptions::FALCO_RULES).map(|p| p.ast);

        let mut macros = MacroTable {
            asts: Vec::new(),
            by_name: HashMap::new(),
            used: Vec::new(),
        };
        for (i, (m, text)) in loaded
            .files
            .macros
            .iter()
            .zip(&loaded.macro_conditions)
            .enumerate()
        {
            macros.by_name.insert(m.name.clone(), i);
            macros.used.push(false);
            match parse(text) {
                Ok(ast) => macros.asts.push(Some(ast)),
                Err(e) => {
                    diags.push(
                        Diagnostic::new(
                            Code::ErrCompileCondition,
                            m.condition_location.clone(),
                            e.to_string(),
                        )
                        .in_item(ItemKind::Macro, m.name.clone()),
                    );
                    macros.asts.push(None);
                }
            }
        }
        // Check each macro's own references, in definition order, as Falco does.
        for i in 0..loaded.files.macros.len() {
            let (Some(m), Some(Some(ast))) =
                (loaded.files.macros.get(i), macros.asts.get(i).cloned())
            else {
                continue;
            };
            let mut ast = ast;
            if let Some(name) = macros.resolve(&mut ast, m.visibility, loaded, 0) {
                diags.push(
                    Diagnostic::new(
                        Code::ErrCompileCondition,
                        m.condition_location.clone(),
                        format!("Undefined macro '{name}' used in filter."),
                    )
                    .in_item(ItemKind::Macro, m.name.clone()),
                );
            }
        }

        let mut rules = Vec::new();
        let mut filters: Vec<(usize, CompiledFilter)> = Vec::new();
        for (r, text) in loaded.files.rules.iter().zip(&loaded.rule_conditions) {
            if r.unknown_source {
                continue;
            }
            let in_rule = |d: Diagnostic| d.in_item(ItemKind::Rule, r.name.clone());
            let output = match OutputFormat::parse_with(&r.output, &field_exists) {
                Ok(o) => o,
                Err(e) if r.skip_if_unknown_filter => {
                    diags.push(in_rule(Diagnostic::new(
                        Code::UnknownFilter,
                        r.output_location.clone(),
                        e.message,
                    )));
                    continue;
                }
                Err(e) => {
                    diags.push(in_rule(Diagnostic::new(
                        Code::ErrCompileOutput,
                        r.output_location.clone(),
                        e.message,
                    )));
                    continue;
                }
            };
            let mut ast = match parse(text) {
                Ok(ast) => ast,
                Err(e) => {
                    diags.push(in_rule(Diagnostic::new(
                        Code::ErrCompileCondition,
                        r.condition_location.clone(),
                        e.to_string(),
                    )));
                    continue;
                }
            };
            if let Some(name) = macros.resolve(&mut ast, u32::MAX, loaded, 0) {
                diags.push(in_rule(Diagnostic::new(
                    Code::ErrCompileCondition,
                    r.condition_location.clone(),
                    format!("Undefined macro '{name}' used in filter."),
                )));
                continue;
            }
            let filter = match compile::compile(&ast, &options) {
                Ok(f) => f,
                Err(e) => {
                    let unknown = e.message.contains("nonexistent field")
                        || e.message.contains("unknown event type");
                    let code = if unknown && r.skip_if_unknown_filter {
                        Code::UnknownFilter
                    } else {
                        Code::ErrCompileCondition
                    };
                    diags.push(in_rule(Diagnostic::new(
                        code,
                        r.condition_location.clone(),
                        e.message,
                    )));
                    continue;
                }
            };
            for w in filter.warnings() {
                diags.push(in_rule(Diagnostic::new(
                    Code::CompileCondition,
                    r.condition_location.clone(),
                    w.message.clone(),
                )));
            }
            if r.source == "syscall" && r.warn_evttypes && filter.event_types().len() > 100 {
                diags.push(in_rule(Diagnostic::new(
                    Code::NoEvttype,
                    r.location.clone(),
                    "Rule matches too many evt.type values. This has a significant performance penalty.",
                )));
            }
            let id = rules.len();
            rules.push(CompiledRule {
                name: r.name.clone(),
                desc: r.desc.clone(),
                priority: r.priority,
                source: r.source.clone(),
                tags: r.tags.clone(),
                enabled: r.enabled,
                output,
                condition: text.clone(),
                location: r.location.clone(),
            });
            filters.push((id, filter));
        }
        for (m, used) in loaded.files.macros.iter().zip(&macros.used) {
            if !used {
                diags.push(
                    Diagnostic::new(
                        Code::UnusedMacro,
                        m.location.clone(),
                        "Macro not referred to by any other rule/macro",
                    )
                    .in_item(ItemKind::Macro, m.name.clone()),
                );
            }
        }

        let mut index = RuleIndex::new();
        let mut active = 0;
        for (id, filter) in filters {
            if rules.get(id).is_some_and(|r| selection.selects(r)) {
                index.add(id, filter);
                active += 1;
            }
        }
        (
            Ruleset {
                rules,
                index,
                active,
                match_all: selection.match_all,
            },
            diags,
        )
    }

    /// Every compiled rule, selected or not, in load order.
    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// How many rules run.
    pub fn active(&self) -> usize {
        self.active
    }

    /// Call `on_match` for the rules the event triggers: the first in definition order, or
    /// every one with `match_all`.
    pub fn matching<'a>(&'a self, event: &Event, mut on_match: impl FnMut(&'a CompiledRule)) {
        if self.match_all {
            self.index.evaluate(event, &mut |id| {
                if let Some(rule) = self.rules.get(id) {
                    on_match(rule);
                }
            });
        } else if let Some(rule) = self
            .index
            .first_match(event)
            .and_then(|id| self.rules.get(id))
        {
            on_match(rule);
        }
    }

    /// The alert for a rule that matched an event.
    pub fn alert(&self, rule: &CompiledRule, event: &Event, default_hostname: &str) -> Alert {
        let hostname = event.hostname.as_deref().unwrap_or(default_hostname);
        Alert::new(
            &rule.output,
            &EventFields(event),
            event.ts,
            &rule.name,
            rule.priority,
            &rule.source,
            hostname,
            &rule.tags,
        )
    }
}

/// Output values of an event, through the field catalogue.
pub struct EventFields<'a>(pub &'a Event);

impl FieldSource for EventFields<'_> {
    fn field(&self, name: &str) -> Option<FieldValue> {
        // Falco prints times as text but gives them as nanosecond numbers in `output_fields`.
        if matches!(name, "evt.time" | "evt.rawtime") {
            return Some(FieldValue::AbsTime(self.0.ts));
        }
        let (n, arg) = split_field(name);
        let resolved = fields::resolve(n, arg).ok()?;
        let value = fields::extract(self.0, &resolved)?;
        Some(match value {
            fields::FieldValue::Str(s) => FieldValue::Str(s.to_string()),
            fields::FieldValue::Owned(s) => FieldValue::Str(s),
            fields::FieldValue::Bytes(b) => {
                FieldValue::Str(String::from_utf8_lossy(b).into_owned())
            }
            fields::FieldValue::Int(v) => FieldValue::Int(v),
            fields::FieldValue::Uint(v) if resolved.info.ftype == fields::FieldType::AbsTime => {
                FieldValue::AbsTime(v)
            }
            fields::FieldValue::Uint(v) => FieldValue::Uint(v),
            fields::FieldValue::Bool(v) => FieldValue::Bool(v),
            fields::FieldValue::Double(v) => FieldValue::Double(v),
            fields::FieldValue::Ip(ip) => FieldValue::Str(ip.to_string()),
        })
    }
}

/// Load files in order and compile them: the one-call form.
pub fn load_and_compile<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    selection: &Selection,
) -> (Ruleset, Vec<Diagnostic>) {
    let mut loader = super::Loader::new().with_field_check(Box::new(field_exists));
    for (name, bytes) in files {
        loader.load(name, bytes);
    }
    let loaded = loader.finish();
    let (ruleset, compile_diags) = Ruleset::build(&loaded, selection);
    let mut diagnostics = loaded.diagnostics;
    diagnostics.extend(compile_diags);
    (ruleset, diagnostics)
}

/// The field check the loader uses for exception fields.
pub fn known_field(name: &str) -> bool {
    field_exists(name)
}
