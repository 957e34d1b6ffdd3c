//! Agents in the store: one row per agent (its record as JSON, plus its state for queries), one
//! per turn, one per turn's usage. Every script binds its keys before the stored atom.

use maestro_protocol::{AgentInfo, UsageTotals};
use maestro_store::{DataValue, Params, Store, StoreError, params};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What is remembered of an agent across daemon restarts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentRecord {
    pub info: AgentInfo,
    /// The commit the worktree started from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silence_timeout_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_timeout_secs: Option<u64>,
    /// The log file of its output.
    pub log_file: PathBuf,
    /// Working in place, it may still run commands and commit (see `AgentSpawnParams`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub may_commit: bool,
    /// The last running totals of its session's usage, for CLIs that report those instead of
    /// the turn's: the next turn stores the difference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_usage: Option<SessionUsage>,
}

/// A session's usage so far, as its CLI last reported it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionUsage {
    pub session_id: String,
    pub reported: crate::adapters::TurnUsage,
}

fn opt(v: Option<&str>) -> DataValue {
    v.map_or(DataValue::Null, DataValue::from)
}

const PUT_AGENT: &str = r#"
?[ws, name, state, updated, record] <- [[$ws, $name, $state, $updated, $record]]
:put agent {ws, name => state, updated, record}
"#;

const REMOVE_AGENT: &str = r#"
?[ws, name] <- [[$ws, $name]]
:rm agent {ws, name}
"#;

const ALL_AGENTS: &str = "?[record] := *agent{record}";

const PUT_TURN: &str = r#"
?[ws, agent, turn, prompt, started, ended, outcome, error_class, message, session_id] <-
    [[$ws, $agent, $turn, $prompt, $started, $ended, $outcome, $error_class, $message, $session_id]]
:put agent_turn {ws, agent, turn => prompt, started, ended, outcome, error_class, message, session_id}
"#;

const PUT_USAGE: &str = r#"
?[ws, agent, turn, model, input, output, cache_read, cache_write, cost_usd, priced, day, at] <-
    [[$ws, $agent, $turn, $model, $input, $output, $cache_read, $cache_write, $cost_usd, $priced, $day, $at]]
:put agent_usage {ws, agent, turn => model, input, output, cache_read, cache_write, cost_usd, priced, day, at}
"#;

const USAGE_OF_WORKSPACE: &str = r#"
?[agent, turn, model, input, output, cache_read, cache_write, cost_usd, priced, day, at] :=
    ws = $ws,
    *agent_usage{ws, agent, turn, model, input, output, cache_read, cache_write, cost_usd, priced, day, at}
"#;

const USAGE_ALL: &str = r#"
?[agent, turn, model, input, output, cache_read, cache_write, cost_usd, priced, day, at] :=
    *agent_usage{agent, turn, model, input, output, cache_read, cache_write, cost_usd, priced, day, at}
"#;

/// Saves an agent (queued on the writer; the returned ticket tells when it is stored).
pub fn save_agent(
    store: &Store,
    record: &AgentRecord,
) -> maestro_store::WriteTicket<maestro_store::NamedRows> {
    let json = serde_json::to_string(record).expect("records serialize");
    store.queue_write(
        PUT_AGENT,
        params([
            ("ws", DataValue::from(record.info.workspace.as_str())),
            ("name", DataValue::from(record.info.name.as_str())),
            ("state", DataValue::from(record.info.state.as_str())),
            ("updated", DataValue::from(record.info.updated_at)),
            ("record", DataValue::from(json.as_str())),
        ]),
    )
}

pub async fn remove_agent(store: &Store, ws: &str, name: &str) -> Result<(), StoreError> {
    store
        .write(
            REMOVE_AGENT,
            params([("ws", DataValue::from(ws)), ("name", DataValue::from(name))]),
        )
        .await
        .map(drop)
}

/// Every stored agent. A row that cannot be read is skipped with a warning, never fatal.
pub fn load_agents(store: &Store) -> Result<Vec<AgentRecord>, StoreError> {
    let rows = store.read(ALL_AGENTS, Params::new())?;
    Ok(rows
        .rows
        .iter()
        .filter_map(|r| r.first().and_then(DataValue::get_str))
        .filter_map(|json| match serde_json::from_str::<AgentRecord>(json) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!("unreadable agent row skipped: {e}");
                None
            }
        })
        .collect())
}

/// A turn's row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnRow {
    pub ws: String,
    pub agent: String,
    pub turn: u32,
    pub prompt: String,
    pub started: f64,
    pub ended: Option<f64>,
    /// `ok`, `failed`, `stopped`, `lost`.
    pub outcome: Option<String>,
    pub error_class: Option<String>,
    pub message: Option<String>,
    pub session_id: Option<String>,
}

pub fn save_turn(
    store: &Store,
    t: &TurnRow,
) -> maestro_store::WriteTicket<maestro_store::NamedRows> {
    store.queue_write(
        PUT_TURN,
        params([
            ("ws", DataValue::from(t.ws.as_str())),
            ("agent", DataValue::from(t.agent.as_str())),
            ("turn", DataValue::from(i64::from(t.turn))),
            ("prompt", DataValue::from(t.prompt.as_str())),
            ("started", DataValue::from(t.started)),
            ("ended", t.ended.map_or(DataValue::Null, DataValue::from)),
            ("outcome", opt(t.outcome.as_deref())),
            ("error_class", opt(t.error_class.as_deref())),
            ("message", opt(t.message.as_deref())),
            ("session_id", opt(t.session_id.as_deref())),
        ]),
    )
}

/// One turn's usage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageRecord {
    pub ws: String,
    pub agent: String,
    pub turn: u32,
    pub model: String,
    pub totals: UsageTotals,
    pub priced: bool,
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub at: f64,
}

pub fn save_usage(
    store: &Store,
    u: &UsageRecord,
) -> maestro_store::WriteTicket<maestro_store::NamedRows> {
    let int = |n: u64| DataValue::from(n as i64);
    store.queue_write(
        PUT_USAGE,
        params([
            ("ws", DataValue::from(u.ws.as_str())),
            ("agent", DataValue::from(u.agent.as_str())),
            ("turn", DataValue::from(i64::from(u.turn))),
            ("model", DataValue::from(u.model.as_str())),
            ("input", int(u.totals.input_tokens)),
            ("output", int(u.totals.output_tokens)),
            ("cache_read", int(u.totals.cache_read_tokens)),
            ("cache_write", int(u.totals.cache_write_tokens)),
            (
                "cost_usd",
                // Nobody knew the dollars of an unpriced turn: stored as null, not as zero.
                if u.totals.unpriced_turns == 0 {
                    DataValue::from(u.totals.cost_usd)
                } else {
                    DataValue::Null
                },
            ),
            ("priced", DataValue::from(u.priced)),
            ("day", DataValue::from(u.day.as_str())),
            ("at", DataValue::from(u.at)),
        ]),
    )
}

/// One stored turn's usage, as `maestro usage` groups it.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageLine {
    pub agent: String,
    pub model: String,
    /// `YYYY-MM-DD`, UTC, as stored.
    pub day: String,
    /// Unix seconds of the turn's end.
    pub at: f64,
    pub totals: UsageTotals,
    pub priced: bool,
}

/// Usage rows, of one workspace or all.
pub fn load_usage(store: &Store, ws: Option<&str>) -> Result<Vec<UsageLine>, StoreError> {
    let rows = match ws {
        Some(ws) => store.read(USAGE_OF_WORKSPACE, params([("ws", DataValue::from(ws))]))?,
        None => store.read(USAGE_ALL, Params::new())?,
    };
    let text = |v: &DataValue| v.get_str().unwrap_or_default().to_owned();
    let int = |v: &DataValue| v.get_int().unwrap_or(0).max(0) as u64;
    Ok(rows
        .rows
        .iter()
        .filter(|r| r.len() == 11)
        .map(|r| UsageLine {
            agent: text(&r[0]),
            model: text(&r[2]),
            day: text(&r[9]),
            at: r[10].get_float().unwrap_or(0.0),
            totals: UsageTotals {
                input_tokens: int(&r[3]),
                output_tokens: int(&r[4]),
                cache_read_tokens: int(&r[5]),
                cache_write_tokens: int(&r[6]),
                cost_usd: r[7].get_float().unwrap_or(0.0),
                // A null cost: nobody knew the dollars of this turn.
                unpriced_turns: u64::from(r[7].get_float().is_none()),
            },
            priced: r[8].get_bool().unwrap_or(false),
        })
        .collect())
}

const TURNS_OF: &str = r#"
?[turn, prompt, started, ended, outcome, error_class, message, session_id] :=
    *agent_turn{ws: $ws, agent: $agent, turn, prompt, started, ended, outcome, error_class, message, session_id}
:order turn
"#;

const USAGE_OF: &str = r#"
?[turn, model, input, output, cache_read, cache_write, cost_usd, priced, day, at] :=
    *agent_usage{ws: $ws, agent: $agent, turn, model, input, output, cache_read, cache_write, cost_usd, priced, day, at}
:order turn
"#;

/// The turns of agent `agent` of `ws`, in order (an archive's).
pub fn turns_of(store: &Store, ws: &str, agent: &str) -> Result<Vec<TurnRow>, StoreError> {
    let rows = store.read(
        TURNS_OF,
        params([
            ("ws", DataValue::from(ws)),
            ("agent", DataValue::from(agent)),
        ]),
    )?;
    let text = |v: &DataValue| v.get_str().map(str::to_owned);
    Ok(rows
        .rows
        .iter()
        .map(|r| TurnRow {
            ws: ws.to_owned(),
            agent: agent.to_owned(),
            turn: r[0].get_int().unwrap_or(0).max(0) as u32,
            prompt: text(&r[1]).unwrap_or_default(),
            started: r[2].get_float().unwrap_or(0.0),
            ended: r[3].get_float(),
            outcome: text(&r[4]),
            error_class: text(&r[5]),
            message: text(&r[6]),
            session_id: text(&r[7]),
        })
        .collect())
}

/// The usage rows of agent `agent` of `ws`, by turn (an archive's).
pub fn usage_of(store: &Store, ws: &str, agent: &str) -> Result<Vec<UsageRecord>, StoreError> {
    let rows = store.read(
        USAGE_OF,
        params([
            ("ws", DataValue::from(ws)),
            ("agent", DataValue::from(agent)),
        ]),
    )?;
    let int = |v: &DataValue| v.get_int().unwrap_or(0).max(0) as u64;
    Ok(rows
        .rows
        .iter()
        .map(|r| {
            let cost = r[6].get_float();
            UsageRecord {
                ws: ws.to_owned(),
                agent: agent.to_owned(),
                turn: r[0].get_int().unwrap_or(0).max(0) as u32,
                model: r[1].get_str().unwrap_or_default().to_owned(),
                totals: UsageTotals {
                    input_tokens: int(&r[2]),
                    output_tokens: int(&r[3]),
                    cache_read_tokens: int(&r[4]),
                    cache_write_tokens: int(&r[5]),
                    cost_usd: cost.unwrap_or(0.0),
                    unpriced_turns: u64::from(cost.is_none()),
                },
                priced: r[7].get_bool().unwrap_or(false),
                day: r[8].get_str().unwrap_or_default().to_owned(),
                at: r[9].get_float().unwrap_or(0.0),
            }
        })
        .collect())
}
