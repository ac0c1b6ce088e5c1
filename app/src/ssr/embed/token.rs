//! Embed tokens: HMAC-SHA256-signed claims, and the key they are signed with.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::SqlitePool;

use crate::error::{AppError, AppResult};
use crate::ssr::now;

/// Name of the HMAC key in `server_secrets`.
const KEY_NAME: &str = "embed_token_hmac";

/// HMAC-SHA256 (RFC 2104) over SHA-256, which the app already has.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block_key = [0u8; BLOCK];
    if key.len() > BLOCK {
        block_key[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block_key[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block_key.map(|k| k ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// Compares without stopping at the first difference.
fn equal_constant_time(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What an embed token says; signed, so it cannot be changed without the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The link's id in `embed_links`.
    #[serde(rename = "l")]
    pub link_id: i64,
    /// Cluster name.
    #[serde(rename = "c")]
    pub cluster: String,
    /// Node.
    #[serde(rename = "n")]
    pub node: String,
    /// VM id.
    #[serde(rename = "v")]
    pub vmid: u32,
    /// Expiry, unix seconds.
    #[serde(rename = "e")]
    pub expires_at: i64,
    /// The partner origin (`https://portal.example`).
    #[serde(rename = "o")]
    pub origin: String,
    /// Opens the console once only.
    #[serde(rename = "s")]
    pub single_use: bool,
    /// Input is dropped.
    #[serde(rename = "r")]
    pub view_only: bool,
}

/// The signed token for `claims`.
pub fn sign(key: &[u8; 32], claims: &Claims) -> String {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let mac = hmac_sha256(key, payload.as_bytes());
    format!("{payload}.{}", URL_SAFE_NO_PAD.encode(mac))
}

/// The claims of `token` if its signature is right (expiry and database not checked).
pub fn verify_signature(key: &[u8; 32], token: &str) -> Option<Claims> {
    if token.len() > 2048 {
        return None;
    }
    let (payload, mac) = token.split_once('.')?;
    let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
    if !equal_constant_time(&hmac_sha256(key, payload.as_bytes()), &mac) {
        return None;
    }
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

/// Loads the HMAC key, making it on the first start.
pub(in crate::ssr) async fn load_or_create_key(db: &SqlitePool) -> AppResult<[u8; 32]> {
    let mut fresh = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut fresh);
    sqlx::query("INSERT OR IGNORE INTO server_secrets (name, value, created_at) VALUES (?, ?, ?)")
        .bind(KEY_NAME)
        .bind(fresh.as_slice())
        .bind(now())
        .execute(db)
        .await?;
    let (stored,): (Vec<u8>,) = sqlx::query_as("SELECT value FROM server_secrets WHERE name = ?")
        .bind(KEY_NAME)
        .fetch_one(db)
        .await?;
    stored.try_into().map_err(|_| {
        tracing::error!("embed token key in the database has the wrong length");
        AppError::Internal
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// RFC 4231 test cases 2 (short key) and 6 (key longer than a block).
    #[test]
    fn hmac_matches_rfc_4231() {
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}
