//! rpm's native NDB backend (`Packages.db`, SUSE since 15 SP3), after rpm `lib/backend/ndb/rpmpkg.c`.
//!
//! Little-endian. A 32-byte file header (`RpmP`, version, generation, number of slot pages, ...) shares
//! the first page with the slot table; each 16-byte slot (`Slot`, package index, block offset, block
//! count) points at a blob in 16-byte blocks: a 16-byte blob header (`BlbS`, package index, checksum,
//! length) followed by the rpm header.

const PAGE_SIZE: usize = 4096;
const SLOT_SIZE: usize = 16;
const BLOCK_SIZE: usize = 16;

fn le32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Header blobs with their package index, and problems with single records.
pub type Blobs<'a> = (Vec<(u32, &'a [u8])>, Vec<String>);

/// Header blobs with their package index, plus per-record problems (the caller names the file).
pub fn blobs(db: &[u8]) -> Result<Blobs<'_>, String> {
    if db.get(..4) != Some(b"RpmP") {
        return Err("not an NDB database (no RpmP magic)".into());
    }
    let slot_pages = le32(db, 12).ok_or("truncated NDB header")? as usize;
    let slot_count = slot_pages
        .checked_mul(PAGE_SIZE / SLOT_SIZE)
        .and_then(|n| n.checked_sub(2))
        .ok_or("NDB header has no slot pages")?;
    let mut out = Vec::new();
    let mut problems = Vec::new();
    // Real blobs are disjoint, so they add up to less than the file; crafted slots may overlap, and
    // parsing each would cost time quadratic in the input.
    let mut budget = db.len();
    for i in 0..slot_count {
        let at = 32 + i * SLOT_SIZE;
        let Some(slot) = db.get(at..at + SLOT_SIZE) else {
            problems.push(format!("slot table truncated at slot {i}"));
            break;
        };
        if slot.get(..4) != Some(b"Slot") {
            continue;
        }
        let (Some(index), Some(block)) = (le32(slot, 4), le32(slot, 8)) else {
            continue;
        };
        if index == 0 {
            continue; // free slot
        }
        let start = block as usize * BLOCK_SIZE;
        match blob_at(db, start, index) {
            Ok(blob) if blob.len() > budget => {
                problems.push("blobs add up to more than the file size".into());
                break;
            }
            Ok(blob) => {
                budget -= blob.len();
                out.push((index, blob));
            }
            Err(e) => problems.push(format!("package {index}: {e}")),
        }
    }
    Ok((out, problems))
}

fn blob_at(db: &[u8], start: usize, index: u32) -> Result<&[u8], String> {
    if db.get(start..start + 4) != Some(b"BlbS") {
        return Err(format!("no blob at offset {start}"));
    }
    if le32(db, start + 4) != Some(index) {
        return Err("blob belongs to another package".into());
    }
    let len = le32(db, start + 12).ok_or("truncated blob header")? as usize;
    db.get(start + 16..start + 16 + len)
        .ok_or_else(|| format!("blob of {len} bytes runs past the end of the file"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_garbage_and_truncation() {
        assert!(blobs(b"nope").is_err());
        let mut db = b"RpmP".to_vec();
        db.extend_from_slice(&[0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]);
        db.resize(32, 0);
        db.extend_from_slice(b"Slot\x01\x00\x00\x00\x00\x01\x00\x00\x01\x00\x00\x00");
        let (found, problems) = blobs(&db).expect("header ok");
        assert!(found.is_empty());
        assert_eq!(problems.len(), 2, "{problems:?}"); // blob missing, slot table truncated
    }
}
