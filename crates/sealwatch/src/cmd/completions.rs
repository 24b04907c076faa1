//! `sealwatch completions SHELL` and `sealwatch man`: shell completion scripts and roff man pages,
//! generated from the same clap tree that parses the command line, so they can never drift from it.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::Args;
use clap_complete::Shell;

/// Print a shell completion script.
#[derive(Debug, Args)]
#[command(after_help = "Install, for example:\n  \
    sealwatch completions bash > ~/.local/share/bash-completion/completions/sealwatch\n  \
    sealwatch completions zsh > \"${fpath[1]}/_sealwatch\"\n  \
    sealwatch completions fish > ~/.config/fish/completions/sealwatch.fish")]
pub struct CompletionsArgs {
    /// The shell to write the script for.
    #[arg(value_enum)]
    shell: Shell,
}

/// Write roff man pages: sealwatch(1) and one page per subcommand, e.g. sealwatch-scan(1).
#[derive(Debug, Args)]
#[command(after_help = "Install, for example:\n  \
    sealwatch man --out /usr/local/share/man/man1 && mandb -q\n\
    Read one without installing: sealwatch man | man -l -")]
pub struct ManArgs {
    /// Write every page into this folder (created if missing) as NAME.1. Without it, print the
    /// top-level sealwatch(1) page to stdout.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub fn run_completions(args: CompletionsArgs, mut cli: clap::Command) -> anyhow::Result<u8> {
    let name = cli.get_name().to_owned();
    // Render into memory first: a failed write then never leaves half a script behind a redirect.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cli, name, &mut script);
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&script).context("writing to stdout")?;
    stdout.flush().context("writing to stdout")?;
    Ok(0)
}

pub fn run_man(args: ManArgs, cli: clap::Command) -> anyhow::Result<u8> {
    // `help` is clap's own subcommand; a man page for it would document nothing.
    let mut cli = cli.disable_help_subcommand(true);
    // Building fills in each subcommand's display name ("sealwatch-db-import"), which the pages use
    // for their title, NAME section and file name.
    cli.build();
    let pages = render_pages(&cli)?;
    match args.out {
        None => {
            let (_, top) = pages
                .iter()
                .find(|(name, _)| name == "sealwatch.1")
                .context("the top-level man page was not rendered")?;
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(top).context("writing to stdout")?;
            stdout.flush().context("writing to stdout")?;
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("creating the man page folder {}", dir.display()))?;
            for (name, page) in &pages {
                crate::cmd::sbom::write_atomically(&dir.join(name), page)?;
            }
            eprintln!("wrote {} man pages to {}", pages.len(), dir.display());
        }
    }
    Ok(0)
}

/// Every visible command in the tree, depth first, as (file name, roff bytes).
fn render_pages(cmd: &clap::Command) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut pages = Vec::new();
    let mut pending = vec![cmd.clone()];
    while let Some(cmd) = pending.pop() {
        pending.extend(
            cmd.get_subcommands()
                .filter(|sub| !sub.is_hide_set())
                .cloned(),
        );
        let man = clap_mangen::Man::new(cmd);
        let mut page = Vec::new();
        man.render(&mut page)
            .with_context(|| format!("rendering the man page {}", man.get_filename()))?;
        let page = String::from_utf8(page)
            .with_context(|| format!("the man page {} is not UTF-8", man.get_filename()))?;
        pages.push((man.get_filename(), ascii_roff(&page).into_bytes()));
    }
    if pages.is_empty() {
        bail!("no man pages were rendered");
    }
    Ok(pages)
}

/// Non-ASCII characters (the help texts use `…` and `→`) as roff's `\[uXXXX]` escapes: groff reads
/// its input as Latin-1 unless a preprocessor converts it, so raw UTF-8 would print as garbage there.
fn ascii_roff(page: &str) -> String {
    let mut out = String::with_capacity(page.len());
    for c in page.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            out.push_str(&format!("\\[u{:04X}]", u32::from(c)));
        }
    }
    out
}
