//! One turn's process on pipes, in its own process group: its output arrives as messages on a
//! channel, it can be given input, and it is killed as a group (the CLI and every child it
//! started).

use crate::adapters::CommandSpec;
use rustix::process::{Pid, Signal, kill_process_group};
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{ChildStdin, Command, Stdio};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

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
    stdin: Option<ChildStdin>,
}

/// How long the output of a process that exited may keep flowing (from children that inherited
/// its pipes) before the group is killed and the exit reported.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

impl AgentProcess {
    /// Starts `spec` with `env` added, reporting on `tx`.
    pub fn spawn(
        spec: &CommandSpec,
        env: &[(String, String)],
        tx: UnboundedSender<ProcessMsg>,
    ) -> std::io::Result<AgentProcess> {
        let mut cmd = Command::new(&spec.program);
        cmd.args(&spec.args)
            .current_dir(&spec.cwd)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = cmd.spawn()?;
        let pid = child.id();
        let stdin = child.stdin.take();
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
        std::thread::Builder::new()
            .name(format!("agent-wait-{pid}"))
            .spawn(move || {
                let status = child.wait();
                let deadline = std::time::Instant::now() + DRAIN_GRACE;
                for reader in readers.into_iter().flatten() {
                    while !reader.is_finished() && std::time::Instant::now() < deadline {
                        std::thread::sleep(Duration::from_millis(10));
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
        Ok(AgentProcess { pid, stdin })
    }

    /// Writes a line to the process's stdin.
    pub fn write_line(&mut self, text: &str) -> std::io::Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| std::io::Error::other("the agent's stdin is closed"))?;
        stdin.write_all(text.as_bytes())?;
        stdin.write_all(b"\n")?;
        stdin.flush()
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
