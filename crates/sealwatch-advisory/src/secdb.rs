//! Alpine secdb (`main.yaml` / `community.yaml` per release branch) into the OSV model.
//!
//! A secdb file lists, per *origin* (source) package, `secfixes`: first-fixed version ->
//! IDs. Each (package, ID, fixed version) becomes an `ECOSYSTEM` range
//! `[introduced "0", fixed <version>)` in ecosystem `Alpine:<distroversion>`, so an installed
//! package below the fix is affected and one at or above it is not (apk ordering). A fixed
//! version of `0` is Alpine's "never affected" and yields an empty range. An ID listed under
//! several fixed versions gets one range per version.
//!
//! The data is hand-written and has quirks (see `shared/fixtures/advisories/alpine-secdb`):
//! several IDs in one string, free text after an ID, `CVE_2019-2426` / `CVE 2018-16859`.
//! Every such repair and every entry skipped is reported as a [`Diagnostic`] with its
//! line:column; parsing never stops at the first problem.

use std::collections::BTreeMap;
use std::fmt;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

use crate::osv::{Affected, Event as RangeEvent, Package, Range, RangeKind, Vulnerability};
use crate::AdvisoryError;

/// One secdb file, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecDb {
    /// `v3.10`, `edge`.
    pub distroversion: String,
    /// `main`, `community`.
    pub reponame: String,
    pub packages: Vec<SecDbPackage>,
}

/// One `packages[].pkg` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecDbPackage {
    /// The origin (source package) name.
    pub name: String,
    /// Fixed version -> IDs fixed in it, in file order.
    pub secfixes: Vec<(String, Vec<String>)>,
}

/// Something in the file that was repaired or skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub origin: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.origin, self.line, self.column, self.message
        )
    }
}

/// A YAML node with where it started.
#[derive(Debug)]
enum Node {
    Scalar(String, Marker),
    Seq(Vec<Node>, Marker),
    Map(Vec<(Node, Node)>, Marker),
    /// Aliases are not used by secdb; kept so they can be reported.
    Alias(Marker),
}

impl Node {
    /// Where the node starts. A block mapping's own event is marked after its first key, so
    /// the first key's position is used instead.
    fn mark(&self) -> Marker {
        match self {
            Node::Map(entries, m) => entries.first().map_or(*m, |(k, _)| k.mark()),
            Node::Scalar(_, m) | Node::Seq(_, m) | Node::Alias(m) => *m,
        }
    }

    fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries, _) => entries
                .iter()
                .find(|(k, _)| matches!(k, Node::Scalar(s, _) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar(s, _) => Some(s),
            _ => None,
        }
    }
}

/// Builds [`Node`] trees from parser events.
#[derive(Default)]
struct TreeBuilder {
    /// Open collections: (is_map, items, start). Map items alternate key, value.
    stack: Vec<(bool, Vec<Node>, Marker)>,
    documents: Vec<Node>,
}

impl TreeBuilder {
    fn add(&mut self, node: Node) {
        match self.stack.last_mut() {
            Some((_, items, _)) => items.push(node),
            None => self.documents.push(node),
        }
    }

    fn close(&mut self) {
        if let Some((is_map, items, mark)) = self.stack.pop() {
            let node = if is_map {
                let mut pairs = Vec::with_capacity(items.len() / 2);
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    pairs.push((k, v));
                }
                Node::Map(pairs, mark)
            } else {
                Node::Seq(items, mark)
            };
            self.add(node);
        }
    }
}

impl MarkedEventReceiver for TreeBuilder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(value, ..) => self.add(Node::Scalar(value, mark)),
            Event::SequenceStart(..) => self.stack.push((false, Vec::new(), mark)),
            Event::MappingStart(..) => self.stack.push((true, Vec::new(), mark)),
            Event::SequenceEnd | Event::MappingEnd => self.close(),
            Event::Alias(_) => self.add(Node::Alias(mark)),
            _ => {}
        }
    }
}

struct Reader<'a> {
    origin: &'a str,
    diagnostics: Vec<Diagnostic>,
}

impl Reader<'_> {
    fn note(&mut self, at: Marker, message: String) {
        self.diagnostics.push(Diagnostic {
            origin: self.origin.to_owned(),
            line: at.line(),
            column: at.col() + 1,
            message,
        });
    }
}

/// Whether `token` looks like an advisory ID: letters, a dash, then letters/digits/dashes
/// (`CVE-2019-1547`, `XSA-203`, `TALOS-2019-0844`, `GHSA-xxxx-xxxx-xxxx`).
fn is_id(token: &str) -> bool {
    let Some((prefix, rest)) = token.split_once('-') else {
        return false;
    };
    !prefix.is_empty()
        && prefix.bytes().all(|b| b.is_ascii_alphabetic())
        && !rest.is_empty()
        && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Split one secdb ID string into IDs, repairing the known typos. Returns the IDs and the
/// notes about what was repaired or dropped.
fn split_ids(raw: &str) -> (Vec<String>, Vec<String>) {
    let mut ids = Vec::new();
    let mut notes = Vec::new();
    let mut tokens = raw.split_whitespace().peekable();
    let mut in_parens = false;
    while let Some(token) = tokens.next() {
        if in_parens || token.starts_with('(') {
            in_parens = !token.ends_with(')');
            notes.push(format!("ignored free text `{token}` in `{raw}`"));
            continue;
        }
        // `CVE 2018-16859`: an ID prefix separated from its number by a space.
        if token.bytes().all(|b| b.is_ascii_alphabetic()) {
            if let Some(next) = tokens.peek().copied() {
                let joined = format!("{token}-{next}");
                if is_id(&joined) && next.starts_with(|c: char| c.is_ascii_digit()) {
                    tokens.next();
                    notes.push(format!("read `{token} {next}` as `{joined}`"));
                    ids.push(joined);
                    continue;
                }
            }
        }
        // `CVE_2019-2426`: underscore for the first dash.
        if !is_id(token) {
            if let Some((prefix, rest)) = token.split_once('_') {
                let repaired = format!("{prefix}-{rest}");
                if is_id(&repaired) {
                    notes.push(format!("read `{token}` as `{repaired}`"));
                    ids.push(repaired);
                    continue;
                }
            }
            notes.push(format!("ignored `{token}` in `{raw}`: not an advisory ID"));
            continue;
        }
        ids.push(token.to_owned());
    }
    (ids, notes)
}

/// Parse one secdb file. `origin` names it in diagnostics. A file that is not YAML, or whose
/// top level is not a mapping with `distroversion` and `packages`, is an error; problems
/// inside single entries are diagnostics and the entry (or ID) is skipped.
pub fn parse(origin: &str, text: &str) -> Result<(SecDb, Vec<Diagnostic>), AdvisoryError> {
    let mut builder = TreeBuilder::default();
    Parser::new_from_str(text)
        .load(&mut builder, false)
        .map_err(|e| AdvisoryError::SecdbYaml {
            origin: origin.to_owned(),
            line: e.marker().line(),
            column: e.marker().col() + 1,
            message: e.info().to_owned(),
        })?;
    let root = builder.documents.into_iter().next();
    let yaml_error = |message: &str, at: Option<Marker>| AdvisoryError::SecdbYaml {
        origin: origin.to_owned(),
        line: at.map_or(1, |m| m.line()),
        column: at.map_or(1, |m| m.col() + 1),
        message: message.to_owned(),
    };
    let root = root.ok_or_else(|| yaml_error("empty document", None))?;
    let distroversion = root
        .get("distroversion")
        .and_then(Node::as_str)
        .ok_or_else(|| yaml_error("missing `distroversion`", Some(root.mark())))?
        .to_owned();
    let reponame = root
        .get("reponame")
        .and_then(Node::as_str)
        .unwrap_or_default()
        .to_owned();
    let Some(Node::Seq(entries, _)) = root.get("packages") else {
        return Err(yaml_error("missing `packages` list", Some(root.mark())));
    };

    let mut reader = Reader {
        origin,
        diagnostics: Vec::new(),
    };
    let mut packages = Vec::new();
    for entry in entries {
        let Some(pkg) = entry.get("pkg") else {
            reader.note(entry.mark(), "package entry without `pkg`".to_owned());
            continue;
        };
        let Some(name) = pkg
            .get("name")
            .and_then(Node::as_str)
            .filter(|n| !n.is_empty())
        else {
            reader.note(pkg.mark(), "`pkg` without a `name`".to_owned());
            continue;
        };
        let mut secfixes = Vec::new();
        match pkg.get("secfixes") {
            Some(Node::Map(fixes, _)) => {
                for (version, ids) in fixes {
                    let Some(version) = version.as_str().filter(|v| !v.is_empty()) else {
                        reader.note(
                            version.mark(),
                            format!("`{name}`: a secfixes key is not a version"),
                        );
                        continue;
                    };
                    let Node::Seq(items, _) = ids else {
                        reader.note(
                            ids.mark(),
                            format!("`{name}` {version}: expected a list of IDs"),
                        );
                        continue;
                    };
                    let mut all = Vec::new();
                    for item in items {
                        let Some(raw) = item.as_str() else {
                            reader.note(
                                item.mark(),
                                format!("`{name}` {version}: an ID is not a string"),
                            );
                            continue;
                        };
                        let (ids, notes) = split_ids(raw);
                        for n in notes {
                            reader.note(item.mark(), format!("`{name}` {version}: {n}"));
                        }
                        all.extend(ids);
                    }
                    secfixes.push((version.to_owned(), all));
                }
            }
            Some(other) => reader.note(
                other.mark(),
                format!("`{name}`: `secfixes` is not a mapping"),
            ),
            None => reader.note(pkg.mark(), format!("`{name}` has no `secfixes`")),
        }
        packages.push(SecDbPackage {
            name: name.to_owned(),
            secfixes,
        });
    }
    Ok((
        SecDb {
            distroversion,
            reponame,
            packages,
        },
        reader.diagnostics,
    ))
}

impl SecDb {
    /// The OSV ecosystem string of this branch, `Alpine:v3.10`.
    pub fn ecosystem(&self) -> String {
        format!("Alpine:{}", self.distroversion)
    }

    /// One OSV record per (package, ID): `id` is the secdb ID, `affected` the origin package
    /// with one `[0, fixed)` range per version the ID is listed under. `modified` is empty (the
    /// secdb carries no dates); `database_specific.source` names the branch and repository.
    pub fn to_osv(&self) -> Vec<Vulnerability> {
        let ecosystem = self.ecosystem();
        let mut out = Vec::new();
        for pkg in &self.packages {
            // ID -> fixed versions, keeping first-seen order for stable output.
            let mut by_id: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for (version, ids) in &pkg.secfixes {
                for id in ids {
                    let versions = by_id.entry(id.as_str()).or_default();
                    if !versions.contains(&version.as_str()) {
                        versions.push(version);
                    }
                }
            }
            for (id, versions) in by_id {
                let ranges = versions
                    .iter()
                    .map(|v| Range {
                        kind: RangeKind::Ecosystem,
                        repo: None,
                        events: vec![
                            RangeEvent::Introduced("0".to_owned()),
                            RangeEvent::Fixed((*v).to_owned()),
                        ],
                    })
                    .collect();
                out.push(Vulnerability {
                    schema_version: None,
                    id: id.to_owned(),
                    modified: String::new(),
                    published: None,
                    withdrawn: None,
                    aliases: Vec::new(),
                    upstream: Vec::new(),
                    related: Vec::new(),
                    summary: None,
                    details: None,
                    severity: Vec::new(),
                    affected: vec![Affected {
                        package: Some(Package { ecosystem: ecosystem.clone(), name: pkg.name.clone(), purl: None }),
                        severity: Vec::new(),
                        ranges,
                        versions: Vec::new(),
                        ecosystem_specific: None,
                        database_specific: Some(serde_json::json!({
                            "source": format!("alpine-secdb {}/{}", self.distroversion, self.reponame)
                        })),
                    }],
                    references: Vec::new(),
                    database_specific: None,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_with_its_position() {
        let text = "\
distroversion: v3.99
reponame: main
packages:
  - pkg:
      name: good
      secfixes:
        1.0-r1:
          - CVE-2020-0001 XSA-1
          - CVE_2020-0002
        0:
          - CVE-2020-0003
  - pkg:
      secfixes: {}
  - pkg:
      name: odd
      secfixes:
        2.0-r0: CVE-2020-0004
        2.1-r0:
          - not an id
  - nopkg: 1
";
        let (db, diags) = parse("test.yaml", text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(db.distroversion, "v3.99");
        assert_eq!(db.packages.len(), 2, "the entry without a name is skipped");
        assert_eq!(
            db.packages[0].secfixes,
            [
                (
                    "1.0-r1".to_owned(),
                    vec![
                        "CVE-2020-0001".to_owned(),
                        "XSA-1".to_owned(),
                        "CVE-2020-0002".to_owned()
                    ]
                ),
                ("0".to_owned(), vec!["CVE-2020-0003".to_owned()]),
            ]
        );
        let at: Vec<(usize, usize)> = diags.iter().map(|d| (d.line, d.column)).collect();
        // CVE_ typo (line 9), missing name (line 13), non-list (line 17), three words of
        // "not an id" (line 19), entry without pkg (line 20).
        assert_eq!(
            at,
            [
                (9, 13),
                (13, 7),
                (17, 17),
                (19, 13),
                (19, 13),
                (19, 13),
                (20, 5)
            ],
            "{diags:#?}"
        );
        assert!(diags
            .iter()
            .all(|d| d.to_string().starts_with("test.yaml:")));

        // `0` means "never affected": the range is empty.
        let osv = db.to_osv();
        let never = osv
            .iter()
            .find(|v| v.id == "CVE-2020-0003")
            .unwrap_or_else(|| panic!("missing"));
        let ranges = &never.affected[0].ranges;
        assert!(!sealwatch_version::check_ranges(
            sealwatch_version::Ecosystem::Alpine,
            "0.1-r0",
            ranges,
            &[]
        )
        .unwrap_or(true));
    }

    #[test]
    fn broken_files_are_errors() {
        for (text, line) in [
            ("packages: [", 1),
            ("reponame: main\npackages: []\n", 1),
            ("distroversion: v3.1\n", 1),
        ] {
            match parse("bad.yaml", text) {
                Err(AdvisoryError::SecdbYaml {
                    line: l, origin, ..
                }) => {
                    assert_eq!(origin, "bad.yaml");
                    assert!(l >= line, "{text:?}: line {l}");
                }
                other => panic!("{text:?}: expected an error, got {other:?}"),
            }
        }
    }
}
