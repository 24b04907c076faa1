//! Finding a named section in an ELF file (System V gABI, "Sections"): 32/64-bit, either byte order.

/// Whether the file is ELF with a section header table (then a missing section is really missing).
pub fn has_section_headers(file: &[u8]) -> bool {
    let rd = Reader {
        file,
        little: file.get(5) == Some(&1),
    };
    match (file.get(..4), file.get(4)) {
        (Some(b"\x7fELF"), Some(2)) => rd.u16(0x3c).is_some_and(|n| n > 0),
        (Some(b"\x7fELF"), Some(1)) => rd.u16(0x30).is_some_and(|n| n > 0),
        _ => false,
    }
}

/// One section header.
#[derive(Debug, Clone, Copy)]
struct Section {
    name: u32,
    kind: u32,
    addr: u64,
    offset: usize,
    size: usize,
}

/// `SHT_NOBITS`: occupies no space in the file (`.bss`).
const SHT_NOBITS: u32 = 8;

/// The section headers and the section-name string table, or `None` if the file is not a readable ELF.
fn sections(file: &[u8]) -> Option<(Vec<Section>, &[u8])> {
    if file.get(..4)? != b"\x7fELF" {
        return None;
    }
    let is64 = match file.get(4)? {
        1 => false,
        2 => true,
        _ => return None,
    };
    let little = match file.get(5)? {
        1 => true,
        2 => false,
        _ => return None,
    };
    let rd = Reader { file, little };
    let (shoff, shentsize, shnum, shstrndx) = if is64 {
        (rd.u64(0x28)?, rd.u16(0x3a)?, rd.u16(0x3c)?, rd.u16(0x3e)?)
    } else {
        (
            u64::from(rd.u32(0x20)?),
            rd.u16(0x2e)?,
            rd.u16(0x30)?,
            rd.u16(0x32)?,
        )
    };
    let shoff = usize::try_from(shoff).ok()?;
    let header = |i: usize| -> Option<Section> {
        let at = shoff.checked_add(i.checked_mul(usize::from(shentsize))?)?;
        Some(if is64 {
            Section {
                name: rd.u32(at)?,
                kind: rd.u32(at + 4)?,
                addr: rd.u64(at + 0x10)?,
                offset: usize::try_from(rd.u64(at + 0x18)?).ok()?,
                size: usize::try_from(rd.u64(at + 0x20)?).ok()?,
            }
        } else {
            Section {
                name: rd.u32(at)?,
                kind: rd.u32(at + 4)?,
                addr: u64::from(rd.u32(at + 0x0c)?),
                offset: rd.u32(at + 0x10)? as usize,
                size: rd.u32(at + 0x14)? as usize,
            }
        })
    };
    let headers: Vec<Section> = (0..usize::from(shnum)).map_while(header).collect();
    let strtab = headers.get(usize::from(shstrndx))?;
    let strtab = file.get(strtab.offset..strtab.offset.checked_add(strtab.size)?)?;
    Some((headers, strtab))
}

/// The bytes of section `name`, or `None` if the file is not ELF, has no such section, or is truncated.
pub fn section<'a>(file: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let (headers, strtab) = sections(file)?;
    let found = headers.iter().find(|h| {
        strtab
            .get(h.name as usize..)
            .and_then(|rest| rest.get(..rest.iter().position(|b| *b == 0)?))
            == Some(name.as_bytes())
    })?;
    file.get(found.offset..found.offset.checked_add(found.size)?)
}

/// `len` bytes at virtual address `addr`, found through the section that maps it.
pub fn read_vaddr(file: &[u8], addr: u64, len: usize) -> Option<&[u8]> {
    let (headers, _) = sections(file)?;
    let section = headers
        .iter()
        .filter(|h| h.kind != SHT_NOBITS && h.addr != 0)
        .find(|h| addr >= h.addr && addr - h.addr < h.size as u64)?;
    let within = usize::try_from(addr - section.addr).ok()?;
    if within.checked_add(len)? > section.size {
        return None;
    }
    let start = section.offset.checked_add(within)?;
    file.get(start..start.checked_add(len)?)
}

struct Reader<'a> {
    file: &'a [u8],
    little: bool,
}

impl Reader<'_> {
    fn bytes<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        self.file.get(at..at.checked_add(N)?)?.try_into().ok()
    }
    fn u16(&self, at: usize) -> Option<u16> {
        let b = self.bytes::<2>(at)?;
        Some(if self.little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    }
    fn u32(&self, at: usize) -> Option<u32> {
        let b = self.bytes::<4>(at)?;
        Some(if self.little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }
    fn u64(&self, at: usize) -> Option<u64> {
        let b = self.bytes::<8>(at)?;
        Some(if self.little {
            u64::from_le_bytes(b)
        } else {
            u64::from_be_bytes(b)
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Virtual address of file offset 0 in files made by [`build_elf`].
    pub(crate) const TEST_BASE: u64 = 0x40_0000;

    /// A minimal little-endian ELF64 file with the given sections (for tests of the binary analyzers).
    pub(crate) fn build_elf(sections: &[(&str, &[u8])]) -> Vec<u8> {
        let mut strtab = vec![0u8];
        let mut names = Vec::new();
        for (name, _) in sections {
            names.push(strtab.len() as u32);
            strtab.extend_from_slice(name.as_bytes());
            strtab.push(0);
        }
        let shstr_name = strtab.len() as u32;
        strtab.extend_from_slice(b".shstrtab\0");
        let mut file = vec![0u8; 64];
        file[..4].copy_from_slice(b"\x7fELF");
        file[4] = 2;
        file[5] = 1;
        let mut placed = Vec::new();
        for (_, data) in sections {
            placed.push((file.len(), data.len()));
            file.extend_from_slice(data);
        }
        let strtab_off = file.len();
        file.extend_from_slice(&strtab);
        let shoff = file.len();
        let mut headers = vec![0u8; 64]; // section 0 is null
        for (i, (off, size)) in placed.iter().enumerate() {
            let mut h = vec![0u8; 64];
            h[..4].copy_from_slice(&names[i].to_le_bytes());
            h[0x10..0x18].copy_from_slice(&(*off as u64 + TEST_BASE).to_le_bytes());
            h[0x18..0x20].copy_from_slice(&(*off as u64).to_le_bytes());
            h[0x20..0x28].copy_from_slice(&(*size as u64).to_le_bytes());
            headers.extend(h);
        }
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(&shstr_name.to_le_bytes());
        h[0x18..0x20].copy_from_slice(&(strtab_off as u64).to_le_bytes());
        h[0x20..0x28].copy_from_slice(&(strtab.len() as u64).to_le_bytes());
        headers.extend(h);
        file.extend(headers);
        let count = sections.len() as u16 + 2;
        file[0x28..0x30].copy_from_slice(&(shoff as u64).to_le_bytes());
        file[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        file[0x3c..0x3e].copy_from_slice(&count.to_le_bytes());
        file[0x3e..0x40].copy_from_slice(&(count - 1).to_le_bytes());
        file
    }

    #[test]
    fn finds_sections_and_survives_truncation() {
        let elf = build_elf(&[(".a", b"hello"), (".dep-v0", b"xyz")]);
        assert_eq!(section(&elf, ".dep-v0"), Some(&b"xyz"[..]));
        assert_eq!(section(&elf, ".a"), Some(&b"hello"[..]));
        assert_eq!(section(&elf, ".missing"), None);
        for cut in 0..elf.len() {
            let _ = section(&elf[..cut], ".dep-v0");
        }
        assert_eq!(section(b"MZ\x90\x00", ".a"), None);
        assert!(has_section_headers(&elf));
        let hello = elf.windows(5).position(|w| w == b"hello").expect("placed") as u64;
        assert_eq!(
            read_vaddr(&elf, TEST_BASE + hello + 1, 4),
            Some(&b"ello"[..])
        );
        assert_eq!(
            read_vaddr(&elf, TEST_BASE + hello + 1, 5),
            None,
            "runs past the section"
        );
        assert_eq!(read_vaddr(&elf, 0x10, 1), None);
        assert!(!has_section_headers(&elf[..0x30]));
    }
}
