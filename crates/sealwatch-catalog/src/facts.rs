//! Base-image facts: what a security engineer asks about an image before trusting it as a base.
//!
//! Which shells and package managers are there, which files are setuid/setgid or world-writable, and
//! whether the image runs as root. Pure: the caller hands over the squashed file metadata (every entry,
//! no contents) and, where it has them, the contents of `/etc/passwd`.

use std::collections::BTreeSet;

use serde::Serialize;

/// What kind of entry a path is in the squashed image view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Other,
}

/// One entry of the squashed view, as the facts need it.
#[derive(Debug, Clone, Copy)]
pub struct FsEntry<'a> {
    /// Normalised path without a leading `/`, e.g. `usr/bin/bash`.
    pub path: &'a str,
    pub kind: EntryKind,
    /// Permission bits including setuid (0o4000), setgid (0o2000) and sticky (0o1000).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Target of a symlink, or of a hard link, as written in the image.
    pub link_target: Option<&'a str>,
}

/// Answers "does this path exist as a regular file once symlinks inside the image are followed?".
/// The image layer implements it on its squashed view; symlink resolution never leaves the image root.
pub trait PathResolver {
    fn is_file(&self, path: &str) -> bool;
}

/// A shell found in the image.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Shell {
    /// `sh`, `bash`, `ash`, `dash`, `zsh`, …
    pub name: String,
    /// The path it is reachable at, e.g. `/bin/sh`.
    pub path: String,
    /// Set when the shell is a busybox applet rather than its own program.
    pub busybox_applet: bool,
}

/// A package manager found in the image: a program to install software with, or a database of one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct PackageManager {
    /// `apk`, `dpkg`, `apt`, `rpm`, `dnf`, `yum`, `microdnf`, `pip`.
    pub name: String,
    /// The program's path when the program itself is present (`/sbin/apk`).
    pub program: Option<String>,
    /// The database path when only (or also) its database is present (`/var/lib/dpkg/status`).
    pub database: Option<String>,
}

/// A file with special permission bits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct SpecialFile {
    pub path: String,
    /// Octal permission bits, e.g. `4755`.
    pub mode: String,
    pub uid: u64,
    pub gid: u64,
}

/// A world-writable entry. Directories with the sticky bit (like `/tmp`, 1777) are normal and flagged so.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct WorldWritable {
    pub path: String,
    pub kind: EntryKind,
    pub mode: String,
    pub sticky: bool,
}

/// Who the image's processes run as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunAs {
    /// The config's `User` as written (empty when unset).
    pub user: String,
    /// The numeric uid when known: given as a number, or looked up in `/etc/passwd`.
    pub uid: Option<u64>,
    /// True when the process runs as uid 0: `User` unset, `root`, `0`, or a name that maps to uid 0.
    pub root: bool,
}

/// The facts `sealwatch inspect` prints and `compare` sets side by side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BaseImageFacts {
    pub shells: Vec<Shell>,
    pub busybox_applets: usize,
    pub package_managers: Vec<PackageManager>,
    pub setuid: Vec<SpecialFile>,
    pub setgid: Vec<SpecialFile>,
    pub world_writable: Vec<WorldWritable>,
    pub run_as: RunAs,
    pub files: usize,
    pub directories: usize,
    pub symlinks: usize,
}

const SHELLS: &[&str] = &[
    "sh", "bash", "ash", "dash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish", "hush",
];
/// Where shells are looked for; with usr-merge (`/bin -> usr/bin`) the resolver finds both.
const SHELL_DIRS: &[&str] = &["bin", "usr/bin", "usr/local/bin", "sbin", "usr/sbin"];

/// (manager, program paths, database paths)
const PACKAGE_MANAGERS: &[(&str, &[&str], &[&str])] = &[
    (
        "apk",
        &["sbin/apk", "usr/sbin/apk", "bin/apk", "usr/bin/apk"],
        &["lib/apk/db/installed"],
    ),
    (
        "dpkg",
        &["usr/bin/dpkg", "bin/dpkg"],
        &["var/lib/dpkg/status", "var/lib/dpkg/status.d"],
    ),
    ("apt", &["usr/bin/apt-get", "usr/bin/apt"], &[]),
    (
        "rpm",
        &["usr/bin/rpm", "bin/rpm"],
        &[
            "var/lib/rpm/rpmdb.sqlite",
            "var/lib/rpm/Packages",
            "var/lib/rpm/Packages.db",
            "usr/lib/sysimage/rpm/rpmdb.sqlite",
        ],
    ),
    (
        "dnf",
        &["usr/bin/dnf", "usr/bin/dnf5", "usr/bin/dnf-3"],
        &[],
    ),
    ("yum", &["usr/bin/yum"], &[]),
    ("microdnf", &["usr/bin/microdnf"], &[]),
    (
        "pip",
        &[
            "usr/bin/pip",
            "usr/bin/pip3",
            "usr/local/bin/pip",
            "usr/local/bin/pip3",
        ],
        &[],
    ),
];

impl BaseImageFacts {
    /// Collect the facts from every entry of the squashed view.
    ///
    /// `user` is the image config's `User`; `passwd` the contents of `/etc/passwd` if the image has one.
    pub fn collect<'a>(
        entries: impl IntoIterator<Item = FsEntry<'a>>,
        resolver: &dyn PathResolver,
        user: &str,
        passwd: Option<&[u8]>,
    ) -> Self {
        let mut facts = BaseImageFacts {
            shells: Vec::new(),
            busybox_applets: 0,
            package_managers: Vec::new(),
            setuid: Vec::new(),
            setgid: Vec::new(),
            world_writable: Vec::new(),
            run_as: run_as(user, passwd),
            files: 0,
            directories: 0,
            symlinks: 0,
        };
        let mut applets: BTreeSet<(String, String)> = BTreeSet::new();
        let mut seen_paths: BTreeSet<String> = BTreeSet::new();

        for entry in entries {
            match entry.kind {
                EntryKind::File => facts.files += 1,
                EntryKind::Dir => facts.directories += 1,
                EntryKind::Symlink => facts.symlinks += 1,
                EntryKind::Other => {}
            }
            let mode_str = format!("{:o}", entry.mode & 0o7777);
            if entry.kind == EntryKind::File {
                let special = || SpecialFile {
                    path: format!("/{}", entry.path),
                    mode: mode_str.clone(),
                    uid: entry.uid,
                    gid: entry.gid,
                };
                if entry.mode & 0o4000 != 0 {
                    facts.setuid.push(special());
                }
                if entry.mode & 0o2000 != 0 {
                    facts.setgid.push(special());
                }
            }
            if entry.kind != EntryKind::Symlink && entry.mode & 0o002 != 0 {
                facts.world_writable.push(WorldWritable {
                    path: format!("/{}", entry.path),
                    kind: entry.kind,
                    mode: mode_str.clone(),
                    sticky: entry.mode & 0o1000 != 0,
                });
            }
            // A busybox applet is a symlink or hard link whose target is the busybox binary.
            if let Some(target) = entry.link_target {
                if basename(target) == "busybox" && basename(entry.path) != "busybox" {
                    applets.insert((basename(entry.path).to_owned(), format!("/{}", entry.path)));
                }
            }
            if entry.kind == EntryKind::File || entry.kind == EntryKind::Symlink {
                seen_paths.insert(entry.path.to_owned());
            }
        }
        facts.busybox_applets = applets.len();

        for name in SHELLS {
            let applet = applets.iter().find(|(applet, _)| applet == name);
            if let Some((_, path)) = applet {
                facts.shells.push(Shell {
                    name: (*name).to_owned(),
                    path: path.clone(),
                    busybox_applet: true,
                });
                continue;
            }
            let found = SHELL_DIRS
                .iter()
                .map(|dir| format!("{dir}/{name}"))
                .find(|p| seen_paths.contains(p.as_str()) && resolver.is_file(p));
            if let Some(path) = found {
                facts.shells.push(Shell {
                    name: (*name).to_owned(),
                    path: format!("/{path}"),
                    busybox_applet: false,
                });
            }
        }

        for (name, programs, databases) in PACKAGE_MANAGERS {
            let program = programs
                .iter()
                .find(|p| resolver.is_file(p))
                .map(|p| format!("/{p}"));
            let database = databases
                .iter()
                .find(|p| resolver.is_file(p) || seen_dir(&seen_paths, p))
                .map(|p| format!("/{p}"));
            if program.is_some() || database.is_some() {
                facts.package_managers.push(PackageManager {
                    name: (*name).to_owned(),
                    program,
                    database,
                });
            }
        }
        facts.setuid.sort();
        facts.setgid.sort();
        facts.world_writable.sort();
        facts
    }
}

impl BaseImageFacts {
    /// Distroless, as GoogleContainerTools builds it: packages recorded one file per package in dpkg's
    /// `status.d`, and no program at all to install or run anything else with (no shell, no package
    /// manager).
    pub fn is_distroless(&self) -> bool {
        self.shells.is_empty()
            && !self.package_managers.is_empty()
            && self.package_managers.iter().all(|m| m.program.is_none())
            && self
                .package_managers
                .iter()
                .any(|m| m.database.as_deref() == Some("/var/lib/dpkg/status.d"))
    }
}

/// True when some file lives under `dir/` (a database that is a folder, like dpkg's `status.d`).
fn seen_dir(paths: &BTreeSet<String>, dir: &str) -> bool {
    let prefix = format!("{dir}/");
    paths
        .range(prefix.clone()..)
        .next()
        .is_some_and(|p| p.starts_with(&prefix))
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Decide who the image runs as from the config's `User` (`name`, `uid`, `name:group`, `uid:gid`).
fn run_as(user: &str, passwd: Option<&[u8]>) -> RunAs {
    let name = user.split(':').next().unwrap_or("").trim();
    let uid = if name.is_empty() {
        Some(0)
    } else if let Ok(uid) = name.parse::<u64>() {
        Some(uid)
    } else {
        passwd
            .and_then(|p| lookup_uid(p, name))
            .or(if name == "root" { Some(0) } else { None })
    };
    // An unknown name is reported as not root but with no uid: the runtime would fail to start it.
    RunAs {
        user: user.to_owned(),
        uid,
        root: uid == Some(0),
    }
}

fn lookup_uid(passwd: &[u8], name: &str) -> Option<u64> {
    let text = String::from_utf8_lossy(passwd);
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        let entry_name = fields.next()?;
        let uid = fields.nth(1)?;
        (entry_name == name).then(|| uid.parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Files(Vec<&'static str>);
    impl PathResolver for Files {
        fn is_file(&self, path: &str) -> bool {
            self.0.contains(&path)
        }
    }

    fn file(path: &'static str, mode: u32) -> FsEntry<'static> {
        FsEntry {
            path,
            kind: EntryKind::File,
            mode,
            uid: 0,
            gid: 0,
            link_target: None,
        }
    }

    fn link(path: &'static str, target: &'static str) -> FsEntry<'static> {
        FsEntry {
            path,
            kind: EntryKind::Symlink,
            mode: 0o777,
            uid: 0,
            gid: 0,
            link_target: Some(target),
        }
    }

    #[test]
    fn alpine_like_busybox_image() {
        let entries = vec![
            file("bin/busybox", 0o755),
            link("bin/sh", "/bin/busybox"),
            link("bin/ls", "/bin/busybox"),
            file("sbin/apk", 0o755),
            file("lib/apk/db/installed", 0o644),
            file("bin/bbsuid", 0o4111),
            FsEntry {
                path: "tmp",
                kind: EntryKind::Dir,
                mode: 0o1777,
                uid: 0,
                gid: 0,
                link_target: None,
            },
            file("etc/oops", 0o666),
        ];
        let resolver = Files(vec![
            "bin/busybox",
            "bin/sh",
            "bin/ls",
            "sbin/apk",
            "lib/apk/db/installed",
        ]);
        let facts = BaseImageFacts::collect(entries, &resolver, "", None);
        assert_eq!(facts.busybox_applets, 2);
        assert_eq!(facts.shells.len(), 1);
        assert_eq!(facts.shells[0].name, "sh");
        assert!(facts.shells[0].busybox_applet);
        assert_eq!(facts.package_managers.len(), 1);
        assert_eq!(
            facts.package_managers[0].program.as_deref(),
            Some("/sbin/apk")
        );
        assert_eq!(facts.setuid.len(), 1);
        assert_eq!(facts.setuid[0].mode, "4111");
        let ww: Vec<_> = facts
            .world_writable
            .iter()
            .map(|w| (w.path.as_str(), w.sticky))
            .collect();
        assert_eq!(ww, vec![("/etc/oops", false), ("/tmp", true)]);
        assert!(facts.run_as.root);
        assert!(!facts.is_distroless());
    }

    #[test]
    fn distroless_like_image_has_database_but_no_program() {
        let entries = vec![
            link("bin", "usr/bin"),
            file("var/lib/dpkg/status.d/libc6", 0o644),
            file("usr/bin/openssl", 0o755),
        ];
        let resolver = Files(vec!["var/lib/dpkg/status.d/libc6", "usr/bin/openssl"]);
        let passwd = b"root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n";
        let facts = BaseImageFacts::collect(entries, &resolver, "nonroot", Some(passwd));
        assert!(facts.shells.is_empty());
        assert_eq!(facts.package_managers.len(), 1);
        assert_eq!(facts.package_managers[0].name, "dpkg");
        assert_eq!(facts.package_managers[0].program, None);
        assert_eq!(
            facts.package_managers[0].database.as_deref(),
            Some("/var/lib/dpkg/status.d")
        );
        assert_eq!(
            facts.run_as,
            RunAs {
                user: "nonroot".into(),
                uid: Some(65532),
                root: false
            }
        );
    }

    #[test]
    fn run_as_forms() {
        let passwd = b"root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n".as_slice();
        let check = |user: &str, uid: Option<u64>, root: bool| {
            let r = run_as(user, Some(passwd));
            assert_eq!((r.uid, r.root), (uid, root), "user {user:?}");
        };
        check("", Some(0), true);
        check("root", Some(0), true);
        check("0:0", Some(0), true);
        check("app", Some(1000), false);
        check("1000:1000", Some(1000), false);
        check("ghost", None, false);
    }

    #[test]
    fn real_shell_found_through_usr_merge() {
        let entries = vec![
            link("bin", "usr/bin"),
            file("usr/bin/bash", 0o755),
            file("usr/bin/dash", 0o755),
        ];
        let resolver = Files(vec!["usr/bin/bash", "usr/bin/dash", "bin/bash", "bin/dash"]);
        let facts = BaseImageFacts::collect(entries, &resolver, "", None);
        let names: Vec<_> = facts
            .shells
            .iter()
            .map(|s| (s.name.as_str(), s.path.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![("bash", "/usr/bin/bash"), ("dash", "/usr/bin/dash")]
        );
    }
}
