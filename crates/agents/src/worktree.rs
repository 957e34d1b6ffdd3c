//! Agents' git worktrees (git2): created outside the repository, on branch `maestro/<agent>`,
//! diffed and merged back into their base, removed without losing work.
//!
//! The user's checkout is never touched except by `merge` when the base branch is checked out
//! there, and then only through a safe checkout of the files the merge changes: a file with
//! uncommitted changes that the merge would overwrite stops the merge before anything is written.

use git2::{
    BranchType, Commit, DiffOptions, Oid, Repository, Signature, Status, StatusOptions,
    WorktreeAddOptions, WorktreePruneOptions, build::CheckoutBuilder,
};
use maestro_protocol::{AgentDiffResult, AgentMergeResult, AgentRemoveResult, DiffFile};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum WorktreeError {
    #[error("{} is not inside a git repository: spawn with --isolation none to work in place", .0.display())]
    NotARepository(PathBuf),
    #[error("{} has no commits yet: commit something first, or spawn with --isolation none", .0.display())]
    NoCommits(PathBuf),
    #[error("base `{base}` is not a branch, tag or commit of {}", .repo.display())]
    BadBase { base: String, repo: PathBuf },
    #[error("worktree path {} already exists: remove it, or choose another agent name", .0.display())]
    PathExists(PathBuf),
    #[error(
        "branch {branch} already exists ({ahead} commits not in {base}): merge or delete it (`git branch -D {branch}`), or choose another agent name"
    )]
    BranchExists {
        branch: String,
        base: String,
        ahead: usize,
    },
    #[error("{} has uncommitted changes ({}): commit them, or remove with --force to discard them", .path.display(), .files.join(", "))]
    Dirty { path: PathBuf, files: Vec<String> },
    #[error("the agent started from commit {0}, not a branch: merge its branch by hand")]
    BaseNotBranch(String),
    #[error("merging into {branch} would overwrite uncommitted changes in {}: commit or stash them first; nothing was changed ({detail})", .checkout.display())]
    CheckoutBlocked {
        branch: String,
        checkout: PathBuf,
        detail: String,
    },
    #[error("setup file `{file}` refused: {why}")]
    UnsafeSetupFile { file: String, why: String },
    #[error("git: {op}: {message}")]
    Git { op: &'static str, message: String },
    #[error("{}: {message}", .path.display())]
    Io { path: PathBuf, message: String },
}

fn git(op: &'static str) -> impl FnOnce(git2::Error) -> WorktreeError {
    move |e| WorktreeError::Git {
        op,
        message: e.message().to_owned(),
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WorktreeError + '_ {
    move |e| WorktreeError::Io {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// A created worktree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentWorktree {
    pub path: PathBuf,
    pub branch: String,
    /// The branch it started from (or the commit, when HEAD was detached or a commit was asked).
    pub base: String,
    pub base_commit: String,
    /// Things the person should know (uncommitted work in their checkout is not in the worktree).
    pub notes: Vec<String>,
}

/// Whether `file` (relative to the repository at `repo_root`) is committed at HEAD exactly as it
/// is on disk (so a worktree from HEAD has the same bytes).
pub fn committed_as_is(repo_root: &Path, file: &str) -> Result<bool, WorktreeError> {
    let repo = open(repo_root)?;
    match repo.status_file(Path::new(file)) {
        Ok(status) => Ok(status.is_empty()),
        Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(false),
        Err(e) => Err(git("read the file's status")(e)),
    }
}

/// The repository's identity across clones: the id of the root commit reached from HEAD by
/// first parents. `None` for a repository without commits (or not a repository).
pub fn repository_id(repo_root: &Path) -> Option<String> {
    let repo = open(repo_root).ok()?;
    let mut walk = repo.revwalk().ok()?;
    walk.push_head().ok()?;
    walk.simplify_first_parent().ok()?;
    walk.set_sorting(git2::Sort::NONE).ok()?;
    walk.filter_map(Result::ok).last().map(|id| id.to_string())
}

/// The commit HEAD points at, as a full id.
pub fn head_commit(repo_root: &Path) -> Result<String, WorktreeError> {
    let repo = open(repo_root)?;
    let head = repo
        .head()
        .and_then(|h| h.peel_to_commit())
        .map_err(|_| WorktreeError::NoCommits(repo_root.to_owned()))?;
    Ok(head.id().to_string())
}

/// Makes branch `branch` at commit `at` (a distributed run's branch); refused when it exists.
pub fn make_branch(repo_root: &Path, branch: &str, at: &str) -> Result<(), WorktreeError> {
    let repo = open(repo_root)?;
    let commit = commit_of(&repo, at)?;
    repo.branch(branch, &commit, false)
        .map_err(git("make the run's branch"))?;
    Ok(())
}

/// Deletes branch `branch` when it exists (a distributed task's leftover: its work was sent).
pub fn delete_branch(repo_root: &Path, branch: &str) -> Result<(), WorktreeError> {
    let repo = open(repo_root)?;
    match repo.find_branch(branch, BranchType::Local) {
        Ok(mut b) => b.delete().map_err(git("delete the branch")),
        Err(_) => Ok(()),
    }
}

/// Commits `patch` (a unified diff from the branch's own history: another node's work) on
/// `branch` as one commit with `message`. Refused, with nothing changed, when it does not apply
/// to the branch as it is (it conflicts with work applied before).
pub fn apply_on_branch(
    repo_root: &Path,
    branch: &str,
    patch: &str,
    message: &str,
) -> Result<String, WorktreeError> {
    let repo = open(repo_root)?;
    let tip = branch_head(&repo, branch)?;
    let diff = git2::Diff::from_buffer(patch.as_bytes()).map_err(git("read the patch"))?;
    let mut index = repo
        .apply_to_tree(&tip.tree().map_err(git("read the branch"))?, &diff, None)
        .map_err(git(
            "apply the patch to the branch (it conflicts with work applied before)",
        ))?;
    let tree = index
        .write_tree_to(&repo)
        .and_then(|id| repo.find_tree(id))
        .map_err(git("write the tree"))?;
    let signature = repo
        .signature()
        .or_else(|_| git2::Signature::now("maestro", "maestro@localhost"))
        .map_err(git("make a signature"))?;
    let id = repo
        .commit(
            Some(&format!("refs/heads/{branch}")),
            &signature,
            &signature,
            message,
            &tree,
            &[&tip],
        )
        .map_err(git("commit on the branch"))?;
    Ok(id.to_string())
}

/// Moves the branch checked out in `worktree` to `commit` and makes the files match it
/// (`git reset --hard`; untracked files stay). A rollback: the commit is in the repository.
pub fn reset_to(worktree: &Path, commit: &str) -> Result<(), WorktreeError> {
    let repo = open(worktree)?;
    let target = git2::Oid::from_str(commit)
        .and_then(|oid| repo.find_commit(oid))
        .map_err(|_| WorktreeError::BadBase {
            base: commit.to_owned(),
            repo: worktree.to_owned(),
        })?;
    repo.reset(target.as_object(), git2::ResetType::Hard, None)
        .map_err(git("reset the worktree"))
}

/// Makes (or moves) the reference `name` to `commit`, so git keeps the commit.
pub fn keep_ref(repo_root: &Path, name: &str, commit: &str) -> Result<(), WorktreeError> {
    let repo = open(repo_root)?;
    let oid = git2::Oid::from_str(commit).map_err(git("read a commit id"))?;
    repo.reference(name, oid, true, "maestro: snapshot")
        .map_err(git("make a reference"))?;
    Ok(())
}

/// Deletes the reference `name`, if it is there.
pub fn drop_ref(repo_root: &Path, name: &str) -> Result<(), WorktreeError> {
    let repo = open(repo_root)?;
    if let Ok(mut r) = repo.find_reference(name) {
        r.delete().map_err(git("delete a reference"))?;
    }
    Ok(())
}

/// The branch of an agent.
pub fn branch_name(agent: &str) -> String {
    format!("maestro/{agent}")
}

/// git's own name for the worktree (`.git/worktrees/<name>`).
fn admin_name(agent: &str) -> String {
    format!("maestro-{agent}")
}

/// Where agents' worktrees live: `<data>/worktrees/<repo-name>-<hash>/<agent>`.
#[derive(Debug, Clone)]
pub struct WorktreeManager {
    root: PathBuf,
}

impl WorktreeManager {
    pub fn new(root: PathBuf) -> WorktreeManager {
        WorktreeManager { root }
    }

    /// The worktree directory of an agent of the repository at `repo_root`.
    pub fn path_for(&self, repo_root: &Path, agent: &str) -> PathBuf {
        let name = repo_root
            .file_name()
            .map_or("repo".into(), |n| n.to_string_lossy());
        let hash = crate::identity::fnv1a(repo_root.to_string_lossy().as_bytes());
        self.root
            .join(format!("{name}-{:08x}", hash as u32))
            .join(agent)
    }

    /// Creates the worktree of `agent` on a new branch `maestro/<agent>` from `base` (default: the
    /// repository's HEAD).
    pub fn create(
        &self,
        repo_root: &Path,
        agent: &str,
        base: Option<&str>,
    ) -> Result<AgentWorktree, WorktreeError> {
        self.create_at(repo_root, agent, base, None)
    }

    /// [`WorktreeManager::create`] with the branch at `tip` (an agent coming back from an
    /// archive: its commits are in the repository already) rather than at the base. A branch
    /// `maestro/<agent>` already at `tip` is taken as it is.
    pub fn create_at(
        &self,
        repo_root: &Path,
        agent: &str,
        base: Option<&str>,
        tip: Option<&str>,
    ) -> Result<AgentWorktree, WorktreeError> {
        let repo = open(repo_root)?;
        let path = self.path_for(repo_root, agent);
        if path.exists() {
            return Err(WorktreeError::PathExists(path));
        }
        let (base_name, base_commit) = resolve_base(&repo, repo_root, base)?;
        let start = match tip {
            Some(tip) => git2::Oid::from_str(tip)
                .and_then(|oid| repo.find_commit(oid))
                .map_err(|_| WorktreeError::BadBase {
                    base: tip.to_owned(),
                    repo: repo_root.to_owned(),
                })?,
            None => base_commit.clone(),
        };
        let branch = branch_name(agent);
        // A branch of that name: taken as it is when it is at the tip asked for, else refused.
        let mut reuse = false;
        if let Ok(existing) = repo.find_branch(&branch, BranchType::Local) {
            let head = existing
                .get()
                .peel_to_commit()
                .map_err(git("read branch"))?;
            reuse = tip.is_some() && head.id() == start.id();
            if !reuse {
                let (ahead, _) = repo
                    .graph_ahead_behind(head.id(), base_commit.id())
                    .map_err(git("compare branches"))?;
                return Err(WorktreeError::BranchExists {
                    branch,
                    base: base_name,
                    ahead,
                });
            }
        }
        // A worktree of that name whose directory is gone (removed by hand) is only metadata.
        if let Ok(stale) = repo.find_worktree(&admin_name(agent)) {
            if stale.validate().is_ok() {
                return Err(WorktreeError::PathExists(stale.path().to_owned()));
            }
            stale
                .prune(Some(WorktreePruneOptions::new().valid(true)))
                .map_err(git("prune a stale worktree"))?;
        }
        let parent = path.parent().expect("worktree paths have a parent");
        // Its owner's only, like everything maestro keeps (the worktrees inside keep the modes
        // git gives them).
        maestro_store::private::create_dir(parent).map_err(io(parent))?;
        if let Some(all) = parent.parent() {
            let _ = maestro_store::private::restrict(all, 0o700);
        }
        let reference = if reuse {
            repo.find_branch(&branch, BranchType::Local)
                .map_err(git("read branch"))?
                .into_reference()
        } else {
            repo.branch(&branch, &start, false)
                .map_err(git("create branch"))?
                .into_reference()
        };
        let mut options = WorktreeAddOptions::new();
        options.reference(Some(&reference));
        if let Err(e) = repo.worktree(&admin_name(agent), &path, Some(&options)) {
            // Leave nothing half-made behind.
            if !reuse {
                let _ = repo
                    .find_branch(&branch, BranchType::Local)
                    .and_then(|mut b| b.delete());
            }
            return Err(git("add worktree")(e));
        }
        let mut notes = Vec::new();
        let dirty = changed_files(&repo, false)?;
        if !dirty.is_empty() {
            notes.push(format!(
                "{} uncommitted change(s) in {} are not in the agent's worktree (it starts from {base_name} at {})",
                dirty.len(),
                repo_root.display(),
                short(base_commit.id())
            ));
        }
        Ok(AgentWorktree {
            path,
            branch,
            base: base_name,
            base_commit: base_commit.id().to_string(),
            notes,
        })
    }

    /// Copies untracked files (`.env`, local settings) from the repository into a worktree.
    /// Returns what was copied; paths that do not exist are skipped and named in the second list.
    pub fn copy_files(
        &self,
        repo_root: &Path,
        worktree: &Path,
        files: &[String],
    ) -> Result<(Vec<String>, Vec<String>), WorktreeError> {
        // A repository's config names these files, so the repository is not trusted with them:
        // every source must be a regular file (or a directory of them) inside it, reached
        // without a symbolic link, and every destination must be reached without one either (a
        // committed link is checked out into the worktree). All of it is checked before anything
        // is copied.
        let (mut plan, mut copied, mut missing) = (Vec::new(), Vec::new(), Vec::new());
        for rel in files {
            let rel_path = Path::new(rel);
            if rel_path.as_os_str().is_empty()
                || rel_path.is_absolute()
                || rel_path
                    .components()
                    .any(|c| !matches!(c, std::path::Component::Normal(_)))
            {
                return Err(unsafe_setup(
                    rel,
                    "setup files must be relative paths inside the repository, without `..`",
                ));
            }
            match no_links(repo_root, rel_path) {
                Ok(true) => {}
                Ok(false) => {
                    missing.push(rel.clone());
                    continue;
                }
                Err(why) => return Err(unsafe_setup(rel, &format!("in the repository, {why}"))),
            }
            collect_regular(repo_root, rel_path, &mut plan)
                .map_err(|why| unsafe_setup(rel, &why))?;
            copied.push(rel.clone());
        }
        for rel in &plan {
            if let Err(why) = no_links(worktree, rel) {
                return Err(unsafe_setup(
                    &rel.display().to_string(),
                    &format!("in the worktree, {why}"),
                ));
            }
        }
        for rel in &plan {
            let to = worktree.join(rel);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(io(parent))?;
            }
            copy_regular(&repo_root.join(rel), &to)?;
        }
        Ok((copied, missing))
    }

    /// The agent's work against the point its branch left the base: commits and uncommitted
    /// changes (untracked files included).
    ///
    /// `own` are path prefixes of files the agent's CLI keeps for itself in the worktree: not
    /// counted as uncommitted work.
    pub fn diff(
        &self,
        repo_root: &Path,
        worktree: &Path,
        agent: &str,
        base: &str,
        own: &[&str],
    ) -> Result<AgentDiffResult, WorktreeError> {
        let repo = open(repo_root)?;
        let wt = Repository::open(worktree).map_err(git("open the agent's worktree"))?;
        let head = branch_head(&repo, &branch_name(agent))?;
        let base_head = commit_of(&repo, base)?;
        let fork = repo
            .merge_base(head.id(), base_head.id())
            .map_err(git("find the merge base"))?;
        let fork_tree = repo
            .find_commit(fork)
            .and_then(|c| c.tree())
            .map_err(git("read the base tree"))?;
        let fork_tree = wt
            .find_tree(fork_tree.id())
            .map_err(git("read the base tree"))?;
        let mut options = DiffOptions::new();
        options
            .include_untracked(true)
            .recurse_untracked_dirs(true)
            .show_untracked_content(true);
        let mut diff = wt
            .diff_tree_to_workdir_with_index(Some(&fork_tree), Some(&mut options))
            .map_err(git("diff"))?;
        diff.find_similar(None).map_err(git("find renames"))?;
        let mut files = Vec::new();
        for (i, delta) in diff.deltas().enumerate() {
            let path = delta
                .new_file()
                .path()
                .or_else(|| delta.old_file().path())
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            let (ins, del) = match git2::Patch::from_diff(&diff, i) {
                Ok(Some(p)) => p
                    .line_stats()
                    .map(|(_, a, d)| (a as u32, d as u32))
                    .unwrap_or((0, 0)),
                _ => (0, 0),
            };
            let old_path = delta
                .old_file()
                .path()
                .map(|p| p.to_string_lossy().into_owned())
                .filter(|old| *old != path);
            files.push(DiffFile {
                path,
                old_path,
                status: format!("{:?}", delta.status()).to_lowercase(),
                insertions: ins,
                deletions: del,
            });
        }
        let mut patch = String::new();
        diff.print(git2::DiffFormat::Patch, |_, _, line| {
            if matches!(line.origin(), '+' | '-' | ' ') {
                patch.push(line.origin());
            }
            patch.push_str(&String::from_utf8_lossy(line.content()));
            true
        })
        .map_err(git("render the diff"))?;
        let (commits, _) = repo
            .graph_ahead_behind(head.id(), base_head.id())
            .map_err(git("count commits"))?;
        Ok(AgentDiffResult {
            base: base.to_owned(),
            fork: fork.to_string(),
            files,
            patch,
            commits: commits as u32,
            uncommitted: !work_of(changed_files(&wt, true)?, own).is_empty(),
        })
    }

    /// Merges the agent's branch into `base` (a branch). Conflicts are reported and nothing is
    /// changed; when `base` is checked out, its checkout is updated safely (see the module doc).
    pub fn merge(
        &self,
        repo_root: &Path,
        agent: &str,
        base: &str,
    ) -> Result<AgentMergeResult, WorktreeError> {
        let repo = open(repo_root)?;
        let branch = branch_name(agent);
        let into = repo
            .find_branch(base, BranchType::Local)
            .map_err(|_| WorktreeError::BaseNotBranch(base.to_owned()))?;
        let into_ref = into.get().name().unwrap_or_default().to_owned();
        let ours = into.get().peel_to_commit().map_err(git("read the base"))?;
        let theirs = branch_head(&repo, &branch)?;
        let result = |commit: Option<Oid>, fast_forward: bool, up_to_date: bool| AgentMergeResult {
            into: base.to_owned(),
            commit: commit.map(|c| c.to_string()),
            fast_forward,
            up_to_date,
            conflicts: Vec::new(),
        };
        if ours.id() == theirs.id()
            || repo
                .graph_descendant_of(ours.id(), theirs.id())
                .map_err(git("compare branches"))?
        {
            return Ok(result(None, false, true));
        }
        let fast_forward = repo
            .graph_descendant_of(theirs.id(), ours.id())
            .map_err(git("compare branches"))?;
        let target = if fast_forward {
            theirs.id()
        } else {
            let mut index = repo
                .merge_commits(&ours, &theirs, None)
                .map_err(git("merge"))?;
            if index.has_conflicts() {
                let mut conflicts: Vec<String> = index
                    .conflicts()
                    .map_err(git("read conflicts"))?
                    .filter_map(Result::ok)
                    .filter_map(|c| c.our.or(c.their).or(c.ancestor))
                    .map(|e| String::from_utf8_lossy(&e.path).into_owned())
                    .collect();
                conflicts.sort();
                conflicts.dedup();
                return Ok(AgentMergeResult {
                    conflicts,
                    ..result(None, false, false)
                });
            }
            let tree_id = index.write_tree_to(&repo).map_err(git("write the tree"))?;
            let tree = repo.find_tree(tree_id).map_err(git("read the tree"))?;
            let sig = signature(&repo);
            repo.commit(
                None,
                &sig,
                &sig,
                &format!("Merge branch '{branch}' into {base}"),
                &tree,
                &[&ours, &theirs],
            )
            .map_err(git("commit the merge"))?
        };
        // Update the checkout that has the base branch, if any, before moving the branch: a
        // refused checkout leaves everything as it was.
        if let Some(checkout) = checkout_of(&repo, &into_ref)? {
            let tree = checkout
                .find_commit(target)
                .and_then(|c| c.tree())
                .map_err(git("read the merged tree"))?;
            let mut co = CheckoutBuilder::new();
            co.safe();
            if let Err(e) = checkout.checkout_tree(tree.as_object(), Some(&mut co)) {
                return Err(WorktreeError::CheckoutBlocked {
                    branch: base.to_owned(),
                    checkout: checkout.workdir().unwrap_or(repo_root).to_owned(),
                    detail: e.message().to_owned(),
                });
            }
        }
        repo.reference(&into_ref, target, true, &format!("maestro: merge {branch}"))
            .map_err(git("move the base branch"))?;
        Ok(result(Some(target), fast_forward, false))
    }

    /// Puts `files` (relative to the repository root) in the worktree back as they are at
    /// `base_commit` (removed when they were not there), as one commit on the worktree's branch
    /// when that changes anything. Returns whether a commit was made. Used by parallel playbook
    /// runs, whose documents are ticked by the run itself after the merge.
    pub fn restore_files(
        &self,
        worktree: &Path,
        base_commit: &str,
        files: &[String],
        message: &str,
    ) -> Result<bool, WorktreeError> {
        let repo = Repository::open(worktree).map_err(git("open the worktree"))?;
        let base = Oid::from_str(base_commit)
            .and_then(|id| repo.find_commit(id))
            .and_then(|c| c.tree())
            .map_err(git("read the base commit"))?;
        let mut index = repo.index().map_err(git("read the index"))?;
        for file in files {
            let path = worktree.join(file);
            match base.get_path(Path::new(file)) {
                Ok(entry) => {
                    let blob = repo
                        .find_blob(entry.id())
                        .map_err(git("read the base file"))?;
                    std::fs::write(&path, blob.content()).map_err(io(&path))?;
                    index
                        .add_path(Path::new(file))
                        .map_err(git("stage the file"))?;
                }
                Err(_) => {
                    if path.exists() {
                        std::fs::remove_file(&path).map_err(io(&path))?;
                    }
                    let _ = index.remove_path(Path::new(file));
                }
            }
        }
        index.write().map_err(git("write the index"))?;
        let tree_id = index.write_tree().map_err(git("write the tree"))?;
        let head = repo
            .head()
            .and_then(|h| h.peel_to_commit())
            .map_err(git("read HEAD"))?;
        if head.tree_id() == tree_id {
            return Ok(false);
        }
        let tree = repo.find_tree(tree_id).map_err(git("read the tree"))?;
        let sig = signature(&repo);
        repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &[&head])
            .map_err(git("commit"))?;
        Ok(true)
    }

    /// Removes an agent's worktree (refusing uncommitted changes unless `force`). The branch is
    /// deleted when the base has all its commits, and kept otherwise.
    pub fn remove(
        &self,
        repo_root: &Path,
        worktree: &Path,
        agent: &str,
        base: &str,
        force: bool,
        own: &[&str],
    ) -> Result<AgentRemoveResult, WorktreeError> {
        let repo = open(repo_root)?;
        let mut result = AgentRemoveResult {
            worktree_removed: None,
            branch_kept: None,
            branch_deleted: None,
            snapshots_deleted: 0,
        };
        if worktree.exists() {
            if !force && let Ok(wt) = Repository::open(worktree) {
                let dirty = work_of(changed_files(&wt, true)?, own);
                if !dirty.is_empty() {
                    return Err(WorktreeError::Dirty {
                        path: worktree.to_owned(),
                        files: dirty.into_iter().take(5).collect(),
                    });
                }
            }
            std::fs::remove_dir_all(worktree).map_err(io(worktree))?;
            result.worktree_removed = Some(worktree.to_owned());
        }
        if let Ok(admin) = repo.find_worktree(&admin_name(agent)) {
            admin
                .prune(Some(
                    WorktreePruneOptions::new().valid(true).working_tree(true),
                ))
                .map_err(git("prune the worktree"))?;
        }
        let branch = branch_name(agent);
        if let Ok(mut b) = repo.find_branch(&branch, BranchType::Local) {
            let head = b.get().peel_to_commit().map_err(git("read branch"))?;
            let merged = match commit_of(&repo, base) {
                Ok(base_head) => {
                    base_head.id() == head.id()
                        || repo
                            .graph_descendant_of(base_head.id(), head.id())
                            .unwrap_or(false)
                }
                Err(_) => false,
            };
            if merged {
                b.delete().map_err(git("delete the branch"))?;
                result.branch_deleted = Some(branch);
            } else {
                result.branch_kept = Some(branch);
            }
        }
        Ok(result)
    }

    /// Forgets maestro worktrees of `repo_root` whose directory is gone. Returns their names.
    pub fn prune(&self, repo_root: &Path) -> Result<Vec<String>, WorktreeError> {
        let repo = open(repo_root)?;
        let mut pruned = Vec::new();
        for name in worktree_names(&repo)? {
            let Some(agent) = name.strip_prefix("maestro-") else {
                continue;
            };
            let wt = repo.find_worktree(&name).map_err(git("open a worktree"))?;
            if wt.validate().is_err() {
                wt.prune(Some(WorktreePruneOptions::new().valid(true)))
                    .map_err(git("prune"))?;
                pruned.push(agent.to_owned());
            }
        }
        Ok(pruned)
    }
}

/// The names of a repository's linked worktrees.
fn worktree_names(repo: &Repository) -> Result<Vec<String>, WorktreeError> {
    Ok(repo
        .worktrees()
        .map_err(git("list worktrees"))?
        .iter()
        .flatten()
        .flatten()
        .map(str::to_owned)
        .collect())
}

fn open(repo_root: &Path) -> Result<Repository, WorktreeError> {
    Repository::open(repo_root).map_err(|_| WorktreeError::NotARepository(repo_root.to_owned()))
}

fn resolve_base<'r>(
    repo: &'r Repository,
    root: &Path,
    base: Option<&str>,
) -> Result<(String, Commit<'r>), WorktreeError> {
    match base {
        None => {
            let head = repo
                .head()
                .map_err(|_| WorktreeError::NoCommits(root.to_owned()))?;
            let commit = head
                .peel_to_commit()
                .map_err(|_| WorktreeError::NoCommits(root.to_owned()))?;
            let name = if head.is_branch() {
                head.shorthand().unwrap_or_default().to_owned()
            } else {
                commit.id().to_string()
            };
            Ok((name, commit))
        }
        Some(b) => {
            let bad = || WorktreeError::BadBase {
                base: b.to_owned(),
                repo: root.to_owned(),
            };
            if let Ok(branch) = repo.find_branch(b, BranchType::Local) {
                let commit = branch.get().peel_to_commit().map_err(|_| bad())?;
                return Ok((b.to_owned(), commit));
            }
            let commit = repo
                .revparse_single(b)
                .and_then(|o| o.peel_to_commit())
                .map_err(|_| bad())?;
            Ok((commit.id().to_string(), commit))
        }
    }
}

fn branch_head<'r>(repo: &'r Repository, branch: &str) -> Result<Commit<'r>, WorktreeError> {
    repo.find_branch(branch, BranchType::Local)
        .and_then(|b| b.get().peel_to_commit())
        .map_err(|_| WorktreeError::Git {
            op: "find the agent's branch",
            message: format!("{branch} does not exist"),
        })
}

fn commit_of<'r>(repo: &'r Repository, rev: &str) -> Result<Commit<'r>, WorktreeError> {
    repo.revparse_single(rev)
        .and_then(|o| o.peel_to_commit())
        .map_err(|_| WorktreeError::BadBase {
            base: rev.to_owned(),
            repo: repo.workdir().unwrap_or(repo.path()).to_owned(),
        })
}

/// The repository (main or linked worktree) whose HEAD is `branch_ref`, if any.
fn checkout_of(repo: &Repository, branch_ref: &str) -> Result<Option<Repository>, WorktreeError> {
    let has = |r: &Repository| {
        !r.is_bare()
            && r.find_reference("HEAD")
                .ok()
                .and_then(|h| h.symbolic_target().ok().flatten().map(|t| t == branch_ref))
                .unwrap_or(false)
    };
    let main = if repo.is_worktree() {
        Repository::open(repo.commondir()).ok()
    } else {
        Repository::open(repo.path()).ok()
    };
    if let Some(main) = main.filter(|m| has(m)) {
        return Ok(Some(main));
    }
    for name in worktree_names(repo)? {
        if let Ok(wt) = repo.find_worktree(&name)
            && let Ok(r) = Repository::open_from_worktree(&wt)
            && has(&r)
        {
            return Ok(Some(r));
        }
    }
    Ok(None)
}

/// Paths with changes in a checkout (untracked too when asked), ignored files never.
/// The git metadata a commit made in the checkout at `dir` writes: a linked worktree's own admin
/// directory (`.git/worktrees/<name>`: its index and HEAD) and the repository's objects, refs
/// and reflogs; for a main checkout its `.git`. Only directories that exist (a CLI may refuse to
/// add a missing one); empty when `dir` is not in a repository.
pub fn git_dirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(repo) = Repository::open(dir) else {
        return Vec::new();
    };
    let own = repo.path().to_owned();
    let common = repo.commondir().to_owned();
    let mut dirs = vec![own.clone()];
    if common != own {
        dirs.extend(
            ["objects", "refs", "logs"]
                .into_iter()
                .map(|d| common.join(d))
                .filter(|d| d.is_dir()),
        );
    }
    dirs.iter()
        .map(|d| d.canonicalize().unwrap_or_else(|_| d.clone()))
        .collect()
}

/// The git identity commits in `dir` are made with, as the variables that set it
/// (`GIT_AUTHOR_NAME`, …), from the repository's configuration (the global one included); empty
/// when the configuration has none.
pub fn identity_vars(dir: &Path) -> Vec<(String, String)> {
    let Ok(config) = Repository::open(dir).and_then(|r| r.config()?.snapshot()) else {
        return Vec::new();
    };
    let mut vars = Vec::new();
    for (key, who) in [("user.name", "NAME"), ("user.email", "EMAIL")] {
        if let Ok(value) = config.get_string(key) {
            for role in ["AUTHOR", "COMMITTER"] {
                vars.push((format!("GIT_{role}_{who}"), value.clone()));
            }
        }
    }
    vars
}

/// The files of the checkout at `dir` that differ from its HEAD, untracked ones included (not
/// ignored ones, nor those under the `own` prefixes of the agent's CLI).
pub fn uncommitted(dir: &Path, own: &[&str]) -> Result<Vec<String>, WorktreeError> {
    let repo = Repository::open(dir).map_err(git("open the agent's worktree"))?;
    Ok(work_of(changed_files(&repo, true)?, own))
}

/// `files` without those under the `own` prefixes.
fn work_of(files: Vec<String>, own: &[&str]) -> Vec<String> {
    files
        .into_iter()
        .filter(|f| !own.iter().any(|o| f.starts_with(o)))
        .collect()
}

fn changed_files(repo: &Repository, untracked: bool) -> Result<Vec<String>, WorktreeError> {
    if repo.is_bare() {
        return Ok(Vec::new());
    }
    let mut options = StatusOptions::new();
    options
        .include_untracked(untracked)
        .recurse_untracked_dirs(untracked)
        .include_ignored(false);
    let statuses = repo.statuses(Some(&mut options)).map_err(git("status"))?;
    Ok(statuses
        .iter()
        .filter(|s| s.status() != Status::CURRENT && !s.status().contains(Status::IGNORED))
        .filter_map(|s| s.path().ok().map(str::to_owned))
        .collect())
}

fn signature(repo: &Repository) -> Signature<'static> {
    repo.signature()
        .map(|s| s.to_owned())
        .or_else(|_| Signature::now("maestro", "maestro@localhost"))
        .expect("a fixed signature is valid")
}

fn unsafe_setup(file: &str, why: &str) -> WorktreeError {
    WorktreeError::UnsafeSetupFile {
        file: file.to_owned(),
        why: why.to_owned(),
    }
}

/// Whether `rel` exists below `root` reached through no symbolic link (each component is
/// looked at without following it); an error names the link.
fn no_links(root: &Path, rel: &Path) -> Result<bool, String> {
    let mut at = root.to_owned();
    for part in rel.components() {
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&at)
                    .map(|t| t.display().to_string())
                    .unwrap_or_else(|_| "?".into());
                return Err(format!(
                    "{} is a symbolic link (to {target}): setup files must be regular files inside the repository; nothing was copied",
                    at.strip_prefix(root).unwrap_or(&at).display()
                ));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(format!("{}: {e}", at.display())),
        }
    }
    Ok(true)
}

/// The regular files at `rel` below `root` (itself, or the files of a directory, recursively),
/// as relative paths; a link or anything but a file or directory is an error.
fn collect_regular(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let path = root.join(rel);
    let meta = std::fs::symlink_metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let kind = meta.file_type();
    if kind.is_symlink() {
        return Err(format!(
            "{} is a symbolic link: setup files must be regular files inside the repository; nothing was copied",
            rel.display()
        ));
    }
    if kind.is_file() {
        out.push(rel.to_owned());
        return Ok(());
    }
    if !kind.is_dir() {
        return Err(format!(
            "{} is not a regular file or directory; nothing was copied",
            rel.display()
        ));
    }
    let entries = std::fs::read_dir(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", path.display()))?;
        collect_regular(root, &rel.join(entry.file_name()), out)?;
    }
    Ok(())
}

/// Copies a regular file, refusing to write through a link at the destination.
fn copy_regular(from: &Path, to: &Path) -> Result<(), WorktreeError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut source = std::fs::File::open(from).map_err(io(from))?;
    let mut dest = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(to)
        .map_err(io(to))?;
    std::io::copy(&mut source, &mut dest).map_err(io(to))?;
    Ok(())
}

fn short(oid: Oid) -> String {
    oid.to_string()[..8].to_owned()
}
