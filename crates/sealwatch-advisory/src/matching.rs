//! Matching installed packages against advisories.
//!
//! Advisories are indexed by (ecosystem, package name). OS packages (Alpine, Debian, Ubuntu,
//! the RPM distributions) are looked up by their *source* package (apk origin, dpkg `Source`,
//! source RPM) and evaluated at the source version when one is known: distribution advisories
//! are written against source packages, so an `openssl` advisory covers `libssl1.1`.
//! An advisory whose ecosystem carries a release (`Alpine:v3.10`) applies only to packages
//! of that release (compared after [`normalize_release`]); one without applies to every
//! release.
//!
//! Findings for one package are merged across advisories that share an ID or alias, so a CVE
//! published as a CVE record, a GHSA and a distribution advisory is reported once per
//! package. Withdrawn records are skipped. Findings are data; version strings that cannot be
//! ordered become [`MatchDiagnostic`]s rather than findings or errors.

use std::collections::{BTreeSet, HashMap};

use sealwatch_version::{Ecosystem, EcosystemRelease, Event, Scheme};
use serde::{Deserialize, Serialize};

use crate::cvss::{severity_of, Severity};
use crate::osv::Vulnerability;

/// An installed package as a cataloguer reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledPackage {
    pub name: String,
    pub version: String,
    /// The ecosystem and, for OS packages, the distribution release in OSV's spelling
    /// (`Alpine:v3.10`, `Debian:12`).
    pub ecosystem: EcosystemRelease,
    /// Source package name (apk origin, dpkg `Source`, source RPM name), for OS packages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    /// Source package version, when it differs from the binary's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
}

/// One vulnerability affecting one installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The reported ID: a CVE when one is among the merged IDs, else the first record's ID.
    pub id: String,
    /// Every other ID and alias of the merged records, sorted.
    pub aliases: Vec<String>,
    pub package_name: String,
    pub installed_version: String,
    /// Fixed versions above the installed one, sorted by the ecosystem's ordering; empty when
    /// no fix is known.
    pub fixed_versions: Vec<String>,
    pub severity: Severity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub references: Vec<String>,
}

/// A record that could not be evaluated for a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchDiagnostic {
    pub vulnerability_id: String,
    pub package_name: String,
    pub message: String,
}

fn is_os(ecosystem: Ecosystem) -> bool {
    matches!(ecosystem.scheme(), Scheme::Apk | Scheme::Dpkg | Scheme::Rpm)
}

/// The name under which packages of `ecosystem` are compared: PyPI per PEP 503, NuGet and
/// Packagist case-insensitively, others as written.
pub fn normalize_name(ecosystem: Ecosystem, name: &str) -> String {
    match ecosystem {
        Ecosystem::PyPI => {
            let mut out = String::with_capacity(name.len());
            let mut last_sep = false;
            for c in name.trim().chars() {
                if matches!(c, '-' | '_' | '.') {
                    if !last_sep {
                        out.push('-');
                    }
                    last_sep = true;
                } else {
                    out.push(c.to_ascii_lowercase());
                    last_sep = false;
                }
            }
            out
        }
        Ecosystem::NuGet | Ecosystem::Packagist => name.to_ascii_lowercase(),
        _ => name.to_owned(),
    }
}

/// The part of a release that advisories are keyed by, so that what a cataloguer reads from
/// the image and OSV's suffix agree: Alpine `3.20.3`, `3.20`, `v3.20` -> `v3.20`; Debian
/// `12.15` -> `12`; Ubuntu `22.04:LTS` -> `22.04`. Other releases compare verbatim.
pub fn normalize_release(ecosystem: Ecosystem, release: &str) -> String {
    let release = release.trim();
    match ecosystem {
        Ecosystem::Alpine
            if release
                .trim_start_matches('v')
                .starts_with(|c: char| c.is_ascii_digit()) =>
        {
            let bare = release.trim_start_matches('v');
            let mut parts = bare.split('.');
            match (parts.next(), parts.next()) {
                (Some(major), Some(minor)) => {
                    let minor: String = minor.chars().take_while(char::is_ascii_digit).collect();
                    format!("v{major}.{minor}")
                }
                _ => format!("v{bare}"),
            }
        }
        Ecosystem::Debian => release.split('.').next().unwrap_or_default().to_owned(),
        Ecosystem::Ubuntu => release.strip_suffix(":LTS").unwrap_or(release).to_owned(),
        _ => release.to_owned(),
    }
}

struct Entry {
    vuln: usize,
    affected: usize,
    release: Option<String>,
}

/// Advisories indexed for matching.
pub struct AdvisoryIndex {
    vulns: Vec<Vulnerability>,
    by_package: HashMap<(Ecosystem, String), Vec<Entry>>,
    /// `affected[]` entries whose ecosystem sealwatch cannot order, by ecosystem string.
    skipped_ecosystems: BTreeSet<String>,
}

impl AdvisoryIndex {
    /// Index `vulns`; withdrawn records and entries without a package are left out.
    pub fn new(vulns: Vec<Vulnerability>) -> AdvisoryIndex {
        let mut by_package: HashMap<(Ecosystem, String), Vec<Entry>> = HashMap::new();
        let mut skipped_ecosystems = BTreeSet::new();
        for (vi, vuln) in vulns.iter().enumerate() {
            if vuln.is_withdrawn() {
                continue;
            }
            for (ai, affected) in vuln.affected.iter().enumerate() {
                let Some(pkg) = &affected.package else {
                    continue;
                };
                let Ok(eco) = pkg.ecosystem.parse::<EcosystemRelease>() else {
                    skipped_ecosystems.insert(pkg.ecosystem.clone());
                    continue;
                };
                let key = (eco.ecosystem, normalize_name(eco.ecosystem, &pkg.name));
                by_package.entry(key).or_default().push(Entry {
                    vuln: vi,
                    affected: ai,
                    release: eco.release,
                });
            }
        }
        AdvisoryIndex {
            vulns,
            by_package,
            skipped_ecosystems,
        }
    }

    /// Number of records held (withdrawn ones included).
    pub fn len(&self) -> usize {
        self.vulns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.vulns.is_empty()
    }

    /// Ecosystem strings of advisories that were not indexed because sealwatch has no ordering
    /// for them.
    pub fn skipped_ecosystems(&self) -> impl Iterator<Item = &str> {
        self.skipped_ecosystems.iter().map(String::as_str)
    }

    /// Findings for one package, merged by ID/alias, sorted by ID.
    pub fn match_package(&self, pkg: &InstalledPackage) -> (Vec<Finding>, Vec<MatchDiagnostic>) {
        let eco = pkg.ecosystem.ecosystem;
        let os = is_os(eco);
        let lookup_name = if os {
            pkg.source_name.as_deref().unwrap_or(&pkg.name)
        } else {
            &pkg.name
        };
        let version = if os {
            pkg.source_version.as_deref().unwrap_or(&pkg.version)
        } else {
            &pkg.version
        };
        let mut diagnostics = Vec::new();
        let mut raw: Vec<Finding> = Vec::new();
        let Some(entries) = self
            .by_package
            .get(&(eco, normalize_name(eco, lookup_name)))
        else {
            return (raw, diagnostics);
        };
        for entry in entries {
            if let Some(release) = &entry.release {
                let installed = pkg.ecosystem.release.as_deref().unwrap_or_default();
                if normalize_release(eco, release) != normalize_release(eco, installed) {
                    continue;
                }
            }
            let Some(vuln) = self.vulns.get(entry.vuln) else {
                continue;
            };
            let Some(affected) = vuln.affected.get(entry.affected) else {
                continue;
            };
            match sealwatch_version::check_ranges(
                eco,
                version,
                &affected.ranges,
                &affected.versions,
            ) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    diagnostics.push(MatchDiagnostic {
                        vulnerability_id: vuln.id.clone(),
                        package_name: pkg.name.clone(),
                        message: e.to_string(),
                    });
                    continue;
                }
            }
            let mut fixed: Vec<String> = Vec::new();
            for range in &affected.ranges {
                let Some(scheme) = sealwatch_version::range_scheme(eco, &range.kind) else {
                    continue;
                };
                for event in &range.events {
                    if let Event::Fixed(f) = event {
                        let above = scheme
                            .compare(f, version)
                            .map(|o| o.is_gt())
                            .unwrap_or(false);
                        if above && !fixed.contains(f) {
                            fixed.push(f.clone());
                        }
                    }
                }
            }
            let mut aliases: Vec<String> = vuln.aliases.clone();
            aliases.push(vuln.id.clone());
            // Debian's and Ubuntu's per-CVE records (`DEBIAN-CVE-…`, `UBUNTU-CVE-…`) name their CVE
            // in `upstream`, not `aliases`; a record with one upstream is that vulnerability. One
            // with several (a DSA covering many CVEs) is not any single one of them.
            if let [single] = vuln.upstream.as_slice() {
                aliases.push(single.clone());
            }
            raw.push(Finding {
                id: vuln.id.clone(),
                aliases,
                package_name: pkg.name.clone(),
                installed_version: pkg.version.clone(),
                fixed_versions: fixed,
                severity: severity_of(vuln, Some(affected)),
                title: vuln
                    .summary
                    .clone()
                    .or_else(|| vuln.details.as_ref().map(|d| first_line(d))),
                references: vuln.references.iter().map(|r| r.url.clone()).collect(),
            });
        }
        (merge(eco.scheme(), raw), diagnostics)
    }

    /// Findings for every package, in package order, and all diagnostics.
    pub fn match_packages(
        &self,
        pkgs: &[InstalledPackage],
    ) -> (Vec<Finding>, Vec<MatchDiagnostic>) {
        let mut findings = Vec::new();
        let mut diagnostics = Vec::new();
        for pkg in pkgs {
            let (f, d) = self.match_package(pkg);
            findings.extend(f);
            diagnostics.extend(d);
        }
        (findings, diagnostics)
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().trim().to_owned()
}

/// Merge findings (of one package) whose ID sets overlap. While being built, `aliases` holds
/// every ID of the finding including its own.
fn merge(scheme: Scheme, raw: Vec<Finding>) -> Vec<Finding> {
    let mut groups: Vec<Finding> = Vec::new();
    for f in raw {
        let overlapping: Vec<usize> = (0..groups.len())
            .filter(|&i| groups[i].aliases.iter().any(|id| f.aliases.contains(id)))
            .collect();
        let mut merged = f;
        // Fold every group this finding bridges into it (highest index first keeps indices valid).
        for &i in overlapping.iter().rev() {
            let g = groups.remove(i);
            merged.aliases.extend(g.aliases);
            merged.fixed_versions.extend(g.fixed_versions);
            merged.references.extend(g.references);
            merged.severity = merged.severity.max(g.severity);
            if merged.title.is_none() {
                merged.title = g.title;
            }
        }
        groups.push(merged);
    }
    let mut out: Vec<Finding> = groups
        .into_iter()
        .map(|mut g| {
            let ids: BTreeSet<String> = g.aliases.drain(..).collect();
            // Report the CVE when there is one: it is what users search for and filter by.
            let primary = ids
                .iter()
                .find(|id| id.starts_with("CVE-"))
                .cloned()
                .unwrap_or_else(|| g.id.clone());
            g.aliases = ids.into_iter().filter(|id| *id != primary).collect();
            g.id = primary;
            let mut fixed: Vec<String> = Vec::new();
            for v in g.fixed_versions.drain(..) {
                if !fixed.contains(&v) {
                    fixed.push(v);
                }
            }
            sort_versions(scheme, &mut fixed);
            g.fixed_versions = fixed;
            let refs: BTreeSet<String> = g.references.drain(..).collect();
            g.references = refs.into_iter().collect();
            g
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// Insertion sort by the ecosystem ordering (a failing comparison keeps the input order).
fn sort_versions(scheme: Scheme, versions: &mut [String]) {
    for i in 1..versions.len() {
        let mut j = i;
        while j > 0
            && scheme
                .compare(&versions[j - 1], &versions[j])
                .map(|o| o.is_gt())
                .unwrap_or(false)
        {
            versions.swap(j - 1, j);
            j -= 1;
        }
    }
}
