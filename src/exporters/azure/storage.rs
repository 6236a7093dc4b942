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

/// A lease older than this was abandoned (its process died): the file is sent again.
const LEASE_TIMEOUT: Duration = Duration::from_secs(120);

pub(crate) struct Storage {
    dir: PathBuf,
    max_size: u64,
    retention: Duration,
    seq: AtomicU64,
    /// Bytes in the directory (blobs and leases), kept up to date by this process.
    size: Mutex<u64>,
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

/// The uid this process creates files as (read from a file it creates), without `unsafe`.
#[cfg(unix)]
fn own_uid(dir: &Path) -> std::io::Result<u32> {
    use std::os::unix::fs::MetadataExt;
    let probe = dir.join(format!(".uid-probe-{}", std::process::id()));
    fs::write(&probe, b"")?;
    let uid = fs::metadata(&probe)?.uid();
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

    /// Recomputes the size; removes stale temp files (a crash mid-write).
    pub(crate) fn rescan(&self) {
        let mut total = 0;
        for path in self.files(TMP) {
            let _ = fs::remove_file(path);
        }
        for ext in [BLOB, LEASE] {
            for path in self.files(ext) {
                total += fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            }
        }
        if let Ok(mut size) = self.size.lock() {
            *size = total;
        }
    }

    /// Stores a gzip JSON array of `count` items. `false` when the size limit refuses it.
    pub(crate) fn put(&self, body: &[u8], count: u64) -> Result<bool, std::io::Error> {
        let len = body.len() as u64;
        {
            let mut size = self
                .size
                .lock()
                .map_err(|_| std::io::Error::other("lock"))?;
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
            let mut file = fs::File::create(&tmp)?;
            file.write_all(body)?;
            file.sync_all()?;
            fs::rename(&tmp, self.dir.join(format!("{name}.{BLOB}")))
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            if let Ok(mut size) = self.size.lock() {
                *size = size.saturating_sub(len);
            }
            return Err(e);
        }
        Ok(true)
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

    /// Leases the oldest stored file (an abandoned lease counts as stored).
    pub(crate) fn take(&self) -> Option<Lease> {
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
        for path in self.files(BLOB) {
            let lease = path.with_extension(LEASE);
            if fs::rename(&path, &lease).is_err() {
                continue; // another process took it
            }
            // Touch the lease so its age counts from now.
            if let Ok(file) = fs::OpenOptions::new().write(true).open(&lease) {
                let _ = file.set_modified(SystemTime::now());
            }
            let Ok(body) = fs::read(&lease) else { continue };
            let count = parse_name(&lease).map_or(0, |(_, c)| c);
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
