//! Configuration: a registry of every key with its type, scope, default and documentation, read from
//! the user's file and a workspace's `.maestro/config.toml`. The registry is the single source of the
//! reference in README.md (a test keeps them equal). An unknown key, a wrong type or a key in the
//! wrong file is an error that names the file, the line and the key.
//!
//! A registry (`KEYS`) of every key with scope, type, bounds, default and doc. Files are walked
//! against it: an unknown key (with a did-you-mean), a wrong type, a value out of range, or a user-only key
//! in a repository file is a `ConfigProblem` with file, line and key; all problems of a file are reported at
//! once. Layers: defaults < `$XDG_CONFIG_HOME/maestro/config.toml` < `<repo>/.maestro/config.toml`; each
//! effective value knows its source (`maestro config show`). README's configuration table is generated from
//! the registry, and a test keeps them equal. `daemon.*` and `rpc.*` are user-only: a cloned repository
//! cannot change the daemon. A [`Config`] resolves its values once, when it is read, into
//! [`Settings`] (`settings.rs`): the rest of the daemon reads typed fields, not keys.

use crate::paths::{Paths, workspace_config_file};
pub mod settings;

pub use settings::Settings;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use toml::de::{DeTable, DeValue};

/// Which file may set a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Only the user's config: it concerns the daemon, which serves every repository, and a cloned
    /// repository must not change it.
    User,
    /// The user's config or a workspace's (the workspace's wins).
    Workspace,
}

/// Checks a string value; the error says what is wrong with it.
pub type StringCheck = fn(&str) -> Result<(), String>;

/// The type of a key's value, with its bounds.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Integer {
        min: i64,
        max: i64,
    },
    Float {
        min: f64,
        max: f64,
    },
    String {
        check: Option<StringCheck>,
    },
    /// An array of strings (an argument vector, a list of files), each checked.
    List {
        check: Option<StringCheck>,
    },
    Bool,
}

/// A configuration value.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigValue {
    Integer(i64),
    Float(f64),
    String(String),
    List(Vec<String>),
    Bool(bool),
}

impl fmt::Display for ConfigValue {
    /// TOML syntax, as it would be written in the file.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigValue::Integer(i) => write!(f, "{i}"),
            ConfigValue::Float(x) => write!(f, "{x:?}"),
            ConfigValue::String(s) => write!(f, "{s:?}"),
            ConfigValue::List(items) => {
                let items: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
                write!(f, "[{}]", items.join(", "))
            }
            ConfigValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

impl ConfigValue {
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            ConfigValue::Integer(i) => (*i).into(),
            ConfigValue::Float(x) => (*x).into(),
            ConfigValue::String(s) => s.clone().into(),
            ConfigValue::List(items) => items.clone().into(),
            ConfigValue::Bool(b) => (*b).into(),
        }
    }
}

/// One documented key.
#[derive(Debug, Clone, Copy)]
pub struct KeyDef {
    /// Dotted name: `section.key`. A `*` part stands for any one name chosen by the user
    /// (`agents.custom.*.program`, `prices.*.input`).
    pub key: &'static str,
    pub scope: Scope,
    pub kind: Kind,
    pub default: DefaultValue,
    pub doc: &'static str,
}

/// A key's default, as a constant.
#[derive(Debug, Clone, Copy)]
pub enum DefaultValue {
    Integer(i64),
    Float(f64),
    String(&'static str),
    List(&'static [&'static str]),
    Bool(bool),
    /// No value unless a file sets one (keys with `*` parts).
    Unset,
}

impl DefaultValue {
    pub fn value(self) -> ConfigValue {
        match self {
            DefaultValue::Integer(i) => ConfigValue::Integer(i),
            DefaultValue::Float(x) => ConfigValue::Float(x),
            DefaultValue::String(s) => ConfigValue::String(s.to_owned()),
            DefaultValue::List(items) => {
                ConfigValue::List(items.iter().map(|s| (*s).to_owned()).collect())
            }
            DefaultValue::Bool(b) => ConfigValue::Bool(b),
            DefaultValue::Unset => ConfigValue::String(String::new()),
        }
    }
}

pub const IDLE_TIMEOUT_SECS: &str = "daemon.idle_timeout_secs";
pub const LOG_LEVEL: &str = "daemon.log_level";
pub const MAX_FRAME_BYTES: &str = "rpc.max_frame_bytes";
pub const WORKSPACE_NAME: &str = "workspace.name";
pub const INDEX_MAX_FILE_BYTES: &str = "index.max_file_bytes";
pub const INDEX_THREADS: &str = "index.threads";
pub const INDEX_WATCH: &str = "index.watch";
pub const AGENTS_DEFAULT: &str = "agents.default";
pub const AGENTS_ISOLATION: &str = "agents.isolation";
pub const AGENTS_SILENCE_TIMEOUT_SECS: &str = "agents.silence_timeout_secs";
pub const AGENTS_TURN_TIMEOUT_SECS: &str = "agents.turn_timeout_secs";
pub const AGENTS_NEEDS_INPUT_SECS: &str = "agents.needs_input_secs";
pub const AGENTS_SETUP_FILES: &str = "agents.setup_files";
pub const AGENTS_SETUP_COMMAND: &str = "agents.setup_command";
pub const AGENTS_OUTPUT_BUFFER_BYTES: &str = "agents.output_buffer_bytes";
pub const MEMORY_SEMANTIC: &str = "memory.semantic";
pub const MEMORY_REMEMBER_TURNS: &str = "memory.remember_turns";
pub const MEMORY_CODE: &str = "memory.code";
pub const MEMORY_RECENCY_WEIGHT: &str = "memory.recency_weight";
pub const MEMORY_RECENCY_HALF_LIFE_DAYS: &str = "memory.recency_half_life_days";
pub const MEMORY_DEDUP_SIMILARITY: &str = "memory.dedup_similarity";
pub const MEMORY_CHUNK_BYTES: &str = "memory.chunk_bytes";
pub const MEMORY_EMBED_BATCH: &str = "memory.embed_batch";
pub const MEMORY_EMBED_THREADS: &str = "memory.embed_threads";
pub const MESSAGES_WAKE: &str = "messages.wake";
pub const CHAT_MAX_ROUNDS: &str = "chat.max_rounds";
pub const CHAT_TURN_TIMEOUT_SECS: &str = "chat.turn_timeout_secs";
pub const CHAT_BUDGET_USD: &str = "chat.budget_usd";
pub const ATTENTION_ALLOW: &str = "attention.allow";
pub const ATTENTION_ASK: &str = "attention.ask";
pub const ATTENTION_DECIDER: &str = "attention.decider";
pub const MESSAGES_WAKES_PER_HOUR: &str = "messages.wakes_per_hour";
pub const MESH_URLS: &str = "mesh.urls";
pub const MESH_NAME: &str = "mesh.name";
pub const MESH_USER: &str = "mesh.user";
pub const MESH_PASSWORD_FILE: &str = "mesh.password_file";
pub const MESH_NKEY_SEED_FILE: &str = "mesh.nkey_seed_file";
pub const MESH_CA_FILE: &str = "mesh.ca_file";
pub const MESH_HEARTBEAT_SECS: &str = "mesh.heartbeat_secs";
pub const MESH_TTL_SECS: &str = "mesh.ttl_secs";
pub const MESH_LABELS: &str = "mesh.labels";
pub const MESH_WORKERS: &str = "mesh.workers";
pub const MESH_TASK_DEADLINE_SECS: &str = "mesh.task_deadline_secs";
pub const MESH_TRANSFER_TIMEOUT_SECS: &str = "mesh.transfer_timeout_secs";

fn check_mesh_url(url: &str) -> Result<(), String> {
    let rest = ["nats://", "tls://"]
        .iter()
        .find_map(|p| url.strip_prefix(p))
        .ok_or_else(|| {
            format!("{url:?} is not a NATS server URL: it starts with nats:// or tls://")
        })?;
    if rest.is_empty() || rest.contains(char::is_whitespace) {
        return Err(format!("{url:?} has no host"));
    }
    Ok(())
}

fn check_mesh_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Ok(());
    }
    maestro_mesh::check_node_name(name)
}

/// Every configuration key.
pub const KEYS: &[KeyDef] = &[
    KeyDef {
        key: IDLE_TIMEOUT_SECS,
        scope: Scope::User,
        kind: Kind::Integer {
            min: 0,
            max: 7 * 24 * 3600,
        },
        default: DefaultValue::Integer(900),
        doc: "Seconds the daemon stays up with no client connected and no work running; 0 keeps it up until `maestro daemon stop`.",
    },
    KeyDef {
        key: LOG_LEVEL,
        scope: Scope::User,
        kind: Kind::String {
            check: Some(check_log_filter),
        },
        default: DefaultValue::String("info"),
        doc: "What the daemon writes to its log: `error`, `warn`, `info`, `debug`, `trace`, or per-target directives such as `info,maestro_store=debug`. The `MAESTRO_LOG` environment variable overrides it.",
    },
    KeyDef {
        key: MAX_FRAME_BYTES,
        scope: Scope::User,
        kind: Kind::Integer {
            min: 4096,
            max: 1 << 32,
        },
        default: DefaultValue::Integer(64 << 20),
        doc: "Largest JSON-RPC message accepted on the daemon socket and on `maestro lsp`'s stdin; a larger one is answered with an error and skipped.",
    },
    KeyDef {
        key: INDEX_MAX_FILE_BYTES,
        scope: Scope::Workspace,
        kind: Kind::Integer {
            min: 1024,
            max: 1 << 30,
        },
        default: DefaultValue::Integer(2 << 20),
        doc: "Source files larger than this are not indexed (the skip and its reason are logged), and open buffers larger than this are not parsed; binary and minified files, and files of more than 200,000 symbols and references, never are indexed.",
    },
    KeyDef {
        key: INDEX_THREADS,
        scope: Scope::User,
        kind: Kind::Integer { min: 0, max: 256 },
        default: DefaultValue::Integer(0),
        doc: "Threads that parse files while indexing; 0 means one per CPU core.",
    },
    KeyDef {
        key: INDEX_WATCH,
        scope: Scope::User,
        kind: Kind::Bool,
        default: DefaultValue::Bool(true),
        doc: "Watch workspaces for changes made outside the editor (agents, git, builds) and re-index them; off, changes show after `maestro index`.",
    },
    KeyDef {
        key: AGENTS_DEFAULT,
        scope: Scope::Workspace,
        kind: Kind::String { check: None },
        default: DefaultValue::String("claude"),
        doc: "The agent CLI used when `maestro agent spawn` names none: `claude`, `codex`, `gemini`, `opencode`, `aider`, or a custom agent.",
    },
    KeyDef {
        key: AGENTS_ISOLATION,
        scope: Scope::Workspace,
        kind: Kind::String {
            check: Some(check_isolation),
        },
        default: DefaultValue::String("worktree"),
        doc: "`worktree`: each agent works in its own git worktree on branch `maestro/<name>`; `none`: agents work in the repository itself.",
    },
    KeyDef {
        key: AGENTS_SILENCE_TIMEOUT_SECS,
        scope: Scope::Workspace,
        kind: Kind::Integer {
            min: 0,
            max: 7 * 24 * 3600,
        },
        default: DefaultValue::Integer(900),
        doc: "The watchdog kills a headless turn that printed nothing for this long, and records why; 0 turns it off.",
    },
    KeyDef {
        key: AGENTS_TURN_TIMEOUT_SECS,
        scope: Scope::Workspace,
        kind: Kind::Integer {
            min: 0,
            max: 7 * 24 * 3600,
        },
        default: DefaultValue::Integer(4 * 3600),
        doc: "The watchdog kills a headless turn that runs longer than this; 0 turns it off.",
    },
    KeyDef {
        key: AGENTS_NEEDS_INPUT_SECS,
        scope: Scope::Workspace,
        kind: Kind::Integer { min: 1, max: 3600 },
        default: DefaultValue::Integer(5),
        doc: "A running agent whose output stopped on an unfinished line (a question) this long ago, or an interactive one quiet this long, is shown as needing input.",
    },
    KeyDef {
        key: AGENTS_SETUP_FILES,
        scope: Scope::Workspace,
        kind: Kind::List { check: None },
        default: DefaultValue::List(&[]),
        doc: "Untracked files or directories copied from the repository into each new worktree, e.g. `[\".env\"]`.",
    },
    KeyDef {
        key: AGENTS_SETUP_COMMAND,
        scope: Scope::Workspace,
        kind: Kind::List { check: None },
        default: DefaultValue::List(&[]),
        doc: "A command (program and arguments, no shell) run in each new worktree before the first turn, e.g. `[\"npm\", \"ci\"]`; the agent fails if it does. Set by a repository, it runs only once approved with `maestro trust`.",
    },
    KeyDef {
        key: AGENTS_OUTPUT_BUFFER_BYTES,
        scope: Scope::User,
        kind: Kind::Integer {
            min: 4096,
            max: 1 << 30,
        },
        default: DefaultValue::Integer(1 << 20),
        doc: "Output of each agent kept in memory for clients that attach or fill gaps; all of it is in the agent's log file.",
    },
    KeyDef {
        key: MEMORY_SEMANTIC,
        scope: Scope::User,
        kind: Kind::Bool,
        default: DefaultValue::Bool(true),
        doc: "Embed memories and search them by meaning (needs `maestro models install`); off, search is by keywords only and no model is loaded.",
    },
    KeyDef {
        key: MEMORY_REMEMBER_TURNS,
        scope: Scope::User,
        kind: Kind::Bool,
        default: DefaultValue::Bool(true),
        doc: "Remember every agent turn (prompt, reply, tools used) and playbook task.",
    },
    KeyDef {
        key: MEMORY_CODE,
        scope: Scope::User,
        kind: Kind::Bool,
        default: DefaultValue::Bool(true),
        doc: "Embed the code graph's symbols (signature, doc, start of body) for `maestro search`, kept fresh as files change.",
    },
    KeyDef {
        key: MEMORY_RECENCY_WEIGHT,
        scope: Scope::User,
        kind: Kind::Float {
            min: 0.0,
            max: 10.0,
        },
        default: DefaultValue::Float(0.2),
        doc: "How much newer memories rank above older ones: a new memory's score is multiplied by 1 + this, halving each half-life; 0 turns it off.",
    },
    KeyDef {
        key: MEMORY_RECENCY_HALF_LIFE_DAYS,
        scope: Scope::User,
        kind: Kind::Float {
            min: 0.001,
            max: 36500.0,
        },
        default: DefaultValue::Float(14.0),
        doc: "The half-life of the recency boost, in days.",
    },
    KeyDef {
        key: MEMORY_DEDUP_SIMILARITY,
        scope: Scope::User,
        kind: Kind::Float { min: 0.5, max: 1.0 },
        default: DefaultValue::Float(0.97),
        doc: "A new memory this similar (cosine) to one of the same workspace, kind and agent is merged into it (its count goes up) instead of stored again.",
    },
    KeyDef {
        key: MEMORY_CHUNK_BYTES,
        scope: Scope::User,
        kind: Kind::Integer {
            min: 200,
            max: 100_000,
        },
        default: DefaultValue::Integer(1200),
        doc: "Texts longer than this are split into overlapping chunks, each its own memory.",
    },
    KeyDef {
        key: MEMORY_EMBED_BATCH,
        scope: Scope::User,
        kind: Kind::Integer { min: 1, max: 1024 },
        default: DefaultValue::Integer(128),
        doc: "Texts the background worker takes from its queue at a time (the model runs them 16 at a time, like lengths together; the worker yields to other work between batches).",
    },
    KeyDef {
        key: MEMORY_EMBED_THREADS,
        scope: Scope::User,
        kind: Kind::Integer { min: 1, max: 64 },
        default: DefaultValue::Integer(2),
        doc: "Threads ONNX Runtime uses per batch. They run at low priority (nice 10): editors and agents go first.",
    },
    KeyDef {
        key: MESSAGES_WAKE,
        scope: Scope::User,
        kind: Kind::String {
            check: Some(check_priorities),
        },
        default: DefaultValue::String("high,urgent"),
        doc: "Priorities of a message that wake an idle agent (a new turn resuming its session), comma-separated from `low`, `normal`, `high`, `urgent`, or empty; a request always wakes. Other messages wait for the agent's next turn.",
    },
    KeyDef {
        key: MESSAGES_WAKES_PER_HOUR,
        scope: Scope::User,
        kind: Kind::Integer {
            min: 0,
            max: 10_000,
        },
        default: DefaultValue::Integer(30),
        doc: "At most this many wakes of one agent by messages in an hour (each wake is a turn that costs); beyond, messages wait for its next turn.",
    },
    KeyDef {
        key: CHAT_MAX_ROUNDS,
        scope: Scope::User,
        kind: Kind::Integer { min: 1, max: 50 },
        default: DefaultValue::Integer(3),
        doc: "Rounds of a group chat's exchange at most (the moderator mentioning participants); at the cap the moderator is asked for its synthesis. `maestro chat new --rounds` sets one chat's.",
    },
    KeyDef {
        key: CHAT_TURN_TIMEOUT_SECS,
        scope: Scope::User,
        kind: Kind::Integer {
            min: 5,
            max: 86_400,
        },
        default: DefaultValue::Integer(600),
        doc: "How long a chat waits for one agent's answer; a participant slower than this is stopped and reported in the chat, and the round goes on.",
    },
    KeyDef {
        key: CHAT_BUDGET_USD,
        scope: Scope::User,
        kind: Kind::Float {
            min: 0.0,
            max: 10_000.0,
        },
        default: DefaultValue::Float(2.0),
        doc: "Dollars a group chat's turns may cost in all (from the agents' usage; unpriced models count nothing); past it the exchange ends with a note. 0: no budget.",
    },
    KeyDef {
        key: ATTENTION_ALLOW,
        scope: Scope::User,
        kind: Kind::List {
            check: Some(maestro_agents::attention::check_rule),
        },
        default: DefaultValue::List(&["Bash", "Edit"]),
        doc: "What an agent may do without asking you, as rules `Tool` or `Tool(glob)`: `Bash(cargo test*)` (a command whose every part matches), `Edit` (edits inside its worktree; `Edit(docs/*)` narrower), `Prompt(Proceed?*)` (answers `y` to a printed question). Anything else an agent asks for goes to you: the editors ask, and it waits in your inbox (`maestro attention`). The default lets an agent run commands and edit in its worktree, as before.",
    },
    KeyDef {
        key: ATTENTION_DECIDER,
        scope: Scope::User,
        kind: Kind::String {
            check: Some(check_decider),
        },
        default: DefaultValue::String(""),
        doc: "An agent (of the workspace) asked first about what `attention.allow` leaves open: its ALLOW or DENY decides (logged as its decision), anything else, or no such agent, leaves the question to you. Empty: questions come to you.",
    },
    KeyDef {
        key: ATTENTION_ASK,
        scope: Scope::Workspace,
        kind: Kind::List {
            check: Some(maestro_agents::attention::check_rule),
        },
        default: DefaultValue::List(&[]),
        doc: "Rules (as `attention.allow`) of what always goes to you, even when allowed, e.g. `[\"Bash(git push*)\"]`. A repository may set it: it can only narrow what runs unasked.",
    },
    KeyDef {
        key: MESH_URLS,
        scope: Scope::User,
        kind: Kind::List {
            check: Some(check_mesh_url),
        },
        default: DefaultValue::List(&[]),
        doc: "The NATS servers (with JetStream) of your mesh, e.g. `[\"nats://build:4222\", \"tls://cloud:4222\"]`; `tls://` requires TLS. Empty: this machine only, and nothing of the mesh starts. `maestro mesh join` joins them.",
    },
    KeyDef {
        key: MESH_NAME,
        scope: Scope::User,
        kind: Kind::String {
            check: Some(check_mesh_name),
        },
        default: DefaultValue::String(""),
        doc: "This machine's node name in the mesh (letters, digits, `-`, `_`); empty means the host's name.",
    },
    KeyDef {
        key: MESH_USER,
        scope: Scope::User,
        kind: Kind::String { check: None },
        default: DefaultValue::String(""),
        doc: "The NATS user to connect as (with `mesh.password_file`).",
    },
    KeyDef {
        key: MESH_PASSWORD_FILE,
        scope: Scope::User,
        kind: Kind::String { check: None },
        default: DefaultValue::String(""),
        doc: "A file holding the NATS user's password (absolute or `~/…`; readable by you only).",
    },
    KeyDef {
        key: MESH_NKEY_SEED_FILE,
        scope: Scope::User,
        kind: Kind::String { check: None },
        default: DefaultValue::String(""),
        doc: "A file holding an nkey seed (`SU…`) to connect with instead of a user and password (absolute or `~/…`; readable by you only).",
    },
    KeyDef {
        key: MESH_CA_FILE,
        scope: Scope::User,
        kind: Kind::String { check: None },
        default: DefaultValue::String(""),
        doc: "A CA certificate (PEM) the servers' TLS certificates are checked against, besides the system's.",
    },
    KeyDef {
        key: MESH_HEARTBEAT_SECS,
        scope: Scope::User,
        kind: Kind::Integer { min: 1, max: 300 },
        default: DefaultValue::Integer(2),
        doc: "Seconds between this node's heartbeats.",
    },
    KeyDef {
        key: MESH_TTL_SECS,
        scope: Scope::User,
        kind: Kind::Integer { min: 2, max: 3600 },
        default: DefaultValue::Integer(10),
        doc: "Seconds without a heartbeat after which a node is gone and its agents lost (at least twice `mesh.heartbeat_secs`).",
    },
    KeyDef {
        key: MESH_LABELS,
        scope: Scope::User,
        kind: Kind::List {
            check: Some(check_mesh_name),
        },
        default: DefaultValue::List(&[]),
        doc: "Labels of this node (e.g. `gpu`, `big`) that work sent to the mesh may ask for.",
    },
    KeyDef {
        key: MESH_WORKERS,
        scope: Scope::User,
        kind: Kind::Integer { min: 0, max: 64 },
        default: DefaultValue::Integer(1),
        doc: "Tasks of distributed playbook runs this node works on at once (0: it takes none).",
    },
    KeyDef {
        key: MESH_TASK_DEADLINE_SECS,
        scope: Scope::User,
        kind: Kind::Integer {
            min: 3,
            max: 86_400,
        },
        default: DefaultValue::Integer(60),
        doc: "A distributed task whose node has not said it is still working on it for this long (the node died) goes back to the queue for another node.",
    },
    KeyDef {
        key: MESH_TRANSFER_TIMEOUT_SECS,
        scope: Scope::User,
        kind: Kind::Integer {
            min: 3,
            max: 86_400,
        },
        default: DefaultValue::Integer(300),
        doc: "How long `maestro agent transfer` waits for the target node to take the agent in; past it (or on any failure) the agent stays where it was.",
    },
    KeyDef {
        key: "agents.claude.path",
        scope: Scope::User,
        kind: Kind::String { check: None },
        default: DefaultValue::String(""),
        doc: "The `claude` program; empty means `claude` on the daemon's PATH.",
    },
    KeyDef {
        key: "agents.claude.args",
        scope: Scope::User,
        kind: Kind::List { check: None },
        default: DefaultValue::List(&[]),
        doc: "Extra arguments for every `claude` turn, before the prompt.",
    },
    KeyDef {
        key: "agents.claude.model",
        scope: Scope::Workspace,
        kind: Kind::String { check: None },
        default: DefaultValue::String(""),
        doc: "The model `claude` agents use unless spawned with `--model`; empty means the CLI's own default.",
    },
    KeyDef {
        key: "agents.codex.path",
        scope: Scope::User,
        kind: Kind::String { check: None },
        default: DefaultValue::String(""),
        doc: "The `codex` program; empty means `codex` on the daemon's PATH.",
    },
    KeyDef {
        key: "agents.codex.args",
        scope: Scope::User,
        kind: Kind::List { check: None },
        default: DefaultValue::List(&[]),
        doc: "Extra arguments for every `codex` turn, before the prompt.",
    },
    KeyDef {
        key: "agents.codex.model",
        scope: Scope::Workspace,
        kind: Kind::String { check: None },
        default: DefaultValue::String(""),
        doc: "The model `codex` agents use unless spawned with `--model`; empty means the CLI's own default.",
    },
    KeyDef {
        key: "agents.gemini.path",
        scope: Scope::User,
        kind: Kind::String { check: None },
        default: DefaultValue::String(""),
        doc: "The `gemini` program; empty means `gemini` on the daemon's PATH.",
    },
    KeyDef {
        key: "agents.gemini.args",
        scope: Scope::User,
        kind: Kind::List { check: None },
        default: DefaultValue::List(&[]),
        doc: "Extra arguments for every `gemini` turn, before the prompt.",
    },
    KeyDef {
        key: "agents.gemini.model",
        scope: Scope::Workspace,
        kind: Kind::String { check: None },
        default: DefaultValue::String(""),
        doc: "The model `gemini` agents use unless spawned with `--model`; empty means the CLI's own default.",
    },
    KeyDef {
        key: "agents.opencode.path",
        scope: Scope::User,
        kind: Kind::String { check: None },
        default: DefaultValue::String(""),
        doc: "The `opencode` program; empty means `opencode` on the daemon's PATH.",
    },
    KeyDef {
        key: "agents.opencode.args",
        scope: Scope::User,
        kind: Kind::List { check: None },
        default: DefaultValue::List(&[]),
        doc: "Extra arguments for every `opencode` turn, before the prompt.",
    },
    KeyDef {
        key: "agents.opencode.model",
        scope: Scope::Workspace,
        kind: Kind::String { check: None },
        default: DefaultValue::String(""),
        doc: "The model `opencode` agents use unless spawned with `--model`; empty means the CLI's own default.",
    },
    KeyDef {
        key: "agents.aider.path",
        scope: Scope::User,
        kind: Kind::String { check: None },
        default: DefaultValue::String(""),
        doc: "The `aider` program; empty means `aider` on the daemon's PATH.",
    },
    KeyDef {
        key: "agents.aider.args",
        scope: Scope::User,
        kind: Kind::List { check: None },
        default: DefaultValue::List(&[]),
        doc: "Extra arguments for every `aider` turn, before the prompt.",
    },
    KeyDef {
        key: "agents.aider.model",
        scope: Scope::Workspace,
        kind: Kind::String { check: None },
        default: DefaultValue::String(""),
        doc: "The model `aider` agents use unless spawned with `--model`; empty means the CLI's own default.",
    },
    KeyDef {
        key: "agents.custom.*.program",
        scope: Scope::User,
        kind: Kind::String { check: None },
        default: DefaultValue::Unset,
        doc: "The program of custom agent `*` (spawn it with `--agent *`).",
    },
    KeyDef {
        key: "agents.custom.*.args",
        scope: Scope::User,
        kind: Kind::List { check: None },
        default: DefaultValue::Unset,
        doc: "Its arguments: `{prompt}`, `{session_id}` and `{model}` are filled in (an argument naming a missing value is left out); without `{prompt}` the prompt comes last.",
    },
    KeyDef {
        key: "agents.custom.*.resume_args",
        scope: Scope::User,
        kind: Kind::List { check: None },
        default: DefaultValue::Unset,
        doc: "Arguments added when resuming a session, e.g. `[\"--resume\", \"{session_id}\"]`; empty means it cannot resume.",
    },
    KeyDef {
        key: "agents.custom.*.output",
        scope: Scope::User,
        kind: Kind::String {
            check: Some(check_output),
        },
        default: DefaultValue::Unset,
        doc: "`text` (lines; the turn ends at exit) or `jsonl` (one JSON object per line, read through the `*_field` pointers).",
    },
    KeyDef {
        key: "agents.custom.*.type_field",
        scope: Scope::User,
        kind: Kind::String {
            check: Some(check_pointer),
        },
        default: DefaultValue::Unset,
        doc: "JSON pointer to a line's type, e.g. `/type`.",
    },
    KeyDef {
        key: "agents.custom.*.result_type",
        scope: Scope::User,
        kind: Kind::String { check: None },
        default: DefaultValue::Unset,
        doc: "The type of the line that ends a turn well; empty means a clean exit does.",
    },
    KeyDef {
        key: "agents.custom.*.error_type",
        scope: Scope::User,
        kind: Kind::String { check: None },
        default: DefaultValue::Unset,
        doc: "The type of the line that ends a turn in an error.",
    },
    KeyDef {
        key: "agents.custom.*.session_field",
        scope: Scope::User,
        kind: Kind::String {
            check: Some(check_pointer),
        },
        default: DefaultValue::Unset,
        doc: "JSON pointer to the session id to resume with.",
    },
    KeyDef {
        key: "agents.custom.*.text_field",
        scope: Scope::User,
        kind: Kind::String {
            check: Some(check_pointer),
        },
        default: DefaultValue::Unset,
        doc: "JSON pointer to text for the person.",
    },
    KeyDef {
        key: "agents.custom.*.error_field",
        scope: Scope::User,
        kind: Kind::String {
            check: Some(check_pointer),
        },
        default: DefaultValue::Unset,
        doc: "JSON pointer to an error line's message.",
    },
    KeyDef {
        key: "agents.custom.*.input_tokens_field",
        scope: Scope::User,
        kind: Kind::String {
            check: Some(check_pointer),
        },
        default: DefaultValue::Unset,
        doc: "JSON pointer to input tokens.",
    },
    KeyDef {
        key: "agents.custom.*.output_tokens_field",
        scope: Scope::User,
        kind: Kind::String {
            check: Some(check_pointer),
        },
        default: DefaultValue::Unset,
        doc: "JSON pointer to output tokens.",
    },
    KeyDef {
        key: "agents.custom.*.cost_field",
        scope: Scope::User,
        kind: Kind::String {
            check: Some(check_pointer),
        },
        default: DefaultValue::Unset,
        doc: "JSON pointer to dollars.",
    },
    KeyDef {
        key: "prices.*.input",
        scope: Scope::Workspace,
        kind: Kind::Float { min: 0.0, max: 1e6 },
        default: DefaultValue::Unset,
        doc: "Dollars per million input tokens of models whose name starts with `*` (the longest match wins; built-in prices cover common Claude, GPT and Gemini models).",
    },
    KeyDef {
        key: "prices.*.output",
        scope: Scope::Workspace,
        kind: Kind::Float { min: 0.0, max: 1e6 },
        default: DefaultValue::Unset,
        doc: "Dollars per million output tokens.",
    },
    KeyDef {
        key: "prices.*.cache_read",
        scope: Scope::Workspace,
        kind: Kind::Float { min: 0.0, max: 1e6 },
        default: DefaultValue::Unset,
        doc: "Dollars per million cached input tokens read; unset bills them as input.",
    },
    KeyDef {
        key: "prices.*.cache_write",
        scope: Scope::Workspace,
        kind: Kind::Float { min: 0.0, max: 1e6 },
        default: DefaultValue::Unset,
        doc: "Dollars per million input tokens written to the cache; unset bills them as input.",
    },
    KeyDef {
        key: WORKSPACE_NAME,
        scope: Scope::Workspace,
        kind: Kind::String {
            check: Some(check_display_name),
        },
        default: DefaultValue::String(""),
        doc: "Display name of the workspace; empty means the name of its root directory.",
    },
];

pub(crate) fn def(key: &str) -> Option<&'static KeyDef> {
    def_of(&key_parts(key))
}

fn def_of(parts: &[String]) -> Option<&'static KeyDef> {
    KEYS.iter().find(|k| {
        let pattern: Vec<&str> = k.key.split('.').collect();
        pattern.len() == parts.len() && prefix_matches(&pattern, parts)
    })
}

fn prefix_matches(pattern: &[&str], parts: &[String]) -> bool {
    pattern.len() >= parts.len()
        && pattern
            .iter()
            .zip(parts)
            .all(|(p, part)| *p == "*" || p == part)
}

/// Whether `parts` name a section (a table some registered key lies in).
fn is_section(parts: &[String]) -> bool {
    KEYS.iter().any(|k| {
        let pattern: Vec<&str> = k.key.split('.').collect();
        pattern.len() > parts.len() && prefix_matches(&pattern, parts)
    })
}

/// The parts of a dotted key; a part may be quoted (`prices."gpt-4.1".input`).
pub fn key_parts(key: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut quoted = false;
    for c in key.chars() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => parts.push(String::new()),
            c => parts.last_mut().expect("never empty").push(c),
        }
    }
    parts
}

/// A dotted key from its parts, quoting a part that is not a bare TOML key.
pub fn key_from_parts<S: AsRef<str>>(parts: &[S]) -> String {
    let rendered: Vec<String> = parts
        .iter()
        .map(|p| {
            let p = p.as_ref();
            let bare = !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if bare { p.to_owned() } else { format!("{p:?}") }
        })
        .collect();
    rendered.join(".")
}

/// Where an effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// The values one file sets.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigLayer {
    pub file: PathBuf,
    /// By dotted key (parts quoted where needed, see [`key_from_parts`]).
    pub values: BTreeMap<String, ConfigValue>,
}

/// One thing wrong in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub line: usize,
    pub key: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read: {message}", .file.display())]
    Unreadable { file: PathBuf, message: String },
    #[error("{}: not valid TOML: {message}", .file.display())]
    Syntax { file: PathBuf, message: String },
    #[error("{}", render_problems(.file, .problems))]
    Invalid {
        file: PathBuf,
        problems: Vec<ConfigProblem>,
    },
}

fn render_problems(file: &Path, problems: &[ConfigProblem]) -> String {
    let lines: Vec<String> = problems
        .iter()
        .map(|p| format!("{}:{}: `{}`: {}", file.display(), p.line, p.key, p.message))
        .collect();
    lines.join("\n")
}

/// The effective configuration: defaults, then the user's file, then a workspace's file; its
/// values resolved once into [`Settings`].
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    user: Option<ConfigLayer>,
    workspace: Option<ConfigLayer>,
    settings: Settings,
}

impl Default for Config {
    fn default() -> Config {
        Config::from_layers(None, None)
    }
}

/// A key's effective value and where it came from.
#[derive(Debug, Clone)]
pub struct ConfigEntry {
    pub def: &'static KeyDef,
    pub value: ConfigValue,
    pub source: Source,
}

impl Config {
    /// The user's configuration (`config.toml` in the config dir; a missing file means defaults).
    pub fn load_user(paths: &Paths) -> Result<Config, ConfigError> {
        Ok(Config::from_layers(
            read_layer(&paths.user_config_file(), Scope::User)?,
            None,
        ))
    }

    /// This configuration with the workspace file of `root` on top.
    pub fn with_workspace(&self, root: &Path) -> Result<Config, ConfigError> {
        let workspace = read_layer(&workspace_config_file(root), Scope::Workspace)?;
        Ok(Config::from_layers(self.user.clone(), workspace))
    }

    /// The configuration of these files, resolved.
    pub fn from_layers(user: Option<ConfigLayer>, workspace: Option<ConfigLayer>) -> Config {
        let mut config = Config {
            user,
            workspace,
            // Replaced at once: resolving reads the layers through `config`.
            settings: Settings::default(),
        };
        config.settings = Settings::resolve(&config);
        config
    }

    /// Every setting, typed.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The user's file, when one was read.
    pub fn user_layer(&self) -> Option<&ConfigLayer> {
        self.user.as_ref()
    }

    /// The workspace's file, when one was read.
    pub fn workspace_layer(&self) -> Option<&ConfigLayer> {
        self.workspace.as_ref()
    }

    /// The effective value of a key of [`KEYS`]. Panics on a key that is not registered: keys are
    /// constants of this crate.
    pub fn entry(&self, key: &str) -> ConfigEntry {
        let def = def(key).unwrap_or_else(|| panic!("unregistered config key {key}"));
        let key = key_from_parts(&key_parts(key));
        for layer in [&self.workspace, &self.user].into_iter().flatten() {
            if let Some(v) = layer.values.get(&key) {
                return ConfigEntry {
                    def,
                    value: v.clone(),
                    source: Source::File(layer.file.clone()),
                };
            }
        }
        ConfigEntry {
            def,
            value: def.default.value(),
            source: Source::Default,
        }
    }

    /// Every key's effective value, in registry order; a key with `*` parts appears once per
    /// name a file gives it (with the name filled in).
    pub fn entries(&self) -> Vec<(String, ConfigEntry)> {
        let mut out = Vec::new();
        for k in KEYS {
            if !k.key.contains('*') {
                out.push((k.key.to_owned(), self.entry(k.key)));
                continue;
            }
            let mut set: Vec<&String> = [&self.user, &self.workspace]
                .into_iter()
                .flatten()
                .flat_map(|l| l.values.keys())
                .filter(|key| def(key).is_some_and(|d| std::ptr::eq(d, k)))
                .collect();
            set.sort();
            set.dedup();
            out.extend(set.into_iter().map(|key| (key.clone(), self.entry(key))));
        }
        out
    }

    /// The names files give to the `*` right after `prefix` (`agents.custom` → custom agents).
    pub fn names_under(&self, prefix: &str) -> Vec<String> {
        let prefix = key_parts(prefix);
        let mut names: Vec<String> = [&self.user, &self.workspace]
            .into_iter()
            .flatten()
            .flat_map(|l| l.values.keys())
            .map(|k| key_parts(k))
            .filter(|parts| parts.len() > prefix.len() && parts.starts_with(&prefix))
            .map(|parts| parts[prefix.len()].clone())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Whether a file sets the key.
    pub fn is_set(&self, key: &str) -> bool {
        self.entry(key).source != Source::Default
    }

    pub(crate) fn string_of(&self, key: &str) -> String {
        match self.entry(key).value {
            ConfigValue::String(s) => s,
            other => unreachable!("{key} holds {other:?}; values are checked against their kind"),
        }
    }

    pub(crate) fn integer_of(&self, key: &str) -> i64 {
        match self.entry(key).value {
            ConfigValue::Integer(i) => i,
            other => unreachable!("{key} holds {other:?}; values are checked against their kind"),
        }
    }

    pub(crate) fn list_of(&self, key: &str) -> Vec<String> {
        match self.entry(key).value {
            ConfigValue::List(items) => items,
            other => unreachable!("{key} holds {other:?}; values are checked against their kind"),
        }
    }

    /// A float key's value, `None` when unset.
    pub(crate) fn float_of(&self, key: &str) -> Option<f64> {
        match self.entry(key).value {
            ConfigValue::Float(x) => Some(x),
            _ => None,
        }
    }

    pub(crate) fn bool_of(&self, key: &str) -> bool {
        matches!(self.entry(key).value, ConfigValue::Bool(true))
    }
}

/// Reads one file as the layer of `scope`. A missing file is `Ok(None)`.
pub fn read_layer(file: &Path, scope: Scope) -> Result<Option<ConfigLayer>, ConfigError> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ConfigError::Unreadable {
                file: file.into(),
                message: e.to_string(),
            });
        }
    };
    parse_layer(file, &text, scope).map(Some)
}

/// Parses the text of a config file read as the layer of `scope`.
pub fn parse_layer(file: &Path, text: &str, scope: Scope) -> Result<ConfigLayer, ConfigError> {
    let table = DeTable::parse(text).map_err(|e| ConfigError::Syntax {
        file: file.into(),
        message: e.to_string().trim().to_owned(),
    })?;
    let mut walk = Walk {
        text,
        scope,
        values: BTreeMap::new(),
        problems: Vec::new(),
    };
    walk.table(table.get_ref(), &[]);
    walk.problems.sort_by_key(|p| p.line);
    if walk.problems.is_empty() {
        Ok(ConfigLayer {
            file: file.into(),
            values: walk.values,
        })
    } else {
        Err(ConfigError::Invalid {
            file: file.into(),
            problems: walk.problems,
        })
    }
}

struct Walk<'t> {
    text: &'t str,
    scope: Scope,
    values: BTreeMap<String, ConfigValue>,
    problems: Vec<ConfigProblem>,
}

impl Walk<'_> {
    fn table(&mut self, table: &DeTable<'_>, prefix: &[String]) {
        for (k, v) in table {
            let mut parts = prefix.to_vec();
            parts.push(k.get_ref().to_string());
            let key = key_from_parts(&parts);
            let line = line_of(self.text, k.span().start);
            let is_section = is_section(&parts);
            match (v.get_ref(), def_of(&parts)) {
                (DeValue::Table(inner), None) if is_section => self.table(inner, &parts),
                (_, None) if is_section => {
                    self.problem(line, &key, format!("is a section; write it as [{key}]"))
                }
                (_, None) => {
                    let message = match suggest(&key) {
                        Some(near) => format!("unknown key (did you mean `{near}`?)"),
                        None => "unknown key".to_owned(),
                    };
                    self.problem(line, &key, message)
                }
                (value, Some(def)) => self.value(line, def, key, value),
            }
        }
    }

    fn value(&mut self, line: usize, def: &'static KeyDef, key: String, value: &DeValue<'_>) {
        if def.scope == Scope::User && self.scope == Scope::Workspace {
            let message = "can only be set in the user's config file (it concerns the daemon), not in a repository's";
            return self.problem(line, &key, message.to_owned());
        }
        let parsed = match (def.kind, value) {
            (Kind::Integer { min, max }, DeValue::Integer(i)) => {
                match i64::from_str_radix(i.as_str(), i.radix()) {
                    Ok(n) if (min..=max).contains(&n) => Ok(ConfigValue::Integer(n)),
                    _ => Err(format!("must be an integer from {min} to {max}, got {i}")),
                }
            }
            (Kind::String { check }, DeValue::String(s)) => match check.map_or(Ok(()), |c| c(s)) {
                Ok(()) => Ok(ConfigValue::String(s.to_string())),
                Err(why) => Err(why),
            },
            (Kind::Float { min, max }, DeValue::Float(x)) => match x.as_str().parse::<f64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(ConfigValue::Float(n)),
                _ => Err(format!("must be a number from {min} to {max}, got {x}")),
            },
            (Kind::Float { min, max }, DeValue::Integer(i)) => {
                match i64::from_str_radix(i.as_str(), i.radix()) {
                    Ok(n) if (min..=max).contains(&(n as f64)) => Ok(ConfigValue::Float(n as f64)),
                    _ => Err(format!("must be a number from {min} to {max}, got {i}")),
                }
            }
            (Kind::List { check }, DeValue::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item.get_ref() {
                    DeValue::String(s) => match check.map_or(Ok(()), |c| c(s)) {
                        Ok(()) => Ok(s.to_string()),
                        Err(why) => Err(format!("item {}: {why}", i + 1)),
                    },
                    other => Err(format!(
                        "must be an array of strings; item {} is {}",
                        i + 1,
                        article(other.type_str())
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(ConfigValue::List),
            (Kind::Bool, DeValue::Boolean(b)) => Ok(ConfigValue::Bool(*b)),
            (kind, other) => Err(format!(
                "must be {}, got {}",
                kind_name(kind),
                article(other.type_str())
            )),
        };
        match parsed {
            Ok(v) => {
                self.values.insert(key, v);
            }
            Err(message) => self.problem(line, &key, message),
        }
    }

    fn problem(&mut self, line: usize, key: &str, message: String) {
        self.problems.push(ConfigProblem {
            line,
            key: key.to_owned(),
            message,
        });
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Integer { .. } => "an integer",
        Kind::Float { .. } => "a number",
        Kind::String { .. } => "a string",
        Kind::List { .. } => "an array of strings",
        Kind::Bool => "true or false",
    }
}

fn article(type_str: &str) -> String {
    let vowel = type_str.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {type_str}", if vowel { "an" } else { "a" })
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The registered key closest to a mistyped one, if any is close.
fn suggest(key: &str) -> Option<&'static str> {
    KEYS.iter()
        .map(|d| (edit_distance(key, d.key), d.key))
        .filter(|(dist, k)| *dist <= 3.max(k.len() / 4))
        .min()
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// A name shown in terminals and editors, which a repository may set: no control characters
/// (a terminal would act on them), and short.
fn check_display_name(s: &str) -> Result<(), String> {
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return Err(format!(
            "holds the control character {:?}: a name is printed in terminals, where it would act",
            c
        ));
    }
    if s.chars().count() > 120 {
        return Err("is longer than 120 characters".to_owned());
    }
    Ok(())
}

fn check_isolation(s: &str) -> Result<(), String> {
    match s {
        "worktree" | "none" => Ok(()),
        _ => Err(format!("`{s}` is not an isolation: `worktree` or `none`")),
    }
}

/// The priorities `messages.wake` lists.
pub(crate) fn priorities(s: &str) -> Result<Vec<maestro_protocol::MessagePriority>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            serde_json::from_value(serde_json::Value::from(p)).map_err(|_| {
                format!("`{p}` is not a priority: `low`, `normal`, `high` or `urgent`")
            })
        })
        .collect()
}

fn check_decider(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Ok(());
    }
    maestro_agents::identity::validate_name(s).map_err(|e| format!("an agent's name: {e}"))
}

fn check_priorities(s: &str) -> Result<(), String> {
    priorities(s).map(|_| ())
}

fn check_output(s: &str) -> Result<(), String> {
    match s {
        "text" | "jsonl" => Ok(()),
        _ => Err(format!("`{s}` is not an output format: `text` or `jsonl`")),
    }
}

fn check_pointer(s: &str) -> Result<(), String> {
    if s.is_empty() || s.starts_with('/') {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not a JSON pointer: write it as `/{s}` (parts separated by `/`)"
        ))
    }
}

/// Accepts what `tracing`'s env filter accepts in practice: comma-separated `level` or
/// `target=level` directives.
fn check_log_filter(s: &str) -> Result<(), String> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    for directive in s.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let (target, level) = match directive.rsplit_once('=') {
            Some((t, l)) => (Some(t), l),
            None => (None, directive),
        };
        if !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            return Err(format!(
                "`{level}` is not a log level (one of {})",
                LEVELS.join(", ")
            ));
        }
        if let Some(t) = target
            && (t.is_empty()
                || !t
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == ':' || c == '-'))
        {
            return Err(format!(
                "`{directive}` is not a log directive (`level` or `target=level`)"
            ));
        }
    }
    Ok(())
}

/// The configuration reference as a Markdown table, generated from [`KEYS`]; README.md carries it.
pub fn reference_markdown() -> String {
    let mut out = String::from("| key | default | file | meaning |\n|---|---|---|---|\n");
    for k in KEYS {
        let file = match k.scope {
            Scope::User => "user",
            Scope::Workspace => "user or repository",
        };
        let default = match k.default {
            DefaultValue::Unset => "(unset)".to_owned(),
            d => format!("`{}`", d.value()),
        };
        out.push_str(&format!(
            "| `{}` | {default} | {file} | {} |\n",
            k.key, k.doc
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, scope: Scope) -> Result<ConfigLayer, ConfigError> {
        parse_layer(Path::new("/etc/m/config.toml"), text, scope)
    }

    #[test]
    fn defaults_apply_without_files() {
        let c = Config::default();
        let s = c.settings();
        assert_eq!(s.idle_timeout, Some(std::time::Duration::from_secs(900)));
        assert_eq!(s.max_frame_bytes, 64 << 20);
        assert_eq!(s.log_level, "info");
        assert_eq!(s.workspace_name, None);
        assert!(c.entries().iter().all(|(_, e)| e.source == Source::Default));
    }

    #[test]
    fn the_workspace_file_wins_and_sources_are_reported() {
        let user = parse(
            "[daemon]\nidle_timeout_secs = 0\n[workspace]\nname = \"mine\"\n",
            Scope::User,
        )
        .unwrap();
        let ws = parse_layer(
            Path::new("/r/.maestro/config.toml"),
            "workspace.name = \"repo\"",
            Scope::Workspace,
        )
        .unwrap();
        let c = Config::from_layers(Some(user), Some(ws));
        assert_eq!(c.settings().idle_timeout, None);
        assert_eq!(c.settings().workspace_name.as_deref(), Some("repo"));
        assert_eq!(
            c.entry(WORKSPACE_NAME).source,
            Source::File("/r/.maestro/config.toml".into())
        );
        assert_eq!(
            c.entry(IDLE_TIMEOUT_SECS).source,
            Source::File("/etc/m/config.toml".into())
        );
        assert_eq!(c.entry(MAX_FRAME_BYTES).source, Source::Default);
    }

    #[test]
    fn an_unknown_key_names_key_file_and_line_and_suggests() {
        let err = parse("# comment\n[daemon]\nidle_timout_secs = 5\n", Scope::User).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/etc/m/config.toml:3: `daemon.idle_timout_secs`: unknown key (did you mean `daemon.idle_timeout_secs`?)"
        );
        let err = parse("colour = \"red\"", Scope::User).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/etc/m/config.toml:1: `colour`: unknown key"
        );
    }

    #[test]
    fn wrong_types_ranges_and_scopes_are_all_reported() {
        let text = "daemon.idle_timeout_secs = \"10\"\nrpc.max_frame_bytes = 1\ndaemon.log_level = \"loud\"\n";
        let ConfigError::Invalid { problems, .. } = parse(text, Scope::User).unwrap_err() else {
            panic!()
        };
        let got: Vec<_> = problems
            .iter()
            .map(|p| (p.line, p.key.as_str(), p.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    1,
                    "daemon.idle_timeout_secs",
                    "must be an integer, got a string"
                ),
                (
                    2,
                    "rpc.max_frame_bytes",
                    "must be an integer from 4096 to 4294967296, got 1"
                ),
                (
                    3,
                    "daemon.log_level",
                    "`loud` is not a log level (one of off, error, warn, info, debug, trace)"
                ),
            ]
        );
        let err = parse("workspace = 3", Scope::User).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/etc/m/config.toml:1: `workspace`: is a section; write it as [workspace]"
        );

        let err = parse("[daemon]\nidle_timeout_secs = 1\n", Scope::Workspace).unwrap_err();
        assert!(
            err.to_string()
                .contains("can only be set in the user's config file"),
            "{err}"
        );
    }

    #[test]
    fn lists_numbers_and_named_tables_are_read_and_checked() {
        let text = r#"
[agents]
setup_files = [".env", "config/local.json"]
[agents.claude]
args = ["--max-turns", "30"]
[agents.custom.mybot]
program = "/opt/mybot"
output = "jsonl"
text_field = "/text"
[prices."gpt-4.1"]
input = 2
output = 8.5
"#;
        let user = parse(text, Scope::User).unwrap();
        let c = Config::from_layers(Some(user), None);
        assert_eq!(c.list_of(AGENTS_SETUP_FILES), [".env", "config/local.json"]);
        assert_eq!(c.list_of("agents.claude.args"), ["--max-turns", "30"]);
        assert_eq!(c.list_of("agents.codex.args"), Vec::<String>::new());
        assert_eq!(c.names_under("agents.custom"), ["mybot"]);
        assert_eq!(c.string_of("agents.custom.mybot.program"), "/opt/mybot");
        assert_eq!(c.names_under("prices"), ["gpt-4.1"]);
        assert_eq!(c.float_of("prices.\"gpt-4.1\".input"), Some(2.0));
        assert_eq!(c.float_of("prices.\"gpt-4.1\".output"), Some(8.5));
        assert_eq!(c.float_of("prices.\"gpt-4.1\".cache_read"), None);
        // Resolved once, typed.
        let agents = &c.settings().agents;
        assert_eq!(agents.setup_files, [".env", "config/local.json"]);
        assert_eq!(agents.built_in["claude"].args, ["--max-turns", "30"]);
        assert!(agents.built_in["codex"].args.is_empty());
        let bot = &agents.custom["mybot"];
        assert_eq!(bot.program.as_deref(), Some("/opt/mybot"));
        assert_eq!(bot.output.as_deref(), Some("jsonl"));
        assert_eq!(bot.fields["text_field"], "/text");
        assert!(!bot.fields.contains_key("type_field"));
        let price = agents.prices.lookup("gpt-4.1").expect("configured");
        assert_eq!(
            (price.input, price.output, price.cache_read),
            (2.0, 8.5, None)
        );
        let shown: Vec<String> = c.entries().into_iter().map(|(k, _)| k).collect();
        assert!(
            shown.contains(&"prices.\"gpt-4.1\".input".to_owned()),
            "{shown:?}"
        );

        let bad = r#"
agents.setup_files = [".env", 3]
agents.isolation = "docker"
agents.custom.x.type_field = "type"
agents.custom.x.colour = "red"
prices.m.input = -1.0
"#;
        let ConfigError::Invalid { problems, .. } = parse(bad, Scope::User).unwrap_err() else {
            panic!()
        };
        let got: Vec<(&str, &str)> = problems
            .iter()
            .map(|p| (p.key.as_str(), p.message.as_str()))
            .collect();
        assert_eq!(
            got[0],
            (
                "agents.setup_files",
                "must be an array of strings; item 2 is an integer"
            )
        );
        assert!(got[1].1.contains("`docker` is not an isolation"), "{got:?}");
        assert!(got[2].1.contains("write it as `/type`"), "{got:?}");
        assert_eq!(got[3].0, "agents.custom.x.colour");
        assert!(got[3].1.starts_with("unknown key"), "{got:?}");
        assert!(got[4].1.contains("from 0 to"), "{got:?}");
        // A cloned repository cannot choose which program runs as an agent.
        let err = parse(
            "[agents.custom.x]\nprogram = \"./evil\"\n",
            Scope::Workspace,
        )
        .unwrap_err();
        assert!(err.to_string().contains("user's config file"), "{err}");
        let err = parse("agents.claude.path = \"./evil\"\n", Scope::Workspace).unwrap_err();
        assert!(err.to_string().contains("user's config file"), "{err}");
    }

    #[test]
    fn syntax_errors_name_the_file() {
        let err = parse("[daemon\n", Scope::User).unwrap_err();
        assert!(matches!(err, ConfigError::Syntax { .. }));
        assert!(
            err.to_string()
                .starts_with("/etc/m/config.toml: not valid TOML"),
            "{err}"
        );
    }

    #[test]
    fn log_filters_are_checked() {
        for ok in [
            "info",
            "WARN",
            "info,maestro_store=debug",
            "maestro::daemon=trace",
            "off",
        ] {
            assert!(check_log_filter(ok).is_ok(), "{ok}");
        }
        for bad in ["loud", "x=verbose", "=info"] {
            assert!(check_log_filter(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn readme_carries_the_generated_reference() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
                .unwrap();
        let table = reference_markdown();
        assert!(
            readme.contains(&table),
            "README.md's configuration table is out of date; replace it with:\n{table}"
        );
        // The table is replaced by hand from this test's message: not its backtrace too.
        assert!(
            !readme.contains("stack backtrace:") && !readme.contains("core::panicking"),
            "README.md carries a pasted backtrace"
        );
    }
}
