//! Messages, printed: envelopes signed and verified per second (one core), the canonical form's
//! size; then signed, verified and stored in a store on disk: each before the next, 100 per
//! transaction, and by 8 senders at once (sharing transactions); and read
//! back (verified again) from an inbox. Delivery and `maestro mcp` figures: `--bench messages`.
//!
//!     cargo bench -p maestro-tests --bench comms

use maestro_comms::{Envelope, Keyring, Kind, Mailboxes, Priority, Verifier};
use std::time::Instant;

const N: usize = 20_000;

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keyring::open(dir.path()).unwrap();
    let public = keys.public("alice").unwrap();
    let envelope = |i: usize| Envelope {
        version: maestro_comms::envelope::VERSION,
        id: format!("m-{i}"),
        from: "agent:ws1/alice".into(),
        to: "agent:ws1/bob".into(),
        subject: format!("question {i}"),
        priority: Priority::Normal,
        kind: Kind::Request,
        thread_id: Some("t-1".into()),
        in_reply_to: None,
        created_at: 1_765_000_000_000 + i as u64,
        expires_at: None,
        payload: serde_json::json!({"text": "Which test covers the parser's error path? ".repeat(8)}),
    };
    let started = Instant::now();
    let signed: Vec<_> = (0..N)
        .map(|i| keys.sign("alice", envelope(i)).unwrap())
        .collect();
    let sign = started.elapsed();
    let mut verifier = Verifier::default();
    let started = Instant::now();
    for s in &signed {
        verifier.accept(s, &public, 1_765_000_000_000).unwrap();
    }
    let verify = started.elapsed();
    let per_s = |d: std::time::Duration| N as f64 / d.as_secs_f64();
    println!(
        "== messages ({N}, {} bytes canonical each)",
        signed[0].envelope.canonical().len()
    );
    println!(
        "{:<44} {:>9.0}/s",
        "checked + canonical form + signed",
        per_s(sign)
    );
    println!(
        "{:<44} {:>9.0}/s",
        "checked + signature verified + replay set",
        per_s(verify)
    );
    println!(
        "{:<44} {:>9.0}/s",
        "both, one after the other",
        per_s(sign + verify)
    );

    const STORED: usize = 5_000;
    let store = maestro_store::Store::open(&dir.path().join("maestro.db")).unwrap();
    let mailboxes = Mailboxes::open(store, &dir.path().join("keys"), 1_765_000_000_000).unwrap();
    let started = Instant::now();
    for i in 0..STORED {
        mailboxes.send(envelope(N + i), 1_765_000_000_000).unwrap();
    }
    let stored = started.elapsed();
    // A backlog or a message to many: 100 envelopes per transaction.
    let started = Instant::now();
    for batch in 0..STORED / 100 {
        let envelopes = (0..100)
            .map(|i| envelope(N + STORED + batch * 100 + i))
            .collect();
        mailboxes.send_all(envelopes, 1_765_000_000_000).unwrap();
    }
    let batched = started.elapsed();
    // Senders at once (agents and the person): they share transactions.
    const SENDERS: usize = 8;
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..SENDERS {
            let (mailboxes, envelope) = (&mailboxes, &envelope);
            s.spawn(move || {
                for i in 0..STORED / SENDERS {
                    let at = N + 2 * STORED + t * (STORED / SENDERS) + i;
                    mailboxes.send(envelope(at), 1_765_000_000_000).unwrap();
                }
            });
        }
    });
    let together = started.elapsed();
    let started = Instant::now();
    let inbox = mailboxes
        .inbox("agent:ws1/bob", false, 1_765_000_000_000)
        .unwrap();
    let read = started.elapsed();
    assert_eq!(inbox.len(), 3 * STORED);
    println!(
        "{:<44} {:>9.0}/s   (goal: ≥ 5,000/s)",
        format!("signed + verified + stored, {STORED} in turn"),
        STORED as f64 / stored.as_secs_f64()
    );
    println!(
        "{:<44} {:>9.0}/s",
        "the same, 100 per transaction",
        STORED as f64 / batched.as_secs_f64()
    );
    println!(
        "{:<44} {:>9.0}/s   (goal: ≥ 5,000/s)",
        format!("signed + verified + stored, {SENDERS} senders at once"),
        STORED as f64 / together.as_secs_f64()
    );
    println!(
        "{:<44} {:>9.0}/s   ({:.0} ms for an inbox of {})",
        "read back from an inbox, verified again",
        3.0 * STORED as f64 / read.as_secs_f64(),
        read.as_secs_f64() * 1e3,
        3 * STORED
    );
}
