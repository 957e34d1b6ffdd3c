//! What a workspace is: the root of the git repository (or worktree) around a path, or a plain folder.
//!
//! A workspace is the nearest ancestor holding `.git` (directory, or a worktree's file), else
//! the folder itself; its id is a stable FNV-1a hash of the root path. A repository config with problems
//! does not stop the workspace from opening: the problem travels in `WorkspaceInfo.config_error`.

use maestro_protocol::WorkspaceKind;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceRoot {
    pub root: PathBuf,
    pub kind: WorkspaceKind,
}

#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", .path.display())]
pub struct WorkspaceError {
    pub path: PathBuf,
    pub message: String,
}

/// Finds the workspace around `path`: the nearest ancestor holding `.git` (a directory, or the file
/// a git worktree has), else the folder itself.
pub fn find_root(path: &Path) -> Result<WorkspaceRoot, WorkspaceError> {
    if !path.is_absolute() {
        return Err(WorkspaceError {
            path: path.into(),
            message: "must be an absolute path".into(),
        });
    }
    let canonical = path.canonicalize().map_err(|e| WorkspaceError {
        path: path.into(),
        message: match e.kind() {
            std::io::ErrorKind::NotFound => "no such file or directory".into(),
            _ => e.to_string(),
        },
    })?;
    let folder = if canonical.is_dir() {
        canonical
    } else {
        canonical
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or(canonical)
    };
    for dir in folder.ancestors() {
        if dir.join(".git").exists() {
            return Ok(WorkspaceRoot {
                root: dir.to_path_buf(),
                kind: WorkspaceKind::Git,
            });
        }
    }
    Ok(WorkspaceRoot {
        root: folder,
        kind: WorkspaceKind::Folder,
    })
}

/// A stable id for a workspace root: 16 hex digits of FNV-1a over the path's bytes, the same on every
/// run (unlike std's randomly seeded hasher).
pub fn workspace_id(root: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in root.as_os_str().as_bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// The name shown for a workspace when the config sets none.
pub fn default_name(root: &Path) -> String {
    root.file_name().map_or_else(
        || root.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_repository_root_from_a_nested_file_and_a_worktree() {
        let tmp = tempfile::TempDir::new().unwrap();
        let repo = tmp.path().canonicalize().unwrap().join("repo");
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        std::fs::create_dir_all(repo.join("src/deep")).unwrap();
        std::fs::write(repo.join("src/deep/lib.rs"), "").unwrap();
        let found = find_root(&repo.join("src/deep/lib.rs")).unwrap();
        assert_eq!(
            found,
            WorkspaceRoot {
                root: repo.clone(),
                kind: WorkspaceKind::Git
            }
        );

        let wt = tmp.path().canonicalize().unwrap().join("wt");
        std::fs::create_dir_all(&wt).unwrap();
        std::fs::write(wt.join(".git"), "gitdir: /elsewhere\n").unwrap();
        assert_eq!(find_root(&wt).unwrap().kind, WorkspaceKind::Git);
    }

    #[test]
    fn a_folder_outside_git_is_its_own_root_and_bad_paths_are_named() {
        let tmp = tempfile::TempDir::new().unwrap();
        let dir = tmp.path().canonicalize().unwrap();
        // Only valid if no ancestor of the temp dir is a repository, which holds on CI machines.
        if dir.ancestors().all(|a| !a.join(".git").exists()) {
            assert_eq!(
                find_root(&dir).unwrap(),
                WorkspaceRoot {
                    root: dir.clone(),
                    kind: WorkspaceKind::Folder
                }
            );
        }
        let err = find_root(&dir.join("missing")).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("missing: no such file or directory"),
            "{err}"
        );
        assert!(
            find_root(Path::new("relative"))
                .unwrap_err()
                .to_string()
                .contains("absolute")
        );
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        assert_eq!(
            workspace_id(Path::new("/src/a")),
            workspace_id(Path::new("/src/a"))
        );
        assert_ne!(
            workspace_id(Path::new("/src/a")),
            workspace_id(Path::new("/src/b"))
        );
        assert_eq!(workspace_id(Path::new("/src/a")).len(), 16);
    }
}
