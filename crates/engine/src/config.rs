//! Configuration: a registry of every key with its type, scope, default and documentation, read from
//! the user's file and a workspace's `.maestro/config.toml`. The registry is the single source of the
//! reference in README.md (a test keeps them equal). An unknown key, a wrong type or a key in the
//! wrong file is an error that names the file, the line and the key.

use crate::paths::{Paths, workspace_config_file};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;
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
    Integer { min: i64, max: i64 },
    String { check: Option<StringCheck> },
    Bool,
}

/// A configuration value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigValue {
    Integer(i64),
    String(String),
    Bool(bool),
}

impl fmt::Display for ConfigValue {
    /// TOML syntax, as it would be written in the file.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigValue::Integer(i) => write!(f, "{i}"),
            ConfigValue::String(s) => write!(f, "{s:?}"),
            ConfigValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

impl ConfigValue {
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            ConfigValue::Integer(i) => (*i).into(),
            ConfigValue::String(s) => s.clone().into(),
            ConfigValue::Bool(b) => (*b).into(),
        }
    }
}

/// One documented key.
#[derive(Debug, Clone, Copy)]
pub struct KeyDef {
    /// Dotted name: `section.key`.
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
    String(&'static str),
    Bool(bool),
}

impl DefaultValue {
    pub fn value(self) -> ConfigValue {
        match self {
            DefaultValue::Integer(i) => ConfigValue::Integer(i),
            DefaultValue::String(s) => ConfigValue::String(s.to_owned()),
            DefaultValue::Bool(b) => ConfigValue::Bool(b),
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
        doc: "Source files larger than this are not indexed (the skip and its reason are logged); binary and minified files never are.",
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
        key: WORKSPACE_NAME,
        scope: Scope::Workspace,
        kind: Kind::String { check: None },
        default: DefaultValue::String(""),
        doc: "Display name of the workspace; empty means the name of its root directory.",
    },
];

fn def(key: &str) -> Option<&'static KeyDef> {
    KEYS.iter().find(|k| k.key == key)
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
    pub values: BTreeMap<&'static str, ConfigValue>,
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

/// The effective configuration: defaults, then the user's file, then a workspace's file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    pub user: Option<ConfigLayer>,
    pub workspace: Option<ConfigLayer>,
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
        Ok(Config {
            user: read_layer(&paths.user_config_file(), Scope::User)?,
            workspace: None,
        })
    }

    /// This configuration with the workspace file of `root` on top.
    pub fn with_workspace(&self, root: &Path) -> Result<Config, ConfigError> {
        let workspace = read_layer(&workspace_config_file(root), Scope::Workspace)?;
        Ok(Config {
            user: self.user.clone(),
            workspace,
        })
    }

    /// The effective value of a key of [`KEYS`]. Panics on a key that is not registered: keys are
    /// constants of this crate.
    pub fn entry(&self, key: &str) -> ConfigEntry {
        let def = def(key).unwrap_or_else(|| panic!("unregistered config key {key}"));
        for layer in [&self.workspace, &self.user].into_iter().flatten() {
            if let Some(v) = layer.values.get(def.key) {
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

    /// Every key's effective value, in registry order.
    pub fn entries(&self) -> Vec<ConfigEntry> {
        KEYS.iter().map(|k| self.entry(k.key)).collect()
    }

    fn integer(&self, key: &str) -> i64 {
        match self.entry(key).value {
            ConfigValue::Integer(i) => i,
            other => unreachable!("{key} holds {other:?}; values are checked against their kind"),
        }
    }

    fn string(&self, key: &str) -> String {
        match self.entry(key).value {
            ConfigValue::String(s) => s,
            other => unreachable!("{key} holds {other:?}; values are checked against their kind"),
        }
    }

    /// `None` means never exit when idle.
    pub fn idle_timeout(&self) -> Option<Duration> {
        let secs = self.integer(IDLE_TIMEOUT_SECS);
        (secs > 0).then(|| Duration::from_secs(secs as u64))
    }

    pub fn log_level(&self) -> String {
        self.string(LOG_LEVEL)
    }

    pub fn max_frame_bytes(&self) -> usize {
        self.integer(MAX_FRAME_BYTES) as usize
    }

    pub fn max_index_file_bytes(&self) -> u64 {
        self.integer(INDEX_MAX_FILE_BYTES) as u64
    }

    pub fn index_threads(&self) -> usize {
        match self.integer(INDEX_THREADS) {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n as usize,
        }
    }

    pub fn watch_files(&self) -> bool {
        matches!(self.entry(INDEX_WATCH).value, ConfigValue::Bool(true))
    }

    /// The configured display name, if any.
    pub fn workspace_name(&self) -> Option<String> {
        Some(self.string(WORKSPACE_NAME)).filter(|s| !s.is_empty())
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
    walk.table(table.get_ref(), "");
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
    values: BTreeMap<&'static str, ConfigValue>,
    problems: Vec<ConfigProblem>,
}

impl Walk<'_> {
    fn table(&mut self, table: &DeTable<'_>, prefix: &str) {
        for (k, v) in table {
            let key = if prefix.is_empty() {
                k.get_ref().to_string()
            } else {
                format!("{prefix}.{}", k.get_ref())
            };
            let line = line_of(self.text, k.span().start);
            let is_section = KEYS.iter().any(|d| d.key.starts_with(&format!("{key}.")));
            match (v.get_ref(), def(&key)) {
                (DeValue::Table(inner), None) if is_section => self.table(inner, &key),
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
                (value, Some(def)) => self.value(line, def, value),
            }
        }
    }

    fn value(&mut self, line: usize, def: &'static KeyDef, value: &DeValue<'_>) {
        if def.scope == Scope::User && self.scope == Scope::Workspace {
            let message = "can only be set in the user's config file (it concerns the daemon), not in a repository's";
            return self.problem(line, def.key, message.to_owned());
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
            (Kind::Bool, DeValue::Boolean(b)) => Ok(ConfigValue::Bool(*b)),
            (kind, other) => Err(format!(
                "must be {}, got {}",
                kind_name(kind),
                article(other.type_str())
            )),
        };
        match parsed {
            Ok(v) => {
                self.values.insert(def.key, v);
            }
            Err(message) => self.problem(line, def.key, message),
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
        Kind::String { .. } => "a string",
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
        out.push_str(&format!(
            "| `{}` | `{}` | {} | {} |\n",
            k.key,
            k.default.value(),
            file,
            k.doc
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
        assert_eq!(c.idle_timeout(), Some(Duration::from_secs(900)));
        assert_eq!(c.max_frame_bytes(), 64 << 20);
        assert_eq!(c.log_level(), "info");
        assert_eq!(c.workspace_name(), None);
        assert!(c.entries().iter().all(|e| e.source == Source::Default));
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
        let c = Config {
            user: Some(user),
            workspace: Some(ws),
        };
        assert_eq!(c.idle_timeout(), None);
        assert_eq!(c.workspace_name().as_deref(), Some("repo"));
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
    }
}
