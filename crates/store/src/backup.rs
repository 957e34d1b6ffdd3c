//! Backups are consistent copies written by the live store; restores swap files while nobody has the
//! store open (the caller holds the daemon's instance lock), keeping the replaced file.

use crate::file::{self, FileState};
use crate::{Store, StoreError, sibling};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// What [`restore`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    /// The schema version of the backup as found, before migrating it.
    pub backup_schema_version: u32,
    /// The schema version the restored store has now.
    pub schema_version: u32,
    /// Where the store that was replaced was kept, if there was one.
    pub previous: Option<PathBuf>,
}

impl Store {
    /// Writes a consistent copy of the store to `dest` (a new file, or a replaced one with
    /// `overwrite`). The copy is written beside `dest` and renamed into place, so `dest` is never
    /// half-written. Returns its size.
    pub async fn backup(&self, dest: &Path, overwrite: bool) -> Result<u64, StoreError> {
        let dest = dest.to_owned();
        self.on_writer(move |db| {
            if dest.is_dir() {
                return Err(StoreError::Exists { path: dest });
            }
            if dest.exists() && !overwrite {
                return Err(StoreError::Exists { path: dest });
            }
            let name = dest.file_name().ok_or_else(|| StoreError::Io {
                path: dest.clone(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"),
            })?;
            let prefix = format!(".{}.partial-", name.to_string_lossy());
            remove_stale_partials(&dest, &prefix);
            let partial = dest.with_file_name(format!("{prefix}{}", std::process::id()));
            remove_db_files(&partial);
            if let Err(e) = db.backup_db(&partial) {
                remove_db_files(&partial);
                let parent = dest.parent().unwrap_or(Path::new("."));
                if !parent.is_dir() {
                    return Err(StoreError::Io {
                        path: parent.to_owned(),
                        source: std::io::Error::new(
                            std::io::ErrorKind::NotFound,
                            "no such directory",
                        ),
                    });
                }
                return Err(StoreError::Query {
                    detail: format!("backup to {}: {e}", dest.display()),
                });
            }
            crate::private::restrict(&partial, 0o600).map_err(StoreError::io(&partial))?;
            std::fs::rename(&partial, &dest).map_err(StoreError::io(&dest))?;
            Ok(std::fs::metadata(&dest)
                .map_err(StoreError::io(&dest))?
                .len())
        })
        .await
    }
}

/// Checks, read-only, that `backup` is a maestro store this build can restore; returns its schema
/// version.
pub fn check_backup(backup: &Path) -> Result<u32, StoreError> {
    let refuse = |reason: String| StoreError::NotABackup {
        path: backup.into(),
        reason,
    };
    if !backup.is_file() {
        return Err(refuse("no such file".into()));
    }
    if file::check(backup).map_err(|e| refuse(e.reason()))? == FileState::Fresh {
        return Err(refuse("it is empty".into()));
    }
    file::quick_check(backup).map_err(|e| refuse(e.reason()))?;
    let version = match crate::inspect(backup, false) {
        Ok(info) => info.schema_version.unwrap_or(0),
        Err(e) => return Err(refuse(e.reason())),
    };
    if version > crate::SCHEMA_VERSION {
        return Err(refuse(format!(
            "it has schema version {version}, newer than this maestro understands (up to {})",
            crate::SCHEMA_VERSION
        )));
    }
    Ok(version)
}

/// Replaces the store file `target` with the maestro store in `backup`, migrated to the current
/// schema. The backup file is only read. The replaced store is moved into `keep_dir`, never deleted.
/// Nothing may have `target` open: the caller holds the daemon's instance lock.
pub fn restore(backup: &Path, target: &Path, keep_dir: &Path) -> Result<RestoreReport, StoreError> {
    let backup_schema_version = check_backup(backup)?;

    // Work on a copy next to the target so that the final step is a rename on one file system.
    let staging = sibling(target, ".restoring");
    remove_db_files(&staging);
    std::fs::copy(backup, &staging).map_err(StoreError::io(&staging))?;
    let staged = (|| {
        drop(file::prepare(&staging)?);
        let store = Store::open(&staging)?;
        Ok::<_, StoreError>(store.schema_version())
    })();
    let schema_version = match staged {
        Ok(v) => v,
        Err(e) => {
            remove_db_files(&staging);
            return Err(e);
        }
    };

    let previous = if target.exists() {
        crate::private::create_dir(keep_dir).map_err(StoreError::io(keep_dir))?;
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let stamp = utc_stamp(secs);
        // Two restores in one second must not keep one store over the other.
        let kept = (0..)
            .map(|n| match n {
                0 => keep_dir.join(format!("maestro-before-restore-{stamp}.db")),
                n => keep_dir.join(format!("maestro-before-restore-{stamp}-{n}.db")),
            })
            .find(|p| !p.exists())
            .expect("an unused name");
        move_db_files(target, &kept)?;
        Some(kept)
    } else {
        None
    };
    move_db_files(&staging, target)?;
    Ok(RestoreReport {
        backup_schema_version,
        schema_version,
        previous,
    })
}

/// The UTC calendar date `(year, month, day)` of a unix time (Howard Hinnant's days-to-civil).
pub fn utc_date(secs: u64) -> (i64, i64, i64) {
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// `20261121-010203Z` for a unix time: sortable, readable, safe in a file name.
pub(crate) fn utc_stamp(secs: u64) -> String {
    let rem = secs % 86_400;
    let (year, month, day) = utc_date(secs);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

const COMPANIONS: [&str; 3] = ["", "-wal", "-shm"];

/// Moves a SQLite file together with its write-ahead log and shared-memory index.
fn move_db_files(from: &Path, to: &Path) -> Result<(), StoreError> {
    for suffix in COMPANIONS {
        let (src, dst) = (sibling(from, suffix), sibling(to, suffix));
        if suffix.is_empty() || src.exists() {
            std::fs::rename(&src, &dst).map_err(StoreError::io(&src))?;
        } else {
            let _ = std::fs::remove_file(&dst);
        }
    }
    Ok(())
}

/// Removes the copies of earlier backups to `dest` that never finished (their process was killed
/// mid-copy): `.<name>.partial-<pid>` files (and their companions) whose process is gone.
fn remove_stale_partials(dest: &Path, prefix: &str) {
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(prefix)) else {
            continue;
        };
        let pid: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let gone = pid
            .parse::<u32>()
            .is_ok_and(|p| p != std::process::id() && !Path::new(&format!("/proc/{p}")).exists());
        if gone {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn remove_db_files(path: &Path) {
    for suffix in COMPANIONS {
        let _ = std::fs::remove_file(sibling(path, suffix));
    }
}
