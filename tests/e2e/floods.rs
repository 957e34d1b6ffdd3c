//! Floods and adversarial framing on the daemon socket: memory stays bounded while they last and
//! returns when the client goes, and the daemon keeps serving everyone else.

use maestro_tests::flood::{
    MIB, hello, partial_frame, settled_rss, stalled_clients, unread_requests, write_until_stalled,
};
use maestro_tests::{Rng, TestEnv, frame, wait_until};
use serde_json::json;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// A status request answered on a fresh connection within a few seconds.
fn serves(env: &TestEnv) {
    let mut rpc = env.connect_hello();
    let started = Instant::now();
    let r = rpc.request("maestro/status", json!({}));
    assert!(r.get("result").is_some(), "{r}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "status took {:?}",
        started.elapsed()
    );
}

#[test]
fn unread_replies_and_partial_frames_hold_bounded_memory() {
    let env = TestEnv::with_config("[daemon]\nidle_timeout_secs = 120\n");
    env.ok(env.home.path(), &["daemon", "start"]);
    let pid = env.daemon_pid().expect("daemon pid");
    serves(&env);
    let base = settled_rss(pid);

    // 100k requests whose replies are never read: the daemon stops reading once its replies wait
    // unwritten, so the writes stall instead of the daemon growing.
    let flood = unread_requests(100_000);
    let mut stream = UnixStream::connect(env.socket()).unwrap();
    let sent = write_until_stalled(&mut stream, &flood, Duration::from_secs(3));
    let during_replies = settled_rss(pid);
    eprintln!("unread replies: RSS {} MiB during", during_replies / MIB);
    serves(&env);
    drop(stream);
    let after_replies = settled_rss(pid);
    eprintln!(
        "unread replies: {} of {} bytes taken; RSS {} MiB before, {} MiB during, {} MiB after",
        sent,
        flood.len(),
        base / MIB,
        during_replies / MIB,
        after_replies / MIB
    );
    assert!(
        sent < flood.len(),
        "the daemon read 100k requests whose replies nobody read"
    );
    assert!(
        during_replies < base + 64 * MIB,
        "RSS {during_replies} KiB during the flood, {base} KiB before"
    );
    assert!(
        after_replies < base + 32 * MIB,
        "RSS {after_replies} KiB after the client went, {base} KiB before"
    );

    // Ten connections each stop in the middle of a 60 MB frame.
    let partial = partial_frame(60_000_000, 59_000_000);
    let streams = stalled_clients(&env.socket(), &partial, 10);
    let during_partial = settled_rss(pid);
    eprintln!(
        "ten partial 60 MB frames: RSS {} MiB during",
        during_partial / MIB
    );
    serves(&env);
    drop(streams);
    let after_partial = settled_rss(pid);
    eprintln!(
        "ten partial 60 MB frames: RSS {} MiB during, {} MiB after",
        during_partial / MIB,
        after_partial / MIB
    );
    assert!(
        during_partial < base + 200 * MIB,
        "RSS {during_partial} KiB with ten partial frames, {base} KiB before"
    );
    assert!(
        after_partial < base + 32 * MIB,
        "RSS {after_partial} KiB after they went, {base} KiB before"
    );
}

/// Random and adversarial bytes: headers cut anywhere, wrong and huge lengths, binary bodies,
/// frames split across writes. The daemon answers what it can, never grows without bound, and
/// answers a good request on the same connection afterwards.
#[test]
fn random_and_adversarial_frames_leave_the_daemon_serving_in_bounded_memory() {
    let env = TestEnv::with_config(
        "[daemon]\nidle_timeout_secs = 120\n[rpc]\nmax_frame_bytes = 1048576\n",
    );
    env.ok(env.home.path(), &["daemon", "start"]);
    let pid = env.daemon_pid().expect("daemon pid");
    serves(&env);
    let base = settled_rss(pid);

    let mut rng = Rng(0x5eed_f00d);
    for round in 0..40 {
        let mut stream = UnixStream::connect(env.socket()).unwrap();
        let mut bytes = hello();
        bytes.extend(adversarial_bytes(&mut rng));
        // Written in random pieces, without reading a single reply.
        stream
            .set_write_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        write_in_pieces(&mut stream, &bytes, &mut rng);
        if round % 8 == 7 {
            serves(&env);
        }
    }
    serves(&env);
    let after = settled_rss(pid);
    eprintln!(
        "adversarial frames: RSS {} MiB before, {} MiB after",
        base / MIB,
        after / MIB
    );
    assert!(
        after < base + 48 * MIB,
        "RSS {after} KiB after 40 adversarial connections, {base} KiB before"
    );
    wait_until(
        "the daemon to still be alive",
        Duration::from_secs(1),
        || env.daemon_pid() == Some(pid),
    );
}

/// Random bytes, frames with wrong lengths and pieces of headers and bodies, in random order.
fn adversarial_bytes(rng: &mut Rng) -> Vec<u8> {
    let pieces: &[&[u8]] = &[
        b"Content-Length: ",
        b"content-length:",
        b"Content-Type: application/vscode-jsonrpc\r\n",
        b"\r\n",
        b"\n",
        b"\r\n\r\n",
        b"{\"jsonrpc\":\"2.0\",\"id\":",
        b"\"method\":\"maestro/status\"}",
        b"{\"jsonrpc\":\"2.0\",\"method\":\"maestro/document.change\",\"params\":{\"uri\":3}}",
        b"[1,2]",
        b"null",
        b"\xff\xfe\x00",
        b"Content-Length: 99999999999999999999\r\n\r\n",
        b"Content-Length: 2000000\r\n\r\n",
        b"Content-Length: -1\r\n\r\n",
        b"X-Junk: yes\r\n",
    ];
    let mut bytes = Vec::new();
    for _ in 0..(200 + rng.below(400)) {
        match rng.below(4) {
            0 => {
                let n = 1 + rng.below(300);
                bytes.extend((0..n).map(|_| rng.next_u64() as u8));
            }
            1 => {
                let body =
                    json!({"jsonrpc": "2.0", "id": rng.below(1000), "method": "maestro/status"});
                let mut f = frame(body.to_string().as_bytes());
                // A wrong length now and then.
                if rng.below(4) == 0 {
                    let cut = rng.below(f.len());
                    f.truncate(cut);
                }
                bytes.extend(f);
            }
            _ => bytes.extend_from_slice(pieces[rng.below(pieces.len())]),
        }
    }
    bytes
}

/// Writes `bytes` in random pieces; stops at the first failed write.
fn write_in_pieces(out: &mut impl Write, bytes: &[u8], rng: &mut Rng) {
    let mut sent = 0;
    while sent < bytes.len() {
        let n = (1 + rng.below(4096)).min(bytes.len() - sent);
        if out.write_all(&bytes[sent..sent + n]).is_err() {
            return;
        }
        sent += n;
    }
}

/// The same on `maestro lsp`'s stdin, after `initialize`: it keeps answering, within bounded
/// memory, and the daemon behind it too.
#[test]
fn random_and_adversarial_frames_on_the_lsp_stdin_leave_it_serving_in_bounded_memory() {
    let env = TestEnv::with_config(
        "[daemon]\nidle_timeout_secs = 120\n[rpc]\nmax_frame_bytes = 1048576\n",
    );
    let repo = env.git_repo("fuzzed");
    let mut lsp = env.lsp(&repo, &[]);
    lsp.initialize(&repo, false, false);
    let r = lsp.rpc.request("maestro/status", json!({}));
    assert!(r.get("result").is_some(), "{r}");
    let front = lsp.child.id();
    let base = settled_rss(front);
    let mut rng = Rng(0xf00d_5eed);
    for round in 0..12 {
        let bytes = adversarial_bytes(&mut rng);
        let mut sent = 0;
        while sent < bytes.len() {
            let n = (1 + rng.below(4096)).min(bytes.len() - sent);
            lsp.rpc.send_raw(&bytes[sent..sent + n]);
            sent += n;
        }
        // Whatever the noise left half-read (a body it declared, up to the 2 MB one skipped as
        // too large), blank lines complete it; then a whole frame is read as one.
        lsp.rpc.send_raw(&vec![b'\n'; 2_100_000]);
        let id = 10_000 + round;
        lsp.rpc.send_raw(&frame(
            json!({"jsonrpc": "2.0", "id": id, "method": "maestro/status"})
                .to_string()
                .as_bytes(),
        ));
        let answered = lsp.rpc.wait_for("the good request behind the noise", |m| {
            m["id"] == id && m.get("method").is_none()
        });
        assert!(answered.get("result").is_some(), "{answered}");
    }
    let after = settled_rss(front);
    eprintln!(
        "adversarial frames on lsp stdin: RSS {} MiB before, {} MiB after",
        base / MIB,
        after / MIB
    );
    assert!(
        after < base + 48 * MIB,
        "RSS {after} KiB after the noise, {base} KiB before"
    );
    assert_eq!(lsp.shutdown_and_exit(), 0);
}

/// Symbol-dense buffers over LSP: a 12 MB one is kept but not parsed (the code graph says why),
/// a 512 KB one of non-ASCII one-line definitions answers in bounded time and size, and the
/// daemon's memory comes back when they close (the 50 MB and 1 MB figures are the hardening
/// benchmark's).
#[test]
fn symbol_dense_buffers_are_bounded_in_time_and_memory() {
    let env = TestEnv::with_config("[daemon]\nidle_timeout_secs = 120\n");
    let repo = env.git_repo("dense");
    let mut lsp = env.lsp(&repo, &[]);
    lsp.initialize(&repo, false, false);
    serves(&env);
    let pid = env.daemon_pid().expect("daemon pid");
    let base = settled_rss(pid);

    let huge_uri = maestro_tests::file_uri(&repo.join("huge.py"));
    let started = Instant::now();
    lsp.rpc.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": huge_uri, "languageId": "python", "version": 1,
               "text": "x = 1\n".repeat(12 << 20 >> 3)}}),
    );
    let r = lsp.rpc.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": huge_uri}}),
    );
    let huge_answer = started.elapsed();
    let message = r["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("over index.max_file_bytes"),
        "a 12 MB buffer: {r}"
    );
    let with_huge = settled_rss(pid);

    // One-line definitions with a non-ASCII name on every line, positions in UTF-16: every
    // column is converted, each from its own line.
    let dense_uri = maestro_tests::file_uri(&repo.join("dense.py"));
    let lines = 512 << 10 >> 3;
    lsp.rpc.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": dense_uri, "languageId": "python", "version": 1,
               "text": "é = 1\n".repeat(lines)}}),
    );
    let started = Instant::now();
    let r = lsp.rpc.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": dense_uri}}),
    );
    let symbols_answer = started.elapsed();
    let symbols = r["result"].as_array().unwrap_or_else(|| panic!("{r}"));
    assert_eq!(symbols.len(), 20_000, "capped at the reply limit");
    assert_eq!(symbols[19_999]["range"]["start"]["line"], 19_999);
    let started = Instant::now();
    let r = lsp.rpc.request(
        "textDocument/references",
        json!({"textDocument": {"uri": dense_uri}, "position": {"line": 5, "character": 0},
               "context": {"includeDeclaration": true}}),
    );
    let references_answer = started.elapsed();
    let found = r["result"].as_array().unwrap_or_else(|| panic!("{r}"));
    assert!(
        !found.is_empty() && found.len() <= 20_000,
        "{} references",
        found.len()
    );
    let with_dense = settled_rss(pid);

    for uri in [&huge_uri, &dense_uri] {
        lsp.rpc.notify(
            "textDocument/didClose",
            json!({"textDocument": {"uri": uri}}),
        );
    }
    serves(&env);
    let after = settled_rss(pid);
    eprintln!(
        "dense buffers: 12 MB buffer refused in {huge_answer:?}; {lines} non-ASCII definitions: \
         symbols in {symbols_answer:?}, references in {references_answer:?}; RSS {} MiB before, \
         {} MiB with the 12 MB buffer, {} MiB with both, {} MiB after closing",
        base / MIB,
        with_huge / MIB,
        with_dense / MIB,
        after / MIB
    );
    assert!(
        with_huge < base + 128 * MIB,
        "RSS {with_huge} KiB with a 12 MB buffer open, {base} KiB before"
    );
    assert!(
        with_dense < base + 400 * MIB,
        "RSS {with_dense} KiB with both open, {base} KiB before"
    );
    assert!(
        after < base + 96 * MIB,
        "RSS {after} KiB after closing them, {base} KiB before"
    );
    assert_eq!(lsp.shutdown_and_exit(), 0);
}
