//! `sealwatch sbom IMAGE`: every package in the image, as CycloneDX 1.6, SPDX 2.3, sealwatch JSON or a table.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, ValueEnum};
use sealwatch_advisory::sbom::{self, ImageSubject, SbomOptions};
use sealwatch_catalog::{Catalog, PathPattern};
use sealwatch_oci::FileRequest;
use serde::Serialize;

use sealwatch_sign::AttestOptions;

use crate::cmd::attest::{predicate_type_uri, AttestFlags};
use crate::image::{ImageArgs, ImageTree};

#[derive(Debug, Args)]
pub struct SbomArgs {
    #[command(flatten)]
    image: ImageArgs,

    /// Output format.
    #[arg(long, short, value_enum, default_value_t = SbomFormat::Cyclonedx)]
    format: SbomFormat,

    /// Write to this file instead of standard output (written whole or not at all).
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,

    /// Treat problems with package databases (truncated, not UTF-8, duplicates) as errors: exit 2.
    #[arg(long)]
    strict: bool,

    /// With `--attest`, the document is signed as a `cyclonedx` (or, with `--format spdx-json`, an
    /// `spdxjson`) attestation.
    #[command(flatten)]
    attest: AttestFlags,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SbomFormat {
    /// CycloneDX 1.6 JSON.
    Cyclonedx,
    /// SPDX 2.3 JSON.
    SpdxJson,
    /// sealwatch's own JSON (documented in docs/sbom-json.md).
    Json,
    /// A human-readable table.
    Table,
}

/// sealwatch's own JSON: the catalog plus where it came from.
#[derive(Debug, Serialize)]
struct SbomJson<'a> {
    schema_version: u32,
    image: &'a str,
    manifest_digest: Option<String>,
    #[serde(flatten)]
    catalog: &'a Catalog,
}

/// The image's catalog: OS, packages and diagnostics, read from its squashed view.
pub struct Cataloged {
    pub subject: ImageSubject,
    pub catalog: Catalog,
}

/// The file request the catalog analyzers need, in the image layer's terms.
pub fn file_request() -> anyhow::Result<FileRequest> {
    let wanted = sealwatch_catalog::path_request()?;
    let mut request = FileRequest::new();
    for pattern in wanted.patterns() {
        match pattern {
            PathPattern::Exact(p) => request.add_path(p),
            PathPattern::Prefix(p) => request.add_prefix(&format!("{p}/")),
            PathPattern::Glob(g) => request.add_glob(g)?,
            // Binaries are matched by content (Go build info, cargo-auditable), not by path.
            PathPattern::Executable => request.add_executables(
                "catalog-binaries-v1",
                sealwatch_catalog::lang::is_package_binary,
            ),
        }
    }
    Ok(request)
}

pub fn catalog_image(args: &ImageArgs) -> anyhow::Result<Cataloged> {
    let image = args.open()?;
    let fs = image.read_files(&file_request()?)?;
    let tree = ImageTree::new(&image, &fs);
    let catalog = sealwatch_catalog::catalog(&tree);
    let subject = ImageSubject {
        name: image.description().to_owned(),
        digest: image.manifest_digest().map(ToString::to_string),
    };
    Ok(Cataloged { subject, catalog })
}

pub fn run(mut args: SbomArgs) -> anyhow::Result<u8> {
    let attest_type = match (args.attest.attest, args.format) {
        (false, _) => None,
        (true, SbomFormat::Cyclonedx) => Some("cyclonedx"),
        (true, SbomFormat::SpdxJson) => Some("spdxjson"),
        (true, SbomFormat::Json | SbomFormat::Table) => anyhow::bail!(
            "--attest signs a CycloneDX or SPDX document: use --format cyclonedx or spdx-json"
        ),
    };
    // Settled before the image is read: a wrong key, password or image fails now.
    let attest_target = args.attest.prepare(&mut args.image)?;
    let Cataloged { subject, catalog } = catalog_image(&args.image)?;
    for d in &catalog.diagnostics {
        eprintln!("warning: {d}");
    }
    if args.strict && !catalog.diagnostics.is_empty() {
        anyhow::bail!(
            "{} problem(s) with package databases (--strict)",
            catalog.diagnostics.len()
        );
    }

    let mut rendered = Vec::new();
    match args.format {
        SbomFormat::Cyclonedx | SbomFormat::SpdxJson => {
            let options = SbomOptions {
                uuid: random_uuid()?,
                created: now_rfc3339()?,
                tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            };
            let doc = if args.format == SbomFormat::Cyclonedx {
                sbom::cyclonedx::document(&catalog, &subject, &options)
            } else {
                sbom::spdx::document(&catalog, &subject, &options)
            };
            if let (Some(target), Some(name)) = (&attest_target, attest_type) {
                eprintln!("Attesting the SBOM of {}", target.image());
                target.attest(AttestOptions {
                    predicate_type: predicate_type_uri(name, "--format")?,
                    predicate: serde_json::to_value(&doc).context("serialising the SBOM")?,
                    format: target.format(),
                })?;
            }
            serde_json::to_writer_pretty(&mut rendered, &doc)?;
            rendered.push(b'\n');
        }
        SbomFormat::Json => {
            let doc = SbomJson {
                schema_version: 1,
                image: &subject.name,
                manifest_digest: subject.digest.clone(),
                catalog: &catalog,
            };
            serde_json::to_writer_pretty(&mut rendered, &doc)?;
            rendered.push(b'\n');
        }
        SbomFormat::Table => write_table(&mut rendered, &subject, &catalog)?,
    }
    match &args.output {
        Some(path) => write_atomically(path, &rendered)?,
        None => std::io::stdout().lock().write_all(&rendered)?,
    }
    Ok(0)
}

fn write_table(
    out: &mut impl Write,
    subject: &ImageSubject,
    catalog: &Catalog,
) -> std::io::Result<()> {
    writeln!(out, "Image: {}", subject.name)?;
    if let Some(os) = &catalog.os {
        let distroless = if os.distroless { " (distroless)" } else { "" };
        writeln!(
            out,
            "OS:    {} {}{distroless}",
            os.id,
            os.version.as_deref().unwrap_or("-")
        )?;
    }
    writeln!(out, "Packages: {}\n", catalog.packages.len())?;
    let width = catalog
        .packages
        .iter()
        .map(|p| p.name.len())
        .max()
        .unwrap_or(4)
        .clamp(4, 48);
    let vwidth = catalog
        .packages
        .iter()
        .map(|p| p.version.len())
        .max()
        .unwrap_or(7)
        .clamp(7, 40);
    writeln!(
        out,
        "{:<8} {:<width$} {:<vwidth$} {:<10} SOURCE",
        "TYPE", "NAME", "VERSION", "ARCH"
    )?;
    for p in &catalog.packages {
        let kind = p.kind.purl_type();
        let source = match (&p.source_name, &p.source_version) {
            (Some(n), Some(v)) if n != &p.name || v != &p.version => format!("{n} {v}"),
            (Some(n), None) if n != &p.name => n.clone(),
            _ => String::new(),
        };
        let arch = p.arch.as_deref().unwrap_or("");
        writeln!(
            out,
            "{kind:<8} {:<width$} {:<vwidth$} {arch:<10} {source}",
            p.name, p.version
        )?;
    }
    Ok(())
}

/// Write `bytes` to `path` through a temporary file in the same folder and a rename, so a reader never
/// sees half a document and an error leaves any earlier file untouched.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    // A device or a pipe (`-o /dev/null`, `-o /dev/stdout`, a FIFO) is written in place: renaming a
    // temporary file over it would replace the device node itself (as root, `/dev/null`).
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        file.write_all(bytes)
            .with_context(|| format!("writing {}", path.display()))?;
        return Ok(());
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// A version 4 UUID from the kernel's random source.
pub fn random_uuid() -> anyhow::Result<String> {
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .context("reading /dev/urandom for a document UUID")?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn now_rfc3339() -> anyhow::Result<String> {
    let now = time::OffsetDateTime::now_utc().replace_nanosecond(0)?;
    Ok(now.format(&time::format_description::well_known::Rfc3339)?)
}
