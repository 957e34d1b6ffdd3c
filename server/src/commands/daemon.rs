//! `maestro daemon start|stop|restart|status|logs`.

use super::status::render;
use super::{EXIT_NOT_RUNNING, cli_options, connect_cli, print_json};
use crate::client::{ClientError, SpawnTurn, connect_raw, start_with_turn};
use crate::instance::{self, Role};
use maestro_engine::Paths;
use maestro_protocol::{StatusResult, method};
use serde_json::json;
use std::io::{Read, Seek, SeekFrom, Write};
use std::time::{Duration, Instant};

pub async fn start(paths: &Paths, json: bool) -> anyhow::Result<i32> {
    let c = connect_cli(paths, true).await?;
    if json {
        print_json(&json!({"running": true, "started": c.started, "pid": c.hello.pid}));
    } else if c.started {
        println!("started the maestro daemon (pid {})", c.hello.pid);
    } else {
        println!(
            "the maestro daemon is already running (pid {})",
            c.hello.pid
        );
    }
    Ok(0)
}

pub async fn stop(paths: &Paths, json: bool) -> anyhow::Result<i32> {
    let stopped = stop_daemon(paths).await?;
    if json {
        print_json(&json!({"stopped": stopped.is_some(), "pid": stopped}));
    } else {
        match stopped {
            Some(pid) => println!("stopped the maestro daemon (pid {pid})"),
            None => println!("the maestro daemon is not running"),
        }
    }
    Ok(0)
}

pub async fn restart(paths: &Paths, json: bool) -> anyhow::Result<i32> {
    // Hold the turn throughout, so that an editor does not start a daemon between stop and start.
    let turn = SpawnTurn::take(paths).await?;
    let stopped = stop_daemon(paths).await?;
    let c = start_with_turn(paths, &turn, &cli_options(paths, true)).await?;
    if json {
        print_json(
            &json!({"stopped": stopped, "pid": c.hello.pid, "version": env!("CARGO_PKG_VERSION")}),
        );
    } else {
        if let Some(pid) = stopped {
            println!("stopped the maestro daemon (pid {pid})");
        }
        println!(
            "started the maestro daemon {} (pid {})",
            env!("CARGO_PKG_VERSION"),
            c.hello.pid
        );
    }
    Ok(0)
}

pub async fn status(paths: &Paths, json: bool) -> anyhow::Result<i32> {
    let c = match connect_cli(paths, false).await {
        Ok(c) => c,
        Err(ClientError::NotRunning { socket }) => {
            let holder = instance::owner(paths);
            if json {
                print_json(
                    &json!({"running": false, "socket": socket, "storeHeldBy": holder.as_ref().map(|o| o.to_string())}),
                );
            } else {
                println!(
                    "the maestro daemon is not running (socket {})",
                    socket.display()
                );
                if let Some(holder) = holder {
                    println!("  the store is held by {holder}");
                }
            }
            return Ok(EXIT_NOT_RUNNING);
        }
        Err(e) => return Err(e.into()),
    };
    let status: StatusResult = c.client.request(method::STATUS, json!({})).await?;
    if json {
        print_json(&status);
    } else {
        print!("{}", render(&status, None));
    }
    Ok(0)
}

/// Stops the daemon and waits until it has let go of the store. Returns the pid it had, or `None`
/// when no daemon was running. Works across protocol versions: `maestro/shutdown` needs no hello.
pub async fn stop_daemon(paths: &Paths) -> anyhow::Result<Option<u32>> {
    let owner = instance::owner(paths);
    match connect_raw(paths, 1 << 20).await {
        Ok((client, _events)) => {
            // The daemon may close the connection before or after answering: both mean it is going.
            let _ = client.call(method::SHUTDOWN, serde_json::Value::Null).await;
        }
        Err(ClientError::NotRunning { .. }) => match &owner {
            // A daemon holding the store but not answering on its socket: ask it with a signal.
            Some(o) if o.role == Role::Daemon => signal(o.pid, rustix::process::Signal::TERM),
            Some(o) => anyhow::bail!("no daemon is running, but the store is held by {o}"),
            None => return Ok(None),
        },
        Err(e) => return Err(e.into()),
    }
    let Some(owner) = owner else { return Ok(None) };
    if wait_released(paths, Duration::from_secs(10)).await {
        return Ok(Some(owner.pid));
    }
    tracing::warn!(
        pid = owner.pid,
        "the daemon did not stop within 10 s; sending SIGTERM"
    );
    signal(owner.pid, rustix::process::Signal::TERM);
    if wait_released(paths, Duration::from_secs(5)).await {
        return Ok(Some(owner.pid));
    }
    anyhow::bail!(
        "the maestro daemon (pid {}) does not stop; `kill -9 {}` ends it",
        owner.pid,
        owner.pid
    )
}

fn signal(pid: u32, sig: rustix::process::Signal) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(pid, sig);
    }
}

async fn wait_released(paths: &Paths, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while instance::is_held(paths) {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

pub async fn logs(paths: &Paths, lines: usize, follow: bool) -> anyhow::Result<i32> {
    let path = paths.log_file();
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!(
                "no daemon log yet at {} (the daemon has not run with this MAESTRO_HOME)",
                path.display()
            );
            return Ok(1);
        }
        Err(e) => anyhow::bail!("{}: {e}", path.display()),
    };
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    let all: Vec<&str> = text.lines().collect();
    let mut out = std::io::stdout().lock();
    for l in &all[all.len().saturating_sub(lines)..] {
        writeln!(out, "{l}")?;
    }
    out.flush()?;
    drop(out);
    if !follow {
        return Ok(0);
    }
    let mut position = file.stream_position()?;
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if len < position {
            // Rotated at a daemon start: read the new file from its beginning.
            file = std::fs::File::open(&path)?;
            position = 0;
        }
        file.seek(SeekFrom::Start(position))?;
        let mut chunk = String::new();
        file.read_to_string(&mut chunk)?;
        position += chunk.len() as u64;
        print!("{chunk}");
        std::io::stdout().flush()?;
    }
}
