//! Compiles `src/bpf/sealwatch.bpf.c` with clang against a `vmlinux.h` generated from the build
//! machine's BTF. When the toolchain or BTF is missing the crate still builds: the cfg flag
//! `sealwatch_bpf` stays unset and the reason is compiled in, so the live source can report
//! "eBPF not available: <reason>" and fall back to cn_proc.

use std::path::{Path, PathBuf};
use std::process::Command;

const SOURCE: &str = "src/bpf/sealwatch.bpf.c";
const KERNEL_BTF: &str = "/sys/kernel/btf/vmlinux";

fn main() {
    println!("cargo:rustc-check-cfg=cfg(sealwatch_bpf)");
    println!("cargo:rerun-if-changed={SOURCE}");
    println!("cargo:rerun-if-env-changed=SEALWATCH_NO_BPF");
    println!("cargo:rerun-if-env-changed=CLANG");
    println!("cargo:rerun-if-env-changed=BPFTOOL");
    let out_dir = match std::env::var_os("OUT_DIR") {
        Some(d) => PathBuf::from(d),
        None => return unavailable("OUT_DIR not set"),
    };
    match build_object(&out_dir) {
        Ok(object) => {
            println!("cargo:rustc-cfg=sealwatch_bpf");
            println!("cargo:rustc-env=SEALWATCH_BPF_OBJECT={}", object.display());
        }
        Err(reason) => unavailable(&reason),
    }
}

fn unavailable(reason: &str) {
    println!("cargo:warning=sealwatch-ebpf built without BPF programs: {reason}");
    println!("cargo:rustc-env=SEALWATCH_BPF_UNAVAILABLE={reason}");
}

fn tool(env: &str, name: &str) -> String {
    std::env::var(env).unwrap_or_else(|_| {
        ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
            .iter()
            .map(|d| Path::new(d).join(name))
            .find(|p| p.exists())
            .map_or_else(|| name.to_string(), |p| p.display().to_string())
    })
}

fn build_object(out_dir: &Path) -> Result<PathBuf, String> {
    if std::env::var_os("SEALWATCH_NO_BPF").is_some() {
        return Err("disabled by SEALWATCH_NO_BPF".into());
    }
    if !Path::new(KERNEL_BTF).exists() {
        return Err(format!("{KERNEL_BTF} missing (kernel built without BTF)"));
    }
    let bpftool = tool("BPFTOOL", "bpftool");
    let clang = tool("CLANG", "clang");
    let dump = Command::new(&bpftool)
        .args(["btf", "dump", "file", KERNEL_BTF, "format", "c"])
        .output()
        .map_err(|e| format!("cannot run {bpftool}: {e}"))?;
    if !dump.status.success() {
        return Err(format!(
            "{bpftool} btf dump failed: {}",
            String::from_utf8_lossy(&dump.stderr).trim()
        ));
    }
    std::fs::write(out_dir.join("vmlinux.h"), &dump.stdout)
        .map_err(|e| format!("writing vmlinux.h: {e}"))?;
    let object = out_dir.join("sealwatch.bpf.o");
    let arch = match std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() {
        Ok("x86_64") => "x86",
        Ok(other) => return Err(format!("no BPF syscall table for target arch {other}")),
        Err(_) => return Err("CARGO_CFG_TARGET_ARCH not set".into()),
    };
    let compiled = Command::new(&clang)
        .args(["-O2", "-g", "-target", "bpf"])
        .arg(format!("-D__TARGET_ARCH_{arch}"))
        .arg("-I")
        .arg(out_dir)
        .arg("-c")
        .arg(SOURCE)
        .arg("-o")
        .arg(&object)
        .output()
        .map_err(|e| format!("cannot run {clang}: {e}"))?;
    if !compiled.status.success() {
        return Err(format!(
            "{clang} failed: {}",
            String::from_utf8_lossy(&compiled.stderr)
                .lines()
                .take(5)
                .collect::<Vec<_>>()
                .join(" | ")
        ));
    }
    Ok(object)
}
