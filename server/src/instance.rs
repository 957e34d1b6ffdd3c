//! The single-instance lock: whoever holds an exclusive `flock` on `run/daemon.lock` owns the store
//! (the daemon, a `maestro lsp --standalone`, or a `maestro store restore`). The kernel drops the lock
//! when its holder dies, so a SIGKILLed daemon never blocks the next one. The file also says who holds
//! it, for messages.

use maestro_engine::Paths;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

/// Who holds the lock, as its holder wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub pid: u32,
    /// `daemon`, `lsp-standalone` or `restore`.
    pub role: String,
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.role.as_str() {
            "daemon" => write!(f, "the maestro daemon (pid {})", self.pid),
            "lsp-standalone" => write!(f, "`maestro lsp --standalone` (pid {})", self.pid),
            "restore" => write!(f, "`maestro store restore` (pid {})", self.pid),
            other => write!(f, "{other} (pid {})", self.pid),
        }
    }
}

/// The held lock; released on drop (or when the process dies).
#[derive(Debug)]
pub struct InstanceLock {
    file: File,
}

impl InstanceLock {
    /// Takes the lock if nobody holds it, trying for up to `wait` (a holder may be exiting).
    pub fn acquire(paths: &Paths, wait: Duration) -> std::io::Result<Option<InstanceLock>> {
        prepare_runtime_dir(&paths.runtime_dir)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(paths.lock_file())?;
        let deadline = Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Some(InstanceLock { file })),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(TryLockError::WouldBlock) => return Ok(None),
                Err(TryLockError::Error(e)) => return Err(e),
            }
        }
    }

    /// Records who holds the lock.
    pub fn set_owner(&mut self, role: &str) -> std::io::Result<()> {
        self.file.set_len(0)?;
        self.file.rewind()?;
        writeln!(self.file, "{} {role}", std::process::id())?;
        self.file.flush()
    }
}

/// Whether some process holds the lock now.
pub fn is_held(paths: &Paths) -> bool {
    let Ok(file) = File::open(paths.lock_file()) else {
        return false;
    };
    matches!(file.try_lock(), Err(TryLockError::WouldBlock))
}

/// Who holds the lock, if anyone does.
pub fn owner(paths: &Paths) -> Option<Owner> {
    if !is_held(paths) {
        return None;
    }
    let mut text = String::new();
    File::open(paths.lock_file())
        .ok()?
        .read_to_string(&mut text)
        .ok()?;
    let (pid, role) = text.trim().split_once(' ')?;
    Some(Owner {
        pid: pid.parse().ok()?,
        role: role.to_owned(),
    })
}

/// Creates the runtime directory private to this user (0700), and refuses one that another user owns.
pub fn prepare_runtime_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let meta = std::fs::metadata(dir)?;
    let me = rustix::process::getuid().as_raw();
    if meta.uid() != me {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "{} belongs to uid {}, not to you (uid {me}); set MAESTRO_HOME or XDG_RUNTIME_DIR",
                dir.display(),
                meta.uid()
            ),
        ));
    }
    if meta.mode() & 0o777 != 0o700 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}
