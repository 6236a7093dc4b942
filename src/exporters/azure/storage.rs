//! Local storage for telemetry that could not be sent: one gzip JSON array per file, written
//! atomically (temp file + rename, so a crash never leaves a half file that is sent), in an
//! owner-only directory; oldest first; leased while being resent so two processes sharing the
//! directory do not both send a file; deleted after the retention period.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const BLOB: &str = "blob";
const LEASE: &str = "lease";
const TMP: &str = "tmp";
/// Files set aside as corrupt (kept for a person to look at, never sent).
const CORRUPT: &str = "corrupt";
/// A temp file older than this was left by a crash (a live write takes milliseconds).
const STALE_TMP: Duration = Duration::from_secs(600);
/// How often the folder's size is re-counted from the disk.
const RESCAN_EVERY: Duration = Duration::from_secs(1);

/// Whether `body` is a whole stored batch: intact gzip of a JSON array.
fn is_whole(body: &[u8]) -> bool {
    use std::io::Read;
    if !body.starts_with(&[0x1f, 0x8b]) {
        return false;
    }
    // Gzip checks its own length and CRC, so a truncated or damaged file fails here; a JSON
    // array inside is all the rest we ask (ingestion judges the items).
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut raw)
        .is_ok()
        && raw.first() == Some(&b'[')
        && raw.trim_ascii_end().last() == Some(&b']')
}

/// A lease older than this was abandoned (its process died): the file is sent again.
const LEASE_TIMEOUT: Duration = Duration::from_secs(120);

pub(crate) struct Storage {
    dir: PathBuf,
    max_size: u64,
    retention: Duration,
    seq: AtomicU64,
    /// Bytes in the directory (blobs and leases), as last counted.
    size: Mutex<u64>,
    /// When the folder's size was last counted.
    scanned: Mutex<Option<std::time::Instant>>,
    /// Stored files listed by the last pass of `take`, oldest first.
    pending: Mutex<std::collections::VecDeque<PathBuf>>,
    /// Items of stored files found corrupt, truncated or foreign (skipped, never sent), not yet
    /// reported to the counters.
    corrupt: AtomicU64,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// A stored file being resent.
pub(crate) struct Lease {
    path: PathBuf,
    pub(crate) body: Vec<u8>,
    pub(crate) count: u64,
    len: u64,
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Creates `path` new: never through a symlink, never over an existing file (`O_EXCL`), so a
/// planted link in a shared folder cannot make us write anywhere else.
fn create_new(path: &Path) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// The uid this process creates files as (read from a file it creates), without `unsafe`.
#[cfg(unix)]
fn own_uid(dir: &Path) -> std::io::Result<u32> {
    use std::os::unix::fs::MetadataExt;
    let probe = dir.join(format!(".uid-probe-{}-{}", std::process::id(), now_nanos()));
    let file = create_new(&probe)?;
    let uid = file.metadata()?.uid();
    drop(file);
    let _ = fs::remove_file(&probe);
    Ok(uid)
}

/// `<nanos>-<count>-<pid>-<seq>.<ext>`
fn parse_name(path: &Path) -> Option<(u128, u64)> {
    let stem = path.file_stem()?.to_str()?;
    let mut parts = stem.split('-');
    let ts = parts.next()?.parse().ok()?;
    let count = parts.next()?.parse().ok()?;
    Some((ts, count))
}

impl Storage {
    /// Opens (creating it owner-only) the storage directory. Refuses a symlink and a directory
    /// another user owns.
    pub(crate) fn open(dir: &Path, max_size: u64, retention: Duration) -> Result<Storage, String> {
        match fs::symlink_metadata(dir) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(format!(
                    "the storage directory {} is a symbolic link; refusing to store telemetry through it",
                    dir.display()
                ));
            }
            Ok(meta) if !meta.is_dir() => {
                return Err(format!(
                    "the storage path {} is not a directory",
                    dir.display()
                ));
            }
            Ok(_) => {}
            Err(_) => {
                let mut builder = fs::DirBuilder::new();
                builder.recursive(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::DirBuilderExt;
                    builder.mode(0o700);
                }
                builder.create(dir).map_err(|e| {
                    format!("cannot create the storage directory {}: {e}", dir.display())
                })?;
            }
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            let meta = fs::symlink_metadata(dir)
                .map_err(|e| format!("cannot read the storage directory {}: {e}", dir.display()))?;
            let uid = own_uid(dir).map_err(|e| {
                format!(
                    "cannot write in the storage directory {}: {e}",
                    dir.display()
                )
            })?;
            if meta.uid() != uid {
                return Err(format!(
                    "the storage directory {} belongs to another user (uid {}); refusing to use it",
                    dir.display(),
                    meta.uid()
                ));
            }
            if meta.permissions().mode() & 0o077 != 0 {
                fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                    .map_err(|e| format!("cannot make {} owner-only: {e}", dir.display()))?;
            }
        }
        let storage = Storage {
            dir: dir.to_path_buf(),
            max_size,
            retention,
            seq: AtomicU64::new(0),
            size: Mutex::new(0),
            corrupt: AtomicU64::new(0),
            scanned: Mutex::new(None),
            pending: Mutex::new(std::collections::VecDeque::new()),
        };
        storage.rescan();
        Ok(storage)
    }

    fn files(&self, ext: &str) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = fs::read_dir(&self.dir)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == ext))
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }

    /// Recomputes the size from what the folder holds (other processes' files included);
    /// removes this process's temp files, and any temp file older than ten minutes (a crash
    /// mid-write), but never another live process's.
    pub(crate) fn rescan(&self) -> u64 {
        let own = format!("-{}-", std::process::id());
        let now = SystemTime::now();
        for path in self.files(TMP) {
            let mine = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains(&own));
            let stale = fs::symlink_metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age > STALE_TMP);
            if mine || stale {
                let _ = fs::remove_file(path);
            }
        }
        self.rescan_size()
    }

    /// Stores a gzip JSON array of `count` items. `false` when the size limit refuses it (the
    /// limit is judged from what the folder holds, whichever process wrote it).
    pub(crate) fn put(&self, body: &[u8], count: u64) -> Result<bool, std::io::Error> {
        let len = body.len() as u64;
        {
            // What the folder holds, re-counted at most once a second (other processes write
            // there too), plus what this process wrote since.
            let mut scanned = self
                .scanned
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if scanned.is_none_or(|t| t.elapsed() >= RESCAN_EVERY) {
                self.rescan_size();
                *scanned = Some(std::time::Instant::now());
            }
            let mut size = self
                .size
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if *size + len > self.max_size {
                return Ok(false);
            }
            *size += len;
        }
        let name = format!(
            "{:020}-{count}-{}-{}",
            now_nanos(),
            std::process::id(),
            self.seq.fetch_add(1, Ordering::Relaxed)
        );
        let tmp = self.dir.join(format!("{name}.{TMP}"));
        let result = (|| {
            let mut file = create_new(&tmp)?;
            file.write_all(body)?;
            file.sync_all()?;
            fs::rename(&tmp, self.dir.join(format!("{name}.{BLOB}")))
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            let mut size = self
                .size
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *size = size.saturating_sub(len);
            return Err(e);
        }
        Ok(true)
    }

    /// What the folder holds now (blobs and leases, every process's).
    fn rescan_size(&self) -> u64 {
        let mut total = 0;
        for ext in [BLOB, LEASE] {
            for path in self.files(ext) {
                total += fs::symlink_metadata(&path).map(|m| m.len()).unwrap_or(0);
            }
        }
        *self
            .size
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = total;
        total
    }

    /// Items of corrupt stored files found since the last call (for the counters).
    pub(crate) fn take_corrupt(&self) -> u64 {
        self.corrupt.swap(0, Ordering::Relaxed)
    }

    /// Deletes files past the retention period; returns how many items they held.
    pub(crate) fn expire(&self) -> u64 {
        let cutoff = now_nanos().saturating_sub(self.retention.as_nanos());
        let mut dropped = 0;
        for ext in [BLOB, LEASE] {
            for path in self.files(ext) {
                if let Some((ts, count)) = parse_name(&path)
                    && ts < cutoff
                {
                    let len = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                    if fs::remove_file(&path).is_ok() {
                        dropped += count;
                        if let Ok(mut size) = self.size.lock() {
                            *size = size.saturating_sub(len);
                        }
                    }
                }
            }
        }
        dropped
    }

    /// Leases the oldest stored file (an abandoned lease counts as stored). The folder is
    /// listed once per pass, not once per file (a drain of thousands of files stays linear).
    pub(crate) fn take(&self) -> Option<Lease> {
        let mut queue = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if queue.is_empty() {
            let now = SystemTime::now();
            for path in self.files(LEASE) {
                let old = fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| now.duration_since(t).ok())
                    .is_some_and(|age| age > LEASE_TIMEOUT);
                if old {
                    let _ = fs::rename(&path, path.with_extension(BLOB));
                }
            }
            queue.extend(self.files(BLOB));
        }
        while let Some(path) = queue.pop_front() {
            let lease = path.with_extension(LEASE);
            if fs::rename(&path, &lease).is_err() {
                continue; // another process took it
            }
            // Touch the lease so its age counts from now.
            if let Ok(file) = fs::OpenOptions::new().write(true).open(&lease) {
                let _ = file.set_modified(SystemTime::now());
            }
            // Never through a link; a regular file only.
            let regular = fs::symlink_metadata(&lease).is_ok_and(|m| m.file_type().is_file());
            let body = if regular { fs::read(&lease).ok() } else { None };
            let named = parse_name(&lease);
            let Some(((_, count), body)) = named.zip(body).filter(|(_, b)| is_whole(b)) else {
                // Corrupt, truncated or foreign: set aside (never sent, never a panic), counted.
                self.corrupt
                    .fetch_add(named.map_or(0, |(_, c)| c), Ordering::Relaxed);
                let _ = fs::rename(&lease, lease.with_extension(CORRUPT));
                continue;
            };
            let len = body.len() as u64;
            return Some(Lease {
                path: lease,
                body,
                count,
                len,
            });
        }
        None
    }

    /// The lease was sent (or dropped for good): delete it.
    pub(crate) fn done(&self, lease: Lease) {
        if fs::remove_file(&lease.path).is_ok()
            && let Ok(mut size) = self.size.lock()
        {
            *size = size.saturating_sub(lease.len);
        }
    }

    /// The lease could not be sent now: give it back.
    pub(crate) fn release(&self, lease: Lease) {
        let _ = fs::rename(&lease.path, lease.path.with_extension(BLOB));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::time::{Duration, SystemTime};

    use super::*;

    fn gz(items: usize) -> Vec<u8> {
        let json = serde_json::to_vec(&vec![serde_json::json!({"a": 1}); items]).unwrap();
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&json).unwrap();
        enc.finish().unwrap()
    }

    fn open(dir: &Path, max: u64) -> Storage {
        Storage::open(&dir.join("s"), max, Duration::from_secs(3600)).unwrap()
    }

    #[cfg(unix)]
    #[test]
    fn nothing_is_created_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let link = dir.path().join("link.tmp");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        assert!(create_new(&link).is_err());
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    }

    #[test]
    fn only_own_or_stale_temp_files_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path(), 1 << 20);
        let other = s.dir.join("00000000000000000001-1-999999-0.tmp");
        let mine = s.dir.join(format!(
            "00000000000000000001-1-{}-0.tmp",
            std::process::id()
        ));
        let stale = s.dir.join("00000000000000000001-1-999998-0.tmp");
        for p in [&other, &mine, &stale] {
            std::fs::write(p, b"x").unwrap();
        }
        std::fs::File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(SystemTime::now() - Duration::from_secs(700))
            .unwrap();
        s.rescan();
        assert!(
            other.exists(),
            "another live process's write in progress is kept"
        );
        assert!(!mine.exists());
        assert!(!stale.exists());
    }

    #[test]
    fn the_size_limit_counts_every_process_files() {
        let dir = tempfile::tempdir().unwrap();
        let body = gz(10);
        let s = open(dir.path(), 3 * body.len() as u64);
        // Another process's file, written behind this one's back.
        std::fs::write(s.dir.join("00000000000000000001-10-999999-0.blob"), &body).unwrap();
        std::fs::write(s.dir.join("00000000000000000002-10-999999-1.blob"), &body).unwrap();
        assert!(s.put(&body, 10).unwrap());
        assert!(!s.put(&body, 10).unwrap(), "the folder is full");
    }

    #[test]
    fn corrupt_truncated_or_foreign_files_are_set_aside_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path(), 1 << 20);
        let whole = gz(3);
        std::fs::write(
            s.dir.join("00000000000000000001-5-999999-0.blob"),
            b"garbage",
        )
        .unwrap();
        std::fs::write(
            s.dir.join("00000000000000000002-4-999999-1.blob"),
            &whole[..whole.len() / 2],
        )
        .unwrap();
        std::fs::write(s.dir.join("notours.blob"), &whole).unwrap();
        assert!(s.put(&whole, 3).unwrap());
        let lease = s.take().expect("the whole file");
        assert_eq!(lease.count, 3);
        assert_eq!(s.take_corrupt(), 5 + 4);
        s.done(lease);
        assert!(s.take().is_none());
        assert_eq!(s.files(CORRUPT).len(), 3);
    }
}
