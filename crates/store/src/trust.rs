//! Approved repository commands (`trusted_command`): which exact command a person allowed a
//! repository's config key to run.

use crate::{DataValue, Params, Store, StoreError};

/// One approval.
#[derive(Debug, Clone, PartialEq)]
pub struct TrustedRow {
    /// The repository's root.
    pub root: String,
    /// The config key, e.g. `agents.setup_command`.
    pub key: String,
    /// The approved argument vector.
    pub command: Vec<String>,
    /// The config file it came from when approved.
    pub file: String,
    /// Unix seconds.
    pub at: f64,
}

const PUT: &str = r#"
?[root, key, command, file, at] <- [[$root, $key, $command, $file, $at]]
:put trusted_command {root, key => command, file, at}
"#;

const ALL: &str = r#"
?[root, key, command, file, at] := *trusted_command{root, key, command, file, at}
"#;

// Bound before the stored atom: a prefix scan of one repository.
const REMOVE_ROOT: &str = r#"
?[root, key] := root = $root, *trusted_command{root, key}
:rm trusted_command {root, key}
"#;

const REMOVE_KEY: &str = r#"
?[root, key] := root = $root, key = $key, *trusted_command{root, key}
:rm trusted_command {root, key}
"#;

impl Store {
    /// Every approval, of every repository.
    pub fn trusted_commands(&self) -> Result<Vec<TrustedRow>, StoreError> {
        let rows = self.read(ALL, Params::new())?;
        rows.rows.iter().map(|r| decode(r)).collect()
    }

    /// Records (or replaces) the approval of `row.command` for `row.root` and `row.key`.
    pub async fn trust_command(&self, row: &TrustedRow) -> Result<(), StoreError> {
        let command = serde_json::to_string(&row.command).expect("strings serialize");
        let params = Params::from([
            ("root".to_owned(), DataValue::from(row.root.as_str())),
            ("key".to_owned(), DataValue::from(row.key.as_str())),
            ("command".to_owned(), DataValue::from(command)),
            ("file".to_owned(), DataValue::from(row.file.as_str())),
            ("at".to_owned(), DataValue::from(row.at)),
        ]);
        self.write(PUT, params).await.map(drop)
    }

    /// Forgets the approvals of `root`: of one key, or all of them.
    pub async fn revoke_trust(&self, root: &str, key: Option<&str>) -> Result<(), StoreError> {
        let mut params = Params::from([("root".to_owned(), DataValue::from(root))]);
        let script = match key {
            Some(key) => {
                params.insert("key".to_owned(), DataValue::from(key));
                REMOVE_KEY
            }
            None => REMOVE_ROOT,
        };
        self.write(script, params).await.map(drop)
    }
}

fn decode(row: &[DataValue]) -> Result<TrustedRow, StoreError> {
    let bad = || StoreError::Decode {
        detail: format!("trusted_command row {row:?}"),
    };
    let text = |i: usize| {
        row.get(i)
            .and_then(DataValue::get_str)
            .map(str::to_owned)
            .ok_or_else(bad)
    };
    Ok(TrustedRow {
        root: text(0)?,
        key: text(1)?,
        command: serde_json::from_str(&text(2)?).map_err(|_| bad())?,
        file: text(3)?,
        at: row.get(4).and_then(DataValue::get_float).ok_or_else(bad)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn approvals_are_kept_replaced_and_revoked() {
        let dir = tempfile::TempDir::new().unwrap();
        let store = Store::open(&dir.path().join("maestro.db")).unwrap();
        let row = |root: &str, key: &str, cmd: &[&str]| TrustedRow {
            root: root.into(),
            key: key.into(),
            command: cmd.iter().map(|s| (*s).to_owned()).collect(),
            file: format!("{root}/.maestro/config.toml"),
            at: 1.0,
        };
        store
            .trust_command(&row("/r", "agents.setup_command", &["npm", "ci"]))
            .await
            .unwrap();
        store
            .trust_command(&row("/r", "agents.setup_command", &["sh", "-c", "x 'y'"]))
            .await
            .unwrap();
        store
            .trust_command(&row("/r", "hooks.other", &["make"]))
            .await
            .unwrap();
        store
            .trust_command(&row("/s", "agents.setup_command", &["make"]))
            .await
            .unwrap();
        let mut all = store.trusted_commands().unwrap();
        all.sort_by(|a, b| (&a.root, &a.key).cmp(&(&b.root, &b.key)));
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].command, ["sh", "-c", "x 'y'"], "replaced");
        store.revoke_trust("/r", Some("hooks.other")).await.unwrap();
        assert_eq!(store.trusted_commands().unwrap().len(), 2);
        store.revoke_trust("/r", None).await.unwrap();
        let left = store.trusted_commands().unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].root, "/s");
    }
}
