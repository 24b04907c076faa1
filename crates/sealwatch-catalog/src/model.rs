//! What a catalog run produces: packages, the detected OS, and diagnostics about bad input.

use serde::Serialize;

/// The ecosystem a package belongs to; decides its PURL type and which advisories apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageKind {
    Apk,
    Deb,
    Rpm,
    Python,
    Npm,
    Go,
    Cargo,
    Maven,
    Gem,
    Nuget,
    Composer,
}

impl PackageKind {
    /// The PURL type (<https://github.com/package-url/purl-spec>).
    pub fn purl_type(self) -> &'static str {
        match self {
            Self::Apk => "apk",
            Self::Deb => "deb",
            Self::Rpm => "rpm",
            Self::Python => "pypi",
            Self::Npm => "npm",
            Self::Go => "golang",
            Self::Cargo => "cargo",
            Self::Maven => "maven",
            Self::Gem => "gem",
            Self::Nuget => "nuget",
            Self::Composer => "composer",
        }
    }

    /// OS packages come from the distribution's package manager.
    pub fn is_os(self) -> bool {
        matches!(self, Self::Apk | Self::Deb | Self::Rpm)
    }
}

/// Where a package record was read from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Location {
    /// Normalised path of the file (`lib/apk/db/installed`, `usr/bin/app`).
    pub path: String,
    /// The layer digest that file came from, when the tree knows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
}

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Package {
    pub kind: PackageKind,
    /// Name as the ecosystem spells it (Maven: `group:artifact`; Go: module path).
    pub name: String,
    /// Full version in the ecosystem's own ordering: dpkg `[epoch:]upstream[-revision]`, rpm
    /// `[epoch:]version-release`, apk `1.2.3-r0`.
    pub version: String,
    /// rpm only: the parts of `version`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// Source package (apk origin, dpkg `Source:`, rpm source RPM name); advisories are keyed by it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// The license text as declared by the package.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_declared: Option<String>,
    /// The declared license as an SPDX expression, when every part maps to an SPDX id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_spdx: Option<String>,
    /// Maintainer or vendor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supplier: Option<String>,
    /// dpkg `Multi-Arch`, rpm modularity label and similar one-off attributes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multi_arch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modularity_label: Option<String>,
    /// Integrity value the ecosystem recorded (Go `h1:` sum, apk `Q1` checksum).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    /// Declared dependencies; each entry lists alternatives (`a | b`), by name or provided capability.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends: Vec<Vec<String>>,
    /// Capabilities this package provides besides its name (apk `p:`, rpm PROVIDENAME).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub provides: Vec<String>,
    /// Files the package owns (OS packages), normalised without a leading `/`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// Package URL.
    pub purl: String,
    pub location: Location,
}

impl Package {
    /// A package with only the identifying fields set; analyzers fill in the rest and the PURL.
    pub fn new(
        kind: PackageKind,
        name: impl Into<String>,
        version: impl Into<String>,
        location: Location,
    ) -> Self {
        Self {
            kind,
            name: name.into(),
            version: version.into(),
            epoch: None,
            release: None,
            source_name: None,
            source_version: None,
            arch: None,
            license_declared: None,
            license_spdx: None,
            supplier: None,
            multi_arch: None,
            modularity_label: None,
            checksum: None,
            depends: Vec::new(),
            provides: Vec::new(),
            files: Vec::new(),
            purl: String::new(),
            location,
        }
    }
}

/// The operating system of the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OsInfo {
    /// `os-release` `ID` (`alpine`, `debian`, `ubuntu`, `rhel`, `sles`, `mariner`, ...).
    pub id: String,
    /// The most precise version known: `/etc/alpine-release` (3.20.3), `/etc/debian_version` (12.15), else
    /// `VERSION_ID`.
    pub version: Option<String>,
    /// `os-release` `VERSION_ID` (`3.20.3`, `12`); used in PURL `distro` qualifiers.
    pub version_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pretty_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codename: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub id_like: Vec<String>,
    /// A Debian-based image with packages in `status.d` and no package manager.
    pub distroless: bool,
}

impl OsInfo {
    /// The PURL `distro` qualifier value, e.g. `alpine-3.20.3`, `debian-12`.
    pub fn distro_qualifier(&self) -> Option<String> {
        let version = self.version_id.as_ref().or(self.version.as_ref())?;
        Some(format!("{}-{}", self.id, version))
    }
}

/// A problem with one input file; the analyzers keep going.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Diagnostic {
    pub path: String,
    /// 1-based line, for line-oriented files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub message: String,
}

impl Diagnostic {
    pub fn new(path: &str, line: Option<usize>, message: impl Into<String>) -> Self {
        Self {
            path: path.to_owned(),
            line,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.path, line, self.message),
            None => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

/// The result of cataloging one tree.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Catalog {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os: Option<OsInfo>,
    /// Sorted by kind, name, version, location.
    pub packages: Vec<Package>,
    /// Language packages not reported because an OS package owns the file they were read from.
    pub skipped_os_owned: usize,
    pub diagnostics: Vec<Diagnostic>,
}
