//! What `serve` knows about each file, computed once per version of the file:
//! its header values and, for small files, the content.
//!
//! Serving a small file from disk costs open + read + close and the formatting
//! of Content-Type, ETag and Last-Modified; a hit here costs nothing beyond the
//! `statx` that path resolution makes anyway (this is where the 1 KiB benchmark
//! against nginx is won). An entry is used only while the file's device, inode,
//! size, mtime and ctime are unchanged. File times are coarse (a few ms), so a
//! file written twice within one tick could keep its times: as git does with
//! "racily clean" entries, files changed less than [`SETTLE`] ago are not cached.

use crate::http::server::files::meta::{Validators, compressible, content_type};
use bytes::Bytes;
use http::HeaderValue;
use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Files up to this size are kept in memory.
pub(crate) const MAX_FILE: u64 = 64 * 1024;
/// File content kept at most; when it would be exceeded, the cache starts over.
const MAX_BYTES: usize = 16 << 20;
/// Entries kept at most (descriptions of large files count too).
const MAX_ENTRIES: usize = 8192;
/// Files changed more recently than this are described afresh on every request.
const SETTLE: Duration = Duration::from_secs(2);

/// The identity and version of a file, as `statx` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(md: &Metadata) -> Stamp {
        Stamp {
            dev: md.dev(),
            ino: md.ino(),
            size: md.size(),
            mtime: (md.mtime(), md.mtime_nsec()),
            ctime: (md.ctime(), md.ctime_nsec()),
        }
    }

    /// Whether the last change is long enough ago that a later one must show in the times.
    fn settled(&self) -> bool {
        let changed = UNIX_EPOCH
            + Duration::new(
                self.ctime.0.max(0) as u64,
                self.ctime.1.clamp(0, 999_999_999) as u32,
            );
        SystemTime::now()
            .duration_since(changed)
            .is_ok_and(|age| age >= SETTLE)
    }
}

/// What a response needs to know about one version of a file.
pub(crate) struct FileInfo {
    stamp: Stamp,
    /// Its `Content-Type`.
    pub(crate) ctype: HeaderValue,
    /// Whether its type is worth compressing.
    pub(crate) compressible: bool,
    /// ETag and Last-Modified.
    pub(crate) validators: Validators,
    /// The whole content, for settled files up to [`MAX_FILE`].
    pub(crate) data: Option<Bytes>,
}

impl FileInfo {
    fn new(path: &Path, md: &Metadata, stamp: Stamp, data: Option<Bytes>) -> FileInfo {
        let ctype = content_type(path);
        FileInfo {
            stamp,
            compressible: compressible(&ctype),
            ctype,
            validators: Validators::of(md),
            data,
        }
    }

    /// How many bytes of content are held.
    fn data_len(&self) -> usize {
        self.data.as_ref().map_or(0, Bytes::len)
    }
}

#[derive(Default)]
struct Entries {
    map: HashMap<PathBuf, Arc<FileInfo>>,
    bytes: usize,
}

/// Descriptions of the files served lately, keyed by path.
#[derive(Default)]
pub(crate) struct FileCache {
    entries: Mutex<Entries>,
}

impl FileCache {
    /// What is known about `path`, whose metadata (just read) is `md`.
    pub(crate) fn get(&self, path: &Path, md: &Metadata) -> Arc<FileInfo> {
        let stamp = Stamp::of(md);
        {
            let entries = self.lock();
            if let Some(hit) = entries.map.get(path)
                && hit.stamp == stamp
            {
                return hit.clone();
            }
        }
        let settled = stamp.settled();
        let data = (settled && md.len() <= MAX_FILE)
            .then(|| read_version(path, stamp))
            .flatten();
        let info = Arc::new(FileInfo::new(path, md, stamp, data));
        if settled {
            let mut entries = self.lock();
            if entries.map.len() >= MAX_ENTRIES || entries.bytes + info.data_len() > MAX_BYTES {
                entries.map.clear();
                entries.bytes = 0;
            }
            entries.bytes += info.data_len();
            if let Some(old) = entries.map.insert(path.to_path_buf(), info.clone()) {
                entries.bytes -= old.data_len();
            }
        }
        info
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic elsewhere cannot leave the map inconsistent: every update is one statement.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The content of `path` if it is still the version `stamp` describes (the file
/// may have been replaced between the `statx` and the open), else `None`.
fn read_version(path: &Path, stamp: Stamp) -> Option<Bytes> {
    let mut f = File::open(path).ok()?;
    if Stamp::of(&f.metadata().ok()?) != stamp {
        return None;
    }
    let mut buf = Vec::with_capacity(stamp.size as usize + 1);
    f.read_to_end(&mut buf).ok()?;
    (buf.len() as u64 == stamp.size).then(|| Bytes::from(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settled_files_are_kept_and_every_change_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, b"one").unwrap();
        let cache = FileCache::default();
        let fresh = cache.get(&path, &std::fs::metadata(&path).unwrap());
        assert!(fresh.data.is_none(), "a file changed just now is not kept");
        assert_eq!(fresh.ctype, "text/plain; charset=utf-8");
        std::thread::sleep(SETTLE + Duration::from_millis(100));
        let md = std::fs::metadata(&path).unwrap();
        let kept = cache.get(&path, &md);
        assert_eq!(kept.data.as_deref(), Some(&b"one"[..]));
        assert!(
            Arc::ptr_eq(&kept, &cache.get(&path, &md)),
            "a second look is a hit"
        );
        // Same size, new content: ctime moves, so the entry is not used.
        std::fs::write(&path, b"two").unwrap();
        let changed = cache.get(&path, &std::fs::metadata(&path).unwrap());
        assert!(changed.data.is_none());
        assert_ne!(changed.stamp, kept.stamp);
    }
}
