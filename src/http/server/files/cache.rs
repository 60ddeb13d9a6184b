//! What `serve` knows about each file, computed once per version of the file:
//! its header values and, for files up to [`MAX_FILE`], the content.
//!
//! Serving a small file from disk costs open + read + close and the formatting
//! of Content-Type, ETag and Last-Modified; a hit here costs nothing beyond the
//! `statx` that path resolution makes anyway (this is where the 1 KiB benchmark
//! against nginx is won). A 1 MiB file sent from memory cost the server 0.42x
//! nginx's CPU over HTTP/1.1 (by sendfile: about 1.0x) and 0.45x over h2c (by
//! 16 KiB `pread`s: 1.25x), bench/serve.sh and bench/tls.sh 2026-12-02; so
//! larger files are kept too, while they fit in [`MAX_LARGE`] and are asked for
//! (their content is let go after [`INACTIVE_MS`] without a request, as nginx's
//! `open_file_cache inactive=` lets go of descriptors: a server shrinks back once its
//! large files are no longer asked for).
//!
//! An entry is used only while the file's device, inode, size, mtime and ctime
//! are unchanged. File times are coarse (a few ms), so a
//! file written twice within one tick could keep its times: as git does with
//! "racily clean" entries, files changed less than [`SETTLE`] ago are not cached.

use crate::http::server::conn::activity::clock_ms;
use crate::http::server::files::meta::{Validators, compressible, content_type};
use bytes::Bytes;
use http::HeaderValue;
use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Files up to this size are kept in memory.
const MAX_FILE: u64 = 2 << 20;
/// Files up to this size are kept even when the cache must start over for them;
/// larger ones only while there is room, so that a set of large files larger
/// than [`MAX_LARGE`] cannot evict the small ones on every request.
const SMALL_FILE: u64 = 64 * 1024;
/// File content kept at most: a small file that would pass it makes the cache start over.
const MAX_BYTES: usize = 32 << 20;
/// Of which larger files' content takes at most this much, so that the small
/// files keep room of their own and do not start the cache over as they come.
const MAX_LARGE: usize = MAX_BYTES / 2;
/// Content of files over [`SMALL_FILE`] not asked for in this long is let go.
const INACTIVE_MS: u64 = 10_000;
/// Lookups between two looks at the clock for whether to look for such content,
/// which is done at most every [`SWEEP_MS`] (a walk over every entry).
const SWEEP_EVERY: u32 = 64;
const SWEEP_MS: u64 = 1000;
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
    /// The whole content, for settled files up to [`MAX_FILE`] (see [`FileCache::get`]).
    pub(crate) data: Option<Bytes>,
    /// When it was last asked for ([`clock_ms`]), kept up for content over [`SMALL_FILE`] only.
    used: AtomicU64,
}

impl FileInfo {
    /// This version without its content: what is kept of a large file when there is no room.
    fn described(&self) -> FileInfo {
        FileInfo {
            stamp: self.stamp,
            ctype: self.ctype.clone(),
            compressible: self.compressible,
            validators: self.validators.clone(),
            data: None,
            used: AtomicU64::new(clock_ms()),
        }
    }

    fn new(path: &Path, md: &Metadata, stamp: Stamp, data: Option<Bytes>) -> FileInfo {
        let ctype = content_type(path);
        FileInfo {
            stamp,
            compressible: compressible(&ctype),
            ctype,
            validators: Validators::of(md),
            data,
            used: AtomicU64::new(clock_ms()),
        }
    }

    /// How many bytes of content are held.
    fn data_len(&self) -> usize {
        self.data.as_ref().map_or(0, Bytes::len)
    }

    /// How many of them are a large file's (over [`SMALL_FILE`]), which is let go when unused.
    fn large_len(&self) -> usize {
        let n = self.data_len();
        if n as u64 > SMALL_FILE { n } else { 0 }
    }
}

#[derive(Default)]
struct Entries {
    map: HashMap<PathBuf, Arc<FileInfo>>,
    /// Content bytes held.
    bytes: usize,
    /// Of which, large files' ([`FileInfo::large_len`]).
    large: usize,
    /// Lookups since the clock was last read for a sweep.
    lookups: u32,
    /// When unused large content was last looked for ([`clock_ms`]).
    swept: u64,
}

impl Entries {
    /// Whether the content of a settled file of `len` bytes at `path` is kept:
    /// up to [`SMALL_FILE`] always, up to [`MAX_FILE`] while there is room
    /// (counting out the content of the entry it would replace).
    fn keeps(&self, path: &Path, len: u64) -> bool {
        if len <= SMALL_FILE {
            return true;
        }
        if len > MAX_FILE {
            return false;
        }
        let (old, old_large) = self
            .map
            .get(path)
            .map_or((0, 0), |o| (o.data_len(), o.large_len()));
        let len = len as usize;
        self.large - old_large + len <= MAX_LARGE && self.bytes - old + len <= MAX_BYTES
    }

    /// Keep `info` for `path`. A large file's content read while there was room
    /// may find none by now (another thread's file came in between): then only
    /// its description is kept.
    fn insert(&mut self, path: &Path, mut info: Arc<FileInfo>) {
        if info.large_len() > 0 && !self.keeps(path, info.data_len() as u64) {
            info = Arc::new(info.described());
        }
        let old = self.map.get(path).map(|o| o.data_len());
        if (old.is_none() && self.map.len() >= MAX_ENTRIES)
            || self.bytes - old.unwrap_or(0) + info.data_len() > MAX_BYTES
        {
            *self = Entries::default();
        }
        self.bytes += info.data_len();
        self.large += info.large_len();
        if let Some(old) = self.map.insert(path.to_path_buf(), info) {
            self.bytes -= old.data_len();
            self.large -= old.large_len();
        }
    }

    /// Let go of the large files not asked for since `now` - [`INACTIVE_MS`];
    /// whether any was.
    fn sweep(&mut self, now: u64) -> bool {
        if self.large == 0 || now.saturating_sub(self.swept) < SWEEP_MS {
            return false;
        }
        let before = self.large;
        self.swept = now;
        let Entries {
            map, bytes, large, ..
        } = self;
        map.retain(|_, info| {
            let n = info.large_len();
            let unused =
                n > 0 && now.saturating_sub(info.used.load(Ordering::Relaxed)) >= INACTIVE_MS;
            if unused {
                *bytes -= n;
                *large -= n;
            }
            !unused
        });
        *large < before
    }
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
        let (hit, let_go, keep) = {
            let mut entries = self.lock();
            entries.lookups += 1;
            let let_go = entries.lookups >= SWEEP_EVERY && {
                entries.lookups = 0;
                entries.sweep(clock_ms())
            };
            let current = entries.map.get(path).filter(|h| h.stamp == stamp);
            // A large file described when there was no room is read once there is.
            let (hit, keep) = match current {
                Some(h) if h.data.is_some() || md.len() <= SMALL_FILE => (Some(h.clone()), false),
                _ => {
                    let keep = entries.keeps(path, md.len());
                    (current.filter(|_| !keep).cloned(), keep)
                }
            };
            (hit, let_go, keep)
        };
        if let_go {
            // Freed pages stay resident until the allocator is told (measured: 2 MiB).
            crate::net::heap::release_free_memory();
        }
        if let Some(hit) = hit {
            if hit.large_len() > 0 {
                hit.used.store(clock_ms(), Ordering::Relaxed);
            }
            return hit;
        }
        let settled = stamp.settled();
        let data = (settled && keep)
            .then(|| read_version(path, stamp))
            .flatten();
        let info = Arc::new(FileInfo::new(path, md, stamp, data));
        if settled {
            self.lock().insert(path, info.clone());
        }
        info
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic elsewhere cannot leave the entries inconsistent: nothing in an
        // update (`insert`, `sweep`) can panic between its steps.
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

    #[test]
    fn large_files_are_kept_only_while_there_is_room() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, len: u64| {
            let p = dir.path().join(name);
            std::fs::write(&p, vec![b'x'; len as usize]).unwrap();
            p
        };
        let fit = MAX_LARGE / MAX_FILE as usize;
        let large: Vec<PathBuf> = (0..=fit)
            .map(|i| write(&format!("large{i}"), MAX_FILE))
            .collect();
        let room = (MAX_BYTES - MAX_LARGE) / SMALL_FILE as usize;
        let small: Vec<PathBuf> = (0..=room)
            .map(|i| write(&format!("small{i}"), SMALL_FILE))
            .collect();
        let too_large = write("too-large", MAX_FILE + 1);
        std::thread::sleep(SETTLE + Duration::from_millis(100));
        let cache = FileCache::default();
        let get = |p: &Path| cache.get(p, &std::fs::metadata(p).unwrap());
        assert!(get(&too_large).data.is_none(), "above MAX_FILE: never kept");
        for p in &large[..fit] {
            assert_eq!(get(p).data_len(), MAX_FILE as usize);
        }
        let first = get(&large[0]);
        assert!(Arc::ptr_eq(&first, &get(&large[0])), "kept: a hit");
        let no_room = get(&large[fit]);
        assert!(no_room.data.is_none(), "no room left: described, not kept");
        assert!(
            Arc::ptr_eq(&no_room, &get(&large[fit])),
            "the description is kept"
        );
        // Content read while there was room, which another file took meanwhile.
        let raced = Arc::new(FileInfo::new(
            &large[fit],
            &std::fs::metadata(&large[fit]).unwrap(),
            no_room.stamp,
            Some(Bytes::from(vec![b'x'; MAX_FILE as usize])),
        ));
        cache.lock().insert(&large[fit], raced);
        {
            let entries = cache.lock();
            assert_eq!(entries.map.len(), fit + 2, "no start-over");
            assert!(entries.map[&large[fit]].data.is_none(), "described only");
            assert_eq!(entries.large, MAX_LARGE);
        }
        // The others unused for INACTIVE_MS: let go, and the file described
        // without its content gets it now that there is room.
        assert!(cache.lock().sweep(clock_ms() + INACTIVE_MS));
        {
            let entries = cache.lock();
            assert!(!entries.map.contains_key(&large[0]), "let go");
            assert!(entries.map.contains_key(&large[fit]), "a description stays");
            assert_eq!((entries.bytes, entries.large), (0, 0));
        }
        assert_eq!(get(&large[fit]).data_len(), MAX_FILE as usize);
        for p in &large[..fit - 1] {
            assert_eq!(get(p).data_len(), MAX_FILE as usize);
        }
        // Small files have room of their own beside the large ones; past it, a
        // small file makes the cache start over, and is kept.
        for p in &small[..room] {
            assert_eq!(get(p).data_len(), SMALL_FILE as usize);
        }
        assert_eq!(cache.lock().bytes, MAX_BYTES);
        assert_eq!(cache.lock().map.len(), 1 + fit + room);
        std::fs::write(&small[0], vec![b'y'; SMALL_FILE as usize]).unwrap();
        assert!(
            get(&small[0]).data.is_none(),
            "changed just now: not kept, the cache goes on"
        );
        assert_eq!(cache.lock().map.len(), 1 + fit + room);
        assert_eq!(get(&small[room]).data_len(), SMALL_FILE as usize);
        let entries = cache.lock();
        assert_eq!(
            (entries.bytes, entries.large, entries.map.len()),
            (SMALL_FILE as usize, 0, 1)
        );
    }
}
