//! Go binaries: the build information the Go linker embeds (`runtime/debug.BuildInfo`), read from the
//! `.go.buildinfo` section (or, for binaries without section headers, found by its magic).
//!
//! Format (Go `debug/buildinfo`): a 32-byte header starting `\xff Go buildinf:`, pointer size at byte 14,
//! flags at 15. Since Go 1.18 (flag bit 2) the Go version and the module info follow the header as two
//! uvarint-length-prefixed strings. The module info is tab-separated lines (`path`, `mod`, `dep`, `=>`
//! for a replacement of the line before, `build`), wrapped in 16-byte sentinels. Older binaries store, at
//! byte 16, the addresses of two Go string headers instead; those are followed through the ELF
//! section table.

use crate::{Diagnostic, Location, Package, PackageKind};

const MAGIC: &[u8] = b"\xff Go buildinf:";
const FLAG_INLINE: u8 = 0x2;

/// Packages of a Go binary: the standard library (`stdlib`, version `v1.x.y`), the main module unless it
/// is `(devel)` (a local build has no version to match), and every dependency (replacements applied).
pub fn parse(location: &Location, bytes: &[u8], diagnostics: &mut Vec<Diagnostic>) -> Vec<Package> {
    // Without section headers (rare: stripped by hand) the header is found by its magic instead.
    let info = match super::elf::section(bytes, ".go.buildinfo") {
        Some(info) => Some(info),
        None if !super::elf::has_section_headers(bytes) => find_magic(bytes),
        None => None,
    };
    let Some(info) = info else {
        return Vec::new();
    };
    if !info.starts_with(MAGIC) {
        return Vec::new();
    }
    let flags = info.get(15).copied().unwrap_or(0);
    let strings = if flags & FLAG_INLINE != 0 {
        inline_strings(info)
    } else {
        pointer_strings(bytes, info)
    };
    let (go_version, modinfo) = match strings {
        Ok(found) => found,
        Err(reason) => {
            diagnostics.push(Diagnostic::new(&location.path, None, reason));
            return Vec::new();
        }
    };
    let modinfo = strip_sentinels(modinfo);
    let mut packages = Vec::new();
    let go_version = String::from_utf8_lossy(go_version);
    if let Some(version) = go_version
        .split_whitespace()
        .next()
        .and_then(|v| v.strip_prefix("go"))
    {
        packages.push(Package::new(
            PackageKind::Go,
            "stdlib",
            format!("v{version}"),
            location.clone(),
        ));
    }
    let text = String::from_utf8_lossy(modinfo);
    for line in text.lines() {
        let mut fields = line.split('\t');
        let kind = fields.next().unwrap_or("");
        let (path, version, sum) = (
            fields.next().unwrap_or(""),
            fields.next().unwrap_or(""),
            fields.next(),
        );
        match kind {
            "mod" if !version.is_empty() && version != "(devel)" => {
                packages.push(module(path, version, sum, location))
            }
            "dep" if !version.is_empty() => packages.push(module(path, version, sum, location)),
            // Replacement of the previous dep: the code built is the replacement.
            "=>" if !version.is_empty() => {
                if let Some(last) = packages.last_mut().filter(|p| p.name != "stdlib") {
                    *last = module(path, version, sum, location);
                }
            }
            _ => {}
        }
    }
    packages
}

fn module(path: &str, version: &str, sum: Option<&str>, location: &Location) -> Package {
    let mut pkg = Package::new(PackageKind::Go, path, version, location.clone());
    pkg.checksum = sum.filter(|s| !s.is_empty()).map(str::to_owned);
    pkg
}

fn find_magic(bytes: &[u8]) -> Option<&[u8]> {
    // The linker aligns the header to 16 bytes.
    (0..bytes.len().saturating_sub(MAGIC.len()))
        .step_by(16)
        .find(|at| bytes.get(*at..at + MAGIC.len()) == Some(MAGIC))
        .and_then(|at| bytes.get(at..))
}

/// Go 1.18+: both strings follow the 32-byte header.
fn inline_strings(info: &[u8]) -> Result<(&[u8], &[u8]), &'static str> {
    let (go_version, at) = info
        .get(32..)
        .and_then(read_string)
        .ok_or("truncated Go build info")?;
    let (modinfo, _) = info
        .get(32 + at..)
        .and_then(read_string)
        .ok_or("truncated Go module info")?;
    Ok((go_version, modinfo))
}

/// Before Go 1.18: at 16 and 16+ptrSize, addresses of two Go string headers (data pointer, length),
/// `runtime.buildVersion` and `runtime.modinfo`, to be read through the sections that map them.
fn pointer_strings<'a>(file: &'a [u8], info: &[u8]) -> Result<(&'a [u8], &'a [u8]), &'static str> {
    let ptr_size = usize::from(info.get(14).copied().unwrap_or(0));
    let big_endian = info.get(15).copied().unwrap_or(0) & 1 != 0;
    let read_ptr = |b: &[u8]| -> Option<u64> {
        Some(match (ptr_size, big_endian) {
            (4, false) => u64::from(u32::from_le_bytes(b.get(..4)?.try_into().ok()?)),
            (4, true) => u64::from(u32::from_be_bytes(b.get(..4)?.try_into().ok()?)),
            (8, false) => u64::from_le_bytes(b.get(..8)?.try_into().ok()?),
            (8, true) => u64::from_be_bytes(b.get(..8)?.try_into().ok()?),
            _ => return None,
        })
    };
    let string_at = |header_addr: u64| -> Option<&'a [u8]> {
        let header = super::elf::read_vaddr(file, header_addr, 2 * ptr_size)?;
        let data = read_ptr(header)?;
        let len = usize::try_from(read_ptr(header.get(ptr_size..)?)?).ok()?;
        super::elf::read_vaddr(file, data, len)
    };
    let version_addr = info
        .get(16..)
        .and_then(read_ptr)
        .ok_or("truncated Go build info")?;
    let modinfo_addr = info
        .get(16 + ptr_size..)
        .and_then(read_ptr)
        .ok_or("truncated Go build info")?;
    let version = string_at(version_addr).ok_or("Go version string not found in the binary")?;
    // A binary built without module support has an empty modinfo string.
    let modinfo = string_at(modinfo_addr).unwrap_or_default();
    Ok((version, modinfo))
}

/// A uvarint length followed by that many bytes; returns the bytes and the total consumed.
fn read_string(bytes: &[u8]) -> Option<(&[u8], usize)> {
    let (len, n) = uvarint(bytes)?;
    let len = usize::try_from(len).ok()?;
    let text = bytes.get(n..n.checked_add(len)?)?;
    Some((text, n + len))
}

fn uvarint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, byte) in bytes.iter().take(10).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

fn strip_sentinels(bytes: &[u8]) -> &[u8] {
    // The module info is framed by 16 bytes on each side, the closing frame after a newline.
    if bytes.len() >= 33 && bytes.get(bytes.len() - 17) == Some(&b'\n') {
        bytes.get(16..bytes.len() - 16).unwrap_or(bytes)
    } else {
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buildinfo(version: &str, modinfo: &str) -> Vec<u8> {
        let mut info = MAGIC.to_vec();
        info.push(8);
        info.push(FLAG_INLINE);
        info.resize(32, 0);
        for s in [
            version.to_owned(),
            format!("{}{modinfo}{}", "0".repeat(16), "1".repeat(16)),
        ] {
            let mut len = s.len();
            while len >= 0x80 {
                info.push((len as u8 & 0x7f) | 0x80);
                len >>= 7;
            }
            info.push(len as u8);
            info.extend_from_slice(s.as_bytes());
        }
        info
    }

    #[test]
    fn reads_inline_build_info() {
        let modinfo = "path\texample.com/app\nmod\texample.com/app\t(devel)\t\n\
                       dep\tgithub.com/a/b\tv1.2.3\th1:abc=\n\
                       dep\tgolang.org/x/net\tv0.1.0\th1:x=\n=>\tgolang.org/x/net\tv0.2.0\th1:y=\nbuild\t-compiler=gc\n";
        let elf = super::super::elf::tests::build_elf(&[(
            ".go.buildinfo",
            &buildinfo("go1.22.5", modinfo),
        )]);
        let loc = Location {
            path: "usr/bin/app".into(),
            layer: None,
        };
        let mut d = Vec::new();
        let got: Vec<String> = parse(&loc, &elf, &mut d)
            .iter()
            .map(|p| format!("{}@{}", p.name, p.version))
            .collect();
        assert_eq!(
            got,
            [
                "stdlib@v1.22.5",
                "github.com/a/b@v1.2.3",
                "golang.org/x/net@v0.2.0"
            ]
        );
        assert!(d.is_empty());
        // Truncated anywhere: no panic; at most a diagnostic.
        for cut in 0..elf.len() {
            let _ = parse(&loc, &elf[..cut], &mut d);
        }
    }

    #[test]
    fn reads_pre_1_18_pointer_build_info() {
        use super::super::elf::tests::{build_elf, TEST_BASE};
        let modinfo = format!(
            "{}path\tex.com/app\ndep\tgithub.com/a/b\tv1.0.0\th1:x=\n{}",
            "0".repeat(16),
            "1".repeat(16)
        );
        // Layout of the data section: version header, modinfo header, then the string bytes.
        // Its file offset is 64 (right after the ELF header), so its address is TEST_BASE + 64.
        let data_addr = TEST_BASE + 64;
        let version = b"go1.16.15";
        let mut data = Vec::new();
        let strings_at = data_addr + 32;
        data.extend_from_slice(&strings_at.to_le_bytes());
        data.extend_from_slice(&(version.len() as u64).to_le_bytes());
        data.extend_from_slice(&(strings_at + version.len() as u64).to_le_bytes());
        data.extend_from_slice(&(modinfo.len() as u64).to_le_bytes());
        data.extend_from_slice(version);
        data.extend_from_slice(modinfo.as_bytes());
        let mut info = MAGIC.to_vec();
        info.extend_from_slice(&[8, 0]);
        info.extend_from_slice(&data_addr.to_le_bytes());
        info.extend_from_slice(&(data_addr + 16).to_le_bytes());
        let elf = build_elf(&[(".data", &data), (".go.buildinfo", &info)]);
        let loc = Location {
            path: "usr/bin/old".into(),
            layer: None,
        };
        let mut d = Vec::new();
        let got: Vec<String> = parse(&loc, &elf, &mut d)
            .iter()
            .map(|p| format!("{}@{}", p.name, p.version))
            .collect();
        assert_eq!(got, ["stdlib@v1.16.15", "github.com/a/b@v1.0.0"]);
        assert!(d.is_empty(), "{d:?}");
        // Pointers to nowhere: a diagnostic, no panic.
        let mut broken = info.clone();
        broken[16] ^= 0xff;
        let elf = build_elf(&[(".data", &data), (".go.buildinfo", &broken)]);
        assert!(parse(&loc, &elf, &mut d).is_empty());
        assert_eq!(d.len(), 1);
    }

    /// `/usr/bin/docker-registry` (Debian package) is a real Go binary, when installed.
    #[test]
    fn real_go_binary_if_present() {
        let Ok(bytes) = std::fs::read("/usr/bin/docker-registry") else {
            eprintln!("skipping: /usr/bin/docker-registry not installed");
            return;
        };
        let loc = Location {
            path: "usr/bin/docker-registry".into(),
            layer: None,
        };
        let mut d = Vec::new();
        let got = parse(&loc, &bytes, &mut d);
        assert!(d.is_empty(), "{d:?}");
        let stdlib = got.iter().find(|p| p.name == "stdlib").expect("stdlib");
        assert!(stdlib.version.starts_with("v1."), "{}", stdlib.version);
        // The Go version the binary reports must also be in it as the runtime's version string.
        let go = format!("go{}", stdlib.version.trim_start_matches('v'));
        assert!(bytes.windows(go.len()).any(|w| w == go.as_bytes()));
    }
}
