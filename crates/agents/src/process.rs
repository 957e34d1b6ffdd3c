//! One turn's process, on pipes or in a PTY, in its own process group: its output arrives as
//! messages on a channel, it can be given input (through a writer thread, so a process that stops
//! reading cannot block the caller), a PTY can be resized, and it is killed as a group (the CLI
//! and every child it started).

use portable_pty::{CommandBuilder, MasterPty, PtySize, native_pty_system};
use rustix::process::{Pid, Signal, kill_process_group};
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// A process to start: never a shell string.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandSpec {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Added to the daemon's environment.
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    /// Run in a PTY (interactive TUIs) rather than on pipes.
    pub pty: bool,
    /// Keep stdin open as a pipe (for answers); otherwise it is `/dev/null`.
    pub stdin: bool,
    /// Written to stdin at the start, which is then closed (a prompt too long for an argument).
    pub input: Option<String>,
    /// Made before the program starts: a CLI's configuration for this run (Gemini's home).
    pub prepare: Vec<Prepare>,
}

/// A file or a link a run needs, made (in directories made 0700) before it starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Prepare {
    /// Written whole, 0600.
    File { path: PathBuf, text: String },
    /// A symbolic link to `target`, replacing a link or nothing (what the CLI made there itself
    /// stays).
    Link { path: PathBuf, target: PathBuf },
}

impl CommandSpec {
    /// Makes [`CommandSpec::prepare`].
    pub fn prepare(&self) -> std::io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        for p in &self.prepare {
            let (Prepare::File { path, .. } | Prepare::Link { path, .. }) = p;
            if let Some(dir) = path.parent() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)?;
            }
            match (std::fs::symlink_metadata(path), p) {
                // A link made for an earlier run is made again (its target may have changed).
                (Ok(m), _) if m.file_type().is_symlink() => std::fs::remove_file(path)?,
                (Ok(m), Prepare::File { .. }) if m.is_file() => std::fs::remove_file(path)?,
                // What the CLI made there itself (a directory of sessions, say) is its own.
                (Ok(_), _) => continue,
                (Err(_), _) => {}
            }
            match p {
                Prepare::File { path, text } => std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)?
                    .write_all(text.as_bytes())?,
                Prepare::Link { path, target } => std::os::unix::fs::symlink(target, path)?,
            }
        }
        Ok(())
    }
}

/// How a turn's process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    /// The end of what it wrote to stderr.
    pub stderr_tail: String,
}

impl Exit {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// What a running process reports.
#[derive(Debug)]
pub enum ProcessMsg {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    /// The process exited (after its output was read, or after a grace period when children
    /// kept the pipes open).
    Exited {
        code: Option<i32>,
        signal: Option<i32>,
    },
}

/// A started process.
pub struct AgentProcess {
    pub pid: u32,
    input: Option<std_mpsc::Sender<Vec<u8>>>,
    /// The PTY's master side, when the process runs in one.
    pty: Option<Box<dyn MasterPty + Send>>,
}

/// How long the output of a process that exited may keep flowing (from children that inherited
/// its pipes) before the group is killed and the exit reported.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// Rows and columns of a PTY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TermSize {
    pub rows: u16,
    pub cols: u16,
}

impl TermSize {
    /// Where a TUI starts before anyone attaches.
    pub const DEFAULT: TermSize = TermSize {
        rows: 40,
        cols: 120,
    };

    fn pty(self) -> PtySize {
        PtySize {
            rows: self.rows,
            cols: self.cols,
            pixel_width: 0,
            pixel_height: 0,
        }
    }
}

impl AgentProcess {
    /// Starts `spec` with `env` added, reporting on `tx`; in a PTY of `size` when `spec.pty`.
    pub fn spawn(
        spec: &CommandSpec,
        env: &[(String, String)],
        size: TermSize,
        tx: UnboundedSender<ProcessMsg>,
    ) -> std::io::Result<AgentProcess> {
        spec.prepare()?;
        if spec.pty {
            return Self::spawn_pty(spec, env, size, tx);
        }
        let mut cmd = Command::new(&spec.program);
        cmd.args(&spec.args)
            .current_dir(&spec.cwd)
            // Programs that take their directory from PWD (OpenCode does) would otherwise work
            // in the daemon's inherited one: another checkout.
            .env("PWD", &spec.cwd)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(if spec.stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = cmd.spawn()?;
        let pid = child.id();
        let mut input = child.stdin.take().map(|stdin| writer(stdin, pid));
        if let Some(text) = &spec.input {
            // Written, then closed: the CLI reads its prompt to the end.
            if let Some(tx) = input.take() {
                let _ = tx.send(text.as_bytes().to_vec());
            }
        }
        let readers = [
            child
                .stdout
                .take()
                .map(|s| pump(s, tx.clone(), ProcessMsg::Stdout)),
            child
                .stderr
                .take()
                .map(|s| pump(s, tx.clone(), ProcessMsg::Stderr)),
        ];
        let readers: Vec<_> = readers.into_iter().flatten().collect();
        waiter(child, pid, readers, tx)?;
        Ok(AgentProcess {
            pid,
            input,
            pty: None,
        })
    }

    /// The process in a new PTY: it leads a new session with the PTY as its controlling
    /// terminal (so its process group is its pid, as on pipes), stdout and stderr are one stream.
    fn spawn_pty(
        spec: &CommandSpec,
        env: &[(String, String)],
        size: TermSize,
        tx: UnboundedSender<ProcessMsg>,
    ) -> std::io::Result<AgentProcess> {
        let pair = native_pty_system()
            .openpty(size.pty())
            .map_err(|e| std::io::Error::other(format!("cannot open a PTY: {e}")))?;
        let mut cmd = CommandBuilder::new(&spec.program);
        cmd.args(&spec.args);
        cmd.cwd(&spec.cwd);
        cmd.env("PWD", &spec.cwd);
        // The daemon may have no terminal type of its own; TUIs need one.
        cmd.env("TERM", "xterm-256color");
        for (k, v) in spec.env.iter().chain(env) {
            cmd.env(k, v);
        }
        let child = pair.slave.spawn_command(cmd).map_err(|e| {
            let text = e.to_string();
            let kind = if text.contains("exist") || text.contains("No viable candidates") {
                std::io::ErrorKind::NotFound
            } else {
                std::io::ErrorKind::Other
            };
            std::io::Error::new(kind, text)
        })?;
        // Only the child holds the terminal side now: its end (and its children's) ends the reader.
        drop(pair.slave);
        let child: Box<dyn portable_pty::Child> = child;
        let child = child
            .downcast::<std::process::Child>()
            .map_err(|_| std::io::Error::other("the PTY child is not an OS process"))?;
        let pid = child.id();
        let reader = pair
            .master
            .try_clone_reader()
            .map_err(std::io::Error::other)?;
        let input = pair.master.take_writer().map_err(std::io::Error::other)?;
        let readers = vec![pump(reader, tx.clone(), ProcessMsg::Stdout)];
        waiter(*child, pid, readers, tx)?;
        Ok(AgentProcess {
            pid,
            input: Some(writer(input, pid)),
            pty: Some(pair.master),
        })
    }

    /// Whether the process runs in a PTY.
    pub fn is_pty(&self) -> bool {
        self.pty.is_some()
    }

    /// Queues bytes for the process's input; an error when its input is closed.
    pub fn write(&self, bytes: &[u8]) -> std::io::Result<()> {
        self.input
            .as_ref()
            .ok_or_else(|| std::io::Error::other("the agent's input is closed"))?
            .send(bytes.to_vec())
            .map_err(|_| std::io::Error::other("the agent's input is closed"))
    }

    /// Writes a line to the process's input.
    pub fn write_line(&self, text: &str) -> std::io::Result<()> {
        self.write(format!("{text}\n").as_bytes())
    }

    /// Sets the PTY's size (the program gets SIGWINCH); nothing on pipes.
    pub fn resize(&self, size: TermSize) -> std::io::Result<()> {
        match &self.pty {
            Some(pty) => pty.resize(size.pty()).map_err(std::io::Error::other),
            None => Ok(()),
        }
    }

    /// Asks the whole group to stop (SIGTERM).
    pub fn terminate(&self) {
        kill_group(self.pid, Signal::TERM);
    }

    /// Kills the whole group (SIGKILL).
    pub fn kill(&self) {
        kill_group(self.pid, Signal::KILL);
    }
}

/// Waits for the process, lets its output drain, then kills what is left of its group and
/// reports the exit.
fn waiter(
    mut child: std::process::Child,
    pid: u32,
    readers: Vec<std::thread::JoinHandle<()>>,
    tx: UnboundedSender<ProcessMsg>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name(format!("agent-wait-{pid}"))
        .spawn(move || {
            let status = child.wait();
            let deadline = std::time::Instant::now() + DRAIN_GRACE;
            // The readers usually reach EOF within microseconds of the exit: look again soon,
            // then less often (a turn's end waits for this).
            let mut pause = Duration::from_micros(100);
            for reader in readers {
                while !reader.is_finished() && std::time::Instant::now() < deadline {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(10));
                }
            }
            // Children still holding the pipes: the turn is over, they go too.
            kill_group(pid, Signal::KILL);
            let (code, signal) = match status {
                Ok(s) => (s.code(), s.signal()),
                Err(_) => (None, None),
            };
            let _ = tx.send(ProcessMsg::Exited { code, signal });
        })?;
    Ok(())
}

/// A thread that writes what it is sent to `to`, until a write fails or the sender is dropped.
fn writer<W: Write + Send + 'static>(mut to: W, pid: u32) -> std_mpsc::Sender<Vec<u8>> {
    let (tx, rx) = std_mpsc::channel::<Vec<u8>>();
    let spawned = std::thread::Builder::new()
        .name(format!("agent-input-{pid}"))
        .spawn(move || {
            for bytes in rx {
                if to.write_all(&bytes).and_then(|()| to.flush()).is_err() {
                    break;
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(pid, "no input thread for the agent: {e}");
    }
    tx
}

/// Signals the process group led by `pid`; a group that is gone is fine.
pub fn kill_group(pid: u32, signal: Signal) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = kill_process_group(pid, signal);
    }
}

fn pump<R: Read + Send + 'static>(
    mut from: R,
    tx: UnboundedSender<ProcessMsg>,
    wrap: fn(Vec<u8>) -> ProcessMsg,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(wrap(buf[..n].to_vec())).is_err() {
                        break;
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_prepared_without_touching_what_its_cli_made() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home/.gemini");
        let spec = |target: &std::path::Path| CommandSpec {
            program: "true".into(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: dir.path().to_owned(),
            pty: false,
            stdin: false,
            input: None,
            prepare: vec![
                Prepare::Link {
                    path: home.join("oauth_creds.json"),
                    target: target.to_owned(),
                },
                Prepare::Link {
                    path: home.join("tmp"),
                    target: target.to_owned(),
                },
                Prepare::File {
                    path: home.join("settings.json"),
                    text: "{}".into(),
                },
            ],
        };
        std::fs::create_dir_all(home.join("tmp")).unwrap();
        std::fs::write(home.join("tmp/session"), "kept").unwrap();
        spec(&dir.path().join("a")).prepare().unwrap();
        spec(&dir.path().join("b")).prepare().unwrap();
        assert_eq!(
            std::fs::read_link(home.join("oauth_creds.json")).unwrap(),
            dir.path().join("b"),
            "a link is made again"
        );
        assert_eq!(
            std::fs::read_to_string(home.join("tmp/session")).unwrap(),
            "kept"
        );
        let mode = std::fs::metadata(home.join("settings.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
