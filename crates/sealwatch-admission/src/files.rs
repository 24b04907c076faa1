//! Reading policy and resource files from a file or a folder.
//!
//! A folder is read one level deep, skipping names that start with `.`: a ConfigMap volume
//! keeps its files behind `..data` symlinks, and a recursive walk would load them twice.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sealwatch_policy::{load_policies, Diagnostic, PolicySet, Severity};
use serde_json::Value;

use crate::Error;

fn is_manifest(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

fn read_error(path: &Path, source: std::io::Error) -> Error {
    Error::Read {
        path: path.to_owned(),
        source,
    }
}

/// The manifest files at `path` (the file itself, or the folder's `*.yaml|yml|json`), sorted.
pub fn manifest_files(path: &Path) -> Result<Vec<PathBuf>, Error> {
    let metadata = std::fs::metadata(path).map_err(|e| read_error(path, e))?;
    if !metadata.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(|e| read_error(path, e))? {
        let entry = entry.map_err(|e| read_error(path, e))?;
        let file = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !hidden && is_manifest(&file) && file.is_file() {
            files.push(file);
        }
    }
    files.sort();
    Ok(files)
}

/// What identifies the state of a policy folder: file names, sizes and modification times.
pub type Fingerprint = Vec<(PathBuf, u64, Option<SystemTime>)>;

/// The fingerprint of the manifest files at `path`.
pub fn fingerprint(path: &Path) -> Result<Fingerprint, Error> {
    manifest_files(path)?
        .into_iter()
        .map(|file| {
            let metadata = std::fs::metadata(&file).map_err(|e| read_error(&file, e))?;
            Ok((file, metadata.len(), metadata.modified().ok()))
        })
        .collect()
}

/// Policies loaded from a file or folder, with every diagnostic of every file.
#[derive(Debug, Default)]
pub struct LoadedPolicies {
    pub set: PolicySet,
    pub diagnostics: Vec<Diagnostic>,
    pub files: Vec<PathBuf>,
}

impl LoadedPolicies {
    /// True when a diagnostic has error severity (some policy or field was not loaded).
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
}

/// Loads every policy file at `path`.
pub fn load_policy_path(path: &Path) -> Result<LoadedPolicies, Error> {
    let mut loaded = LoadedPolicies::default();
    for file in manifest_files(path)? {
        let bytes = std::fs::read(&file).map_err(|e| read_error(&file, e))?;
        let (set, diagnostics) = load_policies(&file.display().to_string(), &bytes);
        loaded.set.extend(set);
        loaded.diagnostics.extend(diagnostics);
        loaded.files.push(file);
    }
    Ok(loaded)
}

/// One Kubernetes resource read from a manifest file.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// `file` or `file#index` for multi-document files.
    pub source: String,
    pub object: Value,
}

/// Reads every resource (YAML or JSON documents; `List` items expanded) at `path`. Syntax
/// errors of all files are collected with file:line:column.
pub fn load_resources(path: &Path) -> Result<(Vec<Resource>, Vec<Error>), Error> {
    let mut resources = Vec::new();
    let mut errors = Vec::new();
    for file in manifest_files(path)? {
        let bytes = std::fs::read(&file).map_err(|e| read_error(&file, e))?;
        let name = file.display().to_string();
        let (found, problems) = parse_resources(&name, &bytes);
        resources.extend(found);
        errors.extend(problems);
    }
    Ok((resources, errors))
}

/// Parses the resources of one manifest file (pure).
pub fn parse_resources(file: &str, bytes: &[u8]) -> (Vec<Resource>, Vec<Error>) {
    let mut resources = Vec::new();
    let mut errors = Vec::new();
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            errors.push(Error::Manifest {
                file: file.to_owned(),
                line: 1,
                column: 1,
                message: format!("file is not UTF-8: {error}"),
            });
            return (resources, errors);
        }
    };
    let (documents, syntax_error) = sealwatch_policy::yaml::parse_stream(text);
    if let Some(error) = syntax_error {
        errors.push(Error::Manifest {
            file: file.to_owned(),
            line: error.pos.line,
            column: error.pos.column,
            message: error.message,
        });
    }
    let several = documents.len() > 1;
    for (index, document) in documents.iter().enumerate() {
        let value = document.root.to_json();
        if value.is_null() {
            continue;
        }
        let source = if several {
            format!("{file}#{index}")
        } else {
            file.to_owned()
        };
        match value.get("items").and_then(Value::as_array) {
            Some(items) if value.get("kind").and_then(Value::as_str) == Some("List") => {
                for (item_index, item) in items.iter().enumerate() {
                    resources.push(Resource {
                        source: format!("{source}.items[{item_index}]"),
                        object: item.clone(),
                    });
                }
            }
            _ => resources.push(Resource {
                source,
                object: value,
            }),
        }
    }
    (resources, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_multi_document_and_list_manifests() {
        let check = |text: &str, expect: &[(&str, &str)], expect_errors: usize| {
            let (resources, errors) = parse_resources("m.yaml", text.as_bytes());
            let got: Vec<(String, String)> = resources
                .iter()
                .map(|r| {
                    (
                        r.source.clone(),
                        r.object["kind"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            let expect: Vec<(String, String)> = expect
                .iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect();
            assert_eq!(got, expect, "{text}");
            assert_eq!(errors.len(), expect_errors, "{text}: {errors:?}");
        };
        check("kind: Pod\n", &[("m.yaml", "Pod")], 0);
        check(
            "kind: Pod\n---\nkind: Deployment\n",
            &[("m.yaml#0", "Pod"), ("m.yaml#1", "Deployment")],
            0,
        );
        check(
            "kind: List\nitems:\n- kind: Pod\n- kind: CronJob\n",
            &[("m.yaml.items[0]", "Pod"), ("m.yaml.items[1]", "CronJob")],
            0,
        );
        check("kind: Pod\n---\nkind: [\n", &[("m.yaml", "Pod")], 1);
    }
}
