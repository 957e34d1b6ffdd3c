//! Reaching the daemon: connect to its socket, starting it in the background first when nobody
//! listens (like `gopls -remote=auto`).

use super::{ClientError, DaemonClient, Events};
use crate::instance::{self, Role};
use crate::rpc::framing::FrameBudget;
use crate::rpc::serve::serve_connection;
use maestro_engine::{Engine, Paths};
use maestro_protocol::{ClientInfo, HelloParams, HelloResult, PROTOCOL_VERSION, PositionEncoding};
use std::io::ErrorKind;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::net::UnixStream;

/// How long a client waits for a daemon it started to listen.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// The exit status of a daemon that found another one holding the instance lock.
pub const EXIT_ALREADY_RUNNING: i32 = 3;

#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub client: ClientInfo,
    pub encoding: PositionEncoding,
    /// Start the daemon when it is not running.
    pub autostart: bool,
    pub max_frame: usize,
    /// An agent's token: the connection speaks for that agent (`maestro mcp`).
    pub agent_token: Option<String>,
}

/// A connection that has said hello.
pub struct Connected {
    pub client: DaemonClient,
    pub events: Events,
    pub hello: HelloResult,
    /// Whether this call started the daemon.
    pub started: bool,
}

/// Connects to the daemon (starting it if allowed and needed) and says hello.
pub async fn connect(paths: &Paths, options: &ConnectOptions) -> Result<Connected, ClientError> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        match connect_once(paths, options).await {
            // A daemon dying as we knock (its socket still open for a moment) accepts and then
            // closes: it is gone, so knock again, and start another if that is allowed.
            Err(ClientError::Rpc { error, .. })
                if error.code == maestro_protocol::code::CONNECTION_LOST
                    && Instant::now() < deadline =>
            {
                tracing::debug!("the daemon closed the connection during hello; connecting again");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => return other,
        }
    }
}

async fn connect_once(paths: &Paths, options: &ConnectOptions) -> Result<Connected, ClientError> {
    let socket = paths.socket();
    let (stream, started) = match UnixStream::connect(&socket).await {
        Ok(stream) => (stream, false),
        Err(e) if daemon_gone(&e) => {
            if !options.autostart {
                return Err(ClientError::NotRunning { socket });
            }
            if e.kind() != ErrorKind::NotFound {
                tracing::info!(socket = %socket.display(), "stale socket: the daemon that made it is gone");
            }
            start_and_connect(paths).await?
        }
        Err(source) => {
            return Err(ClientError::Io {
                what: format!("connecting to {}", socket.display()),
                source,
            });
        }
    };
    let (read, write) = stream.into_split();
    handshake(read, write, options, started).await
}

/// Connects to an engine in this process through an in-memory pipe: the same code path as the
/// socket, for `maestro lsp --standalone`.
pub async fn connect_in_process(
    engine: &Engine,
    options: &ConnectOptions,
) -> Result<Connected, ClientError> {
    let (ours, theirs) = tokio::io::duplex(1 << 20);
    let (read, write) = tokio::io::split(theirs);
    tokio::spawn(serve_connection(
        read,
        write,
        engine.clone(),
        options.max_frame,
        FrameBudget::new(options.max_frame.saturating_mul(2)),
        None,
    ));
    let (read, write) = tokio::io::split(ours);
    handshake(read, write, options, false).await
}

/// Starts a client on a stream and says hello.
async fn handshake<R, W>(
    read: R,
    write: W,
    options: &ConnectOptions,
    started: bool,
) -> Result<Connected, ClientError>
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
    W: tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (client, events) = DaemonClient::spawn(read, write, options.max_frame);
    let hello = client
        .hello(&HelloParams {
            protocol_version: PROTOCOL_VERSION,
            client: options.client.clone(),
            position_encoding: options.encoding,
            agent_token: options.agent_token.clone(),
        })
        .await?;
    Ok(Connected {
        client,
        events,
        hello,
        started,
    })
}

/// Whether a failed connect means nobody serves the socket: no file, a stale file, or a daemon
/// dying as we knock.
fn daemon_gone(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::NotFound | ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset
    )
}

/// Connects to the daemon at `socket` (never starting one) and says hello: `maestro mcp`, told
/// its daemon's socket by the agent's environment.
pub async fn connect_socket(
    socket: &std::path::Path,
    options: &ConnectOptions,
) -> Result<Connected, ClientError> {
    let stream = match UnixStream::connect(socket).await {
        Ok(stream) => stream,
        Err(e) if daemon_gone(&e) => {
            return Err(ClientError::NotRunning {
                socket: socket.to_owned(),
            });
        }
        Err(source) => {
            return Err(ClientError::Io {
                what: format!("connecting to {}", socket.display()),
                source,
            });
        }
    };
    let (read, write) = stream.into_split();
    handshake(read, write, options, false).await
}

/// Connects to the socket without saying hello: for `maestro/shutdown`, which works across versions.
pub async fn connect_raw(
    paths: &Paths,
    max_frame: usize,
) -> Result<(DaemonClient, Events), ClientError> {
    let socket = paths.socket();
    match UnixStream::connect(&socket).await {
        Ok(stream) => {
            let (read, write) = stream.into_split();
            Ok(DaemonClient::spawn(read, write, max_frame))
        }
        Err(e) if daemon_gone(&e) => Err(ClientError::NotRunning { socket }),
        Err(source) => Err(ClientError::Io {
            what: format!("connecting to {}", socket.display()),
            source,
        }),
    }
}

/// Starts the daemon unless another client did while this one waited for its turn, and connects.
/// Returns whether this call started it.
async fn start_and_connect(paths: &Paths) -> Result<(UnixStream, bool), ClientError> {
    let turn = SpawnTurn::take(paths).await?;
    if let Ok(stream) = UnixStream::connect(paths.socket()).await {
        return Ok((stream, false));
    }
    Ok((spawn_and_wait(paths, &turn).await?, true))
}

/// Starts the daemon while holding the turn (after stopping the old one, say) and says hello.
pub async fn start_with_turn(
    paths: &Paths,
    turn: &SpawnTurn,
    options: &ConnectOptions,
) -> Result<Connected, ClientError> {
    let (read, write) = spawn_and_wait(paths, turn).await?.into_split();
    handshake(read, write, options, true).await
}

/// Starts `maestro daemon` detached (its own session, no terminal, stdio away from the caller's
/// pipes) and waits until its socket accepts a connection.
async fn spawn_and_wait(paths: &Paths, _turn: &SpawnTurn) -> Result<UnixStream, ClientError> {
    let socket = paths.socket();
    let log = paths.daemon_stderr_file();
    let mut child = spawn_daemon(paths)?;
    let deadline = Instant::now() + START_TIMEOUT;
    let mut pause = Duration::from_millis(2);
    loop {
        if let Ok(stream) = UnixStream::connect(&socket).await {
            return Ok(stream);
        }
        let status = child.try_wait().map_err(|source| ClientError::Io {
            what: "waiting for the daemon".into(),
            source,
        })?;
        match status {
            None => {}
            // Something else holds the store: wait for a daemon on its way out or a restore, start
            // again once it is gone, and give up at once on an editor's standalone engine.
            Some(s) if s.code() == Some(EXIT_ALREADY_RUNNING) => match instance::owner(paths) {
                None => child = spawn_daemon(paths)?,
                Some(o) if o.role == Role::Standalone => {
                    let detail = format!(
                        "the store is in use by {o}; close that editor, or run its language server \
                         without --standalone"
                    );
                    return Err(ClientError::StartFailed { detail, log });
                }
                Some(_) => {}
            },
            Some(s) => {
                let detail = last_lines(&log, 20).unwrap_or_else(|| format!("it exited with {s}"));
                return Err(ClientError::StartFailed { detail, log });
            }
        }
        if Instant::now() > deadline {
            return Err(ClientError::StartTimeout {
                socket,
                secs: START_TIMEOUT.as_secs(),
                log,
            });
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// The right to start the daemon: an flock on `run/spawn.lock`, released on drop or when the holder
/// dies. Clients take turns, so concurrent clients start one daemon; a command that stops the daemon
/// for a while (restart, restore) holds it so that editors do not start another meanwhile.
pub struct SpawnTurn {
    _file: std::fs::File,
}

impl SpawnTurn {
    /// Waits for the turn (up to the start timeout).
    pub async fn take(paths: &Paths) -> Result<SpawnTurn, ClientError> {
        let lock = paths.runtime_dir.join("spawn.lock");
        let io = |source| ClientError::Io {
            what: format!("taking {}", lock.display()),
            source,
        };
        instance::prepare_runtime_dir(&paths.runtime_dir).map_err(io)?;
        let file = maestro_store::private::file_options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock)
            .map_err(io)?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(SpawnTurn { _file: file }),
                Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(ClientError::Io {
                        what: format!("waiting for {}", lock.display()),
                        source: std::io::Error::new(
                            ErrorKind::TimedOut,
                            "another maestro command has been starting or stopping the daemon for too long",
                        ),
                    });
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
            }
        }
    }
}

/// Launches `maestro daemon` in the background. Its stderr (start-up errors, panics) goes to
/// `daemon-stderr.log`; its tracing log to `daemon.log`.
fn spawn_daemon(paths: &Paths) -> Result<tokio::process::Child, ClientError> {
    let io = |what: &str| {
        let what = what.to_owned();
        move |source| ClientError::Io { what, source }
    };
    maestro_store::private::create_dir(&paths.log_dir())
        .map_err(io("creating the log directory"))?;
    let stderr = maestro_store::private::file_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(paths.daemon_stderr_file())
        .map_err(io("creating the daemon's stderr log"))?;
    maestro_store::private::restrict(&paths.daemon_stderr_file(), 0o600)
        .map_err(io("restricting the daemon's stderr log"))?;
    let exe = std::env::current_exe().map_err(io("finding the maestro executable"))?;
    let mut command = tokio::process::Command::new(exe);
    command
        .arg("daemon")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        // The daemon must not keep the caller's working directory busy.
        .current_dir("/")
        .kill_on_drop(false);
    if let Some(home) = std::env::var_os("MAESTRO_HOME").filter(|h| !h.is_empty()) {
        let cwd = std::env::current_dir().map_err(io("reading the current directory"))?;
        command.env("MAESTRO_HOME", cwd.join(home));
    }
    detach(&mut command);
    command.spawn().map_err(io("starting the maestro daemon"))
}

/// Runs the child in a new session: no controlling terminal, so closing the terminal or pressing
/// Ctrl-C in it does not reach the daemon.
#[allow(unsafe_code)]
fn detach(command: &mut tokio::process::Command) {
    // SAFETY: the closure runs between fork and exec and only calls setsid(2), which is
    // async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            rustix::process::setsid()
                .map(drop)
                .map_err(std::io::Error::from)
        });
    }
}

fn last_lines(file: &Path, n: usize) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    (!lines.is_empty()).then(|| lines[lines.len().saturating_sub(n)..].join("\n"))
}
