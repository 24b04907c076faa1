//! The rpm header blob, as every rpmdb backend stores it (rpm `lib/header.c`, "Header structure").
//!
//! Layout, all integers big-endian: `il` (u32, number of index entries), `dl` (u32, data length), `il`
//! entries of 16 bytes (`tag` i32, `type` u32, `offset` i32, `count` u32), then `dl` bytes of data. Region
//! tags (62/63) are plain entries for this reader: it only looks up the tags it needs.

/// Tags read from each header.
mod tag {
    pub const NAME: u32 = 1000;
    pub const VERSION: u32 = 1001;
    pub const RELEASE: u32 = 1002;
    pub const EPOCH: u32 = 1003;
    pub const VENDOR: u32 = 1011;
    pub const LICENSE: u32 = 1014;
    pub const ARCH: u32 = 1022;
    pub const OLDFILENAMES: u32 = 1027;
    pub const SOURCERPM: u32 = 1044;
    pub const PROVIDENAME: u32 = 1047;
    pub const REQUIRENAME: u32 = 1049;
    pub const DIRINDEXES: u32 = 1116;
    pub const BASENAMES: u32 = 1117;
    pub const DIRNAMES: u32 = 1118;
    pub const MODULARITYLABEL: u32 = 5096;
}

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// The fields of one installed rpm that the catalog needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RpmHeader {
    pub name: String,
    pub version: String,
    pub release: String,
    pub epoch: Option<u32>,
    pub arch: Option<String>,
    pub license: Option<String>,
    pub vendor: Option<String>,
    pub source_rpm: Option<String>,
    pub modularity_label: Option<String>,
    pub provides: Vec<String>,
    pub requires: Vec<String>,
    pub files: Vec<String>,
}

struct Entry {
    tag: u32,
    ty: u32,
    offset: usize,
    count: usize,
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Parses a header blob. Errors are short reasons; the caller adds the file and record.
pub fn parse(blob: &[u8]) -> Result<RpmHeader, String> {
    let il = be32(blob, 0).ok_or("header shorter than 8 bytes")? as usize;
    let dl = be32(blob, 4).ok_or("header shorter than 8 bytes")? as usize;
    let index_end = il
        .checked_mul(16)
        .and_then(|n| n.checked_add(8))
        .filter(|n| *n <= blob.len())
        .ok_or_else(|| {
            format!(
                "header index of {il} entries exceeds the blob ({} bytes)",
                blob.len()
            )
        })?;
    let data = blob
        .get(index_end..index_end.checked_add(dl).ok_or("data length overflows")?)
        .ok_or_else(|| format!("header data of {dl} bytes exceeds the blob"))?;
    let mut entries = Vec::with_capacity(il);
    for i in 0..il {
        let at = 8 + i * 16;
        let (Some(tag), Some(ty), Some(offset), Some(count)) = (
            be32(blob, at),
            be32(blob, at + 4),
            be32(blob, at + 8),
            be32(blob, at + 12),
        ) else {
            return Err("truncated header index".into());
        };
        entries.push(Entry {
            tag,
            ty,
            offset: offset as usize,
            count: count as usize,
        });
    }
    let find = |tag: u32| entries.iter().find(|e| e.tag == tag);
    let string = |tag: u32| -> Option<String> {
        let e = find(tag)?;
        matches!(e.ty, TYPE_STRING | TYPE_I18NSTRING | TYPE_STRING_ARRAY)
            .then(|| strings(data, e.offset, 1).into_iter().next())
            .flatten()
    };
    let string_array = |tag: u32| -> Vec<String> {
        match find(tag) {
            Some(e) if e.ty == TYPE_STRING_ARRAY => strings(data, e.offset, e.count),
            _ => Vec::new(),
        }
    };
    let int32_array = |tag: u32| -> Vec<u32> {
        match find(tag) {
            Some(e) if e.ty == TYPE_INT32 => (0..e.count)
                .map_while(|i| be32(data, e.offset.checked_add(i.checked_mul(4)?)?))
                .collect(),
            _ => Vec::new(),
        }
    };

    let name = string(tag::NAME).ok_or("no NAME tag")?;
    let version = string(tag::VERSION).ok_or("no VERSION tag")?;
    let release = string(tag::RELEASE).unwrap_or_default();
    let epoch = int32_array(tag::EPOCH).first().copied();

    let basenames = string_array(tag::BASENAMES);
    let files = if basenames.is_empty() {
        string_array(tag::OLDFILENAMES)
    } else {
        let dirnames = string_array(tag::DIRNAMES);
        let dirindexes = int32_array(tag::DIRINDEXES);
        basenames
            .iter()
            .zip(dirindexes.iter())
            .filter_map(|(base, dir)| Some(format!("{}{base}", dirnames.get(*dir as usize)?)))
            .collect()
    };
    Ok(RpmHeader {
        name,
        version,
        release,
        epoch,
        arch: string(tag::ARCH),
        license: string(tag::LICENSE),
        vendor: string(tag::VENDOR),
        source_rpm: string(tag::SOURCERPM),
        modularity_label: string(tag::MODULARITYLABEL),
        provides: string_array(tag::PROVIDENAME),
        requires: string_array(tag::REQUIRENAME),
        files: files
            .into_iter()
            .map(|f| f.trim_start_matches('/').to_owned())
            .collect(),
    })
}

/// `count` NUL-terminated strings starting at `offset`; stops early at the end of the data.
fn strings(data: &[u8], offset: usize, count: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = offset;
    for _ in 0..count {
        let Some(rest) = data.get(at..) else { break };
        let Some(len) = rest.iter().position(|b| *b == 0) else {
            break;
        };
        out.push(String::from_utf8_lossy(rest.get(..len).unwrap_or_default()).into_owned());
        at += len + 1;
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a header blob from (tag, type, count, data) entries, for tests here and in sibling modules.
    pub(crate) fn blob(entries: &[(u32, u32, u32, Vec<u8>)]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut data = Vec::new();
        for (tag, ty, count, bytes) in entries {
            index.extend_from_slice(&tag.to_be_bytes());
            index.extend_from_slice(&ty.to_be_bytes());
            index.extend_from_slice(&(data.len() as u32).to_be_bytes());
            index.extend_from_slice(&count.to_be_bytes());
            data.extend_from_slice(bytes);
        }
        let mut out = Vec::new();
        out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend(index);
        out.extend(data);
        out
    }

    pub(crate) fn s(text: &str) -> Vec<u8> {
        let mut v = text.as_bytes().to_vec();
        v.push(0);
        v
    }

    #[test]
    fn parses_fields_and_file_list() {
        let b = blob(&[
            (tag::NAME, TYPE_STRING, 1, s("bash")),
            (tag::VERSION, TYPE_STRING, 1, s("5.1")),
            (tag::RELEASE, TYPE_STRING, 1, s("2.el9")),
            (tag::EPOCH, TYPE_INT32, 1, 1u32.to_be_bytes().to_vec()),
            (
                tag::DIRNAMES,
                TYPE_STRING_ARRAY,
                2,
                [s("/usr/bin/"), s("/etc/")].concat(),
            ),
            (
                tag::BASENAMES,
                TYPE_STRING_ARRAY,
                2,
                [s("bash"), s("bashrc")].concat(),
            ),
            (
                tag::DIRINDEXES,
                TYPE_INT32,
                2,
                [0u32.to_be_bytes(), 1u32.to_be_bytes()].concat(),
            ),
        ]);
        let h = parse(&b).expect("valid");
        assert_eq!(
            (
                h.name.as_str(),
                h.version.as_str(),
                h.release.as_str(),
                h.epoch
            ),
            ("bash", "5.1", "2.el9", Some(1))
        );
        assert_eq!(h.files, ["usr/bin/bash", "etc/bashrc"]);
    }

    #[test]
    fn rejects_broken_blobs() {
        for (input, expect) in [
            (vec![0u8; 3], "shorter"),
            ([0xffu8, 0xff, 0xff, 0xff, 0, 0, 0, 0].to_vec(), "exceeds"),
            (blob(&[(tag::VERSION, TYPE_STRING, 1, s("1"))]), "no NAME"),
        ] {
            let err = parse(&input).expect_err("broken");
            assert!(err.contains(expect), "{err}");
        }
        // A string running off the end of the data is dropped, not read out of bounds.
        let mut b = blob(&[(tag::NAME, TYPE_STRING, 1, b"bash".to_vec())]);
        b.truncate(b.len());
        assert!(parse(&b).is_err());
    }
}
