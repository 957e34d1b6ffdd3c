//! Ed25519 keys, one per owner (an agent, or the person), in files of their own: created 0600 and
//! exclusively (two processes never make two keys for one owner), read back as they are. The secret
//! half never leaves this module: it signs, and it gives out the public half.

use crate::envelope::{Envelope, Malformed};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// A signed envelope, as stored and sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Signed {
    pub envelope: Envelope,
    /// Hex of the 64-byte signature over [`Envelope::canonical`].
    pub signature: String,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("owner `{0}` cannot name a key file (letters, digits, `-`, `_`, `.` only)")]
    BadOwner(String),
    #[error("the key of `{owner}` at {path}: {problem}")]
    File {
        owner: String,
        path: PathBuf,
        problem: String,
    },
    #[error(transparent)]
    Malformed(#[from] Malformed),
    #[error("no randomness from the system: {0}")]
    Random(String),
}

/// The keys of one maestro home (read once per owner, then kept in memory).
pub struct Keyring {
    dir: PathBuf,
    loaded: std::sync::Mutex<std::collections::HashMap<String, SigningKey>>,
    /// Keys other nodes of the mesh published, by owner (`<owner>.peers`: node and key, hex).
    peers: std::sync::Mutex<std::collections::HashMap<String, Vec<(String, String)>>>,
}

impl Keyring {
    /// Keys under `dir` (made 0700 when missing).
    pub fn open(dir: &Path) -> Result<Keyring, KeyError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| KeyError::File {
                owner: String::new(),
                path: dir.to_owned(),
                problem: e.to_string(),
            })?;
        Ok(Keyring {
            dir: dir.to_owned(),
            loaded: Default::default(),
            peers: Default::default(),
        })
    }

    fn path(&self, owner: &str) -> Result<PathBuf, KeyError> {
        let plain = !owner.is_empty()
            && owner.len() <= 200
            && !owner.starts_with('.')
            && owner
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !plain {
            return Err(KeyError::BadOwner(owner.to_owned()));
        }
        Ok(self.dir.join(format!("{owner}.ed25519")))
    }

    /// `owner`'s key, made the first time it is asked for.
    fn key(&self, owner: &str) -> Result<SigningKey, KeyError> {
        if let Some(k) = self.loaded.lock().unwrap().get(owner) {
            return Ok(k.clone());
        }
        let key = self.read_or_make(owner)?;
        self.loaded
            .lock()
            .unwrap()
            .insert(owner.to_owned(), key.clone());
        Ok(key)
    }

    fn read_or_make(&self, owner: &str) -> Result<SigningKey, KeyError> {
        let path = self.path(owner)?;
        let failed = |problem: String| KeyError::File {
            owner: owner.to_owned(),
            path: path.clone(),
            problem,
        };
        match std::fs::read(&path) {
            Ok(bytes) => {
                let secret: [u8; 32] = bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| failed(format!("{} bytes, not 32: damaged", bytes.len())))?;
                Ok(SigningKey::from_bytes(&secret))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut secret = [0u8; 32];
                getrandom::getrandom(&mut secret).map_err(|e| KeyError::Random(e.to_string()))?;
                // Written whole under a name of its own, then linked into place: the key file
                // never exists half written (a reader, or a crash, would find it "damaged").
                let mut nonce = [0u8; 8];
                getrandom::getrandom(&mut nonce).map_err(|e| KeyError::Random(e.to_string()))?;
                let tmp = self.dir.join(format!(".{owner}.{}.new", hex(&nonce)));
                let written = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&tmp)
                    .and_then(|mut f| f.write_all(&secret).and_then(|()| f.sync_all()));
                let linked = written.and_then(|()| std::fs::hard_link(&tmp, &path));
                let _ = std::fs::remove_file(&tmp);
                match linked {
                    Ok(()) => Ok(SigningKey::from_bytes(&secret)),
                    // Made by another process meanwhile: that one is the key.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        self.read_or_make(owner)
                    }
                    Err(e) => Err(failed(e.to_string())),
                }
            }
            Err(e) => Err(failed(e.to_string())),
        }
    }

    /// `owner`'s secret key, for an archive that carries it sealed (`agent export --with-key`):
    /// the only way the secret half leaves the keyring.
    pub fn secret_for_export(&self, owner: &str) -> Result<[u8; 32], KeyError> {
        Ok(self.key(owner)?.to_bytes())
    }

    /// Makes `secret` `owner`'s key (an agent imported with its key), replacing the one it had.
    pub fn install(&self, owner: &str, secret: &[u8]) -> Result<(), KeyError> {
        let path = self.path(owner)?;
        let failed = |problem: String| KeyError::File {
            owner: owner.to_owned(),
            path: path.clone(),
            problem,
        };
        let secret: [u8; 32] = secret
            .try_into()
            .map_err(|_| failed(format!("{} bytes, not 32", secret.len())))?;
        let mut nonce = [0u8; 8];
        getrandom::getrandom(&mut nonce).map_err(|e| KeyError::Random(e.to_string()))?;
        let tmp = self.dir.join(format!(".{owner}.{}.new", hex(&nonce)));
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| f.write_all(&secret).and_then(|()| f.sync_all()))
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                failed(e.to_string())
            })?;
        self.loaded
            .lock()
            .unwrap()
            .insert(owner.to_owned(), SigningKey::from_bytes(&secret));
        Ok(())
    }

    /// `owner`'s public key, as hex.
    pub fn public(&self, owner: &str) -> Result<String, KeyError> {
        Ok(hex(self.key(owner)?.verifying_key().as_bytes()))
    }

    /// The keys `owner`'s messages may be signed with (hex): its own key here, if it has one,
    /// and the keys other nodes of the mesh published for it ([`Keyring::learn`]): the person
    /// has one per machine. An owner with neither gets its own key made.
    pub fn keys_of(&self, owner: &str) -> Result<Vec<String>, KeyError> {
        let own = self.loaded.lock().unwrap().contains_key(owner) || self.path(owner)?.exists();
        let mut keys: Vec<String> = self.peers_of(owner)?.into_iter().map(|(_, k)| k).collect();
        if own || keys.is_empty() {
            keys.insert(0, self.public(owner)?);
        }
        Ok(keys)
    }

    /// Whether `public` (hex) is a key `owner`'s messages are verified with here (its own, or
    /// one learned), without making a key for an owner that has none.
    pub fn knows(&self, owner: &str, public: &str) -> Result<bool, KeyError> {
        let own = self.loaded.lock().unwrap().contains_key(owner) || self.path(owner)?.exists();
        if own && self.public(owner)? == public {
            return Ok(true);
        }
        Ok(self.peers_of(owner)?.iter().any(|(_, k)| k == public))
    }

    /// Keeps `public` (hex) as the key node `node` of the mesh signs `owner`'s messages with, so
    /// that what it sent is verified again when read.
    pub fn learn(&self, owner: &str, node: &str, public: &str) -> Result<(), KeyError> {
        let mut peers = self.peers_of(owner)?;
        if peers.iter().any(|(n, k)| n == node && k == public) {
            return Ok(());
        }
        peers.retain(|(n, _)| n != node);
        peers.push((node.to_owned(), public.to_owned()));
        let path = self.path(owner)?.with_extension("peers");
        let failed = |problem: String| KeyError::File {
            owner: owner.to_owned(),
            path: path.clone(),
            problem,
        };
        let text: String = peers.iter().map(|(n, k)| format!("{n} {k}\n")).collect();
        let mut nonce = [0u8; 8];
        getrandom::getrandom(&mut nonce).map_err(|e| KeyError::Random(e.to_string()))?;
        let tmp = self.dir.join(format!(".{owner}.{}.peers", hex(&nonce)));
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()))
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                failed(e.to_string())
            })?;
        self.peers.lock().unwrap().insert(owner.to_owned(), peers);
        Ok(())
    }

    /// The keys other nodes published for `owner`: (node, key) pairs.
    fn peers_of(&self, owner: &str) -> Result<Vec<(String, String)>, KeyError> {
        if let Some(p) = self.peers.lock().unwrap().get(owner) {
            return Ok(p.clone());
        }
        let path = self.path(owner)?.with_extension("peers");
        let peers: Vec<(String, String)> = match std::fs::read_to_string(&path) {
            Ok(text) => text
                .lines()
                .filter_map(|l| l.split_once(' '))
                .map(|(n, k)| (n.to_owned(), k.trim().to_owned()))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                return Err(KeyError::File {
                    owner: owner.to_owned(),
                    path,
                    problem: e.to_string(),
                });
            }
        };
        self.peers
            .lock()
            .unwrap()
            .insert(owner.to_owned(), peers.clone());
        Ok(peers)
    }

    /// The secret an agent's tools (its `maestro mcp`) present to act as `address`: the
    /// address and the daemon's signature over it. Only the daemon can make one, so an agent
    /// cannot become another by changing its environment; the same address always gets the same
    /// token (a restarted daemon still knows the agents' tools).
    pub fn token(&self, address: &str) -> Result<String, KeyError> {
        let signature = self.key(TOKEN_OWNER)?.sign(&token_bytes(address));
        Ok(format!("{}:{address}", hex(&signature.to_bytes())))
    }

    /// The address a token made by [`Keyring::token`] speaks for, or `None` when it is not one.
    pub fn identify(&self, token: &str) -> Result<Option<String>, KeyError> {
        let Some((signature, address)) = token.split_once(':') else {
            return Ok(None);
        };
        let Some(signature) = unhex::<64>(signature).map(|b| Signature::from_bytes(&b)) else {
            return Ok(None);
        };
        let key = self.key(TOKEN_OWNER)?.verifying_key();
        Ok(key
            .verify_strict(&token_bytes(address), &signature)
            .is_ok()
            .then(|| address.to_owned()))
    }

    /// Signs `envelope` as `owner`, once it is well formed.
    pub fn sign(&self, owner: &str, envelope: Envelope) -> Result<Signed, KeyError> {
        envelope.check()?;
        let signature = self.key(owner)?.sign(&envelope.canonical());
        Ok(Signed {
            envelope,
            signature: hex(&signature.to_bytes()),
        })
    }
}

/// Why a signed envelope is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error(transparent)]
    Malformed(#[from] Malformed),
    #[error("message {id}: the signature does not match its sender's key (changed, or not theirs)")]
    BadSignature { id: String },
    #[error("message {id}: the sender's public key is not a key")]
    BadKey { id: String },
    #[error("message {id}: already received (a replay)")]
    Replayed { id: String },
    #[error(
        "message {id}: made at {created_at}, more than the replay window (7 days) before now ({now}, Unix ms)"
    )]
    Stale {
        id: String,
        created_at: u64,
        now: u64,
    },
    #[error(
        "message {id}: made at {created_at}, ahead of this machine's clock ({now}, Unix ms) by more than 5 minutes"
    )]
    Early {
        id: String,
        created_at: u64,
        now: u64,
    },
    #[error("message {id}: expired at {expires_at} (now {now}, Unix ms)")]
    Expired {
        id: String,
        expires_at: u64,
        now: u64,
    },
}

/// How old a message may be when it arrives: ids are remembered this long, so a replay of an
/// older one is refused as stale rather than looked up.
pub const REPLAY_WINDOW_MS: u64 = 7 * 24 * 3600 * 1000;
/// How far ahead of this machine's clock a sender's may be.
pub const CLOCK_SKEW_MS: u64 = 5 * 60 * 1000;

/// Checks signed envelopes: form, signature, expiry, and that no id comes twice (within the
/// replay window; older messages are refused as stale).
#[derive(Default)]
pub struct Verifier {
    /// Ids admitted, with their creation times.
    seen: std::collections::HashMap<String, u64>,
    admitted: u64,
}

impl Verifier {
    /// Ids already accepted, with their creation times (from the store, after a restart).
    pub fn with_seen(ids: impl IntoIterator<Item = (String, u64)>) -> Verifier {
        Verifier {
            seen: ids.into_iter().collect(),
            admitted: 0,
        }
    }

    /// Accepts `signed` from the sender whose public key (hex) is `public`, at `now` (Unix ms):
    /// well formed, signed by that key, not expired, and not seen before.
    pub fn accept(&mut self, signed: &Signed, public: &str, now: u64) -> Result<(), Refused> {
        Self::check(signed, public)?;
        self.admit(signed, now)
    }

    /// The rest of [`Verifier::accept`] for an envelope whose form and signature were checked
    /// ([`Verifier::check`], which needs no `&mut` and so no lock): within the replay window, not
    /// expired, not seen before.
    pub fn admit(&mut self, signed: &Signed, now: u64) -> Result<(), Refused> {
        let e = &signed.envelope;
        let id = e.id.clone();
        if e.created_at.saturating_add(REPLAY_WINDOW_MS) < now {
            return Err(Refused::Stale {
                id,
                created_at: e.created_at,
                now,
            });
        }
        if e.created_at > now.saturating_add(CLOCK_SKEW_MS) {
            return Err(Refused::Early {
                id,
                created_at: e.created_at,
                now,
            });
        }
        if let Some(expires_at) = e.expires_at
            && expires_at <= now
        {
            return Err(Refused::Expired {
                id,
                expires_at,
                now,
            });
        }
        if self.seen.contains_key(&id) {
            return Err(Refused::Replayed { id });
        }
        self.seen.insert(id, e.created_at);
        self.admitted += 1;
        if self.admitted.is_multiple_of(4096) {
            // What left the window cannot come again (it would be stale): forget it.
            self.seen
                .retain(|_, created| created.saturating_add(REPLAY_WINDOW_MS) >= now);
        }
        Ok(())
    }

    /// An id accepted but then not stored: it may come again.
    pub fn forget(&mut self, id: &str) {
        self.seen.remove(id);
    }

    /// Form and signature alone (a message read back from the store).
    pub fn check(signed: &Signed, public: &str) -> Result<(), Refused> {
        let e = &signed.envelope;
        e.check()?;
        let id = e.id.clone();
        let key = unhex::<32>(public)
            .and_then(|b| VerifyingKey::from_bytes(&b).ok())
            .ok_or(Refused::BadKey { id: id.clone() })?;
        let signature = unhex::<64>(&signed.signature)
            .map(|b| Signature::from_bytes(&b))
            .ok_or(Refused::BadSignature { id: id.clone() })?;
        key.verify_strict(&e.canonical(), &signature)
            .map_err(|_| Refused::BadSignature { id })
    }
}

/// The key that signs agents' tokens (not an address's owner: those have a `.`).
const TOKEN_OWNER: &str = "maestro-daemon";

fn token_bytes(address: &str) -> Vec<u8> {
    [b"maestro-agent-token-v1\n".as_slice(), address.as_bytes()].concat()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::tests::envelope;
    use std::os::unix::fs::PermissionsExt;

    const NOW: u64 = 1_765_000_000_500;

    #[test]
    fn a_key_made_by_several_at_once_is_one_key_never_half_written() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let publics: Vec<String> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..6)
                    .map(|_| {
                        let dir = dir.path();
                        // Each its own keyring: nothing shared but the directory.
                        s.spawn(move || Keyring::open(dir).unwrap().public("agent.w.a").unwrap())
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            assert!(publics.windows(2).all(|w| w[0] == w[1]), "{publics:?}");
            let names: Vec<String> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            assert_eq!(names, ["agent.w.a.ed25519"], "no leftovers");
        }
    }

    #[test]
    fn a_token_speaks_for_one_address_and_cannot_be_changed_to_another() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keyring::open(dir.path()).unwrap();
        let token = keys.token("agent:ws1/alice").unwrap();
        assert_eq!(
            keys.identify(&token).unwrap().as_deref(),
            Some("agent:ws1/alice")
        );
        assert_eq!(token, keys.token("agent:ws1/alice").unwrap(), "stable");
        let (signature, _) = token.split_once(':').unwrap();
        let forged = format!("{signature}:agent:ws1/bob");
        assert_eq!(keys.identify(&forged).unwrap(), None);
        assert_eq!(keys.identify("agent:ws1/bob").unwrap(), None);
        assert_eq!(keys.identify("").unwrap(), None);
        // Another daemon's (another home's) tokens mean nothing here.
        let other = tempfile::tempdir().unwrap();
        let theirs = Keyring::open(other.path())
            .unwrap()
            .token("agent:ws1/alice")
            .unwrap();
        assert_eq!(keys.identify(&theirs).unwrap(), None);
    }

    #[test]
    fn a_signed_message_verifies_once_and_a_replay_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keyring::open(dir.path()).unwrap();
        let signed = keys.sign("alice", envelope()).unwrap();
        let public = keys.public("alice").unwrap();
        let mut v = Verifier::default();
        assert_eq!(v.accept(&signed, &public, NOW), Ok(()));
        assert_eq!(
            v.accept(&signed, &public, NOW),
            Err(Refused::Replayed {
                id: "m-0001".into()
            })
        );
        // After a restart, the stored ids are still seen.
        let mut v = Verifier::with_seen([("m-0001".to_owned(), NOW)]);
        assert!(matches!(
            v.accept(&signed, &public, NOW),
            Err(Refused::Replayed { .. })
        ));
        // Older than the window it is stale, whoever remembers it; ahead of the clock, early.
        let later = NOW + REPLAY_WINDOW_MS + 1_000;
        let refused = Verifier::default().accept(&signed, &public, later);
        assert!(matches!(refused, Err(Refused::Stale { .. })), "{refused:?}");
        assert!(refused.unwrap_err().to_string().contains("replay window"));
        let earlier = signed.envelope.created_at - CLOCK_SKEW_MS - 1;
        assert!(matches!(
            Verifier::default().accept(&signed, &public, earlier),
            Err(Refused::Early { .. })
        ));
    }

    #[test]
    fn any_change_to_a_signed_message_breaks_its_signature() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keyring::open(dir.path()).unwrap();
        let signed = keys.sign("alice", envelope()).unwrap();
        let public = keys.public("alice").unwrap();
        let tampered: [fn(&mut Envelope); 5] = [
            |e| e.subject.push('!'),
            |e| e.id = "m-0002".into(),
            |e| e.created_at += 1,
            |e| e.payload["text"] = "something else".into(),
            |e| e.to = "agent:ws1/mallory".into(),
        ];
        for change in tampered {
            let mut t = signed.clone();
            change(&mut t.envelope);
            assert!(
                matches!(
                    Verifier::default().accept(&t, &public, NOW),
                    Err(Refused::BadSignature { .. })
                ),
                "{:?}",
                t.envelope
            );
        }
        // Signed by another key: bob cannot pass as alice.
        let forged = keys.sign("bob", envelope()).unwrap();
        assert!(matches!(
            Verifier::default().accept(&forged, &public, NOW),
            Err(Refused::BadSignature { .. })
        ));
        let mut garbled = signed.clone();
        garbled.signature = "zz".into();
        assert!(matches!(
            Verifier::default().accept(&garbled, &public, NOW),
            Err(Refused::BadSignature { .. })
        ));
        assert!(matches!(
            Verifier::default().accept(&signed, "00", NOW),
            Err(Refused::BadKey { .. })
        ));
    }

    #[test]
    fn an_expired_or_malformed_message_is_refused_with_why() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keyring::open(dir.path()).unwrap();
        let mut e = envelope();
        e.expires_at = Some(NOW - 1);
        let signed = keys.sign("alice", e).unwrap();
        let public = keys.public("alice").unwrap();
        let refused = Verifier::default()
            .accept(&signed, &public, NOW)
            .unwrap_err();
        assert!(refused.to_string().contains("expired"), "{refused}");
        let mut bad = envelope();
        bad.from = "nobody".into();
        assert!(
            matches!(keys.sign("alice", bad), Err(KeyError::Malformed(m)) if m.field == "from")
        );
    }

    #[test]
    fn a_key_is_made_once_owner_only_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keyring::open(&dir.path().join("keys")).unwrap();
        let first = keys.public("alice").unwrap();
        assert_eq!(
            keys.public("alice").unwrap(),
            first,
            "the same key each time"
        );
        assert_ne!(keys.public("bob").unwrap(), first, "a key per owner");
        let file = dir.path().join("keys/alice.ed25519");
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(dir.path().join("keys"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
        for bad in ["", "../alice", "a/b", ".hidden"] {
            assert!(
                matches!(keys.public(bad), Err(KeyError::BadOwner(_))),
                "{bad}"
            );
        }
        std::fs::write(&file, b"short").unwrap();
        let damaged = Keyring::open(&dir.path().join("keys"))
            .unwrap()
            .public("alice")
            .unwrap_err()
            .to_string();
        assert!(damaged.contains("5 bytes, not 32: damaged"), "{damaged}");
    }
}
