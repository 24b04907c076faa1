//! Container ids from cgroup paths.
//!
//! Runtimes name the cgroup of a container after its id: containerd's CRI plugin
//! `cri-containerd-<64 hex>.scope`, docker `docker-<64 hex>.scope` (systemd driver) or
//! `/docker/<64 hex>` (cgroupfs driver), CRI-O `crio-<64 hex>.scope`, podman
//! `libpod-<64 hex>.scope`. Kubernetes' cgroupfs driver puts the bare id under
//! `/kubepods/.../<64 hex>`. Falco reports the first 12 hex digits as `container.id`.

/// A container recognised from a cgroup path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRef {
    /// The full 64-hex id.
    pub full_id: String,
    /// `container.id`: the first 12 hex digits.
    pub short_id: String,
    /// `container.type`: `containerd`, `docker`, `cri-o`, `podman`.
    pub runtime: &'static str,
}

const PREFIXES: &[(&str, &str)] = &[
    ("cri-containerd-", "containerd"),
    ("docker-", "docker"),
    ("crio-", "cri-o"),
    ("libpod-", "podman"),
];

fn is_container_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

fn make(hex: &str, runtime: &'static str) -> ContainerRef {
    ContainerRef {
        full_id: hex.to_owned(),
        short_id: hex.get(..12).unwrap_or(hex).to_owned(),
        runtime,
    }
}

/// Recognises one path component (a cgroup directory name).
pub fn container_from_component(component: &str) -> Option<ContainerRef> {
    let stem = component.strip_suffix(".scope").unwrap_or(component);
    for (prefix, runtime) in PREFIXES {
        if let Some(hex) = stem.strip_prefix(prefix) {
            // `crio-conmon-<id>.scope` is the monitor, not the container.
            if is_container_hex(hex) {
                return Some(make(hex, runtime));
            }
        }
    }
    None
}

/// Recognises a cgroup path (`/kubepods.slice/.../cri-containerd-<id>.scope`,
/// `/docker/<id>`). The innermost matching component wins.
pub fn container_from_cgroup_path(path: &str) -> Option<ContainerRef> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    for (i, part) in parts.iter().enumerate().rev() {
        if let Some(c) = container_from_component(part) {
            return Some(c);
        }
        if is_container_hex(part) {
            let parent = i.checked_sub(1).and_then(|j| parts.get(j)).copied();
            let runtime = match parent {
                Some("docker") => "docker",
                _ if parts.iter().any(|p| p.starts_with("kubepods")) => "containerd",
                _ => continue,
            };
            return Some(make(part, runtime));
        }
    }
    None
}

/// Recognises the contents of `/proc/<pid>/cgroup`: the cgroup v2 line (`0::/path`) first,
/// then any v1 hierarchy.
pub fn container_from_proc_cgroup(contents: &str) -> Option<ContainerRef> {
    let paths = contents
        .lines()
        .filter_map(|l| l.splitn(3, ':').nth(2).map(|p| (l.starts_with("0::"), p)));
    let mut v1 = None;
    for (is_v2, path) in paths {
        if let Some(c) = container_from_cgroup_path(path) {
            if is_v2 {
                return Some(c);
            }
            v1.get_or_insert(c);
        }
    }
    v1
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn check(path: &str, expect: Option<(&str, &str)>) {
        let got = container_from_cgroup_path(path);
        assert_eq!(
            got.as_ref().map(|c| (c.short_id.as_str(), c.runtime)),
            expect,
            "{path}"
        );
        if let Some(c) = got {
            assert_eq!(c.full_id, ID);
        }
    }

    #[test]
    fn recognises_runtime_cgroup_names() {
        let p = format!("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-{ID}.scope");
        check(&p, Some(("0123456789ab", "containerd")));
        check(
            &format!("/system.slice/docker-{ID}.scope"),
            Some(("0123456789ab", "docker")),
        );
        check(&format!("/docker/{ID}"), Some(("0123456789ab", "docker")));
        check(
            &format!("/machine.slice/crio-{ID}.scope"),
            Some(("0123456789ab", "cri-o")),
        );
        check(
            &format!("/machine.slice/libpod-{ID}.scope"),
            Some(("0123456789ab", "podman")),
        );
        check(
            &format!("/kubepods/burstable/pod1/{ID}"),
            Some(("0123456789ab", "containerd")),
        );
        check(
            &format!("/machine.slice/libpod-{ID}.scope/container"),
            Some(("0123456789ab", "podman")),
        );
    }

    #[test]
    fn host_paths_are_not_containers() {
        check("/user.slice/user-0.slice/session-1.scope", None);
        check("/", None);
        check("", None);
        check("/system.slice/docker.service", None);
        check(&format!("/system.slice/crio-conmon-{ID}.scope"), None);
        // Too short, uppercase, or a bare id outside any container hierarchy.
        check("/docker/0123456789ab", None);
        check(&format!("/docker-{}.scope", ID.to_uppercase()), None);
        check(&format!("/user.slice/{ID}"), None);
    }

    #[test]
    fn proc_cgroup_prefers_v2_line() {
        let contents = format!("12:cpu:/docker/{ID}\n0::/system.slice/crio-{ID}.scope\n");
        let got = container_from_proc_cgroup(&contents).map(|c| c.runtime);
        assert_eq!(got, Some("cri-o"));
        assert_eq!(container_from_proc_cgroup("0::/init.scope\n"), None);
        assert_eq!(container_from_proc_cgroup("garbage"), None);
    }
}
