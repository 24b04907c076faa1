//! `sealwatch scan IMAGE`: the build gate. Catalog the image, match its packages against the vulnerability
//! database, filter, report, and exit with `--exit-code` when findings remain.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use sealwatch_advisory::cvss::Severity;
use sealwatch_advisory::matching::{AdvisoryIndex, Finding, InstalledPackage};
use sealwatch_advisory::vex::VexDocument;
use sealwatch_catalog::{OsInfo, Package, PackageKind};
use sealwatch_db::AdvisoryDb;
use sealwatch_version::EcosystemRelease;
use serde::Serialize;
use serde_json::json;

use sealwatch_sign::{AttestOptions, ScannerInfo as VulnScanner};

use crate::cmd::attest::{predicate_type_uri, AttestFlags};
use crate::cmd::db::DbPath;
use crate::cmd::sbom::{catalog_image, write_atomically, Cataloged};
use crate::image::ImageArgs;

#[derive(Debug, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    image: ImageArgs,

    /// Severities to report, comma-separated (UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL).
    #[arg(
        long,
        short,
        value_delimiter = ',',
        default_value = "UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL"
    )]
    severity: Vec<String>,

    /// Exit code when findings remain after filtering (0: report only, like Trivy's default).
    #[arg(long, default_value_t = 0)]
    exit_code: u8,

    /// Leave out vulnerabilities that have no fixed version yet.
    #[arg(long)]
    ignore_unfixed: bool,

    /// Vulnerability IDs to ignore, one per line, `#` comments, optional `exp:YYYY-MM-DD` expiry (Trivy's
    /// `.trivyignore` syntax). Default: `.sealwatchignore`, else `.trivyignore`, in the current folder.
    #[arg(long, value_name = "FILE")]
    ignorefile: Option<PathBuf>,

    /// OpenVEX documents: findings their statements mark `not_affected` or `fixed` (for the package, or for
    /// the image and that package) are left out. May be repeated.
    #[arg(long, value_name = "FILE")]
    vex: Vec<PathBuf>,

    /// Output format.
    #[arg(long, short, value_enum, default_value_t = ScanFormat::Table)]
    format: ScanFormat,

    /// Write the report to this file (whole or not at all) instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,

    #[command(flatten)]
    db: DbPath,

    /// Never touch the network (the database must already be present).
    #[arg(long)]
    offline: bool,

    /// Refresh the database (from the sources it was built from) when it is older than this: `24h`,
    /// `90m`, `7d`. With `--offline` an older database only draws a warning.
    #[arg(long, value_name = "AGE", env = "SEALWATCH_DB_MAX_AGE", default_value = "24h",
          value_parser = crate::cmd::db::parse_age)]
    db_max_age: std::time::Duration,

    #[command(flatten)]
    attest: AttestFlags,

    /// Predicate type of the `--attest` attestation: `vuln` (cosign's vulnerability predicate
    /// around the JSON report) or a URI (the JSON report as the predicate).
    #[arg(long, value_name = "TYPE", default_value = "vuln", requires = "attest")]
    attest_type: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ScanFormat {
    Table,
    Json,
    Sarif,
}

/// One target of the report: the OS packages, or one language package file.
#[derive(Debug, Serialize)]
struct TargetReport {
    target: String,
    class: &'static str,
    #[serde(rename = "type")]
    kind: String,
    vulnerabilities: Vec<ReportedFinding>,
}

#[derive(Debug, Serialize)]
struct ReportedFinding {
    #[serde(flatten)]
    finding: Finding,
    purl: String,
    /// Where the package was read from, and from which layer.
    path: String,
    layer: Option<String>,
}

#[derive(Debug, Serialize)]
struct ScanReport {
    schema_version: u32,
    image: String,
    manifest_digest: Option<String>,
    os: Option<OsInfo>,
    scanner: ScannerInfo,
    results: Vec<TargetReport>,
    summary: BTreeMap<&'static str, usize>,
}

#[derive(Debug, Serialize)]
struct ScannerInfo {
    name: &'static str,
    version: &'static str,
    /// When the scan ran (RFC 3339) and how old the database was then.
    scanned_at: String,
    db_updated_at: Option<String>,
}

pub fn run(mut args: ScanArgs) -> anyhow::Result<u8> {
    let started_at = crate::cmd::sbom::now_rfc3339()?;
    let attest_type = if args.attest.attest {
        Some(predicate_type_uri(&args.attest_type, "--attest-type")?)
    } else {
        None
    };
    let severities = parse_severities(&args.severity)?;
    let ignore = IgnoreList::load(args.ignorefile.as_deref())?;
    let vex = args
        .vex
        .iter()
        .map(|path| {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            Ok(VexDocument::parse(&path.display().to_string(), &bytes)?)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let db_path = args.db.resolve()?;
    crate::cmd::db::prepare_for_scan(&db_path, args.offline, args.db_max_age, args.image.quiet)?;
    // Open the database before the image: a missing database fails fast (and never reads as "no CVEs").
    let db = AdvisoryDb::open(&db_path).with_context(|| {
        if args.offline {
            "--offline: the vulnerability database must already be present".to_owned()
        } else {
            "opening the vulnerability database".to_owned()
        }
    })?;
    // Settled before the (slow) scan: a wrong key, password or image fails now.
    let attest_target = args.attest.prepare(&mut args.image)?;
    let Cataloged { subject, catalog } = catalog_image(&args.image)?;
    for d in &catalog.diagnostics {
        eprintln!("warning: {d}");
    }

    // The names a VEX product can give the image by.
    let image_ids: Vec<String> = std::iter::once(subject.name.clone())
        .chain(subject.digest.clone())
        .chain(sealwatch_advisory::sbom::image_purl(&subject))
        .collect();
    let image_ids: Vec<&str> = image_ids.iter().map(String::as_str).collect();
    let mut targets: BTreeMap<(u8, String), TargetReport> = BTreeMap::new();
    for pkg in &catalog.packages {
        let findings = package_findings(&db, pkg, catalog.os.as_ref())?;
        if findings.is_empty() {
            continue;
        }
        let (order, target, class) = if pkg.kind.is_os() {
            let os = catalog
                .os
                .as_ref()
                .map_or_else(|| "OS packages".to_owned(), os_label);
            (0, format!("{} ({os})", subject.name), "os-pkgs")
        } else {
            (1, pkg.location.path.clone(), "lang-pkgs")
        };
        let entry = targets
            .entry((order, target.clone()))
            .or_insert_with(|| TargetReport {
                target,
                class,
                kind: pkg.kind.purl_type().to_owned(),
                vulnerabilities: Vec::new(),
            });
        for finding in findings {
            if !severities.contains(&finding.severity)
                || (args.ignore_unfixed && finding.fixed_versions.is_empty())
                || ignore.ignores(&finding)
                || vex_suppresses(&vex, &finding, &pkg.purl, &image_ids)
            {
                continue;
            }
            entry.vulnerabilities.push(ReportedFinding {
                finding,
                purl: pkg.purl.clone(),
                path: pkg.location.path.clone(),
                layer: pkg.location.layer.clone(),
            });
        }
    }
    let mut results: Vec<TargetReport> = targets
        .into_values()
        .filter(|t| !t.vulnerabilities.is_empty())
        .collect();
    for t in &mut results {
        t.vulnerabilities.sort_by(|a, b| {
            (&a.finding.package_name, b.finding.severity, &a.finding.id).cmp(&(
                &b.finding.package_name,
                a.finding.severity,
                &b.finding.id,
            ))
        });
    }
    let mut summary: BTreeMap<&'static str, usize> = BTreeMap::new();
    for s in [
        Severity::Unknown,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ] {
        summary.insert(s.as_str(), 0);
    }
    let total: usize = results.iter().map(|t| t.vulnerabilities.len()).sum();
    for f in results.iter().flat_map(|t| &t.vulnerabilities) {
        *summary.entry(f.finding.severity.as_str()).or_default() += 1;
    }
    let status = db.status()?;
    let report = ScanReport {
        schema_version: 1,
        image: subject.name.clone(),
        manifest_digest: subject.digest.clone(),
        os: catalog.os.clone(),
        scanner: ScannerInfo {
            name: "sealwatch",
            version: env!("CARGO_PKG_VERSION"),
            scanned_at: crate::cmd::sbom::now_rfc3339()?,
            db_updated_at: status.updated_at,
        },
        results,
        summary,
    };
    if let (Some(target), Some(predicate_type)) = (&attest_target, attest_type) {
        let result = serde_json::to_value(&report).context("serialising the report")?;
        let predicate = if args.attest_type == "vuln" {
            let scanner = VulnScanner {
                uri: format!("pkg:cargo/sealwatch@{}", env!("CARGO_PKG_VERSION")),
                version: env!("CARGO_PKG_VERSION").to_owned(),
                db_uri: db_uri(&status.sources),
                db_version: report.scanner.db_updated_at.clone().unwrap_or_default(),
            };
            sealwatch_sign::vuln_predicate(
                result,
                &scanner,
                &started_at,
                &report.scanner.scanned_at,
            )
        } else {
            result
        };
        eprintln!("Attesting the scan of {}", target.image());
        target.attest(AttestOptions {
            predicate_type,
            predicate,
            format: target.format(),
        })?;
    }

    let mut out = Vec::new();
    match args.format {
        ScanFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            out.push(b'\n');
        }
        ScanFormat::Sarif => {
            serde_json::to_writer_pretty(&mut out, &sarif(&report))?;
            out.push(b'\n');
        }
        ScanFormat::Table => write_table(&mut out, &report, total)?,
    }
    match &args.output {
        Some(path) => write_atomically(path, &out)?,
        None => std::io::stdout().lock().write_all(&out)?,
    }
    Ok(if total > 0 { args.exit_code } else { 0 })
}

/// The database's origin for the predicate's `scanner.db.uri`: its sources' kinds and file names,
/// in import order (not their full paths, which would publish the CI machine's folders).
fn db_uri(sources: &[sealwatch_db::SourceInfo]) -> String {
    sources
        .iter()
        .map(|s| {
            let name = Path::new(&s.location)
                .file_name()
                .map_or_else(|| s.location.clone(), |n| n.to_string_lossy().into_owned());
            format!("{}:{name}", s.kind)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every advisory finding for one cataloged package (unfiltered). Packages of an ecosystem sealwatch cannot
/// match give none.
pub fn package_findings(
    db: &AdvisoryDb,
    pkg: &Package,
    os: Option<&OsInfo>,
) -> anyhow::Result<Vec<Finding>> {
    let Some(installed) = installed_package(pkg, os) else {
        return Ok(Vec::new());
    };
    let ecosystem = installed.ecosystem.ecosystem.name();
    let lookup_name = installed.source_name.as_deref().unwrap_or(&installed.name);
    let mut advisories = db.lookup(ecosystem, lookup_name)?;
    if installed.source_name.is_some() && lookup_name != installed.name {
        advisories.extend(db.lookup(ecosystem, &installed.name)?);
    }
    if advisories.is_empty() {
        return Ok(Vec::new());
    }
    let mut seen = BTreeSet::new();
    advisories.retain(|v| seen.insert(v.id.clone()));
    let (findings, diagnostics) = AdvisoryIndex::new(advisories).match_package(&installed);
    for d in diagnostics {
        eprintln!(
            "warning: {}: {}: {}",
            d.package_name, d.vulnerability_id, d.message
        );
    }
    Ok(findings)
}

fn vex_suppresses(docs: &[VexDocument], finding: &Finding, purl: &str, image_ids: &[&str]) -> bool {
    let ids: Vec<&str> = std::iter::once(finding.id.as_str())
        .chain(finding.aliases.iter().map(String::as_str))
        .collect();
    docs.iter().any(|d| d.suppresses(&ids, purl, image_ids))
}

fn os_label(os: &OsInfo) -> String {
    format!(
        "{} {}",
        os.id,
        os.version
            .as_deref()
            .or(os.version_id.as_deref())
            .unwrap_or("")
    )
}

fn parse_severities(list: &[String]) -> anyhow::Result<BTreeSet<Severity>> {
    list.iter()
        .map(|s| {
            Severity::from_label(s.trim()).with_context(|| {
                format!(
                    "--severity: unknown level {s:?} (use UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL)"
                )
            })
        })
        .collect()
}

/// The package as the matcher sees it: its OSV ecosystem (with the distribution release for OS packages).
fn installed_package(pkg: &Package, os: Option<&OsInfo>) -> Option<InstalledPackage> {
    let ecosystem = match pkg.kind {
        PackageKind::Apk | PackageKind::Deb | PackageKind::Rpm => {
            let os = os?;
            let name = match os.id.as_str() {
                "alpine" => "Alpine",
                "debian" => "Debian",
                "ubuntu" => "Ubuntu",
                "rhel" | "redhat" | "centos" => "Red Hat",
                "rocky" => "Rocky Linux",
                "almalinux" => "AlmaLinux",
                "sles" | "sle-micro" => "SUSE",
                "opensuse" | "opensuse-leap" | "opensuse-tumbleweed" => "openSUSE",
                "wolfi" => "Wolfi",
                "chainguard" => "Chainguard",
                "mariner" | "azurelinux" => "Azure Linux",
                _ => return None,
            };
            let release = os.version_id.as_deref().or(os.version.as_deref());
            match release {
                Some(r) => format!("{name}:{r}"),
                None => name.to_owned(),
            }
        }
        PackageKind::Python => "PyPI".into(),
        PackageKind::Npm => "npm".into(),
        PackageKind::Go => "Go".into(),
        PackageKind::Cargo => "crates.io".into(),
        PackageKind::Maven => "Maven".into(),
        PackageKind::Gem => "RubyGems".into(),
        PackageKind::Nuget => "NuGet".into(),
        PackageKind::Composer => "Packagist".into(),
    };
    let ecosystem: EcosystemRelease = ecosystem.parse().ok()?;
    let full_version = |v: &str| match pkg.epoch {
        Some(e) if pkg.kind == PackageKind::Rpm && e > 0 && !v.contains(':') => format!("{e}:{v}"),
        _ => v.to_owned(),
    };
    let version = match (&pkg.release, pkg.kind) {
        (Some(release), PackageKind::Rpm) if !pkg.version.ends_with(release.as_str()) => {
            full_version(&format!("{}-{release}", pkg.version))
        }
        _ => full_version(&pkg.version),
    };
    Some(InstalledPackage {
        name: pkg.name.clone(),
        version,
        ecosystem,
        source_name: pkg.source_name.clone().filter(|_| pkg.kind.is_os()),
        source_version: pkg.source_version.clone().filter(|_| pkg.kind.is_os()),
    })
}

/// Vulnerability IDs to leave out, Trivy's `.trivyignore` syntax: `ID [exp:YYYY-MM-DD]`, `#` comments.
struct IgnoreList {
    ids: BTreeSet<String>,
}

impl IgnoreList {
    fn load(explicit: Option<&Path>) -> anyhow::Result<IgnoreList> {
        let path = match explicit {
            Some(p) => Some(p.to_owned()),
            None => [".sealwatchignore", ".trivyignore"]
                .iter()
                .map(PathBuf::from)
                .find(|p| p.is_file()),
        };
        let Some(path) = path else {
            return Ok(IgnoreList {
                ids: BTreeSet::new(),
            });
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading ignore file {}", path.display()))?;
        let today = time::OffsetDateTime::now_utc().date();
        let mut ids = BTreeSet::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut words = line.split_whitespace();
            let Some(id) = words.next() else { continue };
            let mut expired = false;
            for word in words {
                let Some(date) = word.strip_prefix("exp:") else {
                    bail!(
                        "{}:{}: unexpected {word:?} (expected `ID [exp:YYYY-MM-DD]`)",
                        path.display(),
                        n + 1
                    );
                };
                let format = time::macros::format_description!("[year]-[month]-[day]");
                let date = time::Date::parse(date, &format).with_context(|| {
                    format!("{}:{}: bad expiry date {date:?}", path.display(), n + 1)
                })?;
                expired = date < today;
            }
            if !expired {
                ids.insert(id.to_owned());
            }
        }
        Ok(IgnoreList { ids })
    }

    fn ignores(&self, finding: &Finding) -> bool {
        self.ids.contains(&finding.id) || finding.aliases.iter().any(|a| self.ids.contains(a))
    }
}

fn write_table(out: &mut impl Write, report: &ScanReport, total: usize) -> std::io::Result<()> {
    if report.results.is_empty() {
        writeln!(out, "{}: no vulnerabilities found", report.image)?;
    }
    for t in &report.results {
        writeln!(out, "\n{} ({})", t.target, t.kind)?;
        let counts: Vec<String> = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]
            .iter()
            .map(|s| {
                format!(
                    "{s}: {}",
                    t.vulnerabilities
                        .iter()
                        .filter(|f| f.finding.severity.as_str() == *s)
                        .count()
                )
            })
            .collect();
        writeln!(
            out,
            "Total: {} ({})\n",
            t.vulnerabilities.len(),
            counts.join(", ")
        )?;
        writeln!(
            out,
            "{:<24} {:<20} {:<9} {:<18} {:<22} TITLE",
            "PACKAGE", "ID", "SEVERITY", "INSTALLED", "FIXED"
        )?;
        for f in &t.vulnerabilities {
            let fixed = if f.finding.fixed_versions.is_empty() {
                "-".to_owned()
            } else {
                f.finding.fixed_versions.join(", ")
            };
            let title: String = f
                .finding
                .title
                .as_deref()
                .unwrap_or("")
                .chars()
                .take(60)
                .collect();
            writeln!(
                out,
                "{:<24} {:<20} {:<9} {:<18} {:<22} {title}",
                f.finding.package_name,
                f.finding.id,
                f.finding.severity.as_str(),
                f.finding.installed_version,
                fixed
            )?;
        }
    }
    let summary: Vec<String> = report
        .summary
        .iter()
        .rev()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    writeln!(out, "\nTotal: {total} ({})", summary.join(", "))?;
    Ok(())
}

/// SARIF 2.1.0 with the fields GitHub code scanning reads: one rule per vulnerability (with
/// `security-severity`), one result per (vulnerability, package), located at the file the package was read from.
fn sarif(report: &ScanReport) -> serde_json::Value {
    let mut rules: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    let mut results = Vec::new();
    for t in &report.results {
        for f in &t.vulnerabilities {
            let v = &f.finding;
            let score = match v.severity {
                Severity::Critical => "9.5",
                Severity::High => "8.0",
                Severity::Medium => "5.5",
                Severity::Low => "2.0",
                Severity::Unknown => "0.0",
            };
            let level = match v.severity {
                Severity::Critical | Severity::High => "error",
                Severity::Medium => "warning",
                Severity::Low | Severity::Unknown => "note",
            };
            let title = v.title.clone().unwrap_or_else(|| v.id.clone());
            let help_uri = v.references.first().cloned();
            rules.entry(v.id.clone()).or_insert_with(|| {
                let mut rule = json!({
                    "id": v.id,
                    "name": "OsPackageVulnerability",
                    "shortDescription": {"text": title},
                    "fullDescription": {"text": title},
                    "defaultConfiguration": {"level": level},
                    "help": {
                        "text": format!("Vulnerability {}\nSeverity: {}\nPackage: {}\nFixed Version: {}", v.id, v.severity.as_str(), v.package_name, v.fixed_versions.join(", ")),
                        "markdown": format!("**Vulnerability {}**\n| Severity | Package | Fixed Version |\n| --- | --- | --- |\n| {} | {} | {} |", v.id, v.severity.as_str(), v.package_name, v.fixed_versions.join(", "))
                    },
                    "properties": {"precision": "very-high", "security-severity": score, "tags": ["vulnerability", "security", v.severity.as_str()]}
                });
                if let Some(uri) = &help_uri {
                    rule["helpUri"] = json!(uri);
                }
                rule
            });
            let fixed = if v.fixed_versions.is_empty() {
                "none".into()
            } else {
                v.fixed_versions.join(", ")
            };
            results.push(json!({
                "ruleId": v.id,
                "level": level,
                "message": {"text": format!("Package: {}\nInstalled Version: {}\nVulnerability {}\nSeverity: {}\nFixed Version: {fixed}", v.package_name, v.installed_version, v.id, v.severity.as_str())},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.path.trim_start_matches('/'), "uriBaseId": "ROOTPATH"},
                        "region": {"startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 1}
                    },
                    "message": {"text": format!("{}: {}@{}", f.path, v.package_name, v.installed_version)}
                }]
            }));
        }
    }
    json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": {"driver": {
                "name": "sealwatch",
                "fullName": "sealwatch vulnerability scanner",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://example.invalid/sealwatch",
                "rules": rules.into_values().collect::<Vec<_>>()
            }},
            "results": results,
            "columnKind": "utf16CodeUnits",
            "originalUriBaseIds": {"ROOTPATH": {"uri": "file:///"}},
            "properties": {"imageName": report.image, "manifestDigest": report.manifest_digest}
        }]
    })
}
