//! `maestro daemon`: the per-user process that owns the store and serves every client on a unix
//! socket. One per user: the instance lock decides, a stale socket left by a dead daemon is replaced,
//! and it exits after `daemon.idle_timeout_secs` without clients or work.

use crate::client::EXIT_ALREADY_RUNNING;
use crate::instance::{self, InstanceLock, Role};
use crate::logging;
use crate::rpc::framing::FrameBudget;
use crate::rpc::serve::serve_connection;
use anyhow::{Context, bail};
use maestro_engine::{Activity, Config, Engine, EngineOptions, HostInfo, Paths, StoreLocation};
use maestro_protocol::{DaemonShutdownParams, Event, HostMode};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;
use tokio::net::UnixListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

/// How long a starting daemon waits for the lock of one that is exiting.
const LOCK_WAIT: Duration = Duration::from_millis(300);
/// `sun_path` holds 108 bytes with the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;

/// Runs the daemon in the foreground until it is stopped or idle; returns the exit code.
/// Threads for blocking work (store reads, git, embedding): beyond this, such work queues. Tokio's
/// default of 512 let one client's flood of cheap requests start 512 threads (50 MB).
pub const BLOCKING_THREADS: usize = 32;

pub fn run(paths: &Paths) -> anyhow::Result<i32> {
    let config = Config::load_user(paths)?;
    let socket = paths.socket();
    let socket_len = socket.as_os_str().len();
    if socket_len > MAX_SOCKET_PATH {
        bail!(
            "the socket path {} is {socket_len} bytes, over the system's limit of {MAX_SOCKET_PATH}; \
             set MAESTRO_HOME or XDG_RUNTIME_DIR to a shorter directory",
            socket.display()
        );
    }
    let Some(mut lock) = InstanceLock::acquire(paths, LOCK_WAIT)
        .with_context(|| format!("taking the instance lock {}", paths.lock_file().display()))?
    else {
        let holder = instance::owner(paths)
            .map_or_else(|| "another maestro process".to_owned(), |o| o.to_string());
        eprintln!("maestro: {holder} already owns the store; not starting another daemon");
        return Ok(EXIT_ALREADY_RUNNING);
    };
    lock.set_owner(Role::Daemon)?;
    logging::init_daemon(paths, &config).context("opening the daemon log")?;
    // A panic ends only the task it happens in; make sure the log says so.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        tracing::error!("panic: {info}");
        default_hook(info);
    }));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(BLOCKING_THREADS)
        .thread_name("maestro-daemon")
        .enable_all()
        .build()?;
    let result = runtime.block_on(serve(paths, config));
    if let Err(e) = &result {
        tracing::error!("daemon failed: {e:#}");
    }
    // Dropping the runtime drops every connection and with them the engine; the store's writer
    // finishes its queue before the process ends.
    runtime.shutdown_timeout(Duration::from_secs(5));
    drop(lock);
    result.map(|()| 0)
}

async fn serve(paths: &Paths, config: Config) -> anyhow::Result<()> {
    let socket = paths.socket();
    let engine = Engine::start(EngineOptions {
        host: HostInfo {
            mode: HostMode::Daemon,
            socket: Some(socket.clone()),
            log_file: Some(paths.log_file()),
            tools_program: std::env::current_exe().ok(),
        },
        config: config.clone(),
        store: StoreLocation::File(paths.store_file()),
        paths: Some(paths.clone()),
    })?;
    if let Some(worker) = crate::query_worker() {
        engine.store().set_query_worker(worker);
    }
    // A member of the mesh when it stopped joins again (nothing starts otherwise).
    maestro_engine::start_mesh(&engine);
    let listener = bind_private(&socket)?;
    tracing::info!(pid = std::process::id(), socket = %socket.display(), version = env!("CARGO_PKG_VERSION"), "daemon listening");

    let max_frame = config.settings().max_frame_bytes;
    // Large bodies of all connections together: two of the largest at once.
    let budget = FrameBudget::new(max_frame.saturating_mul(2));
    let mut shutdown = engine.shutdown_requested();
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let idle = idle_exit(engine.activity(), config.settings().idle_timeout);
    tokio::pin!(idle);
    let reason = loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    // Who connects decides whose connection it is (an agent's process speaks
                    // for that agent): see engine `caller.rs`.
                    let peer = stream.peer_cred().ok().and_then(|c| c.pid()).and_then(|p| u32::try_from(p).ok());
                    let (read, write) = stream.into_split();
                    tokio::spawn(serve_connection(read, write, engine.clone(), max_frame, budget.clone(), peer));
                }
                Err(e) => {
                    // Out of descriptors, say: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = shutdown.changed() => break shutdown.borrow().clone().unwrap_or_default(),
            reason = &mut idle => break reason,
            _ = sigterm.recv() => break "SIGTERM".to_owned(),
            _ = sigint.recv() => break "SIGINT".to_owned(),
        }
    };
    tracing::info!(reason, "daemon stopping");
    drop(listener);
    let _ = std::fs::remove_file(&socket);
    engine.emit(Event::DaemonShutdown(DaemonShutdownParams { reason }));
    // Out of the mesh at once (others see the node gone now, not after the TTL); bounded, as
    // its servers may be out of reach.
    let _ = tokio::time::timeout(Duration::from_secs(2), maestro_engine::stop_mesh(&engine)).await;
    // Let connection writers send the last answers and the shutdown event.
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A clean stop leaves the store in its one file: copying maestro.db alone is a whole store,
    // and a lost write-ahead log loses nothing.
    let started = std::time::Instant::now();
    match engine.store().checkpoint().await {
        Ok(true) => tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "store checkpointed"
        ),
        Ok(false) => tracing::warn!("store checkpoint partial: readers were in the way"),
        Err(e) => tracing::warn!("store checkpoint failed: {e}"),
    }
    Ok(())
}

/// Binds the socket with owner-only permissions, replacing a stale one (this process holds the
/// instance lock, so whoever made it is gone).
fn bind_private(socket: &Path) -> anyhow::Result<UnixListener> {
    match std::fs::symlink_metadata(socket) {
        Ok(meta) if meta.file_type().is_socket() => {
            tracing::info!(socket = %socket.display(), "replacing the stale socket of a daemon that is gone");
            std::fs::remove_file(socket)
                .with_context(|| format!("removing the stale socket {}", socket.display()))?;
        }
        Ok(_) => bail!(
            "{} exists and is not a socket; move it away",
            socket.display()
        ),
        Err(_) => {}
    }
    let listener =
        UnixListener::bind(socket).with_context(|| format!("listening on {}", socket.display()))?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Resolves after `timeout` with no clients and no work; never when `timeout` is `None`.
async fn idle_exit(mut activity: watch::Receiver<Activity>, timeout: Option<Duration>) -> String {
    let Some(timeout) = timeout else {
        return std::future::pending().await;
    };
    loop {
        let idle = activity.borrow_and_update().is_idle();
        if idle {
            tokio::select! {
                () = tokio::time::sleep(timeout) => {
                    return format!("idle for {} s with no clients and no work", timeout.as_secs());
                }
                changed = activity.changed() => if changed.is_err() { return std::future::pending().await },
            }
        } else if activity.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}
