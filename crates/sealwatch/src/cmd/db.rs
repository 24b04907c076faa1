//! `sealwatch db import|status`: manage the vulnerability database.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use sealwatch_db::{AdvisoryDb, DbWriter};

#[derive(Debug, Args)]
pub struct DbArgs {
    #[command(subcommand)]
    command: DbCommand,
}

#[derive(Debug, Subcommand)]
enum DbCommand {
    /// Import advisories: an OSV zip (e.g. an ecosystem's `all.zip`), a folder of OSV JSON records, or Alpine
    /// secdb YAML (a file or a folder). Unreadable records are skipped and reported; the rest import.
    /// The database is replaced atomically: until the import completes the old one stays in use.
    Import {
        /// Files or folders to import, in order.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        db: DbPath,
        /// Start from an empty database instead of adding to the current one.
        #[arg(long)]
        fresh: bool,
    },
    /// Show the database's sources, record counts and ages.
    Status {
        #[command(flatten)]
        db: DbPath,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Where the database lives.
#[derive(Debug, Args)]
pub struct DbPath {
    /// Database file (default: ~/.cache/sealwatch/db/advisories.redb).
    #[arg(long = "db", value_name = "PATH", env = "SEALWATCH_DB")]
    pub path: Option<PathBuf>,
}

impl DbPath {
    pub fn resolve(&self) -> anyhow::Result<PathBuf> {
        match &self.path {
            Some(p) => Ok(p.clone()),
            None => {
                sealwatch_db::default_path().context("no cache folder (HOME unset); give --db PATH")
            }
        }
    }
}

pub fn run(args: DbArgs) -> anyhow::Result<u8> {
    match args.command {
        DbCommand::Import { paths, db, fresh } => {
            let target = db.resolve()?;
            let mut writer = DbWriter::begin(&target, fresh)?;
            for path in &paths {
                let diagnostics = writer.import(path)?;
                for d in &diagnostics {
                    eprintln!("warning: {d}");
                }
                eprintln!(
                    "imported {} ({} skipped)",
                    path.display(),
                    diagnostics.len()
                );
            }
            let target = writer.commit()?;
            let status = AdvisoryDb::open(&target)?.status()?;
            println!(
                "{}: {} advisories for {} packages",
                target.display(),
                status.records,
                status.packages
            );
            Ok(0)
        }
        DbCommand::Status { db, json } => {
            let status = AdvisoryDb::open(&db.resolve()?)?.status()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                println!("Database:  {}", status.path.display());
                println!("Schema:    {}", status.schema_version);
                println!("Updated:   {}", status.updated_at.as_deref().unwrap_or("-"));
                println!(
                    "Records:   {} advisories, {} package keys",
                    status.records, status.packages
                );
                for s in &status.sources {
                    println!(
                        "Source:    {} ({}) imported {} — {} records, {} skipped, sha256 {}",
                        s.location, s.kind, s.imported_at, s.records, s.skipped, s.sha256
                    );
                }
            }
            Ok(0)
        }
    }
}
