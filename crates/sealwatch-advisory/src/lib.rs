//! OSV advisory model, CVSS to severity, matching packages to advisories, report model and SBOM/SARIF
//! serialisers. Pure: no I/O.
