//! `sealwatch compare IMAGE_A IMAGE_B`: the "distroless vs alpine" question as data — OS, size, packages,
//! shells, package managers, setuid files, user and known vulnerabilities, side by side.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Context;
use clap::{Args, ValueEnum};
use sealwatch_catalog::facts::BaseImageFacts;
use sealwatch_db::AdvisoryDb;
use serde::Serialize;

use crate::cmd::db::DbPath;
use crate::cmd::sbom::file_request;
use crate::cmd::scan::package_findings;
use crate::image::{ImageArgs, ImageTree, RegistryArgs};

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The first image (any form `inspect` takes).
    image_a: String,
    /// The second image.
    image_b: String,

    /// Platform to pick from multi-platform images, `os/arch[/variant]`.
    #[arg(long, value_name = "OS/ARCH")]
    platform: Option<String>,

    #[command(flatten)]
    registry: RegistryArgs,

    #[command(flatten)]
    db: DbPath,

    /// Compare without vulnerability counts even when a database is present.
    #[arg(long)]
    no_vulns: bool,

    /// Output format.
    #[arg(long, short, value_enum, default_value_t = CompareFormat::Table)]
    format: CompareFormat,

    /// No progress bars.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CompareFormat {
    Table,
    Json,
}

/// What `compare` reports about one image.
#[derive(Debug, Serialize)]
struct Profile {
    image: String,
    os: Option<String>,
    distroless: bool,
    layers: usize,
    /// Sum of the stored (usually compressed) layer sizes.
    compressed_bytes: u64,
    /// Sum of the layers' tar sizes.
    uncompressed_bytes: u64,
    os_packages: usize,
    language_packages: usize,
    shells: Vec<String>,
    package_managers: Vec<String>,
    setuid_files: usize,
    setgid_files: usize,
    /// World-writable entries other than sticky directories.
    world_writable: usize,
    user: String,
    runs_as_root: bool,
    /// Findings by severity; absent when no database was used.
    vulnerabilities: Option<BTreeMap<&'static str, usize>>,
}

pub fn run(args: CompareArgs) -> anyhow::Result<u8> {
    let db = if args.no_vulns {
        None
    } else {
        let path = args.db.resolve()?;
        match AdvisoryDb::open(&path) {
            Ok(db) => Some(db),
            // Named explicitly: the user expects counts, so a bad database is an error.
            Err(e) if args.db.path.is_some() => return Err(e.into()),
            Err(_) => {
                eprintln!(
                    "note: no vulnerability database at {} — comparing without CVE counts (get one with sealwatch db update, db pull or db import)",
                    path.display()
                );
                None
            }
        }
    };
    let profiles = [&args.image_a, &args.image_b]
        .into_iter()
        .map(|image| {
            let image_args = ImageArgs {
                image: Some(image.clone()),
                input: None,
                platform: args.platform.clone(),
                registry: args.registry.clone(),
                quiet: args.quiet,
            };
            profile(&image_args, db.as_ref()).with_context(|| format!("profiling {image}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        CompareFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &profiles)?;
            writeln!(out)?;
        }
        CompareFormat::Table => print_table(&mut out, &profiles)?,
    }
    Ok(0)
}

fn profile(args: &ImageArgs, db: Option<&AdvisoryDb>) -> anyhow::Result<Profile> {
    let image = args.open()?;
    let mut request = file_request()?;
    request.add_path("etc/passwd");
    let fs = image.read_files(&request)?;
    let tree = ImageTree::new(&image, &fs);
    let catalog = sealwatch_catalog::catalog(&tree);
    let user = image.config().config.user.clone().unwrap_or_default();
    let passwd = fs.read("etc/passwd").ok().flatten();
    let facts = BaseImageFacts::collect(tree.fact_entries(), &tree, &user, passwd);

    let vulnerabilities = match db {
        Some(db) => {
            let mut counts: BTreeMap<&'static str, usize> =
                ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]
                    .into_iter()
                    .map(|s| (s, 0))
                    .collect();
            for pkg in &catalog.packages {
                for finding in package_findings(db, pkg, catalog.os.as_ref())? {
                    *counts.entry(finding.severity.as_str()).or_default() += 1;
                }
            }
            Some(counts)
        }
        None => None,
    };
    let os = catalog.os.as_ref().map(|os| {
        let version = os
            .version
            .as_deref()
            .or(os.version_id.as_deref())
            .unwrap_or("");
        format!("{} {version}", os.id).trim().to_owned()
    });
    Ok(Profile {
        image: image.description().to_owned(),
        os,
        distroless: facts.is_distroless() || catalog.os.as_ref().is_some_and(|o| o.distroless),
        layers: image.layers().len(),
        compressed_bytes: image.layers().iter().map(|l| l.size).sum(),
        uncompressed_bytes: image
            .layers()
            .iter()
            .filter_map(|l| l.uncompressed_size())
            .sum(),
        os_packages: catalog.packages.iter().filter(|p| p.kind.is_os()).count(),
        language_packages: catalog.packages.iter().filter(|p| !p.kind.is_os()).count(),
        shells: facts.shells.iter().map(|s| s.path.clone()).collect(),
        package_managers: facts
            .package_managers
            .iter()
            .filter(|m| m.program.is_some())
            .map(|m| m.name.clone())
            .collect(),
        setuid_files: facts.setuid.len(),
        setgid_files: facts.setgid.len(),
        world_writable: facts.world_writable.iter().filter(|w| !w.sticky).count(),
        user,
        runs_as_root: facts.run_as.root,
        vulnerabilities,
    })
}

fn print_table(out: &mut impl Write, p: &[Profile]) -> std::io::Result<()> {
    let (Some(a), Some(b)) = (p.first(), p.get(1)) else {
        return Ok(());
    };
    let list = |v: &[String]| {
        if v.is_empty() {
            "none".to_owned()
        } else {
            v.join(", ")
        }
    };
    let mib = |bytes: u64| format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0));
    let vulns = |p: &Profile| match &p.vulnerabilities {
        Some(c) => ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]
            .iter()
            .map(|s| format!("{}:{}", &s[..1], c.get(s).copied().unwrap_or(0)))
            .collect::<Vec<_>>()
            .join(" "),
        None => "not checked".to_owned(),
    };
    let rows: Vec<(&str, String, String)> = vec![
        ("image", a.image.clone(), b.image.clone()),
        (
            "OS",
            a.os.clone().unwrap_or_else(|| "unknown".into()),
            b.os.clone().unwrap_or_else(|| "unknown".into()),
        ),
        (
            "distroless",
            a.distroless.to_string(),
            b.distroless.to_string(),
        ),
        ("layers", a.layers.to_string(), b.layers.to_string()),
        (
            "size (stored)",
            mib(a.compressed_bytes),
            mib(b.compressed_bytes),
        ),
        (
            "size (unpacked)",
            mib(a.uncompressed_bytes),
            mib(b.uncompressed_bytes),
        ),
        (
            "OS packages",
            a.os_packages.to_string(),
            b.os_packages.to_string(),
        ),
        (
            "language packages",
            a.language_packages.to_string(),
            b.language_packages.to_string(),
        ),
        ("shells", list(&a.shells), list(&b.shells)),
        (
            "package managers",
            list(&a.package_managers),
            list(&b.package_managers),
        ),
        (
            "setuid files",
            a.setuid_files.to_string(),
            b.setuid_files.to_string(),
        ),
        (
            "setgid files",
            a.setgid_files.to_string(),
            b.setgid_files.to_string(),
        ),
        (
            "world-writable (not sticky)",
            a.world_writable.to_string(),
            b.world_writable.to_string(),
        ),
        (
            "user",
            if a.user.is_empty() {
                "(unset)".into()
            } else {
                a.user.clone()
            },
            if b.user.is_empty() {
                "(unset)".into()
            } else {
                b.user.clone()
            },
        ),
        (
            "runs as root",
            a.runs_as_root.to_string(),
            b.runs_as_root.to_string(),
        ),
        ("CVEs (C H M L U)", vulns(a), vulns(b)),
    ];
    let w0 = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let w1 = rows.iter().map(|r| r.1.len()).max().unwrap_or(0).min(60);
    for (k, x, y) in rows {
        writeln!(out, "{k:<w0$}  {x:<w1$}  {y}")?;
    }
    Ok(())
}
