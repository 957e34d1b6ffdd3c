//! Agents moving between nodes: their archives in the JetStream object store
//! (`maestro_transfers`), put by the node the agent leaves, read by the node it goes to (asked
//! over the call server with `maestro/mesh.receive`), and deleted by the first once the second
//! answered — or failed. Objects expire after a day, so a transfer whose source died leaves
//! nothing for long.

use crate::{Mesh, MeshError, check_node_name, replicas};
use async_nats::jetstream::object_store;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// The object store bucket of agents in transit.
pub const TRANSFERS_BUCKET: &str = "maestro_transfers";

async fn bucket(mesh: &Mesh) -> Result<object_store::ObjectStore, MeshError> {
    let (js, replicas) = {
        let j = mesh.joined.lock().await;
        let j = j.as_ref().ok_or(MeshError::NotJoined)?;
        (j.js.clone(), replicas(&j.client))
    };
    if let Ok(store) = js.get_object_store(TRANSFERS_BUCKET).await {
        return Ok(store);
    }
    let made = js
        .create_object_store(object_store::Config {
            bucket: TRANSFERS_BUCKET.to_owned(),
            description: Some("maestro's agents moving between nodes (archives)".to_owned()),
            max_age: Duration::from_secs(24 * 3600),
            num_replicas: replicas,
            ..Default::default()
        })
        .await;
    match made {
        Ok(store) => Ok(store),
        Err(_) if let Ok(store) = js.get_object_store(TRANSFERS_BUCKET).await => Ok(store),
        Err(e) => Err(MeshError::JetStream(format!(
            "the object store {TRANSFERS_BUCKET}: {e}"
        ))),
    }
}

impl Mesh {
    /// Puts agent `agent`'s archive for node `to`; returns the object's name.
    pub async fn put_archive(
        &self,
        to: &str,
        agent: &str,
        bytes: &[u8],
    ) -> Result<String, MeshError> {
        check_node_name(to).map_err(MeshError::Node)?;
        let mut nonce = [0u8; 6];
        getrandom::getrandom(&mut nonce).map_err(|e| MeshError::JetStream(e.to_string()))?;
        let tag: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
        let name = format!("{to}.{agent}.{tag}");
        let store = bucket(self).await?;
        let mut reader = bytes;
        store
            .put(name.as_str(), &mut reader)
            .await
            .map_err(|e| MeshError::JetStream(format!("putting the archive: {e}")))?;
        Ok(name)
    }

    /// The archive `object`, at most `limit` bytes.
    pub async fn get_archive(&self, object: &str, limit: u64) -> Result<Vec<u8>, MeshError> {
        let store = bucket(self).await?;
        let mut obj = store
            .get(object)
            .await
            .map_err(|e| MeshError::JetStream(format!("the archive {object}: {e}")))?;
        if obj.info().size as u64 > limit {
            return Err(MeshError::JetStream(format!(
                "the archive {object} is {} bytes, more than the {limit} an archive may be",
                obj.info().size
            )));
        }
        let mut bytes = Vec::with_capacity(obj.info().size);
        obj.read_to_end(&mut bytes)
            .await
            .map_err(|e| MeshError::JetStream(format!("reading the archive {object}: {e}")))?;
        Ok(bytes)
    }

    /// Deletes the archive `object` (errors are logged: it expires anyway).
    pub async fn drop_archive(&self, object: &str) {
        match bucket(self).await {
            Ok(store) => {
                if let Err(e) = store.delete(object).await {
                    tracing::warn!("deleting the transfer archive {object}: {e}");
                }
            }
            Err(e) => tracing::warn!("deleting the transfer archive {object}: {e}"),
        }
    }
}
