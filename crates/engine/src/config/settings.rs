//! The configuration resolved once, when it is read, into the typed values the daemon uses. The
//! registry in `config.rs` stays the one source of keys, kinds, bounds, defaults and docs (and of
//! `maestro config show`); this is the only place that turns its keys into values, so a default is
//! written once, in the registry.

use super::*;
use maestro_agents::adapters::BUILT_IN;
use maestro_agents::prices::{Price, PriceTable};
use maestro_protocol::Isolation;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Every setting of one effective configuration (defaults < user file < workspace file).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// `None`: never exit when idle.
    pub idle_timeout: Option<Duration>,
    pub log_level: String,
    pub max_frame_bytes: usize,
    /// The workspace's display name, when configured.
    pub workspace_name: Option<String>,
    pub index: IndexSettings,
    pub agents: AgentsSettings,
    pub memory: maestro_memory::service::Settings,
    /// When messages wake idle agents.
    pub messages: maestro_comms::Policy,
    pub chat: ChatSettings,
    /// What agents may do unasked.
    pub attention: maestro_agents::attention::Policy,
    pub mesh: MeshSettings,
}

/// `mesh.*`: where the mesh is and how to join it (files are read when joining).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MeshSettings {
    pub urls: Vec<String>,
    /// Empty: the host's name.
    pub name: String,
    pub user: String,
    pub password_file: String,
    pub nkey_seed_file: String,
    pub ca_file: String,
    pub heartbeat: Duration,
    pub ttl: Duration,
    pub labels: Vec<String>,
    pub workers: usize,
    pub task_deadline: Duration,
    pub transfer_timeout: Duration,
}

/// `chat.*`: a new chat's limits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatSettings {
    pub max_rounds: u32,
    pub turn_timeout: Duration,
    pub budget_usd: f64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexSettings {
    pub max_file_bytes: u64,
    /// Resolved: `0` in the file means one per core.
    pub threads: usize,
    pub watch: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentsSettings {
    /// The CLI of agents started without one.
    pub default: String,
    pub isolation: Isolation,
    pub silence_timeout: Option<Duration>,
    pub turn_timeout: Option<Duration>,
    pub needs_input_after: Duration,
    pub setup_files: Vec<String>,
    pub setup_command: Vec<String>,
    pub output_buffer_bytes: usize,
    /// The built-in CLIs' settings, by name (every built-in CLI has an entry).
    pub built_in: BTreeMap<String, BuiltInCli>,
    /// `[agents.custom.NAME]` tables, by name.
    pub custom: BTreeMap<String, CustomCli>,
    /// The built-in prices with `[prices.MODEL]` tables on top.
    pub prices: PriceTable,
}

/// `agents.<cli>.*` of a built-in CLI.
#[derive(Debug, Clone, PartialEq)]
pub struct BuiltInCli {
    /// The configured program; `None` runs the CLI's own name from PATH.
    pub path: Option<PathBuf>,
    pub args: Vec<String>,
    pub model: Option<String>,
}

/// `agents.custom.<name>.*`: only what a file sets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomCli {
    pub program: Option<String>,
    pub args: Vec<String>,
    pub resume_args: Vec<String>,
    pub output: Option<String>,
    /// The JSON field and type names of `output = "jsonl"` that a file sets
    /// (`type_field`, `result_type`, …, `cost_field`), by key.
    pub fields: BTreeMap<String, String>,
}

/// The JSON field keys of a custom CLI's `output = "jsonl"`.
const CUSTOM_FIELDS: &[&str] = &[
    "type_field",
    "result_type",
    "error_type",
    "session_field",
    "text_field",
    "error_field",
    "input_tokens_field",
    "output_tokens_field",
    "cost_field",
];

impl Settings {
    /// Reads every key of `config` once.
    pub(crate) fn resolve(config: &Config) -> Settings {
        let secs = |key: &str| {
            let s = config.integer_of(key);
            (s > 0).then(|| Duration::from_secs(s as u64))
        };
        let float = |key: &str| {
            config
                .float_of(key)
                .unwrap_or_else(|| panic!("{key} has a default"))
        };
        let built_in = BUILT_IN
            .iter()
            .map(|cli| {
                let key = |k: &str| format!("agents.{cli}.{k}");
                let path = config.string_of(&key("path"));
                let model = config.string_of(&key("model"));
                let settings = BuiltInCli {
                    path: (!path.is_empty()).then(|| PathBuf::from(path)),
                    args: config.list_of(&key("args")),
                    model: (!model.is_empty()).then_some(model),
                };
                ((*cli).to_owned(), settings)
            })
            .collect();
        let custom = config
            .names_under("agents.custom")
            .into_iter()
            .map(|name| {
                let prefix = key_from_parts(&["agents", "custom", &name]);
                let key = |k: &str| format!("{prefix}.{k}");
                let set = |k: &str| config.is_set(&key(k)).then(|| config.string_of(&key(k)));
                let list = |k: &str| {
                    if config.is_set(&key(k)) {
                        config.list_of(&key(k))
                    } else {
                        Vec::new()
                    }
                };
                let custom = CustomCli {
                    program: set("program"),
                    args: list("args"),
                    resume_args: list("resume_args"),
                    output: set("output"),
                    fields: CUSTOM_FIELDS
                        .iter()
                        .filter_map(|f| Some(((*f).to_owned(), set(f)?)))
                        .collect(),
                };
                (name, custom)
            })
            .collect();
        let prices = config
            .names_under("prices")
            .into_iter()
            .map(|model| {
                let key = |k: &str| format!("{}.{k}", key_from_parts(&["prices", &model]));
                let price = Price {
                    input: config.float_of(&key("input")).unwrap_or(0.0),
                    output: config.float_of(&key("output")).unwrap_or(0.0),
                    cache_read: config.float_of(&key("cache_read")),
                    cache_write: config.float_of(&key("cache_write")),
                };
                (model, price)
            })
            .collect();
        let prices = PriceTable::new(prices);
        let workspace_name = config.string_of(WORKSPACE_NAME);
        Settings {
            idle_timeout: secs(IDLE_TIMEOUT_SECS),
            log_level: config.string_of(LOG_LEVEL),
            max_frame_bytes: config.integer_of(MAX_FRAME_BYTES) as usize,
            workspace_name: (!workspace_name.is_empty()).then_some(workspace_name),
            index: IndexSettings {
                max_file_bytes: config.integer_of(INDEX_MAX_FILE_BYTES) as u64,
                threads: match config.integer_of(INDEX_THREADS) {
                    0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
                    n => n as usize,
                },
                watch: config.bool_of(INDEX_WATCH),
            },
            agents: AgentsSettings {
                default: config.string_of(AGENTS_DEFAULT),
                isolation: match config.string_of(AGENTS_ISOLATION).as_str() {
                    "none" => Isolation::None,
                    _ => Isolation::Worktree,
                },
                silence_timeout: secs(AGENTS_SILENCE_TIMEOUT_SECS),
                turn_timeout: secs(AGENTS_TURN_TIMEOUT_SECS),
                needs_input_after: Duration::from_secs(
                    config.integer_of(AGENTS_NEEDS_INPUT_SECS).max(1) as u64,
                ),
                setup_files: config.list_of(AGENTS_SETUP_FILES),
                setup_command: config.list_of(AGENTS_SETUP_COMMAND),
                output_buffer_bytes: config.integer_of(AGENTS_OUTPUT_BUFFER_BYTES) as usize,
                built_in,
                custom,
                prices,
            },
            memory: maestro_memory::service::Settings {
                semantic: config.bool_of(MEMORY_SEMANTIC),
                remember_turns: config.bool_of(MEMORY_REMEMBER_TURNS),
                code: config.bool_of(MEMORY_CODE),
                recency_weight: float(MEMORY_RECENCY_WEIGHT),
                recency_half_life_secs: float(MEMORY_RECENCY_HALF_LIFE_DAYS) * 86_400.0,
                dedup_similarity: float(MEMORY_DEDUP_SIMILARITY) as f32,
                chunk_bytes: config.integer_of(MEMORY_CHUNK_BYTES) as usize,
                batch: config.integer_of(MEMORY_EMBED_BATCH) as usize,
                threads: config.integer_of(MEMORY_EMBED_THREADS) as usize,
            },
            messages: maestro_comms::Policy {
                wake: super::priorities(&config.string_of(MESSAGES_WAKE)).unwrap_or_default(),
                wakes_per_hour: config.integer_of(MESSAGES_WAKES_PER_HOUR) as u32,
            },
            chat: ChatSettings {
                max_rounds: config.integer_of(CHAT_MAX_ROUNDS) as u32,
                turn_timeout: Duration::from_secs(config.integer_of(CHAT_TURN_TIMEOUT_SECS) as u64),
                budget_usd: float(CHAT_BUDGET_USD),
            },
            mesh: MeshSettings {
                urls: config.list_of(MESH_URLS),
                name: config.string_of(MESH_NAME),
                user: config.string_of(MESH_USER),
                password_file: config.string_of(MESH_PASSWORD_FILE),
                nkey_seed_file: config.string_of(MESH_NKEY_SEED_FILE),
                ca_file: config.string_of(MESH_CA_FILE),
                heartbeat: Duration::from_secs(config.integer_of(MESH_HEARTBEAT_SECS) as u64),
                ttl: Duration::from_secs(config.integer_of(MESH_TTL_SECS) as u64),
                labels: config.list_of(MESH_LABELS),
                workers: config.integer_of(MESH_WORKERS) as usize,
                task_deadline: Duration::from_secs(
                    config.integer_of(MESH_TASK_DEADLINE_SECS) as u64
                ),
                transfer_timeout: Duration::from_secs(
                    config.integer_of(MESH_TRANSFER_TIMEOUT_SECS) as u64,
                ),
            },
            attention: maestro_agents::attention::Policy {
                decider: Some(config.string_of(ATTENTION_DECIDER)).filter(|d| !d.is_empty()),
                ..maestro_agents::attention::Policy::new(
                    &config.list_of(ATTENTION_ALLOW),
                    &config.list_of(ATTENTION_ASK),
                )
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_cli_has_its_keys_in_the_registry() {
        for cli in BUILT_IN {
            for k in ["path", "args", "model"] {
                assert!(
                    def(&format!("agents.{cli}.{k}")).is_some(),
                    "agents.{cli}.{k}"
                );
            }
        }
        for f in CUSTOM_FIELDS {
            assert!(def(&format!("agents.custom.x.{f}")).is_some(), "{f}");
        }
    }

    #[test]
    fn defaults_resolve_from_the_registry() {
        let s = Config::default().settings().clone();
        assert_eq!(s.idle_timeout, Some(Duration::from_secs(900)));
        assert_eq!(s.memory.recency_weight, 0.2);
        assert_eq!(s.memory.recency_half_life_secs, 14.0 * 86_400.0);
        assert_eq!(s.memory.dedup_similarity, 0.97);
        assert_eq!(s.agents.default, "claude");
        assert_eq!(s.agents.isolation, Isolation::Worktree);
        assert_eq!(s.agents.built_in["codex"].path, None);
        assert!(s.agents.custom.is_empty());
    }
}
