//! Worktrees against real repositories: created outside the repository, diffed, merged (fast
//! forward, merge commit, conflict), removed, and never at the expense of the user's work.

use maestro_agents::worktree::{WorktreeError, WorktreeManager};
use maestro_tests::git;
use std::path::{Path, PathBuf};

struct Fixture {
    _dir: tempfile::TempDir,
    repo: PathBuf,
    manager: WorktreeManager,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("shop");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["config", "user.name", "t"]);
    git(&repo, &["config", "user.email", "t@t"]);
    std::fs::write(repo.join("a.txt"), "one\ntwo\nthree\n").unwrap();
    std::fs::write(repo.join("b.txt"), "bee\n").unwrap();
    std::fs::write(repo.join(".gitignore"), ".env\n").unwrap();
    std::fs::write(repo.join(".env"), "SECRET=1\n").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "init"]);
    let manager = WorktreeManager::new(dir.path().join("state/worktrees"));
    Fixture {
        repo,
        manager,
        _dir: dir,
    }
}

fn commit_in(dir: &Path, file: &str, text: &str, message: &str) {
    std::fs::write(dir.join(file), text).unwrap();
    git(dir, &["add", file]);
    git(dir, &["commit", "-qm", message]);
}

#[test]
fn a_worktree_is_made_outside_the_repository_on_its_own_branch() {
    let f = fixture();
    let wt = f.manager.create(&f.repo, "shop-api", None).unwrap();
    assert!(!wt.path.starts_with(&f.repo), "{}", wt.path.display());
    assert!(wt.path.ends_with("shop-api"));
    assert_eq!(wt.branch, "maestro/shop-api");
    assert_eq!(wt.base, "main");
    assert_eq!(
        git(&wt.path, &["rev-parse", "--abbrev-ref", "HEAD"]),
        "maestro/shop-api"
    );
    assert_eq!(
        std::fs::read_to_string(wt.path.join("a.txt")).unwrap(),
        "one\ntwo\nthree\n"
    );
    assert!(wt.notes.is_empty());
    // Untracked setup files are copied on request; missing ones are named.
    let (copied, missing) = f
        .manager
        .copy_files(&f.repo, &wt.path, &[".env".into(), "nope.json".into()])
        .unwrap();
    assert_eq!(
        (copied, missing),
        (vec![".env".to_owned()], vec!["nope.json".to_owned()])
    );
    assert_eq!(
        std::fs::read_to_string(wt.path.join(".env")).unwrap(),
        "SECRET=1\n"
    );
    assert!(
        f.manager
            .copy_files(&f.repo, &wt.path, &["../x".into()])
            .is_err()
    );

    // The same name again: the path exists.
    let err = f.manager.create(&f.repo, "shop-api", None).unwrap_err();
    assert!(matches!(err, WorktreeError::PathExists(_)), "{err}");
    // The user's checkout is untouched.
    assert_eq!(git(&f.repo, &["status", "--porcelain"]), "");
    assert_eq!(git(&f.repo, &["rev-parse", "--abbrev-ref", "HEAD"]), "main");
}

#[test]
fn a_dirty_checkout_is_noted_and_left_alone() {
    let f = fixture();
    std::fs::write(f.repo.join("a.txt"), "my unsaved work\n").unwrap();
    let wt = f.manager.create(&f.repo, "bot", None).unwrap();
    assert_eq!(wt.notes.len(), 1, "{:?}", wt.notes);
    assert!(
        wt.notes[0].contains("not in the agent's worktree"),
        "{:?}",
        wt.notes
    );
    assert_eq!(
        std::fs::read_to_string(wt.path.join("a.txt")).unwrap(),
        "one\ntwo\nthree\n"
    );
    assert_eq!(
        std::fs::read_to_string(f.repo.join("a.txt")).unwrap(),
        "my unsaved work\n"
    );
}

#[test]
fn bad_bases_empty_repositories_and_leftover_branches_are_clear_errors() {
    let f = fixture();
    let err = f
        .manager
        .create(&f.repo, "x", Some("no-such-branch"))
        .unwrap_err();
    assert!(err.to_string().contains("`no-such-branch`"), "{err}");
    let empty = f.repo.parent().unwrap().join("empty");
    std::fs::create_dir(&empty).unwrap();
    git(&empty, &["init", "-q"]);
    let err = f.manager.create(&empty, "x", None).unwrap_err();
    assert!(err.to_string().contains("no commits yet"), "{err}");
    let plain = f.repo.parent().unwrap().join("plain");
    std::fs::create_dir(&plain).unwrap();
    assert!(matches!(
        f.manager.create(&plain, "x", None).unwrap_err(),
        WorktreeError::NotARepository(_)
    ));
    git(&f.repo, &["branch", "maestro/taken"]);
    let err = f.manager.create(&f.repo, "taken", None).unwrap_err();
    assert!(
        err.to_string()
            .contains("branch maestro/taken already exists"),
        "{err}"
    );
    // A base given as a branch or as a commit.
    commit_in(&f.repo, "b.txt", "bee2\n", "second");
    let first = git(&f.repo, &["rev-parse", "HEAD~1"]);
    let wt = f.manager.create(&f.repo, "old", Some(&first)).unwrap();
    assert_eq!(wt.base, first);
    assert_eq!(
        std::fs::read_to_string(wt.path.join("b.txt")).unwrap(),
        "bee\n"
    );
}

#[test]
fn diff_shows_commits_and_uncommitted_work_and_merge_fast_forwards_the_checkout() {
    let f = fixture();
    let wt = f.manager.create(&f.repo, "api", None).unwrap();
    commit_in(&wt.path, "a.txt", "one\nTWO\nthree\n", "agent edit");
    std::fs::write(wt.path.join("new.txt"), "fresh\n").unwrap();
    let diff = f
        .manager
        .diff(&f.repo, &wt.path, "api", "main", &[])
        .unwrap();
    assert_eq!(diff.commits, 1);
    assert!(diff.uncommitted);
    let paths: Vec<&str> = diff.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["a.txt", "new.txt"]);
    assert_eq!((diff.files[0].insertions, diff.files[0].deletions), (1, 1));
    assert_eq!(diff.files[0].old_path, None);
    assert_eq!(
        diff.fork,
        git(&f.repo, &["rev-parse", "main"]).trim(),
        "compared with where it left main"
    );
    assert!(
        diff.patch.contains("+TWO") && diff.patch.contains("-two"),
        "{}",
        diff.patch
    );

    // The user has an unrelated uncommitted change in their checkout of main.
    std::fs::write(f.repo.join("b.txt"), "user's edit\n").unwrap();
    let merged = f.manager.merge(&f.repo, "api", "main").unwrap();
    assert!(
        merged.fast_forward && merged.conflicts.is_empty(),
        "{merged:?}"
    );
    assert_eq!(
        git(&f.repo, &["rev-parse", "main"]),
        merged.commit.clone().unwrap()
    );
    // Their checkout follows the branch, and their change is still there.
    assert_eq!(
        std::fs::read_to_string(f.repo.join("a.txt")).unwrap(),
        "one\nTWO\nthree\n"
    );
    assert_eq!(
        std::fs::read_to_string(f.repo.join("b.txt")).unwrap(),
        "user's edit\n"
    );
    assert_eq!(git(&f.repo, &["status", "--porcelain"]), "M b.txt");
    // Merging again changes nothing.
    assert!(f.manager.merge(&f.repo, "api", "main").unwrap().up_to_date);
}

#[test]
fn diverged_branches_get_a_merge_commit_and_conflicts_change_nothing() {
    let f = fixture();
    let wt = f.manager.create(&f.repo, "api", None).unwrap();
    commit_in(
        &wt.path,
        "a.txt",
        "one\ntwo\nthree\nfour\n",
        "agent appends",
    );
    commit_in(&f.repo, "b.txt", "bee, by the user\n", "user edits b");
    let merged = f.manager.merge(&f.repo, "api", "main").unwrap();
    assert!(
        !merged.fast_forward && merged.commit.is_some(),
        "{merged:?}"
    );
    assert_eq!(
        git(&f.repo, &["log", "-1", "--format=%P"])
            .split(' ')
            .count(),
        2
    );
    assert_eq!(git(&f.repo, &["status", "--porcelain"]), "");
    assert!(
        std::fs::read_to_string(f.repo.join("a.txt"))
            .unwrap()
            .ends_with("four\n")
    );

    let other = f.manager.create(&f.repo, "web", None).unwrap();
    commit_in(&other.path, "b.txt", "agent's bee\n", "agent edits b");
    commit_in(&f.repo, "b.txt", "user's bee\n", "user edits b again");
    let head = git(&f.repo, &["rev-parse", "HEAD"]);
    let result = f.manager.merge(&f.repo, "web", "main").unwrap();
    assert_eq!(result.conflicts, ["b.txt"]);
    assert_eq!(result.commit, None);
    assert_eq!(git(&f.repo, &["rev-parse", "HEAD"]), head);
    assert_eq!(git(&f.repo, &["status", "--porcelain"]), "");
}

#[test]
fn a_merge_that_would_overwrite_uncommitted_work_is_refused_whole() {
    let f = fixture();
    let wt = f.manager.create(&f.repo, "api", None).unwrap();
    commit_in(&wt.path, "a.txt", "agent's a\n", "agent edits a");
    std::fs::write(f.repo.join("a.txt"), "user's unsaved a\n").unwrap();
    let head = git(&f.repo, &["rev-parse", "HEAD"]);
    let err = f.manager.merge(&f.repo, "api", "main").unwrap_err();
    assert!(
        matches!(err, WorktreeError::CheckoutBlocked { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("nothing was changed"), "{err}");
    assert_eq!(git(&f.repo, &["rev-parse", "HEAD"]), head);
    assert_eq!(
        std::fs::read_to_string(f.repo.join("a.txt")).unwrap(),
        "user's unsaved a\n"
    );
}

#[test]
fn remove_refuses_uncommitted_work_and_keeps_unmerged_branches() {
    let f = fixture();
    let wt = f.manager.create(&f.repo, "api", None).unwrap();
    std::fs::write(wt.path.join("wip.txt"), "half done\n").unwrap();
    let err = f
        .manager
        .remove(&f.repo, &wt.path, "api", "main", false, &[])
        .unwrap_err();
    assert!(
        err.to_string().contains("wip.txt") && err.to_string().contains("--force"),
        "{err}"
    );
    assert!(wt.path.join("wip.txt").exists());
    commit_in(&wt.path, "wip.txt", "done\n", "agent work");
    let removed = f
        .manager
        .remove(&f.repo, &wt.path, "api", "main", false, &[])
        .unwrap();
    assert!(!wt.path.exists());
    assert_eq!(removed.branch_kept.as_deref(), Some("maestro/api"));
    assert!(git(&f.repo, &["worktree", "list"]).lines().count() == 1);

    // Merged work: the branch goes too. --force discards uncommitted changes.
    let wt = f.manager.create(&f.repo, "web", None).unwrap();
    std::fs::write(wt.path.join("scratch"), "x").unwrap();
    let removed = f
        .manager
        .remove(&f.repo, &wt.path, "web", "main", true, &[])
        .unwrap();
    assert_eq!(removed.branch_deleted.as_deref(), Some("maestro/web"));
    assert_eq!(git(&f.repo, &["branch", "--list", "maestro/web"]), "");

    // Files the CLI keeps for itself (aider's history) are not work to lose.
    let wt = f.manager.create(&f.repo, "aid", None).unwrap();
    std::fs::write(wt.path.join(".aider.chat.history.md"), "# chat\n").unwrap();
    assert_eq!(
        maestro_agents::worktree::uncommitted(&wt.path, &[".aider"]).unwrap(),
        Vec::<String>::new()
    );
    let diff = f
        .manager
        .diff(&f.repo, &wt.path, "aid", "main", &[".aider"])
        .unwrap();
    assert!(!diff.uncommitted);
    f.manager
        .remove(&f.repo, &wt.path, "aid", "main", false, &[".aider"])
        .unwrap();
    assert!(!wt.path.exists());
}

#[test]
fn prune_forgets_worktrees_whose_directory_was_deleted() {
    let f = fixture();
    let wt = f.manager.create(&f.repo, "gone", None).unwrap();
    std::fs::remove_dir_all(&wt.path).unwrap();
    assert_eq!(f.manager.prune(&f.repo).unwrap(), ["gone"]);
    assert!(f.manager.prune(&f.repo).unwrap().is_empty());
    // The branch stays (it may hold work); a new agent of that name is told so.
    let err = f.manager.create(&f.repo, "gone", None).unwrap_err();
    assert!(
        matches!(err, WorktreeError::BranchExists { ahead: 0, .. }),
        "{err}"
    );
}

/// A file outside the repository, that a hostile repository would have maestro overwrite.
fn outside(f: &Fixture) -> PathBuf {
    let dir = f._dir.path().join("outside");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("id_rsa"), "PRIVATE KEY\n").unwrap();
    dir
}

#[test]
fn setup_files_that_are_links_are_refused_and_nothing_outside_is_touched() {
    let f = fixture();
    let away = outside(&f);
    // A committed link to a directory outside: followed on both sides, the copy would write
    // each file onto itself and truncate it.
    std::os::unix::fs::symlink(&away, f.repo.join("secrets")).unwrap();
    git(&f.repo, &["add", "secrets"]);
    git(&f.repo, &["commit", "-qm", "link"]);
    let wt = f.manager.create(&f.repo, "hostile", None).unwrap();
    let err = f
        .manager
        .copy_files(&f.repo, &wt.path, &[".env".into(), "secrets".into()])
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("setup file `secrets` refused") && text.contains("symbolic link"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(away.join("id_rsa")).unwrap(),
        "PRIVATE KEY\n"
    );
    assert!(
        !wt.path.join(".env").exists(),
        "nothing is copied when one is refused"
    );

    // A regular file in the checkout whose path is a committed link in the worktree.
    std::fs::remove_file(f.repo.join("secrets")).unwrap();
    std::fs::write(f.repo.join("secrets"), "mine\n").unwrap();
    let err = f
        .manager
        .copy_files(&f.repo, &wt.path, &["secrets".into()])
        .unwrap_err();
    assert!(err.to_string().contains("in the worktree"), "{err}");
    assert_eq!(
        std::fs::read_to_string(away.join("id_rsa")).unwrap(),
        "PRIVATE KEY\n"
    );

    // A directory holding a link, and paths that leave the repository.
    std::fs::create_dir(f.repo.join("conf")).unwrap();
    std::os::unix::fs::symlink(away.join("id_rsa"), f.repo.join("conf/key")).unwrap();
    let err = f
        .manager
        .copy_files(&f.repo, &wt.path, &["conf".into()])
        .unwrap_err();
    assert!(
        err.to_string().contains("conf/key is a symbolic link"),
        "{err}"
    );
    for bad in ["../outside/id_rsa", "/etc/passwd", "", "./.env"] {
        assert!(
            f.manager
                .copy_files(&f.repo, &wt.path, &[bad.into()])
                .is_err(),
            "{bad:?}"
        );
    }
    // Regular files and directories of them are still copied.
    std::fs::remove_file(f.repo.join("conf/key")).unwrap();
    std::fs::write(f.repo.join("conf/app.toml"), "x = 1\n").unwrap();
    let (copied, _) = f
        .manager
        .copy_files(&f.repo, &wt.path, &["conf".into(), ".env".into()])
        .unwrap();
    assert_eq!(copied, ["conf", ".env"]);
    assert_eq!(
        std::fs::read_to_string(wt.path.join("conf/app.toml")).unwrap(),
        "x = 1\n"
    );
}

#[test]
fn a_renamed_file_says_where_it_was() {
    let f = fixture();
    let wt = f.manager.create(&f.repo, "mover", None).unwrap();
    git(&wt.path, &["mv", "a.txt", "moved.txt"]);
    git(&wt.path, &["commit", "-qm", "move"]);
    let diff = f
        .manager
        .diff(&f.repo, &wt.path, "mover", "main", &[])
        .unwrap();
    assert_eq!(diff.files.len(), 1, "{:?}", diff.files);
    assert_eq!(diff.files[0].path, "moved.txt");
    assert_eq!(diff.files[0].status, "renamed");
    assert_eq!(diff.files[0].old_path.as_deref(), Some("a.txt"));
}
