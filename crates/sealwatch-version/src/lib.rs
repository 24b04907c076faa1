//! Version orderings of every ecosystem sealwatch matches, exactly as each ecosystem defines
//! them, and the OSV range evaluation built on them.
//!
//! | ordering | ecosystems | source of truth |
//! |---|---|---|
//! | [`apk`] | Alpine, Wolfi, Chainguard, MinimOS | apk-tools 3 `version.c` |
//! | [`dpkg`] | Debian, Ubuntu | Debian Policy §5.6.12 |
//! | [`rpm`] | Red Hat, Rocky Linux, AlmaLinux, SUSE, openSUSE, Mageia, openEuler, Photon OS, Azure Linux | `rpmvercmp` + EVR |
//! | [`semver`] | npm, crates.io, Hex, Bitnami, OSV `SEMVER` ranges | SemVer 2.0 §11 |
//! | Go ([`semver::compare_go`]) | Go (`stdlib` as `go1.x` too) | SemVer with `v` |
//! | [`pep440`] | PyPI | PEP 440 (+ legacy fallback) |
//! | [`maven`] | Maven | Maven `ComparableVersion` |
//! | [`rubygems`] | RubyGems | `Gem::Version` |
//! | NuGet, Pub (in [`semver`]) | NuGet, Pub | NuGet SemVer, `pub_semver` |
//! | [`packagist`] | Packagist | PHP `version_compare` |
//! | CRAN, Hackage ([`numeric_list`]) | CRAN, Hackage | numeric lists |
//!
//! All comparators are written here: each is short and must be exact, and the candidate crates
//! are stricter than real advisory and package data (`semver` wants exactly three parts and no
//! `v`; `debversion` and `pep440_rs` reject strings that published histories contain, and
//! `pep440_rs` development moved into uv), or wrap GPL C code (`apk-version`). The conformance vectors in
//! `shared/conformance/versions/` are the test suite (see `tests/conformance.rs`).
//!
//! Pure: no I/O. Nothing here panics on input.
#![forbid(unsafe_code)]

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

pub mod apk;
pub mod dpkg;
pub mod maven;
mod numeric;
pub mod numeric_list;
pub mod packagist;
pub mod pep440;
pub mod range;
pub mod rpm;
pub mod rubygems;
pub mod semver;

pub use range::{
    check_affected, check_ranges, is_affected, range_scheme, AffectedVersions, Event, Range,
    RangeKind,
};

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VersionError {
    /// A version string that the ecosystem's grammar cannot order.
    #[error("invalid {scheme} version `{version}`: {reason}")]
    Invalid {
        scheme: &'static str,
        version: String,
        reason: &'static str,
    },
    /// An ecosystem name that sealwatch has no ordering for.
    #[error("unknown ecosystem `{0}`")]
    UnknownEcosystem(String),
}

impl VersionError {
    pub(crate) fn invalid(scheme: &'static str, version: &str, reason: &'static str) -> Self {
        VersionError::Invalid {
            scheme,
            version: version.to_owned(),
            reason,
        }
    }
}

/// A version ordering. Several ecosystems share one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    Apk,
    Dpkg,
    Rpm,
    SemVer,
    Go,
    Pep440,
    Maven,
    RubyGems,
    NuGet,
    Packagist,
    Pub,
    Cran,
    Hackage,
}

impl Scheme {
    /// Compare `a` and `b` under this ordering.
    pub fn compare(self, a: &str, b: &str) -> Result<Ordering, VersionError> {
        use semver::Flavor;
        match self {
            Scheme::Apk => {
                // apk-tools orders every string, but an empty one is no version at all.
                for v in [a, b] {
                    if v.is_empty() {
                        return Err(VersionError::invalid("apk", v, "empty version"));
                    }
                }
                Ok(apk::compare(a, b))
            }
            Scheme::Dpkg => dpkg::compare(a, b),
            Scheme::Rpm => rpm::compare(a, b),
            Scheme::SemVer => semver::compare_flavor(Flavor::SemVer, a, b),
            Scheme::Go => semver::compare_go(a, b),
            Scheme::Pep440 => Ok(pep440::compare(a, b)),
            Scheme::Maven => Ok(maven::compare(a, b)),
            Scheme::RubyGems => rubygems::compare(a, b),
            Scheme::NuGet => semver::compare_flavor(Flavor::NuGet, a, b),
            Scheme::Packagist => Ok(packagist::compare(a, b)),
            Scheme::Pub => semver::compare_flavor(Flavor::Pub, a, b),
            Scheme::Cran => numeric_list::compare_cran(a, b),
            Scheme::Hackage => numeric_list::compare_hackage(a, b),
        }
    }
}

macro_rules! ecosystems {
    ($($variant:ident = $name:literal => $scheme:ident),* $(,)?) => {
        /// An OSV ecosystem (the part of `affected[].package.ecosystem` before any `:`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Ecosystem {
            $(#[doc = $name] $variant,)*
        }

        impl Ecosystem {
            /// Every ecosystem sealwatch can order.
            pub const ALL: &'static [Ecosystem] = &[$(Ecosystem::$variant,)*];

            /// OSV's spelling of the ecosystem.
            pub fn name(self) -> &'static str {
                match self { $(Ecosystem::$variant => $name,)* }
            }

            /// The version ordering this ecosystem uses.
            pub fn scheme(self) -> Scheme {
                match self { $(Ecosystem::$variant => Scheme::$scheme,)* }
            }

            /// The ecosystem with exactly this OSV name (no release suffix).
            pub fn from_name(name: &str) -> Option<Ecosystem> {
                match name { $($name => Some(Ecosystem::$variant),)* _ => None }
            }
        }
    };
}

ecosystems! {
    Alpine = "Alpine" => Apk,
    Wolfi = "Wolfi" => Apk,
    Chainguard = "Chainguard" => Apk,
    MinimOs = "MinimOS" => Apk,
    Debian = "Debian" => Dpkg,
    Ubuntu = "Ubuntu" => Dpkg,
    RedHat = "Red Hat" => Rpm,
    RockyLinux = "Rocky Linux" => Rpm,
    AlmaLinux = "AlmaLinux" => Rpm,
    Suse = "SUSE" => Rpm,
    OpenSuse = "openSUSE" => Rpm,
    Mageia = "Mageia" => Rpm,
    OpenEuler = "openEuler" => Rpm,
    PhotonOs = "Photon OS" => Rpm,
    AzureLinux = "Azure Linux" => Rpm,
    PyPI = "PyPI" => Pep440,
    Npm = "npm" => SemVer,
    Go = "Go" => Go,
    CratesIo = "crates.io" => SemVer,
    Hex = "Hex" => SemVer,
    Bitnami = "Bitnami" => SemVer,
    Maven = "Maven" => Maven,
    RubyGems = "RubyGems" => RubyGems,
    NuGet = "NuGet" => NuGet,
    Packagist = "Packagist" => Packagist,
    Pub = "Pub" => Pub,
    Cran = "CRAN" => Cran,
    Hackage = "Hackage" => Hackage,
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Ecosystem {
    type Err = VersionError;

    /// Accepts a bare name or one with a release suffix (`Alpine:v3.20`); the suffix is dropped.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<EcosystemRelease>().map(|e| e.ecosystem)
    }
}

/// An OSV ecosystem string with its optional release suffix: `Alpine:v3.20`, `Debian:12`,
/// `Ubuntu:22.04:LTS` (release `22.04:LTS`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EcosystemRelease {
    pub ecosystem: Ecosystem,
    pub release: Option<String>,
}

impl FromStr for EcosystemRelease {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, release) = match s.split_once(':') {
            Some((name, release)) => (name, Some(release.to_owned()).filter(|r| !r.is_empty())),
            None => (s, None),
        };
        let ecosystem = Ecosystem::from_name(name)
            .ok_or_else(|| VersionError::UnknownEcosystem(s.to_owned()))?;
        Ok(EcosystemRelease { ecosystem, release })
    }
}

impl fmt::Display for EcosystemRelease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.release {
            Some(r) => write!(f, "{}:{r}", self.ecosystem),
            None => write!(f, "{}", self.ecosystem),
        }
    }
}

/// Serialized as OSV's string (`"Alpine:v3.20"`, `"PyPI"`).
macro_rules! serde_as_string {
    ($ty:ty, $what:literal) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                s.parse()
                    .map_err(|e: VersionError| serde::de::Error::custom(format!("{}: {e}", $what)))
            }
        }
    };
}

serde_as_string!(Ecosystem, "ecosystem");
serde_as_string!(EcosystemRelease, "ecosystem");

/// Compare two versions of a package in `ecosystem`.
pub fn compare(ecosystem: Ecosystem, a: &str, b: &str) -> Result<Ordering, VersionError> {
    ecosystem.scheme().compare(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecosystem_names_round_trip() {
        for &e in Ecosystem::ALL {
            assert_eq!(Ecosystem::from_name(e.name()), Some(e));
            assert_eq!(e.name().parse::<Ecosystem>(), Ok(e));
        }
    }

    #[test]
    fn release_suffixes() {
        let check = |s: &str, eco: Ecosystem, release: Option<&str>| {
            let parsed: EcosystemRelease = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(parsed.ecosystem, eco, "{s}");
            assert_eq!(parsed.release.as_deref(), release, "{s}");
            assert_eq!(parsed.to_string(), s);
        };
        check("Alpine:v3.20", Ecosystem::Alpine, Some("v3.20"));
        check("Debian:12", Ecosystem::Debian, Some("12"));
        check("Ubuntu:22.04:LTS", Ecosystem::Ubuntu, Some("22.04:LTS"));
        check("crates.io", Ecosystem::CratesIo, None);
        check("Red Hat", Ecosystem::RedHat, None);
        assert_eq!(
            "Linux".parse::<Ecosystem>(),
            Err(VersionError::UnknownEcosystem("Linux".into()))
        );
        assert!(
            "alpine".parse::<Ecosystem>().is_err(),
            "names are case-sensitive in OSV"
        );
    }

    #[test]
    fn parse_errors_name_the_version() {
        let check = |eco: Ecosystem, a: &str, b: &str, bad: &str| match compare(eco, a, b) {
            Err(VersionError::Invalid { version, .. }) => assert_eq!(version, bad),
            other => panic!("{eco} {a} vs {b}: expected an error, got {other:?}"),
        };
        check(Ecosystem::Debian, "x:1.0", "1.0", "x:1.0");
        check(Ecosystem::Npm, "1.0.0", "latest", "latest");
        check(Ecosystem::Cran, "1.0", "1.a", "1.a");
        check(Ecosystem::Alpine, "", "1.0", "");
        check(Ecosystem::RubyGems, "1.0", "", "");
    }
}
