//! The workspace registry's rows.

use crate::{DataValue, Params, Store, StoreError};
use maestro_protocol::WorkspaceKind;

/// A workspace as remembered across daemon restarts.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkspaceRow {
    pub id: String,
    pub root: String,
    pub name: String,
    pub kind: WorkspaceKind,
    /// Unix seconds.
    pub first_seen: f64,
    pub last_seen: f64,
}

// The id is bound before the stored atom in both rules, so each is a key lookup, not a scan.
const UPSERT_WORKSPACE: &str = r#"
?[id, root, name, kind, first_seen, last_seen] :=
    id = $id, root = $root, name = $name, kind = $kind, first_seen = $now, last_seen = $now,
    not *workspace{id}
?[id, root, name, kind, first_seen, last_seen] :=
    id = $id, root = $root, name = $name, kind = $kind, last_seen = $now,
    *workspace{id, first_seen}
:put workspace {id => root, name, kind, first_seen, last_seen}
"#;

const ALL_WORKSPACES: &str = r#"
?[id, root, name, kind, first_seen, last_seen] := *workspace{id, root, name, kind, first_seen, last_seen}
:order -last_seen
"#;

impl Store {
    /// Records that a workspace was opened at `now` (unix seconds), keeping when it was first seen.
    pub async fn upsert_workspace(
        &self,
        id: &str,
        root: &str,
        name: &str,
        kind: WorkspaceKind,
        now: f64,
    ) -> Result<(), StoreError> {
        let params = Params::from([
            ("id".to_owned(), DataValue::from(id)),
            ("root".to_owned(), DataValue::from(root)),
            ("name".to_owned(), DataValue::from(name)),
            ("kind".to_owned(), DataValue::from(kind_str(kind))),
            ("now".to_owned(), DataValue::from(now)),
        ]);
        self.write(UPSERT_WORKSPACE, params).await.map(drop)
    }

    /// Every workspace ever opened, most recently seen first.
    pub fn workspaces(&self) -> Result<Vec<WorkspaceRow>, StoreError> {
        let rows = self.read(ALL_WORKSPACES, Params::new())?;
        rows.rows.iter().map(|r| decode(r)).collect()
    }
}

fn kind_str(kind: WorkspaceKind) -> &'static str {
    match kind {
        WorkspaceKind::Git => "git",
        WorkspaceKind::Folder => "folder",
    }
}

fn decode(row: &[DataValue]) -> Result<WorkspaceRow, StoreError> {
    let bad = || StoreError::Decode {
        detail: format!("workspace row {row:?}"),
    };
    let text = |i: usize| {
        row.get(i)
            .and_then(DataValue::get_str)
            .map(str::to_owned)
            .ok_or_else(bad)
    };
    let number = |i: usize| row.get(i).and_then(DataValue::get_float).ok_or_else(bad);
    let kind = match text(3)?.as_str() {
        "git" => WorkspaceKind::Git,
        "folder" => WorkspaceKind::Folder,
        _ => return Err(bad()),
    };
    Ok(WorkspaceRow {
        id: text(0)?,
        root: text(1)?,
        name: text(2)?,
        kind,
        first_seen: number(4)?,
        last_seen: number(5)?,
    })
}
