//! Just enough of the SQLite file format (<https://www.sqlite.org/fileformat2.html>) to read rpm's
//! `Packages` table (`hnum INTEGER PRIMARY KEY, blob BLOB`) from bytes.
//!
//! Why not `rusqlite` with `bundled` + `serialize`: it would work on bytes too, but compiles SQLite's C
//! amalgamation into every build and runs a full SQL engine on hostile input. rpm's use is one table read
//! in rowid order: walk `sqlite_schema` to the table's root page, walk the table b-tree, reassemble
//! overflowing payloads, decode two record columns. Every page visit is bounded (no loops on cyclic
//! pointers). Limitation: rows still only in a `-wal` file are not seen; the scanner gets the main file
//! of the image, and rpm checkpoints on close.

const HEADER: &[u8] = b"SQLite format 3\0";

struct Db<'a> {
    bytes: &'a [u8],
    page_size: usize,
    usable: usize,
    page_count: usize,
}

fn be16(b: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(u16::from_be_bytes(
        b.get(at..at + 2)?.try_into().ok()?,
    )))
}

fn be32(b: &[u8], at: usize) -> Option<usize> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?) as usize)
}

/// SQLite varint: up to 9 bytes, big-endian groups of 7 bits, the 9th byte contributes all 8.
fn varint(b: &[u8], at: usize) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for i in 0..9 {
        let byte = *b.get(at + i)?;
        if i == 8 {
            return Some(((value << 8) | u64::from(byte), 9));
        }
        value = (value << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

impl<'a> Db<'a> {
    fn open(bytes: &'a [u8]) -> Result<Self, String> {
        if bytes.get(..16) != Some(HEADER) {
            return Err("not an SQLite 3 database".into());
        }
        let raw = be16(bytes, 16).ok_or("truncated header")?;
        let page_size = if raw == 1 { 65536 } else { raw };
        if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
            return Err(format!("invalid page size {raw}"));
        }
        let reserved = usize::from(*bytes.get(20).ok_or("truncated header")?);
        let usable = page_size
            .checked_sub(reserved)
            .filter(|u| *u >= 480)
            .ok_or("invalid reserved space")?;
        Ok(Self {
            bytes,
            page_size,
            usable,
            page_count: bytes.len() / page_size,
        })
    }

    /// Page `n` (1-based) and the offset of its b-tree header (100 on page 1).
    fn page(&self, n: usize) -> Result<(&'a [u8], usize), String> {
        if n == 0 || n > self.page_count {
            return Err(format!(
                "page {n} out of range (file has {})",
                self.page_count
            ));
        }
        let page = self
            .bytes
            .get((n - 1) * self.page_size..n * self.page_size)
            .ok_or("page out of range")?;
        Ok((page, if n == 1 { 100 } else { 0 }))
    }

    /// Every row payload of the table b-tree rooted at `root`, in key order.
    fn table_rows(&self, root: usize) -> Result<Vec<Vec<u8>>, String> {
        let mut rows = Vec::new();
        // Real rows add up to less than the file; crafted cells can share overflow chains.
        let mut budget = self.bytes.len();
        let mut stack = vec![root];
        let mut visited = 0usize;
        while let Some(n) = stack.pop() {
            visited += 1;
            if visited > self.page_count {
                return Err("b-tree has a cycle".into());
            }
            let (page, hdr) = self.page(n)?;
            let kind = *page.get(hdr).ok_or("truncated page")?;
            let cells = be16(page, hdr + 3).ok_or("truncated page header")?;
            match kind {
                0x05 => {
                    let mut children = Vec::with_capacity(cells + 1);
                    for i in 0..cells {
                        let cell = be16(page, hdr + 12 + i * 2).ok_or("truncated cell pointers")?;
                        children.push(be32(page, cell).ok_or("truncated interior cell")?);
                    }
                    children.push(be32(page, hdr + 8).ok_or("truncated right pointer")?);
                    // Stack: push in reverse so the leftmost child is read first.
                    stack.extend(children.into_iter().rev());
                }
                0x0d => {
                    for i in 0..cells {
                        let cell = be16(page, hdr + 8 + i * 2).ok_or("truncated cell pointers")?;
                        let row = self.leaf_payload(page, cell)?;
                        budget = budget
                            .checked_sub(row.len())
                            .ok_or("rows add up to more than the file size")?;
                        rows.push(row);
                    }
                }
                other => return Err(format!("page {n}: unexpected b-tree page type {other:#x}")),
            }
        }
        Ok(rows)
    }

    fn leaf_payload(&self, page: &[u8], cell: usize) -> Result<Vec<u8>, String> {
        let (len, a) = varint(page, cell).ok_or("truncated cell")?;
        let (_rowid, b) = varint(page, cell + a).ok_or("truncated cell")?;
        let len = usize::try_from(len).map_err(|_| "payload too large")?;
        if len > self.bytes.len() {
            return Err(format!("payload of {len} bytes is larger than the file"));
        }
        let start = cell + a + b;
        let max_local = self.usable - 35;
        if len <= max_local {
            return page
                .get(start..start + len)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| "cell runs off the page".into());
        }
        let min_local = (self.usable - 12) * 32 / 255 - 23;
        let k = min_local + (len - min_local) % (self.usable - 4);
        let local = if k <= max_local { k } else { min_local };
        let mut out = page
            .get(start..start + local)
            .ok_or("cell runs off the page")?
            .to_vec();
        let mut next = be32(page, start + local).ok_or("truncated overflow pointer")?;
        let mut hops = 0;
        while out.len() < len {
            hops += 1;
            if next == 0 || hops > self.page_count {
                return Err("overflow chain ends early or loops".into());
            }
            let (overflow, _) = self.page(next)?;
            let take = (len - out.len()).min(self.usable - 4);
            out.extend_from_slice(overflow.get(4..4 + take).ok_or("truncated overflow page")?);
            next = be32(overflow, 0).ok_or("truncated overflow page")?;
        }
        Ok(out)
    }
}

/// One decoded column value (only the kinds this reader needs).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value<'a> {
    Null,
    Int(i64),
    Text(&'a [u8]),
    Blob(&'a [u8]),
    Other,
}

fn record(payload: &[u8]) -> Result<Vec<Value<'_>>, String> {
    let (header_len, mut at) = varint(payload, 0).ok_or("truncated record header")?;
    let header_len = usize::try_from(header_len).map_err(|_| "bad record header")?;
    let mut types = Vec::new();
    while at < header_len {
        let (ty, n) = varint(payload, at).ok_or("truncated record header")?;
        types.push(ty);
        at += n;
    }
    let mut body = header_len;
    let mut values = Vec::with_capacity(types.len());
    for ty in types {
        let size = match ty {
            0 | 8 | 9 => 0,
            1..=4 => ty as usize,
            5 => 6,
            6 | 7 => 8,
            n if n >= 12 => ((n - 12) / 2) as usize,
            _ => return Err(format!("reserved serial type {ty}")),
        };
        let bytes = payload
            .get(body..body.checked_add(size).ok_or("record too large")?)
            .ok_or("record body truncated")?;
        body += size;
        values.push(match ty {
            0 => Value::Null,
            8 => Value::Int(0),
            9 => Value::Int(1),
            1..=6 => {
                let mut v: i64 = if bytes.first().is_some_and(|b| b & 0x80 != 0) {
                    -1
                } else {
                    0
                };
                for b in bytes {
                    v = (v << 8) | i64::from(*b);
                }
                Value::Int(v)
            }
            n if n >= 12 && n % 2 == 0 => Value::Blob(bytes),
            n if n >= 13 => Value::Text(bytes),
            _ => Value::Other,
        });
    }
    Ok(values)
}

/// The `blob` column of every row of table `table`, plus per-row problems.
pub fn table_blobs(bytes: &[u8], table: &str) -> Result<(Vec<Vec<u8>>, Vec<String>), String> {
    let db = Db::open(bytes)?;
    // sqlite_schema(type, name, tbl_name, rootpage, sql) is rooted at page 1.
    let mut root = None;
    for row in db.table_rows(1)? {
        let values = record(&row)?;
        if values.first() == Some(&Value::Text(b"table"))
            && values.get(1) == Some(&Value::Text(table.as_bytes()))
        {
            if let Some(Value::Int(page)) = values.get(3) {
                root = usize::try_from(*page).ok();
            }
        }
    }
    let root = root.ok_or_else(|| format!("no table {table}"))?;
    let mut blobs = Vec::new();
    let mut problems = Vec::new();
    for (i, row) in db.table_rows(root)?.into_iter().enumerate() {
        match record(&row) {
            Ok(values) => match values.get(1) {
                Some(Value::Blob(blob)) => blobs.push(blob.to_vec()),
                _ => problems.push(format!("row {}: no blob column", i + 1)),
            },
            Err(e) => problems.push(format!("row {}: {e}", i + 1)),
        }
    }
    Ok((blobs, problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        for (input, expect) in [
            (&[0x05u8][..], Some((5, 1))),
            (&[0x81, 0x00], Some((128, 2))),
            (&[0xff; 9], Some((u64::MAX, 9))),
            (&[0x81], None),
        ] {
            assert_eq!(varint(input, 0), expect, "{input:?}");
        }
    }

    #[test]
    fn records() {
        // header: len 4, types NULL, int8, blob(2)
        let payload = [4u8, 0, 1, 16, 7, 0xab, 0xcd];
        assert_eq!(
            record(&payload),
            Ok(vec![Value::Null, Value::Int(7), Value::Blob(&[0xab, 0xcd])])
        );
        assert!(record(&[4u8, 0, 1, 16, 7, 0xab]).is_err());
    }

    #[test]
    fn rejects_garbage() {
        assert!(table_blobs(b"SQLite format 2\0", "Packages").is_err());
        let mut header = HEADER.to_vec();
        header.extend_from_slice(&[0x10, 0x00]);
        header.resize(4096, 0);
        // Page 1 with b-tree type 0: not a table page.
        assert!(table_blobs(&header, "Packages").is_err());
    }
}
