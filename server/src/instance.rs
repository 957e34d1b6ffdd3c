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

/// What the holder of the lock is doing with the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Daemon,
    /// `maestro lsp --standalone`: an editor's private engine.
    Standalone,
    /// `maestro store restore`, swapping files.
    Restore,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Daemon => "daemon",
            Role::Standalone => "lsp-standalone",
            Role::Restore => "restore",
        }
    }

    fn parse(s: &str) -> Option<Role> {
        [Role::Daemon, Role::Standalone, Role::Restore]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// Who holds the lock, as its holder wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub pid: u32,
    pub role: Role,
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.role {
            Role::Daemon => write!(f, "the maestro daemon (pid {})", self.pid),
            Role::Standalone => write!(f, "`maestro lsp --standalone` (pid {})", self.pid),
            Role::Restore => write!(f, "`maestro store restore` (pid {})", self.pid),
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
    pub fn set_owner(&mut self, role: Role) -> std::io::Result<()> {
        self.file.set_len(0)?;
        self.file.rewind()?;
        writeln!(self.file, "{} {}", std::process::id(), role.as_str())?;
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
        role: Role::parse(role)?,
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
