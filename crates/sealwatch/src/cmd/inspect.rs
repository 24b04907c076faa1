//! `sealwatch inspect IMAGE`: what an image is made of and what a security engineer asks about a base
//! image before trusting it — shells, package managers, setuid/setgid and world-writable files, root.

use std::io::Write;

use clap::{Args, ValueEnum};
use sealwatch_catalog::facts::BaseImageFacts;
use sealwatch_catalog::{Diagnostic, OsInfo};
use sealwatch_oci::FileRequest;
use serde::Serialize;

use crate::image::{ImageArgs, ImageTree};

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[command(flatten)]
    image: ImageArgs,

    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
}

/// The JSON document `inspect --format json` prints. Field names are stable; new fields may be added.
#[derive(Debug, Serialize)]
struct Report {
    schema_version: u32,
    image: String,
    manifest: Option<ManifestFacts>,
    config_digest: Option<String>,
    platform: String,
    layers: Vec<LayerFacts>,
    config: ConfigFacts,
    os: Option<OsInfo>,
    #[serde(flatten)]
    facts: BaseImageFacts,
    diagnostics: Vec<Diagnostic>,
}

#[derive(Debug, Serialize)]
struct ManifestFacts {
    digest: Option<String>,
    media_type: Option<String>,
}

#[derive(Debug, Serialize)]
struct LayerFacts {
    digest: String,
    media_type: String,
    size: u64,
    uncompressed_size: Option<u64>,
    diff_id: Option<String>,
}

#[derive(Debug, Serialize)]
struct ConfigFacts {
    user: String,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    working_dir: Option<String>,
    exposed_ports: Vec<String>,
    created: Option<String>,
    env: Vec<String>,
}

/// Files the report needs the contents of; everything else is metadata only.
const WANTED: &[&str] = &[
    "etc/os-release",
    "usr/lib/os-release",
    "etc/alpine-release",
    "etc/debian_version",
    "etc/redhat-release",
    "etc/lsb-release",
    "etc/passwd",
];

pub fn run(args: InspectArgs) -> anyhow::Result<u8> {
    let image = args.image.open()?;
    let mut request = FileRequest::new();
    for path in WANTED {
        request.add_path(path);
    }
    let fs = image.read_files(&request)?;
    let tree = ImageTree::new(&image, &fs);

    let mut diagnostics = Vec::new();
    let mut os = sealwatch_catalog::os::detect(&tree, &mut diagnostics);
    let passwd = fs.read("etc/passwd").ok().flatten();
    let config = &image.config().config;
    let user = config.user.clone().unwrap_or_default();
    let facts = BaseImageFacts::collect(tree.fact_entries(), &tree, &user, passwd);
    if let Some(os) = os.as_mut() {
        os.distroless = facts.is_distroless();
    }
    for warning in fs.warnings() {
        diagnostics.push(Diagnostic::new("", None, warning.clone()));
    }

    let report = Report {
        schema_version: 1,
        image: image.description().to_owned(),
        manifest: (!image.is_rootfs()).then(|| ManifestFacts {
            digest: image.manifest_digest().map(ToString::to_string),
            media_type: image.manifest_media_type().map(str::to_owned),
        }),
        config_digest: image.config_digest().map(ToString::to_string),
        platform: platform_string(&image),
        layers: image
            .layers()
            .iter()
            .map(|l| LayerFacts {
                digest: l.digest.to_string(),
                media_type: l.media_type.clone(),
                size: l.size,
                uncompressed_size: l.uncompressed_size(),
                diff_id: l.diff_id.as_ref().map(ToString::to_string),
            })
            .collect(),
        config: ConfigFacts {
            user,
            entrypoint: config.entrypoint.clone(),
            cmd: config.cmd.clone(),
            working_dir: config.working_dir.clone().filter(|w| !w.is_empty()),
            exposed_ports: config.exposed_ports.keys().cloned().collect(),
            created: image.config().created.clone(),
            env: config.env.clone(),
        },
        os,
        facts,
        diagnostics,
    };

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        Format::Table => print_table(&mut out, &report)?,
    }
    Ok(0)
}

fn platform_string(image: &sealwatch_oci::Image) -> String {
    let p = image.platform();
    match &p.variant {
        Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
        None => format!("{}/{}", p.os, p.architecture),
    }
}

fn print_table(out: &mut impl Write, r: &Report) -> std::io::Result<()> {
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    writeln!(out, "Image:          {}", r.image)?;
    match &r.manifest {
        Some(ManifestFacts {
            digest: Some(digest),
            media_type,
        }) => {
            writeln!(out, "Manifest:       {digest} ({})", dash(media_type))?;
        }
        // A `docker save` archive holds no registry manifest; the config digest is the image ID.
        Some(ManifestFacts { digest: None, .. }) => {
            writeln!(out, "Manifest:       none (identified by its config)")?
        }
        None => {}
    }
    if r.config_digest.is_some() {
        writeln!(out, "Config:         {}", dash(&r.config_digest))?;
    }
    writeln!(out, "Platform:       {}", r.platform)?;
    let os = r.os.as_ref().map(|os| {
        let name = os.pretty_name.clone().unwrap_or_else(|| os.id.clone());
        let version = match &os.version {
            Some(v) if !name.contains(v.as_str()) => format!(" ({v})"),
            _ => String::new(),
        };
        let distroless = if os.distroless { ", distroless" } else { "" };
        format!("{name}{version}{distroless}")
    });
    writeln!(
        out,
        "OS:             {}",
        os.unwrap_or_else(|| "unknown".into())
    )?;
    if let Some(created) = &r.config.created {
        writeln!(out, "Created:        {created}")?;
    }
    let root = if r.facts.run_as.root { "yes" } else { "no" };
    let user = if r.config.user.is_empty() {
        "(unset)"
    } else {
        r.config.user.as_str()
    };
    writeln!(out, "User:           {user}   runs as root: {root}")?;
    if !r.config.entrypoint.is_empty() {
        writeln!(out, "Entrypoint:     {}", shell_words(&r.config.entrypoint))?;
    }
    if !r.config.cmd.is_empty() {
        writeln!(out, "Cmd:            {}", shell_words(&r.config.cmd))?;
    }
    if let Some(dir) = &r.config.working_dir {
        writeln!(out, "WorkingDir:     {dir}")?;
    }
    if !r.config.exposed_ports.is_empty() {
        writeln!(out, "Exposed ports:  {}", r.config.exposed_ports.join(", "))?;
    }

    if !r.layers.is_empty() {
        writeln!(out, "\nLayers ({}):", r.layers.len())?;
        writeln!(
            out,
            "  {:<71}  {:>12}  {:>12}  MEDIA TYPE",
            "DIGEST", "SIZE", "UNCOMPRESSED"
        )?;
        for l in &r.layers {
            let unc = l.uncompressed_size.map_or_else(|| "-".into(), human);
            writeln!(
                out,
                "  {:<71}  {:>12}  {:>12}  {}",
                l.digest,
                human(l.size),
                unc,
                l.media_type
            )?;
        }
    }

    let f = &r.facts;
    writeln!(out, "\nBase-image facts:")?;
    writeln!(
        out,
        "  entries:          {} files, {} directories, {} symlinks",
        f.files, f.directories, f.symlinks
    )?;
    let shells: Vec<String> = f
        .shells
        .iter()
        .map(|s| {
            if s.busybox_applet {
                format!("{} (busybox)", s.path)
            } else {
                s.path.clone()
            }
        })
        .collect();
    writeln!(out, "  shells:           {}", list_or_none(&shells))?;
    if f.busybox_applets > 0 {
        writeln!(out, "  busybox applets:  {}", f.busybox_applets)?;
    }
    let managers: Vec<String> = f
        .package_managers
        .iter()
        .map(|m| match (&m.program, &m.database) {
            (Some(p), _) => format!("{} ({p})", m.name),
            (None, Some(db)) => format!("{} (database only: {db})", m.name),
            (None, None) => m.name.clone(),
        })
        .collect();
    writeln!(out, "  package managers: {}", list_or_none(&managers))?;
    writeln!(out, "  setuid files:     {}", f.setuid.len())?;
    for s in &f.setuid {
        writeln!(out, "    {} {} (uid {})", s.mode, s.path, s.uid)?;
    }
    writeln!(out, "  setgid files:     {}", f.setgid.len())?;
    for s in &f.setgid {
        writeln!(out, "    {} {} (gid {})", s.mode, s.path, s.gid)?;
    }
    let (sticky, open): (Vec<_>, Vec<_>) = f.world_writable.iter().partition(|w| w.sticky);
    writeln!(
        out,
        "  world-writable:   {} ({} sticky directories)",
        f.world_writable.len(),
        sticky.len()
    )?;
    for w in open {
        writeln!(out, "    {} {}", w.mode, w.path)?;
    }
    for d in &r.diagnostics {
        writeln!(out, "warning: {d}")?;
    }
    Ok(())
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

fn shell_words(words: &[String]) -> String {
    let quoted: Vec<String> = words
        .iter()
        .map(|w| {
            if w.is_empty() || w.contains(char::is_whitespace) {
                format!("{w:?}")
            } else {
                w.clone()
            }
        })
        .collect();
    format!("[{}]", quoted.join(" "))
}

fn human(bytes: u64) -> String {
    const UNITS: &[&str] = &["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
