//! Bad input on the daemon socket and on `maestro lsp`'s stdin: each answered with the proper
//! JSON-RPC error, and the server keeps serving.

use maestro_tests::{Rpc, TestEnv, frame};
use serde_json::{Value, json};

const STATUS: &[u8] = br#"{"jsonrpc":"2.0","id":77,"method":"maestro/status"}"#;

/// Sends `bad`, expects a null-id error with `code` (and `needle` in its message), then checks that a
/// good request right behind it is answered.
fn refused_then_served(rpc: &mut Rpc, bad: &[u8], code: i64, needle: &str) {
    let mut bytes = bad.to_vec();
    bytes.extend(frame(STATUS));
    rpc.send_raw(&bytes);
    let ok = rpc.response(77);
    assert!(
        ok.get("result").is_some(),
        "the good request behind it: {ok}"
    );
    // Messages are answered in order, so every error the bad bytes caused came before.
    let errors = rpc.take_kept(|m| m["id"].is_null() && m.get("error").is_some());
    assert!(
        errors.iter().any(|e| e["error"]["code"] == code
            && e["error"]["message"].as_str().unwrap().contains(needle)),
        "no error {code} with {needle:?} in {errors:?}"
    );
}

/// The cases both servers must answer the same way.
fn framing_cases(rpc: &mut Rpc) {
    let good = STATUS;
    // Content-Length too short: the cut body does not parse, the rest is skipped.
    let mut short = b"Content-Length: 10\r\n\r\n".to_vec();
    short.extend_from_slice(br#"{"jsonrpc":"2.0","id":1,"method":"maestro/status"}"#);
    refused_then_served(rpc, &short, -32700, "parse error");
    // Content-Length too long: the body swallows the next frame's header, which is given back.
    let mut long = format!("Content-Length: {}\r\n\r\n", good.len() + 25).into_bytes();
    long.extend_from_slice(br#"{"jsonrpc":"2.0","id":1,"method":"x"}"#);
    refused_then_served(rpc, &long, -32700, "parse error");
    // Not a number.
    refused_then_served(
        rpc,
        b"Content-Length: many\r\n\r\n",
        -32700,
        "Content-Length \"many\" is not a byte count",
    );
    // No Content-Length at all.
    refused_then_served(
        rpc,
        b"Content-Type: application/json\r\n\r\n",
        -32700,
        "without Content-Length",
    );
    // Garbage between frames.
    refused_then_served(rpc, b"hello?\r\n", -32700, "skipped 8 bytes");
    // Invalid JSON, valid JSON that is not a message.
    refused_then_served(
        rpc,
        &frame(br#"{"jsonrpc":"2.0","id":5,"method":"#),
        -32700,
        "parse error",
    );
    refused_then_served(rpc, &frame(b"[1,2,3]"), -32600, "batches are not supported");
    refused_then_served(rpc, &frame(b"17"), -32600, "expected a JSON object");
    // A frame over the limit (1 MiB in these tests' config) is refused before its body arrives and skipped.
    let mut huge = format!("Content-Length: {}\r\n\r\n", 3 << 20).into_bytes();
    huge.extend(std::iter::repeat_n(b'x', 3 << 20));
    refused_then_served(rpc, &huge, -32600, "exceeds the limit of 1048576 bytes");
}

#[test]
fn the_daemon_socket_answers_bad_input_and_keeps_serving() {
    let env = TestEnv::with_config(
        "[daemon]\nidle_timeout_secs = 60\n[rpc]\nmax_frame_bytes = 1048576\n",
    );
    env.ok(env.home.path(), &["daemon", "start"]);
    let mut rpc = env.connect();

    // A request before hello, then hello.
    let r = rpc.request("maestro/status", Value::Null);
    assert_eq!(r["error"]["code"], -32002);
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("send maestro/hello first"),
        "{r}"
    );
    let r = rpc.request(
        "maestro/hello",
        json!({"protocolVersion": 1, "client": {"name": "bad", "kind": "other"}}),
    );
    assert!(r.get("result").is_some(), "{r}");

    framing_cases(&mut rpc);

    // Unknown method and wrong params keep their id.
    let r = rpc.request("maestro/frobnicate", json!({}));
    assert_eq!(r["error"]["code"], -32601);
    assert_eq!(
        r["error"]["message"],
        "method not found: maestro/frobnicate"
    );
    let r = rpc.request(
        "maestro/workspace.open",
        json!({"path": ["not", "a", "path"]}),
    );
    assert_eq!(r["error"]["code"], -32602);
    assert!(
        r["error"]["message"].as_str().unwrap().contains("`path`"),
        "{r}"
    );
    let r = rpc.request("maestro/workspace.open", json!({}));
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("missing field `path`"),
        "{r}"
    );
    let r = rpc.request(
        "maestro/document.text",
        json!({"uri": "file:///never/opened"}),
    );
    assert_eq!(r["error"]["code"], -32091);
    // Malformed notifications get no answer but do no harm.
    rpc.notify("maestro/document.change", json!({"uri": 3}));

    // This connection and a new one still work.
    assert!(
        rpc.request("maestro/status", json!({}))
            .get("result")
            .is_some()
    );
    let mut other = env.connect_hello();
    assert!(
        other
            .request("maestro/status", json!({}))
            .get("result")
            .is_some()
    );
}

#[test]
fn the_lsp_stdin_answers_bad_input_and_keeps_serving() {
    let env = TestEnv::with_config(
        "[daemon]\nidle_timeout_secs = 60\n[rpc]\nmax_frame_bytes = 1048576\n",
    );
    let repo = env.git_repo("bad-lsp");
    let mut lsp = env.lsp(&repo, &[]);
    lsp.initialize(&repo, false, false);
    framing_cases(&mut lsp.rpc);
    let r = lsp.rpc.request("textDocument/frobnicate", json!({}));
    assert_eq!(r["error"]["code"], -32601, "{r}");
    let r = lsp.rpc.request("maestro/document.text", json!({"uri": 5}));
    assert_eq!(r["error"]["code"], -32602, "{r}");
    assert!(
        r["error"]["message"].as_str().unwrap().contains("`uri`"),
        "{r}"
    );
    lsp.rpc.notify(
        "textDocument/didChange",
        json!({"textDocument": "nonsense"}),
    );
    assert_eq!(lsp.shutdown_and_exit(), 0);
}
