//! The blob cache under concurrent writers and after a killed writer.

use std::io::Read;
use std::sync::{Arc, Barrier};

use sealwatch_oci::{BlobCache, BlobSource, CachingSource, Descriptor, Digest, RootManifest};

fn blob(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

fn desc_of(data: &[u8]) -> Descriptor {
    Descriptor::new(
        "application/vnd.oci.image.layer.v1.tar",
        Digest::sha256_of(data),
        data.len() as u64,
    )
}

/// A reader that hands out small chunks, so two writers really interleave.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.0.len()).min(4096);
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        std::thread::yield_now();
        Ok(n)
    }
}

#[test]
fn two_threads_insert_the_same_blob() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = blob(3 << 20);
    let desc = desc_of(&data);
    let barrier = Barrier::new(2);
    let paths: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    // Each thread has its own handle, as two processes would.
                    let cache = BlobCache::new(dir.path()).expect("cache");
                    barrier.wait();
                    cache.insert(&desc, Trickle(&data))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("no panic"))
            .collect()
    });
    for p in &paths {
        let p = p.as_ref().expect("both inserts succeed");
        assert_eq!(std::fs::read(p).expect("read"), data);
    }
    let cache = BlobCache::new(dir.path()).expect("cache");
    assert!(cache.get(&desc).expect("get").is_some());
    let leftovers = std::fs::read_dir(cache.blob_path(&desc.digest).parent().expect("dir"))
        .expect("ls")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
        .count();
    assert_eq!(leftovers, 0);
}

#[test]
fn leftover_temp_file_from_a_killed_writer_is_ignored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = BlobCache::new(dir.path()).expect("cache");
    let data = blob(100_000);
    let desc = desc_of(&data);
    let final_path = cache.blob_path(&desc.digest);
    let folder = final_path.parent().expect("dir").to_owned();
    std::fs::create_dir_all(&folder).expect("mkdir");
    // What a writer killed halfway leaves behind: a partial temp file next to the final name.
    std::fs::write(folder.join(".tmp-killed"), &data[..40_000]).expect("partial");
    assert!(
        cache.get(&desc).expect("get").is_none(),
        "a partial temp file is not a cached blob"
    );

    // A partial file at the final name (not possible through the cache API) would be caught by size.
    std::fs::write(&final_path, &data[..40_000]).expect("partial at final name");
    assert!(cache.get(&desc).expect("get").is_none());

    let path = cache
        .insert(&desc, &data[..])
        .expect("insert after the crash");
    assert_eq!(path, final_path);
    assert_eq!(std::fs::read(&path).expect("read"), data);
}

struct OneBlob {
    data: Vec<u8>,
    opened: std::sync::atomic::AtomicUsize,
}

impl BlobSource for OneBlob {
    fn root_manifest(&self) -> sealwatch_oci::Result<RootManifest> {
        Ok(RootManifest {
            bytes: Vec::new(),
            media_type: None,
            digest: None,
            synthesized: true,
        })
    }
    fn manifest(&self, desc: &Descriptor) -> sealwatch_oci::Result<Vec<u8>> {
        Err(sealwatch_oci::Error::BlobNotFound {
            source_name: "test".into(),
            digest: desc.digest.to_string(),
        })
    }
    fn open_blob(&self, _desc: &Descriptor) -> sealwatch_oci::Result<Box<dyn Read + Send>> {
        self.opened
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(Box::new(std::io::Cursor::new(self.data.clone())))
    }
    fn describe(&self) -> String {
        "test".into()
    }
}

#[test]
fn caching_source_fetches_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = blob(10_000);
    let desc = desc_of(&data);
    let inner = Arc::new(OneBlob {
        data: data.clone(),
        opened: Default::default(),
    });
    let source = CachingSource::new(inner.clone(), BlobCache::new(dir.path()).expect("cache"));
    for _ in 0..3 {
        let mut got = Vec::new();
        source
            .open_blob(&desc)
            .expect("open")
            .read_to_end(&mut got)
            .expect("read");
        assert_eq!(got, data);
    }
    assert_eq!(inner.opened.load(std::sync::atomic::Ordering::SeqCst), 1);
}
