use std::path::PathBuf;

/// Everything that can go wrong with the store. Every variant about a file names the file and says
/// what to do; none of them is raised after the file was changed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error(
        "{} is not a maestro store: it is not a SQLite database (it starts with {head}); \
         move it away, or restore a backup with `maestro store restore FILE`",
        .path.display()
    )]
    NotSqlite { path: PathBuf, head: String },

    #[error(
        "{} is a SQLite database but not a maestro store ({detail}); \
         move it away or set MAESTRO_HOME to another directory",
        .path.display()
    )]
    Foreign { path: PathBuf, detail: String },

    #[error(
        "{} is damaged ({detail}); restore a backup with `maestro store restore FILE`",
        .path.display()
    )]
    Corrupt { path: PathBuf, detail: String },

    #[error(
        "{} was a maestro store and now holds no data ({detail}); nothing was changed: restore a \
         backup with `maestro store restore FILE`, or move the file away to start an empty store",
        .path.display()
    )]
    Emptied { path: PathBuf, detail: String },

    #[error(
        "{} has store schema version {found}, newer than this maestro understands (up to \
         {supported}); upgrade maestro, or restore a backup made by this version",
        .path.display()
    )]
    TooNew {
        path: PathBuf,
        found: u32,
        supported: u32,
    },

    #[error(
        "{}: migrating the store to schema version {version} failed, nothing was changed: {detail}",
        .path.display()
    )]
    Migration {
        path: PathBuf,
        version: u32,
        detail: String,
    },

    #[error("{} cannot be restored, nothing was changed: {reason}", .path.display())]
    NotABackup { path: PathBuf, reason: String },

    #[error("{} already exists; choose another file or allow overwriting it", .path.display())]
    Exists { path: PathBuf },

    #[error("store query failed: {detail}")]
    Query { detail: String },

    #[error("the script would change the store ({detail}); these queries only read")]
    ReadOnly { detail: String },

    #[error("unexpected store data: {detail}")]
    Decode { detail: String },

    #[error("the store's writer has stopped")]
    WriterGone,
}

impl StoreError {
    /// What is wrong, without the file's name or the advice: for wrapping in another message.
    pub fn reason(&self) -> String {
        match self {
            StoreError::Io { source, .. } => source.to_string(),
            StoreError::NotSqlite { head, .. } => {
                format!("it is not a SQLite database (it starts with {head})")
            }
            StoreError::Foreign { detail, .. } => format!("it is not a maestro store ({detail})"),
            StoreError::Corrupt { detail, .. } => format!("it is damaged ({detail})"),
            StoreError::TooNew {
                found, supported, ..
            } => format!(
                "it has schema version {found}, newer than this maestro understands (up to {supported})"
            ),
            other => other.to_string(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.into();
        move |source| StoreError::Io { path, source }
    }

    pub(crate) fn query(err: cozo::Error) -> StoreError {
        StoreError::Query {
            detail: err.to_string(),
        }
    }
}
