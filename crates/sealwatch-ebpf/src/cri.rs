//! Container metadata from the container runtime's CRI socket (containerd, CRI-O).
//!
//! The kernel side only knows a container's id (from its cgroup). Image, container name and the
//! Kubernetes pod come from the runtime over the CRI v1 gRPC API: `ContainerStatus` (verbose
//! off) for the container, then `PodSandboxStatus` for its pod. [`CriResolver`] asks once per
//! new container id, from a background thread with its own single-threaded tokio runtime, so
//! the event path never waits on the runtime: events of a container seen before the answer
//! arrives carry its id and `<NA>` for the rest, later events carry the metadata.
//!
//! The messages are written by hand with `prost` derive (only the fields read, with the field
//! numbers of `k8s.io/cri-api` `pkg/apis/runtime/v1/api.proto`); the calls go through
//! `tonic::client::Grpc` with the prost codec.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::Duration;

use sealwatch_rules::event::{ContainerInfo, Mount};

use crate::EbpfError;

/// The sockets tried, in order, when none is given: containerd, then CRI-O.
pub const DEFAULT_SOCKETS: &[&str] =
    &["/run/containerd/containerd.sock", "/var/run/crio/crio.sock"];

/// The first default socket that exists.
pub fn find_default_socket() -> Option<PathBuf> {
    DEFAULT_SOCKETS
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// CRI v1 messages, reduced to the fields sealwatch reads (unknown fields are skipped by
/// protobuf decoding, so a runtime answering with more is fine).
pub mod proto {
    use std::collections::HashMap;

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ContainerStatusRequest {
        #[prost(string, tag = "1")]
        pub container_id: String,
        #[prost(bool, tag = "2")]
        pub verbose: bool,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ContainerStatusResponse {
        #[prost(message, optional, tag = "1")]
        pub status: Option<ContainerStatus>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ContainerMetadata {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(uint32, tag = "2")]
        pub attempt: u32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ImageSpec {
        #[prost(string, tag = "1")]
        pub image: String,
        #[prost(string, tag = "18")]
        pub user_specified_image: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Mount {
        #[prost(string, tag = "1")]
        pub container_path: String,
        #[prost(string, tag = "2")]
        pub host_path: String,
        #[prost(bool, tag = "3")]
        pub readonly: bool,
        /// `MountPropagation`: 0 private, 1 host-to-container, 2 bidirectional.
        #[prost(int32, tag = "5")]
        pub propagation: i32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ContainerStatus {
        #[prost(string, tag = "1")]
        pub id: String,
        #[prost(message, optional, tag = "2")]
        pub metadata: Option<ContainerMetadata>,
        /// Nanoseconds since the epoch.
        #[prost(int64, tag = "4")]
        pub created_at: i64,
        #[prost(message, optional, tag = "8")]
        pub image: Option<ImageSpec>,
        #[prost(string, tag = "9")]
        pub image_ref: String,
        #[prost(map = "string, string", tag = "12")]
        pub labels: HashMap<String, String>,
        #[prost(map = "string, string", tag = "13")]
        pub annotations: HashMap<String, String>,
        #[prost(message, repeated, tag = "14")]
        pub mounts: Vec<Mount>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PodSandboxStatusRequest {
        #[prost(string, tag = "1")]
        pub pod_sandbox_id: String,
        #[prost(bool, tag = "2")]
        pub verbose: bool,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PodSandboxStatusResponse {
        #[prost(message, optional, tag = "1")]
        pub status: Option<PodSandboxStatus>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PodSandboxMetadata {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(string, tag = "2")]
        pub uid: String,
        #[prost(string, tag = "3")]
        pub namespace: String,
        #[prost(uint32, tag = "4")]
        pub attempt: u32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PodSandboxNetworkStatus {
        #[prost(string, tag = "1")]
        pub ip: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PodSandboxStatus {
        #[prost(string, tag = "1")]
        pub id: String,
        #[prost(message, optional, tag = "2")]
        pub metadata: Option<PodSandboxMetadata>,
        #[prost(int64, tag = "4")]
        pub created_at: i64,
        #[prost(message, optional, tag = "5")]
        pub network: Option<PodSandboxNetworkStatus>,
        #[prost(map = "string, string", tag = "7")]
        pub labels: HashMap<String, String>,
        #[prost(map = "string, string", tag = "8")]
        pub annotations: HashMap<String, String>,
    }

    /// gRPC method paths.
    pub const CONTAINER_STATUS: &str = "/runtime.v1.RuntimeService/ContainerStatus";
    pub const POD_SANDBOX_STATUS: &str = "/runtime.v1.RuntimeService/PodSandboxStatus";
}

/// What the runtime says about one container, ready to merge into a [`ContainerInfo`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CriMetadata {
    pub name: String,
    /// As the runtime reports it (`docker.io/library/nginx:1.25`).
    pub image: String,
    pub image_repository: String,
    pub image_tag: String,
    pub image_digest: String,
    pub image_id: String,
    pub labels: Vec<(String, String)>,
    pub mounts: Vec<Mount>,
    pub created_at: Option<u64>,
    pub pod_name: Option<String>,
    pub pod_namespace: Option<String>,
    pub pod_uid: Option<String>,
    pub pod_labels: Vec<(String, String)>,
    pub pod_ip: Option<String>,
}

/// Annotations the runtimes use for a container's pod sandbox id (containerd, CRI-O).
const SANDBOX_ID_KEYS: &[&str] = &[
    "io.kubernetes.cri.sandbox-id",
    "io.kubernetes.cri-o.SandboxID",
];

/// Kubelet's labels on every container.
const POD_NAME_LABEL: &str = "io.kubernetes.pod.name";
const POD_NAMESPACE_LABEL: &str = "io.kubernetes.pod.namespace";
const POD_UID_LABEL: &str = "io.kubernetes.pod.uid";

/// Splits an image reference into repository, tag and digest:
/// `reg:5000/team/app:1.2@sha256:ab` → (`reg:5000/team/app`, `1.2`, `sha256:ab`). A bare image
/// id (`sha256:…`) has no repository.
pub fn split_image(image: &str) -> (String, String, String) {
    if image.starts_with("sha256:") {
        return (String::new(), String::new(), String::new());
    }
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, d.to_owned()),
        None => (image, String::new()),
    };
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[last_slash..].rfind(':') {
        Some(colon) => {
            let at = last_slash + colon;
            (name[..at].to_owned(), name[at + 1..].to_owned(), digest)
        }
        None => (name.to_owned(), String::new(), digest),
    }
}

fn sorted(map: HashMap<String, String>) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = map.into_iter().collect();
    v.sort();
    v
}

fn nonempty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// The id of a container's pod sandbox, from the runtime's annotations.
pub fn sandbox_id(status: &proto::ContainerStatus) -> Option<&str> {
    SANDBOX_ID_KEYS
        .iter()
        .find_map(|k| status.annotations.get(*k))
        .map(String::as_str)
        .filter(|s| !s.is_empty())
}

/// Metadata from a container's status and, when known, its pod's. Nothing is guessed: a field
/// the runtime leaves empty stays empty (`<NA>` in alerts).
pub fn metadata_from(
    status: proto::ContainerStatus,
    pod: Option<proto::PodSandboxStatus>,
) -> CriMetadata {
    let image_spec = status.image.clone().unwrap_or_default();
    // The user's spelling when the runtime kept it, else the runtime's; an image id alone
    // names no repository, so fall back to the resolved reference.
    let image = [
        image_spec.user_specified_image.as_str(),
        image_spec.image.as_str(),
    ]
    .into_iter()
    .find(|i| !i.is_empty() && !i.starts_with("sha256:"))
    .or_else(|| (!status.image_ref.starts_with("sha256:")).then_some(status.image_ref.as_str()))
    .unwrap_or_default()
    .to_owned();
    let (image_repository, image_tag, mut image_digest) = split_image(&image);
    let (_, _, ref_digest) = split_image(&status.image_ref);
    if image_digest.is_empty() {
        image_digest = ref_digest;
    }
    // Falco prints the image id shortened to 12 hex digits, like the container id.
    let image_id = status
        .image_ref
        .strip_prefix("sha256:")
        .or_else(|| image_spec.image.strip_prefix("sha256:"))
        .map(|hex| hex.get(..12).unwrap_or(hex))
        .unwrap_or_default()
        .to_owned();
    let label = |k: &str| status.labels.get(k).and_then(|v| nonempty(v));
    let (mut pod_name, mut pod_namespace, mut pod_uid) = (
        label(POD_NAME_LABEL),
        label(POD_NAMESPACE_LABEL),
        label(POD_UID_LABEL),
    );
    let mut pod_labels = Vec::new();
    let mut pod_ip = None;
    if let Some(pod) = pod {
        if let Some(m) = &pod.metadata {
            pod_name = nonempty(&m.name).or(pod_name);
            pod_namespace = nonempty(&m.namespace).or(pod_namespace);
            pod_uid = nonempty(&m.uid).or(pod_uid);
        }
        pod_ip = pod.network.as_ref().and_then(|n| nonempty(&n.ip));
        pod_labels = sorted(pod.labels);
    }
    let mounts = status
        .mounts
        .iter()
        .map(|m| Mount {
            source: m.host_path.clone(),
            dest: m.container_path.clone(),
            mode: String::new(),
            rdwr: !m.readonly,
            propagation: match m.propagation {
                1 => "rslave",
                2 => "rshared",
                _ => "private",
            }
            .to_owned(),
        })
        .collect();
    CriMetadata {
        name: status
            .metadata
            .as_ref()
            .map(|m| m.name.clone())
            .unwrap_or_default(),
        image,
        image_repository,
        image_tag,
        image_digest,
        image_id,
        labels: sorted(status.labels),
        mounts,
        created_at: u64::try_from(status.created_at).ok().filter(|&t| t > 0),
        pod_name,
        pod_namespace,
        pod_uid,
        pod_labels,
        pod_ip,
    }
}

impl CriMetadata {
    /// Fills `info` (which keeps its id and runtime) with what the runtime said.
    pub fn apply_to(&self, info: &mut ContainerInfo) {
        info.name = self.name.clone();
        info.image = self.image.clone();
        info.image_repository = self.image_repository.clone();
        info.image_tag = self.image_tag.clone();
        info.image_digest = self.image_digest.clone();
        info.image_id = self.image_id.clone();
        info.labels = self.labels.clone();
        info.set_mounts(self.mounts.clone());
        info.start_ts = self.created_at;
        info.k8s_pod_name = self.pod_name.clone();
        info.k8s_ns_name = self.pod_namespace.clone();
        info.k8s_pod_uid = self.pod_uid.clone();
        info.k8s_pod_labels = self.pod_labels.clone();
        info.ip = self.pod_ip.clone();
    }
}

/// The runtime's answer for one container id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CriAnswer {
    /// The full (64 hex) container id asked about.
    pub container_id: String,
    pub result: Result<CriMetadata, String>,
}

/// Lookups waiting for the background thread, at most; more are refused and counted.
const QUEUE: usize = 1024;
/// Time allowed for connecting and for each call.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// Asks the runtime about containers from a background thread.
pub struct CriResolver {
    socket: PathBuf,
    requests: Option<SyncSender<String>>,
    answers: Receiver<CriAnswer>,
    worker: Option<JoinHandle<()>>,
    /// Lookups refused because the queue was full.
    pub refused: u64,
}

impl CriResolver {
    /// Starts the background thread for `socket` (connected on the first lookup, and again
    /// after a failure, so a runtime that starts later is picked up).
    pub fn start(socket: &Path) -> Result<CriResolver, EbpfError> {
        let (req_tx, req_rx) = mpsc::sync_channel::<String>(QUEUE);
        let (ans_tx, ans_rx) = mpsc::channel::<CriAnswer>();
        let path = socket.to_path_buf();
        let worker = std::thread::Builder::new()
            .name("sealwatch-cri".into())
            .spawn(move || run_worker(&path, req_rx, ans_tx))
            .map_err(|source| EbpfError::Sys {
                call: "thread spawn",
                context: format!("CRI client for {}", socket.display()),
                source,
            })?;
        Ok(CriResolver {
            socket: socket.to_path_buf(),
            requests: Some(req_tx),
            answers: ans_rx,
            worker: Some(worker),
            refused: 0,
        })
    }

    /// The runtime socket used.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Queues a lookup of `full_id`; never blocks.
    pub fn request(&mut self, full_id: String) {
        let Some(tx) = &self.requests else { return };
        match tx.try_send(full_id) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => self.refused += 1,
        }
    }

    /// An answer that has arrived, if any; never blocks.
    pub fn try_answer(&self) -> Option<CriAnswer> {
        self.answers.try_recv().ok()
    }
}

impl Drop for CriResolver {
    fn drop(&mut self) {
        // Closing the queue ends the worker after its current call (bounded by CALL_TIMEOUT).
        self.requests.take();
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

fn run_worker(socket: &Path, requests: Receiver<String>, answers: mpsc::Sender<CriAnswer>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let why = format!("starting the CRI client runtime: {e}");
            for container_id in requests {
                let _ = answers.send(CriAnswer {
                    container_id,
                    result: Err(why.clone()),
                });
            }
            return;
        }
    };
    let mut channel = None;
    for container_id in requests {
        let result = runtime.block_on(lookup(socket, &mut channel, &container_id));
        if result.is_err() {
            // Reconnect next time: the runtime may have restarted.
            channel = None;
        }
        if answers
            .send(CriAnswer {
                container_id,
                result,
            })
            .is_err()
        {
            return;
        }
    }
}

async fn connect(socket: &Path) -> Result<tonic::transport::Channel, String> {
    let path = socket.to_path_buf();
    // The URI is required by the API but unused: the connector dials the unix socket.
    tonic::transport::Endpoint::from_static("http://cri.invalid")
        .connect_timeout(CALL_TIMEOUT)
        .timeout(CALL_TIMEOUT)
        .connect_with_connector(tower::service_fn(move |_: tonic::codegen::http::Uri| {
            let path = path.clone();
            async move {
                tokio::net::UnixStream::connect(path)
                    .await
                    .map(hyper_util::rt::TokioIo::new)
            }
        }))
        .await
        .map_err(|e| format!("connecting to {}: {}", socket.display(), error_text(&e)))
}

fn error_text(e: &dyn std::error::Error) -> String {
    crate::source::error_chain(e)
}

async fn unary<Req, Resp>(
    channel: &tonic::transport::Channel,
    path: &'static str,
    request: Req,
) -> Result<Resp, String>
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| format!("{path}: connection not ready: {}", error_text(&e)))?;
    let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
    grpc.unary(
        tonic::Request::new(request),
        tonic::codegen::http::uri::PathAndQuery::from_static(path),
        codec,
    )
    .await
    .map(tonic::Response::into_inner)
    .map_err(|s| format!("{path}: {:?}: {}", s.code(), s.message()))
}

async fn lookup(
    socket: &Path,
    channel: &mut Option<tonic::transport::Channel>,
    container_id: &str,
) -> Result<CriMetadata, String> {
    let ch = match channel {
        Some(c) => c.clone(),
        None => {
            let c = connect(socket).await?;
            *channel = Some(c.clone());
            c
        }
    };
    let response: proto::ContainerStatusResponse = unary(
        &ch,
        proto::CONTAINER_STATUS,
        proto::ContainerStatusRequest {
            container_id: container_id.to_owned(),
            verbose: false,
        },
    )
    .await?;
    let status = response
        .status
        .ok_or_else(|| format!("ContainerStatus for {container_id}: no status in the answer"))?;
    // The pod adds its labels and IP; without it the container's kubelet labels still name
    // the pod, so a failed pod lookup is not a failed container lookup.
    let pod = match sandbox_id(&status) {
        Some(id) => unary::<_, proto::PodSandboxStatusResponse>(
            &ch,
            proto::POD_SANDBOX_STATUS,
            proto::PodSandboxStatusRequest {
                pod_sandbox_id: id.to_owned(),
                verbose: false,
            },
        )
        .await
        .ok()
        .and_then(|r| r.status),
        None => None,
    };
    Ok(metadata_from(status, pod))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_image_references() {
        let check = |image: &str, want: (&str, &str, &str)| {
            let (r, t, d) = split_image(image);
            assert_eq!((r.as_str(), t.as_str(), d.as_str()), want, "{image}");
        };
        check(
            "docker.io/library/nginx:1.25",
            ("docker.io/library/nginx", "1.25", ""),
        );
        check(
            "reg.example:5000/team/app:1.2@sha256:ab",
            ("reg.example:5000/team/app", "1.2", "sha256:ab"),
        );
        check(
            "reg.example:5000/team/app",
            ("reg.example:5000/team/app", "", ""),
        );
        check("alpine@sha256:cd", ("alpine", "", "sha256:cd"));
        check("sha256:0123", ("", "", ""));
        check("", ("", "", ""));
    }

    fn status() -> proto::ContainerStatus {
        proto::ContainerStatus {
            id: "c1".into(),
            metadata: Some(proto::ContainerMetadata {
                name: "web".into(),
                attempt: 0,
            }),
            created_at: 1_700_000_000_000_000_000,
            image: Some(proto::ImageSpec {
                image: "sha256:1111111111111111".into(),
                user_specified_image: String::new(),
            }),
            image_ref: "registry.example/shop/web@sha256:2222".into(),
            labels: HashMap::from([
                (POD_NAME_LABEL.into(), "web-1".into()),
                (POD_NAMESPACE_LABEL.into(), "shop".into()),
            ]),
            annotations: HashMap::from([(SANDBOX_ID_KEYS[0].into(), "sb1".into())]),
            mounts: vec![proto::Mount {
                container_path: "/var/run/docker.sock".into(),
                host_path: "/run/docker.sock".into(),
                readonly: true,
                propagation: 2,
            }],
        }
    }

    #[test]
    fn metadata_from_container_and_pod_status() {
        let pod = proto::PodSandboxStatus {
            id: "sb1".into(),
            metadata: Some(proto::PodSandboxMetadata {
                name: "web-1".into(),
                uid: "u-1".into(),
                namespace: "shop".into(),
                attempt: 0,
            }),
            network: Some(proto::PodSandboxNetworkStatus {
                ip: "10.0.0.5".into(),
            }),
            labels: HashMap::from([("app".into(), "web".into())]),
            ..Default::default()
        };
        assert_eq!(sandbox_id(&status()), Some("sb1"));
        let m = metadata_from(status(), Some(pod));
        // The image field held an id: the repository comes from the resolved reference.
        assert_eq!(m.image, "registry.example/shop/web@sha256:2222");
        assert_eq!(m.image_repository, "registry.example/shop/web");
        assert_eq!(
            (m.image_tag.as_str(), m.image_digest.as_str()),
            ("", "sha256:2222")
        );
        assert_eq!(m.image_id, "111111111111");
        assert_eq!(m.name, "web");
        assert_eq!(
            (
                m.pod_name.as_deref(),
                m.pod_namespace.as_deref(),
                m.pod_uid.as_deref()
            ),
            (Some("web-1"), Some("shop"), Some("u-1"))
        );
        assert_eq!(m.pod_labels, [("app".to_owned(), "web".to_owned())]);
        assert_eq!(m.pod_ip.as_deref(), Some("10.0.0.5"));
        assert_eq!(m.mounts[0].dest, "/var/run/docker.sock");
        assert_eq!(
            (m.mounts[0].rdwr, m.mounts[0].propagation.as_str()),
            (false, "rshared")
        );
        let mut info = ContainerInfo {
            id: "0123456789ab".into(),
            runtime: "containerd".into(),
            ..ContainerInfo::default()
        };
        m.apply_to(&mut info);
        assert_eq!(
            (info.id.as_str(), info.name.as_str()),
            ("0123456789ab", "web")
        );
        assert_eq!(info.k8s_ns_name.as_deref(), Some("shop"));
        assert_eq!(
            info.mounts_text,
            "/run/docker.sock:/var/run/docker.sock::false:rshared"
        );
    }

    #[test]
    fn missing_fields_stay_unknown() {
        let m = metadata_from(
            proto::ContainerStatus {
                id: "c2".into(),
                ..Default::default()
            },
            None,
        );
        assert_eq!(m, CriMetadata::default());
        let mut s = status();
        s.annotations.clear();
        s.labels.clear();
        assert_eq!(sandbox_id(&s), None);
        let m = metadata_from(s, None);
        assert_eq!((m.pod_name, m.pod_namespace, m.pod_ip), (None, None, None));
    }

    #[test]
    fn wire_encoding_uses_the_cri_field_numbers() {
        use prost::Message as _;
        let req = proto::ContainerStatusRequest {
            container_id: "ab".into(),
            verbose: true,
        };
        // field 1 (string "ab"), field 2 (varint 1).
        assert_eq!(req.encode_to_vec(), [0x0a, 2, b'a', b'b', 0x10, 1]);
        let s = proto::ContainerStatus {
            image_ref: "x".into(),
            ..Default::default()
        };
        // field 9, wire type 2.
        assert_eq!(s.encode_to_vec(), [0x4a, 1, b'x']);
        let pod = proto::PodSandboxMetadata {
            namespace: "n".into(),
            ..Default::default()
        };
        assert_eq!(pod.encode_to_vec(), [0x1a, 1, b'n']);
    }
}
