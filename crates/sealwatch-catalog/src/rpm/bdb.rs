//! BerkeleyDB hash database (`Packages`, RHEL/CentOS up to 8), read without the BerkeleyDB library.
//!
//! Layout from BerkeleyDB's `dbinc/db_page.h`: page 0 is the metadata page (magic 0x061561 at byte 12,
//! page size at 20, last page number at 32). Hash pages (type 2 or 13) hold an index of u16 offsets after
//! a 26-byte page header; entries alternate key/value. rpm's values are large, so each value is an
//! "off-page" item (type 3: page number at +4, length at +8) whose bytes are a chain of overflow pages,
//! each with its next page at header byte 16 and its used length at byte 22.

const HASH_MAGIC: u32 = 0x0006_1561;
const PAGE_HEADER: usize = 26;
const PAGE_HASH_UNSORTED: u8 = 2;
const PAGE_HASH: u8 = 13;
const ITEM_OFFPAGE: u8 = 3;

#[derive(Clone, Copy)]
struct Endian {
    swapped: bool,
}

impl Endian {
    fn u32(self, bytes: &[u8], at: usize) -> Option<u32> {
        let b: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.swapped {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    fn u16(self, bytes: &[u8], at: usize) -> Option<u16> {
        let b: [u8; 2] = bytes.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if self.swapped {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }
}

/// Every value of the hash database (rpm header blobs), plus per-record problems.
pub fn blobs(db: &[u8]) -> Result<(Vec<Vec<u8>>, Vec<String>), String> {
    let endian = match (Endian { swapped: false }).u32(db, 12) {
        Some(HASH_MAGIC) => Endian { swapped: false },
        Some(m) if m.swap_bytes() == HASH_MAGIC => Endian { swapped: true },
        _ => return Err("not a BerkeleyDB hash database (bad magic)".into()),
    };
    let page_size = endian.u32(db, 20).ok_or("truncated metadata page")? as usize;
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(format!("implausible page size {page_size}"));
    }
    if db.get(24).copied().unwrap_or(0) != 0 {
        return Err("encrypted databases are not supported".into());
    }
    let last_page = endian.u32(db, 32).ok_or("truncated metadata page")? as usize;
    let page_count = (db.len() / page_size).min(last_page.saturating_add(1));

    let mut out = Vec::new();
    let mut problems = Vec::new();
    // Each overflow page belongs to one value, so real values add up to less than the file. Crafted
    // items can share chains; this budget keeps memory linear in the input.
    let mut budget = db.len();
    for page_no in 1..page_count {
        let Some(page) = db.get(page_no * page_size..(page_no + 1) * page_size) else {
            break;
        };
        let page_type = page.get(25).copied().unwrap_or(0);
        if page_type != PAGE_HASH && page_type != PAGE_HASH_UNSORTED {
            continue;
        }
        let entries = endian.u16(page, 20).unwrap_or(0) as usize;
        // Values are the odd entries.
        for i in (1..entries).step_by(2) {
            let Some(item_at) = endian.u16(page, PAGE_HEADER + i * 2).map(usize::from) else {
                problems.push(format!("page {page_no}: index entry {i} out of the page"));
                break;
            };
            if page.get(item_at).copied() != Some(ITEM_OFFPAGE) {
                continue;
            }
            let (Some(first), Some(length)) =
                (endian.u32(page, item_at + 4), endian.u32(page, item_at + 8))
            else {
                problems.push(format!("page {page_no}: truncated off-page item"));
                continue;
            };
            let length = length as usize;
            if length > budget {
                problems.push(format!(
                    "page {page_no}: values add up to more than the file size"
                ));
                return Ok((out, problems));
            }
            match overflow_chain(db, endian, page_size, page_count, first as usize, length) {
                Ok(value) => {
                    budget -= value.len();
                    out.push(value);
                }
                Err(e) => problems.push(format!("page {page_no}: {e}")),
            }
        }
    }
    Ok((out, problems))
}

fn overflow_chain(
    db: &[u8],
    endian: Endian,
    page_size: usize,
    page_count: usize,
    first: usize,
    length: usize,
) -> Result<Vec<u8>, String> {
    let mut value = Vec::with_capacity(length.min(db.len()));
    let mut page_no = first;
    let mut hops = 0;
    while page_no != 0 && value.len() < length {
        hops += 1;
        if hops > page_count {
            return Err("overflow chain loops".into());
        }
        let page = db
            .get(page_no * page_size..(page_no + 1) * page_size)
            .ok_or_else(|| format!("overflow page {page_no} past the end of the file"))?;
        let next = endian.u32(page, 16).unwrap_or(0) as usize;
        let used = if next == 0 {
            endian.u16(page, 22).unwrap_or(0) as usize
        } else {
            page_size - PAGE_HEADER
        };
        let chunk = page
            .get(PAGE_HEADER..PAGE_HEADER + used)
            .ok_or_else(|| format!("overflow page {page_no} claims {used} bytes"))?;
        value.extend_from_slice(chunk);
        page_no = next;
    }
    if value.len() < length {
        return Err(format!("value has {} of {length} bytes", value.len()));
    }
    value.truncate(length);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_garbage() {
        for input in [&b""[..], b"0123456789abcdef", &[0u8; 4096][..]] {
            assert!(blobs(input).is_err());
        }
    }
}
