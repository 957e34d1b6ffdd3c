//! Portable agents with the real Claude Code against the mock model: an agent exported from one
//! installation and imported into another resumes its session there (the mock sees its history)
//! and its memories are found; snapshots and rollback put back its branch, memories and
//! session; a fork resumes from the same history and diverges; hostile archives are refused
//! with nothing written; an agent moves between two daemons on a real nats-server, and a
//! transfer cut off halfway leaves it where it was.

use crate::agents::repo;
use crate::real_agents::waited;
use maestro_tests::mock_model::MockModel;
use maestro_tests::nats::Cluster;
use maestro_tests::real_clis::real_env;
use maestro_tests::{TestEnv, git, raw_archive, text, wait_until};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A prompt the mock model follows: write `file`, commit it, then say `words`.
fn commit_prompt(file: &str, words: &str) -> String {
    format!(
        "Add {file} and commit it.\n\
         MOCK: write {file} written by claude\n\
         MOCK: run git add -A && git commit -qm 'add {file}'\n\
         MOCK: say {words}"
    )
}

/// Runs a turn (spawn or send) and checks it ended well.
fn turn(env: &TestEnv, dir: &Path, args: &[&str]) -> Value {
    let (code, agent, stdout) = waited(env, dir, args);
    assert_eq!(code, 0, "{stdout}\n{}", env.daemon_logs());
    assert_eq!(agent["state"], "idle", "{agent}");
    agent
}

/// Whether the model's request for the prompt holding `needle` carried `earlier` in its
/// history (the session was resumed with it).
fn history_has(mock: &MockModel, needle: &str, earlier: &str) -> bool {
    let served = mock.served_for(needle);
    assert!(!served.is_empty(), "no request for {needle}");
    served[0].user_texts.iter().any(|t| t.contains(earlier))
}

/// Memory search hits of agent `agent` (keyword mode: no waiting for the embedder).
fn memories(env: &TestEnv, dir: &Path, agent: &str, query: &str) -> Vec<Value> {
    let out = env.ok(
        dir,
        &[
            "memory", "search", query, "--agent", agent, "--mode", "keyword", "--json",
        ],
    );
    let mut hits: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    hits.pop();
    hits
}

/// Whether a memory of agent `agent` holds `phrase` (the search ORs words: the hits are
/// checked for the phrase).
fn remembers(env: &TestEnv, dir: &Path, agent: &str, phrase: &str) -> bool {
    memories(env, dir, agent, phrase)
        .iter()
        .any(|h| h["text"].as_str().is_some_and(|t| t.contains(phrase)))
}

/// The files under `dir` named `*<suffix>`, recursively.
fn files_named(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_named(&p, suffix));
        } else if p.to_string_lossy().ends_with(suffix) {
            out.push(p);
        }
    }
    out
}

/// Another installation (its own HOME, so its own CLI session stores) with a clone of `dir`.
fn elsewhere(mock: &MockModel, dir: &Path) -> (TestEnv, PathBuf) {
    let there = real_env(mock, "");
    let clone = there.home.path().join("clone");
    git(
        dir,
        &[
            "clone",
            "-q",
            dir.to_str().unwrap(),
            clone.to_str().unwrap(),
        ],
    );
    (there, clone)
}

fn fails(env: &TestEnv, dir: &Path, args: &[&str]) -> String {
    let out = env.run_in(dir, args);
    assert!(!out.status.success(), "maestro {args:?} should fail");
    text(&out.stderr)
}

#[test]
fn an_exported_claude_agent_resumes_its_session_in_another_installation() {
    let mock = MockModel::start();
    let here = real_env(&mock, "");
    let dir = repo(&here, "claude-repo");
    let first = commit_prompt("notes/first.txt", "first task done");
    turn(
        &here,
        &dir,
        &["agent", "spawn", "porter", &first, "--agent", "claude"],
    );
    here.ok(
        &dir,
        &[
            "memory",
            "add",
            "the flaky test is in parser_spec, seed 42",
            "--agent",
            "porter",
        ],
    );
    here.ok(&dir, &["msg", "send", "porter", "keep", "the", "seed"]);
    let archive = here.home.path().join("porter.maestro-agent");
    let exported = here.json(
        &dir,
        &[
            "agent",
            "export",
            "porter",
            "-o",
            archive.to_str().unwrap(),
            "--json",
        ],
    );
    let names: Vec<&str> = exported["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"branch.bundle"), "{exported}");
    assert!(
        names.iter().any(|n| n.starts_with("session/claude/")),
        "Claude's session file travels: {exported}"
    );
    assert!(exported["memories"].as_u64().unwrap() >= 2, "{exported}");
    assert_eq!(exported["messages"], 1, "{exported}");
    // No secret key in an archive made without --with-key: neither its bytes nor its hex.
    let key = files_named(here.home.path(), ".porter.ed25519");
    assert_eq!(key.len(), 1, "{key:?}");
    let secret = std::fs::read(&key[0]).unwrap();
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let contents = maestro_portable::read(&archive, maestro_portable::Limits::default()).unwrap();
    for (name, bytes) in &contents.entries {
        assert!(
            !bytes.windows(32).any(|w| w == secret.as_slice()),
            "{name} holds the secret key"
        );
        assert!(
            !String::from_utf8_lossy(bytes).contains(&hex),
            "{name} holds the secret key in hex"
        );
    }

    // Another installation (its own HOME, so its own ~/.claude), a clone of the repository.
    let (there, clone) = elsewhere(&mock, &dir);
    let imported = there.json(
        &clone,
        &["agent", "import", archive.to_str().unwrap(), "--json"],
    );
    assert_eq!(imported["name"], "porter", "{imported}");
    assert_eq!(imported["state"], "idle", "{imported}");
    assert!(imported["sessionId"].is_string(), "{imported}");
    // The person of another machine signed its message with a key this one does not hold:
    // an archive cannot speak for the person here.
    assert!(
        imported["notes"]
            .to_string()
            .contains("1 of its messages were left out"),
        "{imported}"
    );
    let worktree = PathBuf::from(imported["worktree"].as_str().unwrap());
    assert_eq!(
        std::fs::read_to_string(worktree.join("notes/first.txt")).unwrap(),
        "written by claude\n"
    );
    // Twice, or under a taken name: a clear error, nothing changed.
    let twice = fails(
        &there,
        &clone,
        &["agent", "import", archive.to_str().unwrap()],
    );
    assert!(
        twice.contains("already") && twice.contains("--as"),
        "{twice}"
    );
    // Its memories are found here.
    let hits = memories(&there, &clone, "porter", "flaky parser_spec");
    assert!(
        hits.iter()
            .any(|h| h["text"].as_str().unwrap().contains("seed 42")),
        "{hits:?}"
    );
    assert!(
        remembers(&there, &clone, "porter", "first task done"),
        "its turn's memory came too"
    );
    // Its transcript came, and its next turn resumes the session: the model sees the first
    // prompt in the history of the second.
    let logs = there.ok(&clone, &["agent", "logs", "porter", "-n", "0"]);
    assert!(
        logs.contains("first task done") && logs.contains("imported from"),
        "{logs}"
    );
    let second = commit_prompt("notes/second.txt", "second task done");
    turn(&there, &clone, &["agent", "send", "porter", &second]);
    assert!(
        history_has(&mock, "notes/second.txt", "notes/first.txt"),
        "the imported agent resumed its session"
    );
    assert_eq!(
        git(
            &clone,
            &["rev-list", "--count", "origin/main..maestro/porter"]
        ),
        "2"
    );
    // Under another name it is a second agent with the same past.
    let other = there.json(
        &clone,
        &[
            "agent",
            "import",
            archive.to_str().unwrap(),
            "--as",
            "porter-2",
            "--json",
        ],
    );
    assert_eq!(other["name"], "porter-2", "{other}");
}

/// The round trip for another CLI: Codex keeps its sessions in `$CODEX_HOME/sessions/…`, found
/// by id, and the imported agent resumes; Gemini CLI and OpenCode keep theirs where maestro does
/// not carry them: the export says so, and the imported agent's next turn starts a new session
/// (and works) instead of failing to resume one that is not there.
fn round_trip(cli: &str, carried: bool) {
    let mock = MockModel::start();
    let here = real_env(&mock, "");
    let dir = repo(&here, &format!("{cli}-repo"));
    let first = commit_prompt("notes/first.txt", "first task done").replace("claude", cli);
    turn(
        &here,
        &dir,
        &["agent", "spawn", "coder", &first, "--agent", cli],
    );
    let archive = here.home.path().join("coder.maestro-agent");
    let exported = here.json(
        &dir,
        &[
            "agent",
            "export",
            "coder",
            "-o",
            archive.to_str().unwrap(),
            "--json",
        ],
    );
    let has_session = exported["entries"]
        .to_string()
        .contains(&format!("session/{cli}/"));
    assert_eq!(has_session, carried, "{exported}");
    if !carried {
        assert!(
            exported["notes"]
                .to_string()
                .contains("starts a new session"),
            "{exported}"
        );
    }
    let (there, clone) = elsewhere(&mock, &dir);
    let imported = there.json(
        &clone,
        &["agent", "import", archive.to_str().unwrap(), "--json"],
    );
    assert_eq!(imported["sessionId"].is_string(), carried, "{imported}");
    let second = commit_prompt("notes/second.txt", "second task done").replace("claude", cli);
    turn(&there, &clone, &["agent", "send", "coder", &second]);
    assert_eq!(
        history_has(&mock, "notes/second.txt", "notes/first.txt"),
        carried,
        "{cli}: the imported agent resumed its session (or started a new one)"
    );
    assert_eq!(
        git(
            &clone,
            &["rev-list", "--count", "origin/main..maestro/coder"]
        ),
        "2"
    );
}

#[test]
fn an_exported_codex_agent_resumes_its_session_in_another_installation() {
    round_trip("codex", true);
}

#[test]
fn an_exported_gemini_agent_starts_a_new_session_in_another_installation() {
    round_trip("gemini", false);
}

#[test]
fn a_key_travels_only_sealed_and_opens_with_its_passphrase() {
    let mock = MockModel::start();
    let here = real_env(&mock, "");
    let dir = repo(&here, "keyed");
    here.ok(&dir, &["agent", "spawn", "keyed", "--agent", "claude"]);
    let archive = here.home.path().join("k.maestro-agent");
    let a = archive.to_str().unwrap();
    let no_pass = fails(
        &here,
        &dir,
        &["agent", "export", "keyed", "-o", a, "--with-key"],
    );
    assert!(no_pass.contains("passphrase"), "{no_pass}");
    let pass = here.home.path().join("pass");
    std::fs::write(&pass, "correct horse battery\n").unwrap();
    let p = pass.to_str().unwrap();
    here.ok(
        &dir,
        &[
            "agent",
            "export",
            "keyed",
            "-o",
            a,
            "--with-key",
            "--passphrase-file",
            p,
        ],
    );
    let key = files_named(here.home.path(), ".keyed.ed25519");
    let secret = std::fs::read(&key[0]).unwrap();
    let (there, clone) = elsewhere(&mock, &dir);
    let missing = fails(&there, &clone, &["agent", "import", a]);
    assert!(missing.contains("passphrase"), "{missing}");
    let wrong = there.home.path().join("wrong");
    std::fs::write(&wrong, "wrong horse battery\n").unwrap();
    let refused = fails(
        &there,
        &clone,
        &[
            "agent",
            "import",
            a,
            "--passphrase-file",
            wrong.to_str().unwrap(),
        ],
    );
    assert!(refused.contains("does not open"), "{refused}");
    assert_eq!(there.ok(&clone, &["agent", "list", "--json"]).trim(), "");
    there.ok(&clone, &["agent", "import", a, "--passphrase-file", p]);
    let moved = files_named(there.home.path(), ".keyed.ed25519");
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(
        std::fs::read(&moved[0]).unwrap(),
        secret,
        "the same identity"
    );
}

#[test]
fn snapshot_work_rollback_then_fork_and_diverge() {
    let mock = MockModel::start();
    let env = real_env(&mock, "");
    let dir = repo(&env, "snap-repo");
    let first = commit_prompt("notes/first.txt", "first task done");
    turn(
        &env,
        &dir,
        &["agent", "spawn", "snap", &first, "--agent", "claude"],
    );
    let one = env.json(
        &dir,
        &["agent", "snapshot", "snap", "-m", "known good", "--json"],
    );
    assert_eq!(one["id"], "1", "{one}");
    let good = git(&dir, &["rev-parse", "maestro/snap"]);
    assert_eq!(one["commit"], good.as_str());

    let second = commit_prompt("notes/second.txt", "second task done");
    turn(&env, &dir, &["agent", "send", "snap", &second]);
    assert!(remembers(&env, &dir, "snap", "second task done"));
    let worktree = PathBuf::from(
        env.json(&dir, &["agent", "status", "snap", "--json"])["worktree"]
            .as_str()
            .unwrap(),
    );
    assert!(worktree.join("notes/second.txt").exists());

    let back = env.json(&dir, &["agent", "rollback", "snap", "1", "--json"]);
    assert_eq!(back["restored"]["id"], "1", "{back}");
    assert_eq!(back["before"]["id"], "2", "{back}");
    assert_eq!(git(&dir, &["rev-parse", "maestro/snap"]), good);
    assert!(!worktree.join("notes/second.txt").exists());
    assert!(worktree.join("notes/first.txt").exists());
    assert!(
        !remembers(&env, &dir, "snap", "second task done"),
        "the memory of the undone turn is gone"
    );
    assert!(remembers(&env, &dir, "snap", "first task done"));
    let listed = env.json(&dir, &["agent", "snapshots", "snap", "--json"]);
    assert_eq!(listed[0]["sessionId"], one["sessionId"], "{listed}");
    assert!(one["sessionId"].is_string(), "{one}");
    let list = env.ok(&dir, &["agent", "snapshots", "snap"]);
    assert!(
        list.contains("known good") && list.contains("before the rollback"),
        "{list}"
    );
    // The session is the snapshot's: the next turn's history has the first prompt and not the
    // undone second.
    let third = commit_prompt("notes/third.txt", "third task done");
    turn(&env, &dir, &["agent", "send", "snap", &third]);
    assert!(history_has(&mock, "notes/third.txt", "notes/first.txt"));
    assert!(
        !history_has(&mock, "notes/third.txt", "notes/second.txt"),
        "the rolled-back session does not hold the undone turn"
    );
    // The state before the rollback is a snapshot to go back to.
    let before = git(&dir, &["rev-parse", "maestro/snap"]);
    assert_ne!(before, good);

    // Fork: both resume from the same history and diverge.
    let fork = env.json(&dir, &["agent", "fork", "snap", "snap-b", "--json"]);
    assert_eq!(fork["name"], "snap-b", "{fork}");
    assert_ne!(fork["sessionId"], Value::Null, "{fork}");
    let original = env.json(&dir, &["agent", "status", "snap", "--json"]);
    assert_ne!(
        fork["sessionId"], original["sessionId"],
        "a session of its own"
    );
    assert_eq!(git(&dir, &["rev-parse", "maestro/snap-b"]), before);
    let left = commit_prompt("notes/left.txt", "went left");
    let right = commit_prompt("notes/right.txt", "went right");
    turn(&env, &dir, &["agent", "send", "snap", &left]);
    turn(&env, &dir, &["agent", "send", "snap-b", &right]);
    assert!(history_has(&mock, "notes/left.txt", "notes/third.txt"));
    assert!(history_has(&mock, "notes/right.txt", "notes/third.txt"));
    assert!(!history_has(&mock, "notes/right.txt", "notes/left.txt"));
    assert!(!history_has(&mock, "notes/left.txt", "notes/right.txt"));
    assert_ne!(
        git(&dir, &["rev-parse", "maestro/snap"]),
        git(&dir, &["rev-parse", "maestro/snap-b"])
    );
    assert!(remembers(&env, &dir, "snap-b", "third task done"));
    // A rollback to a snapshot that is not there names the command that lists them.
    let none = fails(&env, &dir, &["agent", "rollback", "snap", "99"]);
    assert!(none.contains("maestro agent snapshots snap"), "{none}");
    // Removed, it takes its snapshots and the refs that kept their commits along.
    let removed = env.json(&dir, &["agent", "remove", "snap", "--force", "--json"]);
    assert_eq!(removed["snapshotsDeleted"], 2, "{removed}");
    assert_eq!(
        git(&dir, &["for-each-ref", "refs/maestro/snapshots/snap"]),
        ""
    );
}

#[test]
fn hostile_archives_are_refused_with_nothing_written() {
    let env = crate::agents::agents_env("");
    let dir = repo(&env, "victim");
    let good_manifest = |format: u32| {
        serde_json::to_vec(&serde_json::json!({
            "format": format, "maestro": "0", "createdAt": 0.0, "agent": "evil",
            "cli": "claude", "entries": [], "withKey": false
        }))
        .unwrap()
    };
    let m = good_manifest(1);
    let reg = tar::EntryType::Regular;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "traversal",
            raw_archive(&[
                (b"manifest.json", reg, &m),
                (b"../../escape.txt", reg, b"x"),
            ]),
            "`..`",
        ),
        (
            "absolute",
            raw_archive(&[(b"manifest.json", reg, &m), (b"/tmp/escape.txt", reg, b"x")]),
            "absolute",
        ),
        (
            "symlink",
            raw_archive(&[
                (b"manifest.json", reg, &m),
                (b"agent.json", tar::EntryType::Symlink, b""),
            ]),
            "symbolic link",
        ),
        (
            "device",
            raw_archive(&[
                (b"manifest.json", reg, &m),
                (b"agent.json", tar::EntryType::Block, b""),
            ]),
            "device",
        ),
        (
            "version",
            raw_archive(&[(b"manifest.json", reg, &good_manifest(9))]),
            "format 9",
        ),
        (
            "unlisted",
            raw_archive(&[(b"manifest.json", reg, &m), (b"agent.json", reg, b"{}")]),
            "not in the manifest",
        ),
    ];
    let agents_before = env.ok(&dir, &["agent", "list", "--json"]);
    for (what, bytes, why) in cases {
        let file = env.home.path().join(format!("{what}.maestro-agent"));
        std::fs::write(&file, bytes).unwrap();
        let err = fails(&env, &dir, &["agent", "import", file.to_str().unwrap()]);
        assert!(err.contains(why), "{what}: {err}");
    }
    // A real archive, tampered with, and truncated.
    env.ok(&dir, &["agent", "spawn", "real", "--agent", "claude"]);
    let good = env.home.path().join("good.maestro-agent");
    env.ok(
        &dir,
        &["agent", "export", "real", "-o", good.to_str().unwrap()],
    );
    let bytes = std::fs::read(&good).unwrap();
    let truncated = env.home.path().join("truncated.maestro-agent");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let err = fails(
        &env,
        &dir,
        &["agent", "import", truncated.to_str().unwrap(), "--as", "t"],
    );
    assert!(err.contains("truncated or damaged"), "{err}");
    let mut plain = Vec::new();
    std::io::Read::read_to_end(
        &mut lz4_flex::frame::FrameDecoder::new(bytes.as_slice()),
        &mut plain,
    )
    .unwrap();
    let at = plain
        .windows(14)
        .position(|w| w == b"\"name\": \"real\"")
        .expect("agent.json in the tar");
    plain[at + 10] = b'R';
    let mut enc = lz4_flex::frame::FrameEncoder::new(Vec::new());
    std::io::Write::write_all(&mut enc, &plain).unwrap();
    let tampered = env.home.path().join("tampered.maestro-agent");
    std::fs::write(&tampered, enc.finish().unwrap()).unwrap();
    let err = fails(
        &env,
        &dir,
        &["agent", "import", tampered.to_str().unwrap(), "--as", "u"],
    );
    assert!(err.contains("checksum"), "{err}");
    // Nothing was made: no agent, no branch, nothing outside.
    env.ok(&dir, &["agent", "remove", "real"]);
    assert_eq!(env.ok(&dir, &["agent", "list", "--json"]), agents_before);
    let branches = git(&dir, &["branch", "--list", "maestro/*"]);
    assert!(
        !branches.contains("evil") && !branches.contains("maestro/t"),
        "{branches}"
    );
    assert!(
        !env.home
            .path()
            .parent()
            .unwrap()
            .join("escape.txt")
            .exists()
    );
    assert!(!Path::new("/tmp/escape.txt").exists());
}

#[test]
fn an_agent_moves_between_two_daemons_and_a_transfer_cut_off_leaves_it_where_it_was() {
    let mock = MockModel::start();
    let cluster = Cluster::single(None);
    let a = real_env(&mock, "");
    let origin = {
        let dir = repo(&a, "origin");
        git(&dir, &["branch", "-q", "-M", "main"]);
        dir
    };
    let (repo_a, b) = {
        let repo_a = cluster.join_clone(&a, "alpha", &origin, 6, "transfer_timeout_secs = 5\n");
        let b = real_env(&mock, "");
        (repo_a, b)
    };
    let repo_b = cluster.join_clone(&b, "beta", &origin, 6, "");
    let first = commit_prompt("notes/first.txt", "first task done");
    turn(
        &a,
        &repo_a,
        &["agent", "spawn", "mover", &first, "--agent", "claude"],
    );

    // A node that is not there, or this one: refused before anything stops.
    let nowhere = fails(
        &a,
        &repo_a,
        &["agent", "transfer", "mover", "--to", "gamma"],
    );
    assert!(nowhere.contains("not a live node"), "{nowhere}");
    let here = fails(
        &a,
        &repo_a,
        &["agent", "transfer", "mover", "--to", "alpha"],
    );
    assert!(here.contains("on node alpha already"), "{here}");

    // Cut off halfway: beta stops answering (SIGSTOP), alpha gives up after its timeout and
    // keeps the agent; beta, killed, comes back without it.
    let b_pid: u32 = b.json(&repo_b, &["status", "--json"])["pid"]
        .as_u64()
        .expect("the daemon's pid") as u32;
    maestro_tests::kill(b_pid, rustix::process::Signal::STOP);
    let cut = fails(&a, &repo_a, &["agent", "transfer", "mover", "--to", "beta"]);
    assert!(cut.contains("stays on node alpha"), "{cut}");
    maestro_tests::kill(b_pid, rustix::process::Signal::KILL);
    maestro_tests::kill(b_pid, rustix::process::Signal::CONT);
    let status = a.json(&repo_a, &["agent", "status", "mover", "--json"]);
    assert_eq!(status["name"], "mover", "{status}");
    assert!(PathBuf::from(status["worktree"].as_str().unwrap()).exists());
    // beta comes back (its daemon starts again and rejoins).
    wait_until("beta is back", Duration::from_secs(30), || {
        let out = b.run_in(&repo_b, &["mesh", "status", "--json"]);
        out.status.success()
            && serde_json::from_slice::<Value>(&out.stdout).is_ok_and(|s| s["joined"] == true)
    });
    let on_b = b.ok(&repo_b, &["agent", "list", "--json"]);
    assert!(
        !on_b
            .lines()
            .any(|l| l.contains("\"mover\"") && l.contains("\"node\":\"beta\"")),
        "{on_b}"
    );

    // Now for real: it arrives on beta, resumes its session there, and the directory says so.
    wait_until("beta live again", Duration::from_secs(20), || {
        a.ok(&repo_a, &["mesh", "nodes", "--json"])
            .lines()
            .any(|l| l.contains("\"beta\"") && l.contains("\"live\""))
    });
    a.ok(
        &repo_a,
        &["msg", "send", "mover", "keep", "going", "please"],
    );
    let moved = a.json(
        &repo_a,
        &["agent", "transfer", "mover", "--to", "beta", "--json"],
    );
    assert_eq!(moved["node"], "beta", "{moved}");
    let local_a = a.ok(&repo_a, &["agent", "--node", "alpha", "list", "--json"]);
    assert!(!local_a.contains("\"mover\""), "gone from alpha: {local_a}");
    let second = commit_prompt("notes/second.txt", "second task done");
    turn(&b, &repo_b, &["agent", "send", "mover", &second]);
    assert!(history_has(&mock, "notes/second.txt", "notes/first.txt"));
    assert!(
        history_has(&mock, "notes/second.txt", "keep going please"),
        "the person's message came with it and reached its next turn"
    );
    // Asked from alpha, the agent is found on beta.
    let until = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let out = a.run_in(&repo_a, &["agent", "status", "mover", "--json"]);
        let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
        if out.status.success() && said.contains("\"node\":\"beta\"") {
            break;
        }
        assert!(
            std::time::Instant::now() < until,
            "the directory should point to beta: {said}\n{}",
            a.daemon_logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
