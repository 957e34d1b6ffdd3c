//! Each adapter against the exact line shapes of its CLI (../shared/agent-protocols.md): the
//! command it builds and the events it reads.

use maestro_agents::adapters::{CustomAgent, CustomOutput, FieldMap};
use maestro_agents::{AgentCli, AgentEvent, Exit, Turn, TurnUsage};
use maestro_protocol::ErrorClass;
use std::path::PathBuf;

fn turn(prompt: &str) -> Turn {
    Turn {
        program: PathBuf::from("cli"),
        prompt: prompt.to_owned(),
        cwd: PathBuf::from("/w"),
        ..Turn::default()
    }
}

fn run(cli: &AgentCli, lines: &str, exit: Exit) -> Vec<AgentEvent> {
    let mut parser = cli.parser();
    let mut events: Vec<AgentEvent> = lines
        .lines()
        .filter(|l| !l.trim().is_empty())
        .flat_map(|l| parser.line(l.trim()))
        .collect();
    events.extend(parser.exit(&exit));
    events
}

fn ok() -> Exit {
    Exit {
        code: Some(0),
        signal: None,
        stderr_tail: String::new(),
    }
}

fn failed(code: i32, stderr: &str) -> Exit {
    Exit {
        code: Some(code),
        signal: None,
        stderr_tail: stderr.to_owned(),
    }
}

fn session(events: &[AgentEvent]) -> Option<&str> {
    events.iter().find_map(|e| match e {
        AgentEvent::SessionStarted { session_id, .. } => Some(session_id.as_str()),
        _ => None,
    })
}

fn usage(events: &[AgentEvent]) -> Vec<&TurnUsage> {
    events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Usage(u) => Some(u),
            _ => None,
        })
        .collect()
}

fn last(events: &[AgentEvent]) -> &AgentEvent {
    events.last().expect("events")
}

fn fatal_class(events: &[AgentEvent]) -> Option<ErrorClass> {
    events.iter().find_map(|e| match e {
        AgentEvent::Error {
            class, fatal: true, ..
        } => Some(*class),
        _ => None,
    })
}

const CLAUDE: &str = r#"
{"type":"system","subtype":"init","session_id":"c0ffee-1","cwd":"/w","tools":["Bash","Edit"],"mcp_servers":[],"model":"claude-sonnet-4-5-20250929","permissionMode":"acceptEdits"}
{"type":"assistant","message":{"content":[{"type":"thinking","thinking":"hmm"},{"type":"text","text":"I'll fix it."},{"type":"tool_use","id":"t1","name":"Edit","input":{"file_path":"src/lib.rs","old_string":"a","new_string":"b"}}],"usage":{"input_tokens":10,"output_tokens":5}},"session_id":"c0ffee-1","parent_tool_use_id":null,"uuid":"u1"}
{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t1","content":"ok"}]},"session_id":"c0ffee-1","parent_tool_use_id":null,"uuid":"u2"}
{"type":"rate_limit_event","rate_limit_info":{"status":"allowed"}}
{"type":"result","subtype":"success","is_error":false,"duration_ms":1200,"duration_api_ms":900,"num_turns":2,"result":"Fixed.","session_id":"c0ffee-1","total_cost_usd":0.0123,"usage":{"input_tokens":100,"output_tokens":50,"cache_creation_input_tokens":7,"cache_read_input_tokens":300},"modelUsage":{"claude-sonnet-4-5-20250929":{"costUSD":0.0123}},"permission_denials":[]}
"#;

#[test]
fn claude_builds_a_headless_command_and_reads_stream_json() {
    let mut t = turn("fix the bug");
    t.session_id = Some("c0ffee-1".into());
    t.model = Some("opus".into());
    t.persona = Some("You are terse.".into());
    let spec = AgentCli::Claude.command(&t);
    assert_eq!(
        spec.args,
        [
            "-p",
            "--verbose",
            "--output-format",
            "stream-json",
            "--permission-mode",
            "acceptEdits",
            "--resume",
            "c0ffee-1",
            "--model",
            "opus",
            "--append-system-prompt=You are terse.",
            "--",
            "fix the bug"
        ]
    );
    assert!(!spec.pty);

    let events = run(&AgentCli::Claude, CLAUDE, ok());
    assert_eq!(session(&events), Some("c0ffee-1"));
    assert!(events.contains(&AgentEvent::Text {
        text: "I'll fix it.".into()
    }));
    assert!(events.contains(&AgentEvent::ToolUse {
        tool: "Edit".into(),
        summary: "src/lib.rs".into()
    }));
    // Usage comes once, from the result (assistant messages' usage would count it twice).
    let u = usage(&events);
    assert_eq!(u.len(), 1);
    assert_eq!(
        (
            u[0].input_tokens,
            u[0].output_tokens,
            u[0].cache_read_tokens,
            u[0].cache_write_tokens
        ),
        (100, 50, 300, 7)
    );
    assert_eq!(u[0].cost_usd, Some(0.0123));
    assert_eq!(u[0].model.as_deref(), Some("claude-sonnet-4-5-20250929"));
    assert_eq!(
        last(&events),
        &AgentEvent::Result {
            text: Some("Fixed.".into())
        }
    );
}

#[test]
fn claude_errors_and_hangs_without_a_result_are_classified() {
    let events = run(
        &AgentCli::Claude,
        r#"{"type":"result","subtype":"error_during_execution","is_error":true,"result":"API Error: 429 rate_limit_error","session_id":"s","total_cost_usd":0,"usage":{"input_tokens":0,"output_tokens":0}}"#,
        failed(1, ""),
    );
    assert_eq!(fatal_class(&events), Some(ErrorClass::RateLimit));
    // The stream ended without a result: a crash, explained by stderr when it says why.
    let events = run(
        &AgentCli::Claude,
        r#"{"type":"system","subtype":"init","session_id":"s2","model":"m"}"#,
        failed(1, "Invalid API key · Please run /login"),
    );
    assert_eq!(fatal_class(&events), Some(ErrorClass::Auth));
    let events = run(&AgentCli::Claude, "", failed(137, ""));
    assert_eq!(fatal_class(&events), Some(ErrorClass::Crash));
    match last(&events) {
        AgentEvent::Error { message, .. } => assert!(message.contains("code 137"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unreadable_and_unknown_lines_never_stop_a_parser() {
    for cli in [
        AgentCli::Claude,
        AgentCli::Codex,
        AgentCli::Gemini,
        AgentCli::OpenCode,
    ] {
        let mut p = cli.parser();
        for line in [
            "not json at all",
            "[1,2,3]",
            "{\"type\":\"brand_new_event\",\"x\":1}",
            "{\"no_type\":true}",
            "{\"type\":42}",
            "{\"type\":\"result\",\"usage\":\"weird\"}",
            "\u{0}\u{1}garbage{{{",
        ] {
            for e in p.line(line) {
                if let AgentEvent::Error { fatal, message, .. } = &e {
                    assert!(
                        !fatal || message.contains("error"),
                        "{cli:?}: {line} → {e:?}"
                    );
                }
            }
        }
    }
    let events = run(&AgentCli::Codex, "garbage", ok());
    assert!(matches!(
        &events[0],
        AgentEvent::Error { fatal: false, message, .. } if message.contains("unreadable line from codex")
    ));
}

const CODEX: &str = r#"
{"type":"thread.started","thread_id":"0199a213-81c0-7800-8aa1-bbab2a035a53"}
{"type":"turn.started"}
{"type":"item.completed","item":{"id":"item_0","type":"reasoning","text":"**Thinking**"}}
{"type":"item.started","item":{"id":"item_1","type":"command_execution","command":"bash -lc ls","aggregated_output":"","exit_code":null,"status":"in_progress"}}
{"type":"item.completed","item":{"id":"item_1","type":"command_execution","command":"bash -lc ls","aggregated_output":"src\n","exit_code":0,"status":"completed"}}
{"type":"item.completed","item":{"id":"item_2","type":"file_change","changes":[{"path":"src/lib.rs","kind":"update"}],"status":"completed"}}
{"type":"item.completed","item":{"id":"item_3","type":"agent_message","text":"Done: fixed lib.rs"}}
{"type":"turn.completed","usage":{"input_tokens":24763,"cached_input_tokens":24448,"output_tokens":122}}
"#;

#[test]
fn codex_builds_exec_json_with_flags_before_resume_and_reads_items() {
    let mut t = turn("fix");
    t.session_id = Some("0199a213".into());
    t.model = Some("gpt-5-codex".into());
    let spec = AgentCli::Codex.command(&t);
    let resume = spec.args.iter().position(|a| a == "resume").unwrap();
    let model = spec.args.iter().position(|a| a == "-m").unwrap();
    assert_eq!(spec.args[0..2], ["exec", "--json"]);
    assert!(model < resume, "flags go before `resume`: {:?}", spec.args);
    assert_eq!(spec.args[resume + 1..], ["0199a213", "--", "fix"]);

    let events = run(&AgentCli::Codex, CODEX, ok());
    assert_eq!(
        session(&events),
        Some("0199a213-81c0-7800-8aa1-bbab2a035a53")
    );
    assert!(events.contains(&AgentEvent::ToolUse {
        tool: "shell".into(),
        summary: "ls".into()
    }));
    assert!(events.contains(&AgentEvent::ToolUse {
        tool: "edit".into(),
        summary: "src/lib.rs".into()
    }));
    let u = usage(&events);
    assert_eq!(
        (
            u[0].input_tokens,
            u[0].cache_read_tokens,
            u[0].output_tokens
        ),
        (24763 - 24448, 24448, 122),
        "OpenAI's input tokens include the cached ones; maestro counts them apart"
    );
    assert_eq!(u[0].cost_usd, None, "codex reports no dollars");
    assert_eq!(
        last(&events),
        &AgentEvent::Result {
            text: Some("Done: fixed lib.rs".into())
        }
    );

    let failed_turn = r#"{"type":"thread.started","thread_id":"t"}
{"type":"error","message":"Reconnecting... 1/5"}
{"type":"turn.failed","error":{"message":"stream disconnected before completion"}}"#;
    let events = run(&AgentCli::Codex, failed_turn, failed(1, ""));
    assert_eq!(fatal_class(&events), Some(ErrorClass::Network));
    // The older session line.
    let events = run(
        &AgentCli::Codex,
        r#"{"type":"session_meta","payload":{"id":"old-1"}}"#,
        failed(1, ""),
    );
    assert_eq!(session(&events), Some("old-1"));
}

const GEMINI: &str = r#"
{"type":"init","timestamp":"2026-01-01T00:00:00Z","session_id":"g-1","model":"gemini-2.5-pro"}
{"type":"message","role":"user","content":"fix it"}
{"type":"message","role":"assistant","content":"Working","delta":true}
{"type":"message","role":"assistant","content":" on it.","delta":true}
{"type":"tool_use","tool_name":"run_shell_command","tool_id":"x1","parameters":{"command":"cargo test"}}
{"type":"tool_result","tool_id":"x1","status":"success","output":"ok"}
{"type":"result","status":"success","stats":{"total_tokens":300,"input_tokens":200,"output_tokens":100,"cached":50,"duration_ms":1000,"tool_calls":1}}
"#;

#[test]
fn gemini_reads_stream_json_and_its_exit_codes() {
    let spec = AgentCli::Gemini.command(&turn("fix it"));
    assert_eq!(
        spec.args[0..3],
        ["--prompt=fix it", "--output-format", "stream-json"]
    );
    let events = run(&AgentCli::Gemini, GEMINI, ok());
    assert_eq!(session(&events), Some("g-1"));
    assert!(events.contains(&AgentEvent::ToolUse {
        tool: "run_shell_command".into(),
        summary: "cargo test".into()
    }));
    let u = usage(&events);
    assert_eq!(
        (
            u[0].input_tokens,
            u[0].output_tokens,
            u[0].cache_read_tokens
        ),
        (150, 100, 50)
    );
    assert_eq!(u[0].model.as_deref(), Some("gemini-2.5-pro"));
    assert_eq!(
        last(&events),
        &AgentEvent::Result {
            text: Some("Working on it.".into())
        }
    );
    let events = run(
        &AgentCli::Gemini,
        r#"{"type":"error","severity":"error","message":"Quota exceeded for quota metric"}"#,
        failed(1, ""),
    );
    assert_eq!(fatal_class(&events), Some(ErrorClass::TokenExhaustion));
    let events = run(&AgentCli::Gemini, "", failed(53, ""));
    match last(&events) {
        AgentEvent::Error { message, .. } => assert!(message.contains("turn limit"), "{message}"),
        other => panic!("{other:?}"),
    }
}

const OPENCODE: &str = r#"
{"type":"step_start","timestamp":1767000000000,"sessionID":"ses_abc","part":{"type":"step-start"}}
{"type":"tool_use","timestamp":1767000000100,"sessionID":"ses_abc","part":{"type":"tool","tool":"edit","state":{"status":"completed","input":{"filePath":"a.ts","path":"a.ts"}}}}
{"type":"text","timestamp":1767000000200,"sessionID":"ses_abc","part":{"type":"text","text":"Edited a.ts"}}
{"type":"step_finish","timestamp":1767000000300,"sessionID":"ses_abc","part":{"type":"step-finish","cost":0.002,"tokens":{"input":100,"output":20,"reasoning":5,"cache":{"read":10,"write":3}}}}
{"type":"step_finish","timestamp":1767000000400,"sessionID":"ses_abc","part":{"type":"step-finish","cost":0.001,"tokens":{"input":50,"output":10,"reasoning":0,"cache":{"read":0,"write":0}}}}
"#;

#[test]
fn opencode_sums_steps_and_ends_on_exit_or_done() {
    let mut t = turn("edit a.ts");
    t.session_id = Some("ses_abc".into());
    let spec = AgentCli::OpenCode.command(&t);
    assert_eq!(
        spec.args,
        ["run", "--format", "json", "--session", "ses_abc",]
    );
    // On stdin, as it is: `opencode run` would quote an argument with spaces.
    assert_eq!(spec.input.as_deref(), Some("edit a.ts"));
    assert!(spec.stdin);
    assert!(spec.env.iter().any(|(k, _)| k == "OPENCODE_CONFIG_CONTENT"));
    let events = run(&AgentCli::OpenCode, OPENCODE, ok());
    assert_eq!(session(&events), Some("ses_abc"));
    let u = usage(&events);
    assert_eq!(u.len(), 2);
    assert_eq!(u[0].output_tokens, 25, "reasoning is billed as output");
    assert_eq!(u[0].cost_usd, Some(0.002));
    assert_eq!(
        last(&events),
        &AgentEvent::Result {
            text: Some("Edited a.ts".into())
        }
    );
    // `done` in newer versions ends the turn before the exit.
    let with_done = format!("{OPENCODE}\n{{\"type\":\"done\",\"sessionID\":\"ses_abc\"}}");
    let events = run(&AgentCli::OpenCode, &with_done, ok());
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, AgentEvent::Result { .. }))
            .count(),
        1
    );
    let events = run(
        &AgentCli::OpenCode,
        r#"{"type":"error","sessionID":"s","error":{"name":"ProviderAuthError","data":{"message":"Unauthorized: invalid api key"}}}"#,
        failed(1, ""),
    );
    assert_eq!(fatal_class(&events), Some(ErrorClass::Auth));
}

#[test]
fn aider_is_a_text_agent_whose_turn_ends_at_exit() {
    let spec = AgentCli::Aider.command(&turn("add tests"));
    assert_eq!(spec.args[0..2], ["--message=add tests", "--yes-always"]);
    assert!(!AgentCli::Aider.resumes());
    let out = "Aider v0.86.1\nApplied edit to tests.py\nCommit 1a2b3c4 add tests\nTokens: 4.2k sent, 1.1k cache hit, 95 received. Cost: $0.02 message, $0.02 session.\n";
    let events = run(&AgentCli::Aider, out, ok());
    assert!(session(&events).is_none());
    assert_eq!(usage(&events)[0].input_tokens, 4200);
    assert!(
        matches!(last(&events), AgentEvent::Result { text: Some(t) } if t.contains("Commit 1a2b3c4"))
    );
    let events = run(
        &AgentCli::Aider,
        "litellm.RateLimitError: rate limit exceeded",
        failed(1, ""),
    );
    assert_eq!(fatal_class(&events), Some(ErrorClass::RateLimit));
}

#[test]
fn custom_agents_fill_their_template_and_map_fields() {
    let bot = AgentCli::Custom(Box::new(CustomAgent {
        name: "bot".into(),
        program: "bot".into(),
        args: vec![
            "run".into(),
            "--prompt={prompt}".into(),
            "--model".into(),
            "{model}".into(),
        ],
        resume_args: vec!["--session".into(), "{session_id}".into()],
        output: CustomOutput::Jsonl(Box::new(FieldMap {
            type_field: "/kind".into(),
            result_type: "done".into(),
            error_type: "fail".into(),
            session_field: "/session".into(),
            text_field: "/text".into(),
            error_field: "/why".into(),
            input_tokens_field: "/usage/in".into(),
            output_tokens_field: "/usage/out".into(),
            cost_field: "/usage/usd".into(),
        })),
    }));
    // No model, no session: the arguments that need them are left out.
    assert_eq!(
        bot.command(&turn("hi")).args,
        ["run", "--prompt=hi", "--model"]
    );
    let mut t = turn("again");
    t.session_id = Some("s9".into());
    t.model = Some("m1".into());
    assert_eq!(
        bot.command(&t).args,
        ["run", "--prompt=again", "--model", "m1", "--session", "s9"]
    );
    let events = run(
        &bot,
        r#"{"kind":"hello","session":"s9"}
{"kind":"say","text":"hi there"}
{"kind":"done","usage":{"in":5,"out":7,"usd":0.5}}"#,
        ok(),
    );
    assert_eq!(session(&events), Some("s9"));
    assert_eq!(usage(&events)[0].output_tokens, 7);
    assert_eq!(
        last(&events),
        &AgentEvent::Result {
            text: Some("hi there".into())
        }
    );
    let events = run(
        &bot,
        r#"{"kind":"fail","why":"network unreachable"}"#,
        failed(2, ""),
    );
    assert_eq!(fatal_class(&events), Some(ErrorClass::Network));

    let text_bot = AgentCli::Custom(Box::new(CustomAgent {
        name: "tb".into(),
        program: "tb".into(),
        args: vec![],
        resume_args: vec![],
        output: CustomOutput::Text,
    }));
    // Without `{prompt}` in the template the prompt is the last argument, after `--`.
    assert_eq!(text_bot.command(&turn("go")).args, ["--", "go"]);
    let events = run(&text_bot, "line one\nline two", ok());
    assert!(
        matches!(last(&events), AgentEvent::Result { text: Some(t) } if t == "line one\nline two")
    );
}

#[test]
fn interactive_turns_drop_the_headless_flags() {
    let mut t = turn("hello");
    t.interactive = true;
    for cli in [
        AgentCli::Claude,
        AgentCli::Codex,
        AgentCli::Gemini,
        AgentCli::OpenCode,
    ] {
        let spec = cli.command(&t);
        assert!(spec.pty);
        for headless in ["-p", "--output-format", "exec", "--json", "run"] {
            assert!(
                !spec.args.iter().any(|a| a == headless),
                "{cli:?}: {:?}",
                spec.args
            );
        }
    }
}

// ---- Output captured from the real CLIs (pinned in scripts/deps.sh) against the mock model ----

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn texts_of(events: &[AgentEvent]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

fn tool_failures(events: &[AgentEvent]) -> Vec<(String, String, bool, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::ToolFailed {
                tool,
                summary,
                denied,
                detail,
            } => Some((tool.clone(), summary.clone(), *denied, detail.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn claude_reports_a_denied_commit_once() {
    let events = run(
        &AgentCli::Claude,
        &fixture("claude-2.1-denied-commit.jsonl"),
        ok(),
    );
    let failures = tool_failures(&events);
    assert_eq!(failures.len(), 1, "{failures:?}");
    let (tool, summary, denied, detail) = &failures[0];
    assert_eq!(tool, "Bash");
    assert!(summary.starts_with("git add -A && git"), "{summary}");
    assert!(denied);
    assert!(detail.contains("require approval"), "{detail}");
    assert!(matches!(last(&events), AgentEvent::Result { .. }));
}

#[test]
fn claude_in_a_worktree_may_run_commands_and_a_cautious_one_may_not() {
    let mut t = turn("fix");
    let cautious = AgentCli::Claude.command(&t).args;
    assert!(
        !cautious.contains(&"--allowedTools".to_owned()),
        "{cautious:?}"
    );
    t.access = maestro_agents::adapters::Access::Commit {
        git_dirs: vec![PathBuf::from("/r/.git")],
    };
    let args = AgentCli::Claude.command(&t).args;
    let at = args.iter().position(|a| a == "--allowedTools").unwrap();
    assert_eq!(args[at + 1], "Bash");
    assert!(
        args.windows(2)
            .any(|w| w == ["--permission-mode", "acceptEdits"])
    );
    assert!(
        !AgentCli::Claude.command(&t).stdin,
        "claude waits 3 s for an open stdin"
    );
}

#[test]
fn a_read_only_turn_changes_nothing_in_every_cli_that_can_say_so() {
    let mut t = turn("what do you think?");
    t.access = maestro_agents::adapters::Access::ReadOnly;
    let has = |args: &[String], pair: [&str; 2]| args.windows(2).any(|w| w == pair);
    let claude = AgentCli::Claude.command(&t).args;
    assert!(has(&claude, ["--permission-mode", "plan"]), "{claude:?}");
    assert!(!claude.contains(&"--allowedTools".to_owned()));
    let codex = AgentCli::Codex.command(&t).args;
    assert!(has(&codex, ["--sandbox", "read-only"]), "{codex:?}");
    let gemini = AgentCli::Gemini.command(&t).args;
    assert!(has(&gemini, ["--approval-mode", "plan"]), "{gemini:?}");
    let aider = AgentCli::Aider.command(&t).args;
    assert!(aider.contains(&"--dry-run".to_owned()), "{aider:?}");
    let spec = AgentCli::OpenCode.command(&t);
    let (_, content) = spec
        .env
        .iter()
        .find(|(k, _)| k == "OPENCODE_CONFIG_CONTENT")
        .unwrap();
    let config: serde_json::Value = serde_json::from_str(content).unwrap();
    for tool in ["bash", "edit", "write", "patch"] {
        assert_eq!(config["permission"][tool], "deny", "{config}");
    }
}

#[test]
fn claude_asks_maestros_policy_what_it_would_ask_a_person() {
    use maestro_agents::adapters::ToolServer;
    let mut t = turn("fix");
    let server = ToolServer {
        name: "maestro".into(),
        program: PathBuf::from("/bin/maestro"),
        args: vec!["mcp".into()],
        env: Vec::new(),
        dir: PathBuf::from("/state/x.tools"),
        permission_tool: Some("permission".into()),
        unasked: vec!["Edit".into()],
    };
    t.tools = Some(server.clone());
    // Working in place (cautious): no permission tool, nothing more allowed than before.
    let cautious = AgentCli::Claude.command(&t).args;
    assert!(!cautious.contains(&"--permission-prompt-tool".to_owned()));
    t.access = maestro_agents::adapters::Access::Commit {
        git_dirs: vec![PathBuf::from("/r/.git")],
    };
    let args = AgentCli::Claude.command(&t).args;
    let at = args
        .iter()
        .position(|a| a == "--permission-prompt-tool")
        .unwrap();
    assert_eq!(args[at + 1], "mcp__maestro__permission");
    let allowed = args.iter().position(|a| a == "--allowedTools").unwrap();
    // `Bash` is the policy's to allow, command by command; what it allows whole is allowed.
    assert_eq!(args[allowed + 1..allowed + 3], ["Edit", "mcp__maestro"]);
    assert!(!args.contains(&"Bash".to_owned()), "{args:?}");
}

#[test]
fn codex_failed_commands_are_reported_with_their_exit_codes_and_git_dirs_are_writable() {
    let events = run(
        &AgentCli::Codex,
        &fixture("codex-0.171-failed-commands.jsonl"),
        ok(),
    );
    let failures = tool_failures(&events);
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert!(failures[0].1.starts_with("git add -A"), "{failures:?}");
    assert!(
        failures[0]
            .3
            .starts_with("exit code 128: fatal: Unable to create")
    );
    assert_eq!(failures[1].1, "ls /nonexistent");
    assert!(failures[1].3.starts_with("exit code 2"));
    // 4 requests of 1,000 tokens (400 cached each) and 50 out.
    let u = usage(&events);
    assert_eq!(
        (
            u[0].input_tokens,
            u[0].cache_read_tokens,
            u[0].output_tokens
        ),
        (2400, 1600, 200)
    );

    let mut t = turn("fix");
    t.access = maestro_agents::adapters::Access::Commit {
        git_dirs: vec![
            PathBuf::from("/r/.git/worktrees/a"),
            PathBuf::from("/r/.git/objects"),
        ],
    };
    let spec = AgentCli::Codex.command(&t);
    assert!(!spec.stdin, "codex exec reads an open stdin to its end");
    let added: Vec<&str> = spec
        .args
        .windows(2)
        .filter(|w| w[0] == "--add-dir")
        .map(|w| w[1].as_str())
        .collect();
    assert_eq!(added, ["/r/.git/worktrees/a", "/r/.git/objects"]);
    assert!(
        spec.args.last().unwrap() == "fix",
        "the prompt stays last: {:?}",
        spec.args
    );
}

#[test]
fn codex_session_totals_become_turn_usage() {
    let total = TurnUsage {
        input_tokens: 3600,
        output_tokens: 300,
        cache_read_tokens: 2400,
        ..TurnUsage::default()
    };
    let earlier = TurnUsage {
        input_tokens: 2400,
        output_tokens: 200,
        cache_read_tokens: 1600,
        ..TurnUsage::default()
    };
    let turn = total.since(&earlier);
    assert_eq!(
        (
            turn.input_tokens,
            turn.output_tokens,
            turn.cache_read_tokens
        ),
        (1200, 100, 800)
    );
    assert!(AgentCli::Codex.usage_is_cumulative());
    assert!(!AgentCli::Claude.usage_is_cumulative());
}

#[test]
fn gemini_joins_streamed_deltas_and_prices_each_model_it_used() {
    let events = run(
        &AgentCli::Gemini,
        &fixture("gemini-0.61-tools-and-deltas.jsonl"),
        ok(),
    );
    let texts = texts_of(&events);
    assert_eq!(texts, ["finished"]);
    assert!(
        events.iter().all(
            |e| !matches!(e, AgentEvent::SessionStarted { model: Some(m), .. } if m == "auto")
        ),
        "`auto` is not a model"
    );
    let mut models: Vec<(Option<&str>, u64)> = usage(&events)
        .iter()
        .map(|u| (u.model.as_deref(), u.input_tokens))
        .collect();
    models.sort();
    assert_eq!(
        models,
        [
            (Some("gemini-3.1-pro-preview"), 3000),
            (Some("gemini-3.5-flash-lite"), 1000)
        ]
    );
    // Streamed pieces make one line of the transcript, whatever their number.
    let pieces = r#"{"type":"init","session_id":"g","model":"auto"}
{"type":"message","role":"assistant","content":"Hel","delta":true}
{"type":"message","role":"assistant","content":"lo.","delta":true}
{"type":"tool_use","tool_name":"run_shell_command","tool_id":"t1","parameters":{"command":"false"}}
{"type":"tool_result","tool_id":"t1","status":"error","error":{"type":"execution_failed","message":"exit code 1"}}
{"type":"message","role":"assistant","content":"Done","delta":true}"#;
    let events = run(&AgentCli::Gemini, pieces, failed(1, "\x1b[31mboom\x1b[0m"));
    let texts = texts_of(&events);
    assert_eq!(texts, ["Hello.", "Done"]);
    assert_eq!(
        tool_failures(&events),
        [(
            "run_shell_command".to_owned(),
            "false".to_owned(),
            false,
            "exit code 1".to_owned()
        )]
    );
    match last(&events) {
        AgentEvent::Error { message, .. } => {
            assert!(
                message.ends_with(": boom"),
                "no terminal codes: {message:?}"
            )
        }
        other => panic!("{other:?}"),
    }
    let args = AgentCli::Gemini.command(&turn("fix")).args;
    assert!(args.contains(&"--skip-trust".to_owned()), "{args:?}");
}

#[test]
fn opencode_reads_a_real_turn() {
    let events = run(
        &AgentCli::OpenCode,
        &fixture("opencode-1.18-write-and-commit.jsonl"),
        ok(),
    );
    let tools: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::ToolUse { tool, .. } => Some(tool.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(tools, ["write", "bash"]);
    assert_eq!(usage(&events).len(), 3, "one report per step");
    assert!(tool_failures(&events).is_empty());
    // Its stdin holds the prompt and is closed after it (an open pipe would hang it).
    assert_eq!(
        AgentCli::OpenCode.command(&turn("x")).input.as_deref(),
        Some("x")
    );
    assert!(AgentCli::Aider.command(&turn("x")).stdin, "aider may ask");
}

#[test]
fn terminal_uis_say_how_to_resume_them() {
    let claude = "Goodbye!\n\nResume this session with:\nclaude --resume 3f2a9c1e-5b7d-4e0a-9c1b-2d3e4f5a6b7c\n";
    assert_eq!(
        AgentCli::Claude.resume_hint(claude).as_deref(),
        Some("3f2a9c1e-5b7d-4e0a-9c1b-2d3e4f5a6b7c")
    );
    let codex = "Token usage: total=10\nTo continue this session, run codex resume 019a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8\n";
    assert_eq!(
        AgentCli::Codex.resume_hint(codex).as_deref(),
        Some("019a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8")
    );
    assert_eq!(AgentCli::Claude.resume_hint("use --resume <id>"), None);
    assert_eq!(AgentCli::Aider.resume_hint(claude), None);
    // Codex names the thread after the id: the id is still the last one with digits.
    assert_eq!(
        AgentCli::Codex
            .resume_hint(
                "To continue this session, run:\n  codex resume 01a25143-935e-71a3-a13e-bf2cad71777d\n\
                 Or run codex resume and select Greet.\n"
            )
            .as_deref(),
        Some("01a25143-935e-71a3-a13e-bf2cad71777d")
    );
}

#[test]
fn claude_refusing_bypass_mode_as_root_says_what_to_do() {
    // What claude 2.1 prints when agents.claude.args asks for bypass mode as root.
    let events = run(
        &AgentCli::Claude,
        "",
        failed(
            1,
            "--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons",
        ),
    );
    match last(&events) {
        AgentEvent::Error { message, fatal, .. } => {
            assert!(*fatal);
            assert!(message.contains("IS_SANDBOX=1"), "{message}");
            assert!(message.contains("agents.claude.args"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

/// A prompt the CLI would take as an option, for each CLI: it must stay a value.
const FLAG_PROMPT: &str = "--dangerously-bypass-approvals-and-sandbox";

#[test]
fn prompts_never_become_options() {
    for cli in [
        AgentCli::Claude,
        AgentCli::Codex,
        AgentCli::Gemini,
        AgentCli::OpenCode,
        AgentCli::Aider,
    ] {
        for interactive in [false, true] {
            let mut t = turn(FLAG_PROMPT);
            t.interactive = interactive;
            t.session_id = Some("s-1".into());
            let spec = cli.command(&t);
            let args = &spec.args;
            if spec.input.as_deref() == Some(FLAG_PROMPT) {
                // On stdin: never an argument.
                assert!(!args.iter().any(|a| a.contains(FLAG_PROMPT)), "{args:?}");
                continue;
            }
            let safe = match args.iter().position(|a| a == FLAG_PROMPT) {
                // A bare prompt comes after `--`.
                Some(at) => args[..at].iter().any(|a| a == "--"),
                // Or it is the value of an option, in the same argument.
                None => {
                    args.iter()
                        .any(|a| a.starts_with("--") && a.ends_with(&format!("={FLAG_PROMPT}")))
                        || (interactive && matches!(cli, AgentCli::Aider))
                }
            };
            assert!(safe, "{cli:?} interactive={interactive}: {args:?}");
            assert_eq!(cli.problem(&t, &spec), None);
        }
    }
}

#[test]
fn prompts_longer_than_an_argument_go_on_stdin_or_are_refused() {
    let long = "x".repeat(200 * 1024);
    for cli in [AgentCli::Claude, AgentCli::Codex, AgentCli::OpenCode] {
        let t = turn(&long);
        let spec = cli.command(&t);
        assert_eq!(spec.input.as_deref(), Some(long.as_str()), "{cli:?}");
        assert!(spec.stdin);
        assert!(
            spec.args.iter().all(|a| a.len() < 1024),
            "{cli:?}: {:?}",
            spec.args.len()
        );
        assert_eq!(cli.problem(&t, &spec), None);
    }
    assert_eq!(
        AgentCli::Codex
            .command(&turn(&long))
            .args
            .last()
            .map(String::as_str),
        Some("-"),
        "codex exec reads `-` from stdin"
    );
    for cli in [AgentCli::Gemini, AgentCli::Aider] {
        let t = turn(&long);
        let spec = cli.command(&t);
        let problem = cli.problem(&t, &spec).unwrap_or_default();
        assert!(
            problem.contains("too long") && problem.contains("200 KiB"),
            "{cli:?}: {problem}"
        );
    }
    // A prompt that fits stays an argument.
    assert_eq!(AgentCli::Claude.command(&turn("short")).input, None);
}

#[test]
fn custom_templates_keep_prompts_whole_and_values_out_of_options() {
    let agent = |args: &[&str]| {
        AgentCli::Custom(Box::new(CustomAgent {
            name: "bot".into(),
            program: "bot".into(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            resume_args: vec![],
            output: CustomOutput::Text,
        }))
    };
    // A prompt naming a placeholder is not filled in again (nor dropped for a missing model).
    let bare = agent(&["run", "{prompt}"]);
    assert_eq!(
        bare.command(&turn("use {model} and {x}")).args,
        ["run", "use {model} and {x}"]
    );
    // A bare `{prompt}` and a prompt that starts with `-`: refused, saying how to fix it.
    let t = turn(FLAG_PROMPT);
    let problem = bare.problem(&t, &bare.command(&t)).unwrap_or_default();
    assert!(problem.contains("agents.custom.bot.args"), "{problem}");
    for fine in [
        agent(&["run", "--", "{prompt}"]),
        agent(&["--prompt={prompt}"]),
        agent(&[]),
    ] {
        assert_eq!(fine.problem(&t, &fine.command(&t)), None);
    }
}

#[test]
fn maestros_tools_reach_each_cli_for_this_run_only_with_their_token_kept_whole() {
    use maestro_agents::adapters::ToolServer;
    let mut t = turn("go");
    t.tools = Some(ToolServer {
        name: "maestro".into(),
        program: PathBuf::from("/opt/my \"tools\"/maestro"),
        args: vec!["mcp".into()],
        env: vec![("MAESTRO_AGENT_TOKEN".into(), "ab:agent:w/x \\ y".into())],
        dir: PathBuf::from("/state/agent.tools"),
        permission_tool: None,
        unasked: Vec::new(),
    });
    // Claude: a JSON `--mcp-config` and the server's tools allowed; the prompt stays last.
    let claude = AgentCli::Claude.command(&t).args;
    let at = claude.iter().position(|a| a == "--mcp-config").unwrap();
    let config: serde_json::Value = serde_json::from_str(&claude[at + 1]).unwrap();
    let server = &config["mcpServers"]["maestro"];
    assert_eq!(server["command"], "/opt/my \"tools\"/maestro");
    assert_eq!(server["args"], serde_json::json!(["mcp"]));
    assert_eq!(server["env"]["MAESTRO_AGENT_TOKEN"], "ab:agent:w/x \\ y");
    // A permission prompt may wait for a person: a day, not Claude's default.
    assert_eq!(server["timeout"], 86_400_000);
    let allowed = claude.iter().position(|a| a == "--allowedTools").unwrap();
    assert_eq!(claude[allowed + 1], "mcp__maestro");
    assert_eq!(&claude[claude.len() - 2..], ["--", "go"]);
    // Codex: `-c` overrides whose values are TOML that reads back as given.
    let codex = AgentCli::Codex.command(&t).args;
    let overrides: Vec<&String> = codex
        .iter()
        .zip(codex.iter().skip(1))
        .filter(|(flag, _)| *flag == "-c")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(overrides.len(), 4, "{codex:?}");
    let doc: String = overrides
        .iter()
        .map(|o| format!("{}\n", o.strip_prefix("mcp_servers.maestro.").unwrap()))
        .collect();
    let parsed: toml::Table = toml::from_str(&doc).unwrap();
    assert_eq!(
        parsed["command"].as_str(),
        Some("/opt/my \"tools\"/maestro")
    );
    assert_eq!(
        parsed["env"]["MAESTRO_AGENT_TOKEN"].as_str(),
        Some("ab:agent:w/x \\ y")
    );
    assert_eq!(
        parsed["default_tools_approval_mode"].as_str(),
        Some("approve")
    );
    assert_eq!(&codex[codex.len() - 2..], ["--", "go"]);
    // OpenCode: in the configuration content of this run, beside its permissions.
    let spec = AgentCli::OpenCode.command(&t);
    let (_, content) = spec
        .env
        .iter()
        .find(|(k, _)| k == "OPENCODE_CONFIG_CONTENT")
        .unwrap();
    let config: serde_json::Value = serde_json::from_str(content).unwrap();
    assert_eq!(
        config["mcp"]["maestro"]["command"],
        serde_json::json!(["/opt/my \"tools\"/maestro", "mcp"])
    );
    assert_eq!(config["permission"]["bash"], "deny");
    // Gemini: a home of its own for the run, whose settings add the server to the user's.
    let spec = AgentCli::Gemini.command(&t);
    let (_, home) = spec
        .env
        .iter()
        .find(|(k, _)| k == "GEMINI_CLI_HOME")
        .unwrap();
    assert_eq!(home, "/state/agent.tools/gemini-home");
    let settings = spec
        .prepare
        .iter()
        .find_map(|p| match p {
            maestro_agents::process::Prepare::File { path, text }
                if path.ends_with(".gemini/settings.json") =>
            {
                Some(serde_json::from_str::<serde_json::Value>(text).unwrap())
            }
            _ => None,
        })
        .unwrap();
    let server = &settings["mcpServers"]["maestro"];
    assert_eq!(server["command"], "/opt/my \"tools\"/maestro");
    assert_eq!(server["trust"], true);
    // In their terminal UIs too.
    t.interactive = true;
    let claude = AgentCli::Claude.command(&t).args;
    assert!(claude.contains(&"--mcp-config".to_owned()), "{claude:?}");
    assert!(claude.contains(&"mcp__maestro".to_owned()), "{claude:?}");
    let codex = AgentCli::Codex.command(&t).args;
    assert_eq!(codex.iter().filter(|a| *a == "-c").count(), 4, "{codex:?}");
    let opencode = AgentCli::OpenCode.command(&t);
    let (_, content) = opencode
        .env
        .iter()
        .find(|(k, _)| k == "OPENCODE_CONFIG_CONTENT")
        .unwrap();
    assert!(
        content.contains("\"mcp\"") && !content.contains("permission"),
        "{content}"
    );
    t.interactive = false;
    // Without tools, nothing is added.
    t.tools = None;
    assert!(
        !AgentCli::Claude
            .command(&t)
            .args
            .contains(&"--mcp-config".to_owned())
    );
    assert!(!AgentCli::Codex.command(&t).args.contains(&"-c".to_owned()));
    assert!(AgentCli::Gemini.command(&t).prepare.is_empty());
}
