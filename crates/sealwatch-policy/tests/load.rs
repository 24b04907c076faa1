//! Loading Kyverno policies: the seed, the keyed example, and diagnostics for bad files.

use sealwatch_policy::model::{
    AttestorKind, FailureAction, FailurePolicy, KeySource, PolicySource, DEFAULT_REKOR_URL,
};
use sealwatch_policy::{load_policies, Diagnostic, PolicySet, Severity};

fn load(text: &str) -> (PolicySet, Vec<Diagnostic>) {
    load_policies("policy.yaml", text.as_bytes())
}

fn example(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/policies")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn seed_policy_loads_unchanged_with_zero_diagnostics() {
    let Some(path) = sealwatch_test::require_shared("conformance/kyverno/seed-policy.yaml") else {
        return;
    };
    let bytes = std::fs::read(&path).unwrap_or_default();
    let (set, diagnostics) = load_policies("seed-policy.yaml", &bytes);
    assert_eq!(diagnostics, vec![]);
    let [policy] = set.policies.as_slice() else {
        panic!("expected one policy, got {}", set.policies.len())
    };
    assert_eq!(policy.name, "verify-image-signatures");
    assert_eq!(policy.source, PolicySource::KyvernoClusterPolicy);
    assert_eq!(policy.failure_action, FailureAction::Enforce);
    assert_eq!(policy.failure_policy, FailurePolicy::Fail);
    assert_eq!(policy.timeout_seconds, 30);
    let names: Vec<&str> = policy.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "verify-cosign-signature",
            "autogen-verify-cosign-signature",
            "autogen-cronjob-verify-cosign-signature"
        ]
    );
    let generated_kinds: Vec<Vec<String>> = policy.rules[1..]
        .iter()
        .map(|rule| {
            rule.match_resources.any[0]
                .kinds
                .iter()
                .map(|k| k.kind.clone())
                .collect()
        })
        .collect();
    assert_eq!(
        generated_kinds,
        vec![
            vec![
                "DaemonSet",
                "Deployment",
                "Job",
                "StatefulSet",
                "ReplicaSet",
                "ReplicationController"
            ],
            vec!["CronJob"]
        ]
    );
    let check = &policy.rules[0].image_checks[0];
    assert_eq!(check.image_references, ["ghcr.io/your-org/*"]);
    assert!(check.mutate_digest && check.verify_digest && check.required && check.use_cache);
    assert_eq!(check.failure_action, None);
    let [set] = check.attestor_sets.as_slice() else {
        panic!("one attestor set expected")
    };
    assert_eq!(set.required_count(), 1);
    let AttestorKind::Keyless(keyless) = &set.entries[0].kind else {
        panic!("keyless expected: {:?}", set.entries[0].kind)
    };
    assert_eq!(
        keyless.issuer.as_deref(),
        Some("https://token.actions.githubusercontent.com")
    );
    assert_eq!(
        keyless.subject.as_deref(),
        Some("https://github.com/your-org/*")
    );
    assert_eq!(keyless.rekor.url, "https://rekor.sigstore.dev");
    assert!(!keyless.ctlog.ignore_sct);
}

#[test]
fn keyed_example_loads() {
    let (set, diagnostics) = load(&example("verify-image-signatures-keyed.yaml"));
    assert_eq!(diagnostics, vec![]);
    let policy = &set.policies[0];
    assert_eq!(policy.rules.len(), 3);
    let entries = &policy.rules[0].image_checks[0].attestor_sets[0].entries;
    let [entry] = entries.as_slice() else {
        panic!("one entry expected")
    };
    let AttestorKind::Key(key) = &entry.kind else {
        panic!("key expected")
    };
    let KeySource::Pem(pem) = &key.source else {
        panic!("PEM expected")
    };
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\nMFkw"), "{pem}");
    assert!(pem.ends_with("-----END PUBLIC KEY-----\n"));
    assert_eq!(key.rekor.url, DEFAULT_REKOR_URL);
}

const TWO_KEYS: &str = r#"
apiVersion: kyverno.io/v1
kind: Policy
metadata:
  name: two-keys
  namespace: team-a
  annotations:
    pod-policies.kyverno.io/autogen-controllers: none
spec:
  webhookConfiguration:
    failurePolicy: Ignore
    timeoutSeconds: 5
  rules:
    - name: keys
      match:
        resources:
          kinds: [Pod]
      verifyImages:
        - imageReferences: ["*"]
          failureAction: Enforce
          mutateDigest: false
          attestors:
            - count: 1
              entries:
                - keys:
                    publicKeys: |
                      -----BEGIN PUBLIC KEY-----
                      AAAA
                      -----END PUBLIC KEY-----
                      -----BEGIN PUBLIC KEY-----
                      BBBB
                      -----END PUBLIC KEY-----
                    signatureAlgorithm: sha512
                    rekor:
                      ignoreTlog: true
                    ctlog:
                      ignoreSCT: true
                - keys:
                    publicKeys: k8s://cosign/team-key
"#;

#[test]
fn several_pem_blocks_expand_into_entries_and_count_applies_across_them() {
    let (set, diagnostics) = load(TWO_KEYS);
    assert_eq!(diagnostics, vec![]);
    let policy = &set.policies[0];
    assert_eq!(policy.namespace.as_deref(), Some("team-a"));
    assert_eq!(policy.qualified_name(), "team-a/two-keys");
    assert_eq!(policy.failure_policy, FailurePolicy::Ignore);
    assert_eq!(policy.timeout_seconds, 5);
    // `none` disables autogen.
    assert_eq!(policy.rules.len(), 1);
    let set = &policy.rules[0].image_checks[0].attestor_sets[0];
    assert_eq!(set.entries.len(), 3);
    assert_eq!(set.required_count(), 1);
    let sources: Vec<(String, Option<&str>, bool)> = set
        .entries
        .iter()
        .map(|entry| match &entry.kind {
            AttestorKind::Key(key) => {
                let source = match &key.source {
                    KeySource::Pem(pem) => pem.lines().nth(1).unwrap_or_default().to_owned(),
                    KeySource::Secret { namespace, name } => format!("{namespace}/{name}"),
                    KeySource::Kms(uri) => uri.clone(),
                };
                (
                    source,
                    key.signature_algorithm.as_deref(),
                    key.rekor.ignore_tlog,
                )
            }
            other => (format!("{other:?}"), None, false),
        })
        .collect();
    assert_eq!(
        sources,
        vec![
            ("AAAA".to_owned(), Some("sha512"), true),
            ("BBBB".to_owned(), Some("sha512"), true),
            ("cosign/team-key".to_owned(), None, false),
        ]
    );
}

/// Every problem in one file is reported at once, each at its line and column.
#[test]
fn bad_policy_reports_every_problem_with_line_and_column() {
    let text = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: broken
spec:
  validationFailureAction: Sometimes
  webhookTimeoutSeconds: 45
  bogusSpecField: 1
  rules:
    - name: r1
      match:
        any:
          - resources:
              kinds: Pod
              operations: [CREATE, PATCH]
      verifyImages:
        - imageReferences: ["ghcr.io/*"]
          mutateDigest: "yes"
          attestors:
            - count: 3
              entries:
                - keyless:
                    subject: "x"
                    rekor: {}
                  keys:
                    publicKeys: "nope"
          attestations:
            - type: https://cosign.sigstore.dev/attestation/vuln/v1
              conditions:
                - all:
                    - key: "{{ scanner.result[0:1] }}"
                      operator: Equals
                      value: 0
                    - key: "{{ scanner.result.summary.criticalCount }}"
                      operator: EqualsIsh
                      value: 0
      imageExtractors:
        Pod: {}
"#;
    let (set, diagnostics) = load(text);
    let got: Vec<(usize, usize, Severity, &str)> = diagnostics
        .iter()
        .map(|d| (d.line, d.column, d.severity, d.message.as_str()))
        .collect();
    let expect: &[(usize, usize, &str)] = &[
        (6, 28, "spec.validationFailureAction: \"Sometimes\" is not Audit or Enforce"),
        (7, 26, "spec.webhookTimeoutSeconds: 45 is outside 1..30 seconds"),
        (8, 3, "spec.bogusSpecField: unknown field"),
        (14, 22, "spec.rules[0].match.any[0].resources.kinds: expected a list of strings, found string"),
        (15, 36, "spec.rules[0].match.any[0].resources.operations[1]: \"PATCH\" is not CREATE, UPDATE, DELETE or CONNECT"),
        (18, 25, "spec.rules[0].verifyImages[0].mutateDigest: expected a boolean, found string"),
        (20, 22, "spec.rules[0].verifyImages[0].attestors[0].count: 3 is greater than the number of entries (0)"),
        (22, 19, "spec.rules[0].verifyImages[0].attestors[0].entries[0]: exactly one of keys, keyless, certificates or attestor is required (found keys, keyless)"),
        (24, 28, "spec.rules[0].verifyImages[0].attestors[0].entries[0].keyless.rekor.url: required"),
        (26, 21, "spec.rules[0].verifyImages[0].attestors[0].entries[0].keys.publicKeys: no PEM public key block found"),
        (31, 28, "spec.rules[0].verifyImages[0].attestations[0].conditions[0].all[0].key: unsupported JMESPath expression"),
        (35, 33, "spec.rules[0].verifyImages[0].attestations[0].conditions[0].all[1].operator: unknown operator \"EqualsIsh\""),
        (37, 7, "spec.rules[0].imageExtractors: not supported by sealwatch"),
    ];
    for (line, column, message) in expect {
        assert!(
            got.iter().any(|(l, c, s, m)| l == line
                && c == column
                && *s == Severity::Error
                && m.starts_with(message)),
            "missing {line}:{column} {message}\n got: {got:#?}"
        );
    }
    assert_eq!(
        got.len(),
        expect.len(),
        "unexpected extra diagnostics: {got:#?}"
    );
    // Display gives file:line:column.
    assert!(diagnostics[0]
        .to_string()
        .starts_with("policy.yaml:6:28: error: spec.validationFailureAction"));
    // The policy itself still loads (with defaults where values were bad).
    assert_eq!(set.policies.len(), 1);
}

#[test]
fn streams_with_other_kinds_syntax_errors_and_deprecations() {
    let text = r#"apiVersion: v1
kind: ConfigMap
metadata: {name: not-a-policy}
---
apiVersion: policies.kyverno.io/v1
kind: ImageValidatingPolicy
metadata: {name: ivpol}
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: old-style
spec:
  failurePolicy: Ignore
  webhookConfiguration:
    failurePolicy: Fail
  rules:
    - name: validate-only
      match: {any: [{resources: {kinds: [Pod]}}]}
      validate: {message: x}
    - name: images
      match: {any: [{resources: {kinds: [Pod], names: ["web-*"]}}]}
      verifyImages:
        - image: "ghcr.io/*"
          mutateDigest: false
          attestations:
            - predicateType: https://slsa.dev/provenance/v0.2
---
key: [unclosed
"#;
    let (set, diagnostics) = load(text);
    let summary: Vec<String> = diagnostics
        .iter()
        .map(|d| format!("{}:{} {:?} {}", d.line, d.column, d.severity, d.message))
        .collect();
    let expect = [
        "1:1 Error kind \"ConfigMap\" is not a Kyverno ClusterPolicy or Policy",
        "5:1 Error kind ImageValidatingPolicy (policies.kyverno.io) is not supported yet",
        "14:18 Error spec.failurePolicy and spec.webhookConfiguration.failurePolicy are both set",
        "20:18 Error spec.rules[0].validate: validate rules are not supported",
        "24:18 Warning spec.rules[1].verifyImages[0].image: deprecated; use imageReferences",
        "27:30 Warning spec.rules[1].verifyImages[0].attestations[0].predicateType: deprecated; use type",
        "YAML syntax error",
    ];
    for prefix in expect {
        assert!(
            summary
                .iter()
                .any(|s| s.starts_with(prefix)
                    || (prefix == "YAML syntax error" && s.contains(prefix))),
            "missing {prefix:?} in {summary:#?}"
        );
    }
    assert_eq!(summary.len(), expect.len(), "{summary:#?}");
    let [policy] = set.policies.as_slice() else {
        panic!("one policy expected")
    };
    // The webhookConfiguration spelling wins; the validate rule is left out; a rule with names
    // is not autogenerated.
    assert_eq!(policy.failure_policy, FailurePolicy::Fail);
    let names: Vec<&str> = policy.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["images"]);
    let check = &policy.rules[0].image_checks[0];
    assert_eq!(check.image_references, ["ghcr.io/*"]);
    assert_eq!(
        check.attestations[0].predicate_type,
        "https://slsa.dev/provenance/v0.2"
    );
}

#[test]
fn audit_with_mutate_digest_is_rejected_like_kyverno() {
    let text = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: p}
spec:
  rules:
    - name: r
      match: {any: [{resources: {kinds: [Pod]}}]}
      verifyImages:
        - imageReferences: ["*"]
          failureAction: Audit
"#;
    let (_, diagnostics) = load(text);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    assert_eq!((diagnostics[0].line, diagnostics[0].column), (9, 11));
    assert!(diagnostics[0]
        .message
        .ends_with("mutateDigest must be set to false for 'Audit' failure action"));
}

#[test]
fn non_utf8_and_hostile_input_are_diagnostics_not_panics() {
    let (set, diagnostics) = load_policies("bin.yaml", &[0xff, 0xfe, 0x00]);
    assert!(set.policies.is_empty());
    assert_eq!(diagnostics.len(), 1);
    for text in [
        "",
        "---\n---\n",
        "[]",
        "spec: {rules: 5}",
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: 5\nspec: 7\n",
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: x}\nspec: {rules: [1, [], {name: [x]}]}\n",
        "a: &a [*a]",
        "{{{{",
    ] {
        let (_, diagnostics) = load(text);
        for diagnostic in &diagnostics {
            assert!(diagnostic.line >= 1 && diagnostic.column >= 1, "{diagnostic}");
        }
    }
}

/// Every prefix of the seed policy (a cheap stand-in for fuzzing): never a panic, and every
/// diagnostic has a position inside the input.
#[test]
fn every_truncation_of_a_policy_loads_without_panicking() {
    let text = example("verify-image-signatures-keyed.yaml");
    let lines = text.lines().count() + 1;
    for end in (0..=text.len()).filter(|end| text.is_char_boundary(*end)) {
        let (_, diagnostics) = load(&text[..end]);
        for diagnostic in &diagnostics {
            assert!(
                diagnostic.line >= 1 && diagnostic.line <= lines,
                "{end}: {diagnostic}"
            );
        }
    }
}

#[test]
fn deprecated_operators_load_with_warnings() {
    let text = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: p}
spec:
  rules:
    - name: r
      match: {any: [{resources: {kinds: [Pod]}}]}
      verifyImages:
        - imageReferences: ["*"]
          attestations:
            - type: https://slsa.dev/provenance/v1
              conditions:
                - any:
                    - {key: "{{ buildType }}", operator: Equal, value: "x"}
                    - {key: "{{ builder.id }}", operator: In, value: ["a", "b"]}
                    - {key: "{{ builder.id }}", operator: AnyIn, value: ["a", "b"]}
"#;
    let (set, diagnostics) = load(text);
    let got: Vec<(usize, Severity, &str)> = diagnostics
        .iter()
        .map(|d| (d.line, d.severity, d.message.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (14, Severity::Warning, "spec.rules[0].verifyImages[0].attestations[0].conditions[0].any[0].operator: Equal is deprecated; use Equals"),
            (15, Severity::Warning, "spec.rules[0].verifyImages[0].attestations[0].conditions[0].any[1].operator: In is deprecated; use AllIn or AnyIn"),
        ]
    );
    let conditions = &set.policies[0].rules[0].image_checks[0].attestations[0].conditions;
    assert_eq!(conditions[0].any.len(), 3);
}

#[test]
fn nested_attestors_certificates_and_notary_rules() {
    let text = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: p}
spec:
  rules:
    - name: cosign
      match: {any: [{resources: {kinds: [Pod]}}]}
      verifyImages:
        - imageReferences: ["*"]
          repository: registry.example.com/signatures
          useCache: false
          attestors:
            - count: 1
              entries:
                - attestor:
                    entries:
                      - keyless: {roots: "PEM", subjectRegExp: ".*@example\\.com", issuerRegExp: ".*"}
                  repository: registry.example.com/other
                  annotations: {env: prod}
                - certificates:
                    cert: "-----BEGIN CERTIFICATE-----"
                    rekor: {url: "https://rekor.example.com", ignoreTlog: true}
    - name: notary
      match: {any: [{resources: {kinds: [Pod]}}]}
      verifyImages:
        - type: Notary
          imageReferences: ["*"]
          attestors:
            - entries:
                - keyless: {roots: "PEM"}
                - certificates: {}
"#;
    let (set, diagnostics) = load(text);
    let got: Vec<(usize, &str)> = diagnostics
        .iter()
        .map(|d| (d.line, d.message.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (30, "spec.rules[1].verifyImages[0].attestors[0].entries[0]: Notary verification accepts only certificates"),
            (31, "spec.rules[1].verifyImages[0].attestors[0].entries[1].certificates: one of cert or certChain is required"),
        ]
    );
    let check = &set.policies[0].rules[0].image_checks[0];
    assert_eq!(
        check.repository.as_deref(),
        Some("registry.example.com/signatures")
    );
    assert!(!check.use_cache);
    let set0 = &check.attestor_sets[0];
    assert_eq!(set0.required_count(), 1);
    let AttestorKind::Nested(nested) = &set0.entries[0].kind else {
        panic!("nested attestor expected: {:?}", set0.entries[0].kind)
    };
    assert_eq!(
        set0.entries[0].repository.as_deref(),
        Some("registry.example.com/other")
    );
    assert_eq!(
        set0.entries[0].annotations.get("env").map(String::as_str),
        Some("prod")
    );
    let AttestorKind::Keyless(keyless) = &nested.entries[0].kind else {
        panic!("keyless expected")
    };
    assert_eq!(keyless.subject_regexp.as_deref(), Some(".*@example\\.com"));
    // No rekor given: Kyverno's default public instance applies.
    assert_eq!(keyless.rekor.url, DEFAULT_REKOR_URL);
    let AttestorKind::Certificate(certificate) = &set0.entries[1].kind else {
        panic!("certificate expected")
    };
    assert!(certificate.rekor.ignore_tlog);
    assert_eq!(certificate.rekor.url, "https://rekor.example.com");
}
