//! `sealwatch admission serve`: the Kyverno-compatible admission webhook over HTTPS.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use sealwatch_admission::files::load_policy_path;
use sealwatch_admission::namespaces::{
    policies_selecting_namespaces, KubeApiConfig, KubeApiNamespaces, NamespaceLabels,
    SERVICE_ACCOUNT_DIR,
};
use sealwatch_admission::server::{load_tls, log};
use sealwatch_admission::{Admission, CacheConfig, RegistryVerifier, ServerConfig, Webhook};
use sealwatch_oci::registry::{RegistryClient, RegistryOptions};

#[derive(Debug, Args)]
pub struct AdmissionArgs {
    #[command(subcommand)]
    command: AdmissionCommand,
}

#[derive(Debug, Subcommand)]
enum AdmissionCommand {
    /// Serve `/mutate` and `/validate` (AdmissionReview v1), `/healthz`, `/readyz`, `/metrics`.
    Serve(ServeArgs),
}

/// Registry access for signature verification.
#[derive(Debug, Args)]
pub struct RegistryAccess {
    /// Extra CA certificate(s), PEM, to trust for registry TLS besides the system roots.
    #[arg(long, value_name = "FILE")]
    pub registry_ca: Vec<PathBuf>,
    /// Registry host[:port] that may be used over plain HTTP (loopback hosts always may).
    #[arg(long, value_name = "HOST")]
    pub insecure_registry: Vec<String>,
    /// Sigstore `trusted_root.json` for keyless attestors (Fulcio CAs, CT logs, Rekor keys)
    /// instead of the embedded public-good production root; verification never contacts Rekor.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
}

impl RegistryAccess {
    /// The signature verifier: this registry client, and the trusted root for keyless attestors.
    pub fn verifier(&self) -> anyhow::Result<RegistryVerifier> {
        let verifier = RegistryVerifier::new(self.client()?);
        Ok(match &self.trusted_root {
            None => verifier,
            Some(path) => {
                let json = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                let root = sealwatch_sign::TrustedRoot::from_json(&json)
                    .with_context(|| format!("loading {}", path.display()))?;
                verifier.with_trusted_root(root)
            }
        })
    }

    pub fn client(&self) -> anyhow::Result<RegistryClient> {
        let mut options = RegistryOptions::from_environment();
        options.ca_files.clone_from(&self.registry_ca);
        options
            .insecure_registries
            .clone_from(&self.insecure_registry);
        RegistryClient::new(options).context("setting up the registry client")
    }
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Kyverno policy file or folder (watched; a bad change keeps the last good set).
    #[arg(long, value_name = "DIR")]
    policies: PathBuf,
    /// TLS certificate chain, PEM.
    #[arg(long, value_name = "FILE")]
    tls_cert: PathBuf,
    /// TLS private key, PEM.
    #[arg(long, value_name = "FILE")]
    tls_key: PathBuf,
    #[arg(long, default_value = "0.0.0.0:8443")]
    listen: SocketAddr,
    /// Largest AdmissionReview body accepted (413 above).
    #[arg(long, default_value_t = 4 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Verification cache entries.
    #[arg(long, default_value_t = 1000)]
    cache_size: usize,
    /// Verification cache lifetime, seconds; 0 turns caching off, so every review verifies
    /// against the registry (for measuring the uncached path).
    #[arg(long, default_value_t = 3600)]
    cache_ttl: u64,
    /// How often to look for policy changes, seconds.
    #[arg(long, default_value_t = 3)]
    reload_interval: u64,
    /// Kubernetes API server for namespace labels (`namespaceSelector`), https://HOST:PORT.
    /// Default: in a Pod, from KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT.
    #[arg(long, value_name = "URL")]
    kube_api: Option<String>,
    /// Service-account token for the Kubernetes API (re-read on every lookup).
    #[arg(long, value_name = "FILE", default_value_os_t = PathBuf::from(SERVICE_ACCOUNT_DIR).join("token"))]
    kube_token: PathBuf,
    /// CA bundle of the Kubernetes API server, PEM.
    #[arg(long, value_name = "FILE", default_value_os_t = PathBuf::from(SERVICE_ACCOUNT_DIR).join("ca.crt"))]
    kube_ca: PathBuf,
    /// How long looked-up namespace labels are used, seconds.
    #[arg(long, default_value_t = 30)]
    namespace_label_ttl: u64,
    /// Don't log one JSON line per review (errors and reloads are still logged).
    #[arg(long)]
    quiet: bool,
    #[command(flatten)]
    registry: RegistryAccess,
}

pub fn run(args: AdmissionArgs) -> anyhow::Result<u8> {
    match args.command {
        AdmissionCommand::Serve(args) => serve(args),
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<u8> {
    let loaded = load_policy_path(&args.policies)?;
    for diagnostic in &loaded.diagnostics {
        eprintln!("{diagnostic}");
    }
    if loaded.has_errors() {
        bail!(
            "{} has policy errors; fix them before serving",
            args.policies.display()
        );
    }
    let tls = load_tls(&args.tls_cert, &args.tls_key)?;
    let verifier = Arc::new(args.registry.verifier()?);
    let policies = loaded.set.policies.len();
    let selector_policies: Vec<String> = policies_selecting_namespaces(&loaded.set)
        .iter()
        .map(|p| p.qualified_name())
        .collect();
    let mut admission = Admission::new(
        loaded.set,
        verifier,
        CacheConfig {
            capacity: args.cache_size,
            ttl: Duration::from_secs(args.cache_ttl),
        },
    );
    let kube = match &args.kube_api {
        Some(server) => Some(KubeApiConfig {
            server: server.trim_end_matches('/').to_owned(),
            token_file: args.kube_token.clone(),
            ca_file: args.kube_ca.clone(),
            timeout: Duration::from_secs(5),
        }),
        None => KubeApiConfig::in_cluster(
            |name| std::env::var(name).ok(),
            Path::new(SERVICE_ACCOUNT_DIR),
        )
        .map(|config| KubeApiConfig {
            token_file: args.kube_token.clone(),
            ca_file: args.kube_ca.clone(),
            ..config
        }),
    };
    match kube {
        Some(config) => {
            let server = config.server.clone();
            let lookup = KubeApiNamespaces::new(config)
                .with_context(|| format!("setting up the Kubernetes API client for {server}"))?;
            admission = admission.with_namespace_labels(NamespaceLabels::new(
                Box::new(lookup),
                Duration::from_secs(args.namespace_label_ttl),
                10_000,
            ));
            log("info", "namespace labels from the Kubernetes API", serde_json::json!({"server": server}));
        }
        None if !selector_policies.is_empty() => log(
            "warn",
            "no Kubernetes API (not in a Pod and no --kube-api): namespaceSelector lookups fail, per failurePolicy",
            serde_json::json!({"policies": selector_policies}),
        ),
        None => {}
    }
    let admission = Arc::new(admission);
    let config = ServerConfig {
        listen: args.listen,
        max_body_bytes: args.max_body_bytes,
        policy_path: Some(args.policies.clone()),
        reload_interval: Duration::from_secs(args.reload_interval.max(1)),
        log_requests: !args.quiet,
        ..ServerConfig::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let webhook = Webhook::bind(config, tls, admission).await?;
        log(
            "info",
            "serving",
            serde_json::json!({
                "listen": webhook.local_addr().map(|a| a.to_string()),
                "policies": policies,
            }),
        );
        webhook.run(shutdown_signal()).await;
        anyhow::Ok(())
    })?;
    Ok(0)
}

/// SIGTERM (Kubernetes stopping the Pod) or Ctrl-C.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
