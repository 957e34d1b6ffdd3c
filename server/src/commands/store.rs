//! `maestro store backup FILE` (the live daemon writes a consistent copy) and
//! `maestro store restore FILE` (offline: the daemon is stopped and the instance lock held while the
//! files are swapped; the replaced store is kept).

use super::daemon::stop_daemon;
use super::{connect_cli, human_bytes, print_json};
use crate::client::SpawnTurn;
use crate::instance::{self, InstanceLock, Role};
use anyhow::Context;
use maestro_engine::Paths;
use maestro_protocol::{StoreBackupParams, StoreBackupResult, method};
use serde_json::json;
use std::path::Path;
use std::time::Duration;

pub async fn backup(paths: &Paths, file: &Path, force: bool, json: bool) -> anyhow::Result<i32> {
    let path = std::env::current_dir()?.join(file);
    let c = connect_cli(paths, true).await?;
    let result: StoreBackupResult = c
        .client
        .request(
            method::STORE_BACKUP,
            StoreBackupParams {
                path,
                overwrite: force,
            },
        )
        .await?;
    if json {
        print_json(&result);
    } else {
        println!(
            "backed up the store to {} ({}, schema {})",
            result.path.display(),
            human_bytes(result.size_bytes),
            result.schema_version
        );
    }
    Ok(0)
}

pub async fn restore(paths: &Paths, file: &Path, json: bool) -> anyhow::Result<i32> {
    let backup = std::env::current_dir()?.join(file);
    // Refuse a bad file before stopping anything.
    maestro_store::check_backup(&backup)?;
    // Editors reconnecting meanwhile wait for this turn instead of starting a daemon on the old store.
    let turn = SpawnTurn::take(paths).await?;
    let stopped = stop_daemon(paths).await?;
    let mut lock = InstanceLock::acquire(paths, Duration::from_secs(10))?.ok_or_else(|| {
        let holder = instance::owner(paths)
            .map_or_else(|| "another maestro process".to_owned(), |o| o.to_string());
        anyhow::anyhow!(
            "the store is in use by {holder}; close it and try again (nothing was changed)"
        )
    })?;
    lock.set_owner(Role::Restore)?;
    let report = maestro_store::restore(&backup, &paths.store_file(), &paths.backups_dir())
        .with_context(|| format!("restoring {}", backup.display()))?;
    drop(lock);
    drop(turn);
    if json {
        print_json(&json!({
            "restoredFrom": backup,
            "store": paths.store_file(),
            "schemaVersion": report.schema_version,
            "backupSchemaVersion": report.backup_schema_version,
            "previous": report.previous,
            "stoppedDaemon": stopped,
        }));
    } else {
        if let Some(pid) = stopped {
            println!("stopped the maestro daemon (pid {pid})");
        }
        println!(
            "restored the store from {} (schema {})",
            backup.display(),
            report.schema_version
        );
        if let Some(previous) = &report.previous {
            println!("the replaced store is kept at {}", previous.display());
        }
        println!("the daemon starts again on the next maestro command or editor request");
    }
    Ok(0)
}
