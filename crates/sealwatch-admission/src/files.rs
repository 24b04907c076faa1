//! Reading policy and resource files from a file or a folder.
//!
//! A folder is read one level deep, skipping names that start with `.`: a ConfigMap volume
//! keeps its files behind `..data` symlinks, and a recursive walk would load them twice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sealwatch_policy::yaml::{Node, NodeValue};
use sealwatch_policy::{load_policies, Diagnostic, PolicySet, Severity};
use serde_json::Value;

use crate::namespaces::{namespace_object_labels, Labels, NAME_LABEL};
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

/// Labels per namespace name.
pub type NamespaceLabelMap = BTreeMap<String, Labels>;

/// The labels of the `Namespace` objects among `resources` (what `kyverno apply` uses for
/// `namespaceSelector`).
pub fn namespace_labels_from_resources(resources: &[Resource]) -> NamespaceLabelMap {
    resources
        .iter()
        .filter_map(|resource| namespace_object_labels(&resource.object))
        .collect()
}

fn values_error(file: &str, node: &Node, message: String) -> Error {
    Error::Values {
        file: file.to_owned(),
        line: node.pos.line,
        column: node.pos.column,
        message,
    }
}

fn mapping<'n>(file: &str, node: &'n Node, what: &str) -> Result<&'n [(Node, Node)], Error> {
    match &node.value {
        NodeValue::Map(entries) => Ok(entries),
        _ => Err(values_error(
            file,
            node,
            format!("{what} must be a mapping, found {}", node.type_name()),
        )),
    }
}

fn scalar<'n>(file: &str, node: &'n Node, what: &str) -> Result<&'n str, Error> {
    match &node.value {
        NodeValue::Scalar { text, .. } if !node.is_null() => Ok(text),
        _ => Err(values_error(
            file,
            node,
            format!("{what} must be a string, found {}", node.type_name()),
        )),
    }
}

/// Reads the `namespaceSelector` list of a Kyverno CLI values file (`kyverno apply
/// --values-file`): `[{name, labels}]`, with or without `apiVersion: cli.kyverno.io/v1alpha1`
/// and `kind: Values`. The other sections of that file (`policies`, `globalValues`,
/// `subresources`) set variables that sealwatch's policies cannot use, so they are errors
/// rather than silently ignored.
pub fn parse_values_file(file: &str, bytes: &[u8]) -> Result<NamespaceLabelMap, Error> {
    let text = std::str::from_utf8(bytes).map_err(|e| Error::Values {
        file: file.to_owned(),
        line: 1,
        column: 1,
        message: format!("file is not UTF-8: {e}"),
    })?;
    let (documents, syntax_error) = sealwatch_policy::yaml::parse_stream(text);
    if let Some(error) = syntax_error {
        return Err(Error::Values {
            file: file.to_owned(),
            line: error.pos.line,
            column: error.pos.column,
            message: error.message,
        });
    }
    let mut namespaces = NamespaceLabelMap::new();
    for document in documents.iter().filter(|d| !d.root.is_null()) {
        for (key, value) in mapping(file, &document.root, "a values file")? {
            match scalar(file, key, "a key")? {
                "apiVersion" => {
                    let version = scalar(file, value, "apiVersion")?;
                    if version != "cli.kyverno.io/v1alpha1" {
                        return Err(values_error(
                            file,
                            value,
                            format!("apiVersion {version:?}, expected cli.kyverno.io/v1alpha1"),
                        ));
                    }
                }
                "kind" => {
                    let kind = scalar(file, value, "kind")?;
                    if kind != "Values" {
                        return Err(values_error(
                            file,
                            value,
                            format!("kind {kind:?}, expected Values"),
                        ));
                    }
                }
                "metadata" => {}
                "namespaceSelector" => {
                    let NodeValue::Seq(items) = &value.value else {
                        return Err(values_error(
                            file,
                            value,
                            format!("namespaceSelector must be a list, found {}", value.type_name()),
                        ));
                    };
                    for item in items {
                        let (name, labels) = namespace_entry(file, item)?;
                        namespaces.insert(name, labels);
                    }
                }
                other => {
                    return Err(values_error(
                        file,
                        key,
                        format!(
                            "{other:?} is not supported: sealwatch reads only namespaceSelector from a values file"
                        ),
                    ))
                }
            }
        }
    }
    Ok(namespaces)
}

fn namespace_entry(file: &str, item: &Node) -> Result<(String, Labels), Error> {
    let mut name = None;
    let mut labels = Labels::new();
    for (key, value) in mapping(file, item, "a namespaceSelector entry")? {
        match scalar(file, key, "a key")? {
            "name" => name = Some(scalar(file, value, "name")?.to_owned()),
            "labels" => {
                for (label, label_value) in mapping(file, value, "labels")? {
                    labels.insert(
                        scalar(file, label, "a label name")?.to_owned(),
                        scalar(file, label_value, "a label value")?.to_owned(),
                    );
                }
            }
            other => {
                return Err(values_error(
                    file,
                    key,
                    format!("unknown field {other:?} in a namespaceSelector entry (name, labels)"),
                ))
            }
        }
    }
    let Some(name) = name else {
        return Err(values_error(
            file,
            item,
            "namespaceSelector entry without a name".into(),
        ));
    };
    labels
        .entry(NAME_LABEL.to_owned())
        .or_insert_with(|| name.clone());
    Ok((name, labels))
}

/// Reads a values file (see [`parse_values_file`]).
pub fn load_values_file(path: &Path) -> Result<NamespaceLabelMap, Error> {
    let bytes = std::fs::read(path).map_err(|e| read_error(path, e))?;
    parse_values_file(&path.display().to_string(), &bytes)
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

    #[test]
    fn values_files_give_namespace_labels_or_a_located_error() {
        let labels = |pairs: &[(&str, &str)]| -> Labels {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let good = "apiVersion: cli.kyverno.io/v1alpha1\nkind: Values\nnamespaceSelector:\n  - name: prod\n    labels:\n      env: prod\n  - name: bare\n";
        let parsed = parse_values_file("v.yaml", good.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let mut expect = NamespaceLabelMap::new();
        expect.insert(
            "prod".into(),
            labels(&[("env", "prod"), (NAME_LABEL, "prod")]),
        );
        expect.insert("bare".into(), labels(&[(NAME_LABEL, "bare")]));
        assert_eq!(parsed, expect);
        // The older form without apiVersion/kind.
        let old = "namespaceSelector:\n- name: dev\n  labels: {env: dev}\n";
        let parsed = parse_values_file("v.yaml", old.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            parsed.get("dev"),
            Some(&labels(&[("env", "dev"), (NAME_LABEL, "dev")]))
        );
        let check_error =
            |text: &str, expect: &str| match parse_values_file("v.yaml", text.as_bytes()) {
                Ok(parsed) => panic!("{text}: accepted as {parsed:?}"),
                Err(error) => assert_eq!(error.to_string(), expect, "{text}"),
            };
        check_error(
            "namespaceSelector:\n  - labels: {env: prod}\n",
            "v.yaml:2:5: namespaceSelector entry without a name",
        );
        check_error(
            "globalValues:\n  request.operation: CREATE\n",
            "v.yaml:1:1: \"globalValues\" is not supported: sealwatch reads only namespaceSelector from a values file",
        );
        check_error("kind: Test\n", "v.yaml:1:7: kind \"Test\", expected Values");
        check_error(
            "namespaceSelector:\n  - name: a\n    labels: [x]\n",
            "v.yaml:3:13: labels must be a mapping, found list",
        );
        match parse_values_file("v.yaml", b"namespaceSelector: [\n") {
            Err(error @ Error::Values { line: 2, .. }) => {
                assert!(error.to_string().starts_with("v.yaml:2:"), "{error}")
            }
            other => panic!("syntax error not reported at its line: {other:?}"),
        }
    }
}
