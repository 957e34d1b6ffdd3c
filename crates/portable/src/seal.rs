//! A secret sealed with a passphrase, for `agent export --with-key`: the key is derived with
//! Argon2id (its parameters and salt kept beside the sealed bytes), and the secret encrypted and
//! authenticated with XChaCha20-Poly1305, the agent's name as associated data (a sealed key moved
//! to another agent's identity does not open).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};

/// The shortest passphrase accepted.
pub const MIN_PASSPHRASE: usize = 8;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sealed {
    /// `argon2id`.
    pub kdf: String,
    /// Memory in KiB, passes, lanes.
    pub m_cost: u32,
    pub t_cost: u32,
    pub p_cost: u32,
    pub salt: String,
    pub nonce: String,
    /// The encrypted secret and its tag, hex.
    pub sealed: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the passphrase is shorter than {MIN_PASSPHRASE} characters")]
    Short,
    #[error("the key does not open with this passphrase (or the archive's key was changed)")]
    Wrong,
    #[error("the sealed key is malformed: {0}")]
    Malformed(String),
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Result<Vec<u8>, SealError> {
    if !s.len().is_multiple_of(2) {
        return Err(SealError::Malformed("odd hex".into()));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| SealError::Malformed(e.to_string()))
        })
        .collect()
}

fn derive(passphrase: &str, salt: &[u8], m: u32, t: u32, p: u32) -> Result<[u8; 32], SealError> {
    let params =
        argon2::Params::new(m, t, p, Some(32)).map_err(|e| SealError::Malformed(e.to_string()))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = [0u8; 32];
    argon
        .hash_password_into(passphrase.as_bytes(), salt, &mut key)
        .map_err(|e| SealError::Malformed(e.to_string()))?;
    Ok(key)
}

/// Seals `secret` for `owner` with `passphrase`.
pub fn seal(secret: &[u8], owner: &str, passphrase: &str) -> Result<Sealed, SealError> {
    if passphrase.chars().count() < MIN_PASSPHRASE {
        return Err(SealError::Short);
    }
    let (m, t, p) = (19 * 1024, 2, 1);
    let mut salt = [0u8; 16];
    let mut nonce = [0u8; 24];
    getrandom::getrandom(&mut salt).expect("randomness from the system");
    getrandom::getrandom(&mut nonce).expect("randomness from the system");
    let key = derive(passphrase, &salt, m, t, p)?;
    let cipher = XChaCha20Poly1305::new(&key.into());
    let sealed = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: secret,
                aad: owner.as_bytes(),
            },
        )
        .map_err(|_| SealError::Malformed("encryption failed".into()))?;
    Ok(Sealed {
        kdf: "argon2id".into(),
        m_cost: m,
        t_cost: t,
        p_cost: p,
        salt: hex(&salt),
        nonce: hex(&nonce),
        sealed: hex(&sealed),
    })
}

/// Opens a sealed secret of `owner`.
pub fn open(sealed: &Sealed, owner: &str, passphrase: &str) -> Result<Vec<u8>, SealError> {
    if sealed.kdf != "argon2id" {
        return Err(SealError::Malformed(format!(
            "unknown kdf `{}`",
            sealed.kdf
        )));
    }
    // Bounded, so an archive cannot make the import take gigabytes or hours.
    if sealed.m_cost > 1 << 20 || sealed.t_cost > 16 || sealed.p_cost > 16 {
        return Err(SealError::Malformed(
            "key derivation costs out of bounds".into(),
        ));
    }
    let nonce = unhex(&sealed.nonce)?;
    if nonce.len() != 24 {
        return Err(SealError::Malformed("nonce of the wrong size".into()));
    }
    let key = derive(
        passphrase,
        &unhex(&sealed.salt)?,
        sealed.m_cost,
        sealed.t_cost,
        sealed.p_cost,
    )?;
    XChaCha20Poly1305::new(&key.into())
        .decrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &unhex(&sealed.sealed)?,
                aad: owner.as_bytes(),
            },
        )
        .map_err(|_| SealError::Wrong)
}
