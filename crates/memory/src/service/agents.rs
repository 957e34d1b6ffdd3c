//! An agent's memories as its archive holds them: given out with their vectors, taken in under
//! the agent's name here (new ids, the vectors kept when they are of the model that runs here,
//! embedded again otherwise), and dropped when a rollback puts back an earlier set.

use super::{Memory, rows_or_log};
use crate::Meta;
use maestro_store::{DataValue, StoreError, params};
use serde::{Deserialize, Serialize};

/// One memory of an agent, without where it lives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentMemory {
    pub kind: String,
    pub source: String,
    pub at: f64,
    pub text: String,
    pub count: u32,
    /// The model of `vector` (not in the archive's JSON lines: the vectors go in a binary entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip)]
    pub vector: Option<Vec<f32>>,
}

const OF_AGENT: &str = r#"
?[at, id, kind, source, text, count, vec, model] :=
    *memory{id, ws, kind, agent, source, at, text, count, vec, model}, ws == $ws, agent == $agent
:order at, id
"#;

const IDS_OF_AGENT: &str = "?[id] := *memory{id, ws, agent}, ws == $ws, agent == $agent";

const PUT: &str = r#"
{?[id, ws, kind, agent, source, at, text, count, vec, model] <- $rows
 :put memory {id => ws, kind, agent, source, at, text, count, vec, model}}
{?[id, at] <- $pending :put memory_pending {id => at}}
"#;

/// The id of an agent's memory here: of where it lives and what it is, so taking the same
/// archive in again (a rollback) finds the same rows.
fn adopted_id(ws: &str, agent: &str, m: &AgentMemory) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for part in [ws, agent, &m.kind, &m.source, &m.text, &m.at.to_string()] {
        h.update(part.as_bytes());
        h.update(&[0]);
    }
    format!("m{:032x}", h.digest128())
}

impl Memory {
    /// The memories of agent `agent` of `ws` (turns, notes, chats, consults), oldest first.
    pub fn of_agent(&self, ws: &str, agent: &str) -> Result<Vec<AgentMemory>, StoreError> {
        let rows = self.store.read(
            OF_AGENT,
            params([
                ("ws", DataValue::from(ws)),
                ("agent", DataValue::from(agent)),
            ]),
        )?;
        Ok(rows
            .rows
            .iter()
            .map(|r| AgentMemory {
                at: r[0].get_float().unwrap_or(0.0),
                kind: r[2].get_str().unwrap_or_default().to_owned(),
                source: r[3].get_str().unwrap_or_default().to_owned(),
                text: r[4].get_str().unwrap_or_default().to_owned(),
                count: r[5].get_int().unwrap_or(1).max(1) as u32,
                vector: r[6].get_bytes().and_then(crate::from_bytes),
                model: r[7].get_str().map(str::to_owned),
            })
            .collect())
    }

    /// Takes `memories` in as agent `agent`'s of `ws`. A vector of the model that runs here (and
    /// of its size) is kept and searched at once; any other memory is queued for the worker.
    /// Returns how many were stored, and how many of those wait to be embedded.
    pub async fn adopt(
        &self,
        ws: &str,
        agent: &str,
        memories: &[AgentMemory],
    ) -> Result<(usize, usize), StoreError> {
        let embedder = self.embedder();
        let here = embedder.as_ref().map(|e| (e.model().to_owned(), e.dim()));
        let (mut rows, mut pending, mut indexed) = (Vec::new(), Vec::new(), Vec::new());
        for m in memories {
            let id = adopted_id(ws, agent, m);
            let vector = match (&m.vector, &m.model, &here) {
                (Some(v), Some(model), Some((ours, dim))) if model == ours && v.len() == *dim => {
                    Some(v)
                }
                _ => None,
            };
            rows.push(DataValue::List(vec![
                DataValue::from(id.as_str()),
                DataValue::from(ws),
                DataValue::from(m.kind.as_str()),
                DataValue::from(agent),
                DataValue::from(m.source.as_str()),
                DataValue::from(m.at),
                DataValue::from(m.text.as_str()),
                DataValue::from(i64::from(m.count.max(1))),
                vector.map_or(DataValue::Null, |v| DataValue::Bytes(crate::to_bytes(v))),
                match (vector, &here) {
                    (Some(_), Some((model, _))) => DataValue::from(model.as_str()),
                    _ => DataValue::Null,
                },
            ]));
            match vector {
                Some(v) => indexed.push((id, m, v)),
                None => pending.push(DataValue::List(vec![
                    DataValue::from(id.as_str()),
                    DataValue::from(m.at),
                ])),
            }
        }
        let waiting = pending.len();
        let stored = rows.len();
        self.store
            .queue_write(
                PUT,
                params([
                    ("rows", DataValue::List(rows)),
                    ("pending", DataValue::List(pending)),
                ]),
            )
            .done()
            .await?;
        if self.loaded.load(std::sync::atomic::Ordering::Acquire) {
            let mut index = self.index.lock().unwrap();
            for (id, m, v) in indexed {
                let meta = Meta {
                    ws: index.intern(ws),
                    kind: index.intern(&m.kind),
                    agent: index.intern(agent),
                    at: m.at,
                };
                index.insert(&id, meta, v);
            }
        }
        if waiting > 0 {
            self.wake.notify_one();
        }
        Ok((stored, waiting))
    }

    /// Forgets every memory of agent `agent` of `ws` (a rollback, before taking in the
    /// snapshot's). Returns how many.
    pub async fn forget_agent(&self, ws: &str, agent: &str) -> Result<usize, StoreError> {
        let ids: Vec<String> = rows_or_log(
            "listing an agent's memories",
            self.store.read(
                IDS_OF_AGENT,
                params([
                    ("ws", DataValue::from(ws)),
                    ("agent", DataValue::from(agent)),
                ]),
            ),
        )
        .iter()
        .filter_map(|r| r[0].get_str().map(str::to_owned))
        .collect();
        let n = ids.len();
        if n > 0 {
            self.forget(ids).await?;
        }
        Ok(n)
    }
}
