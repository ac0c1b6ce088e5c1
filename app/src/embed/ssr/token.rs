//! Embed tokens: HMAC-SHA256-signed claims (the `hmac` crate, constant-time verification), and
//! the key they are signed with.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use sqlx::SqlitePool;
use tokio::sync::OnceCell;

use crate::error::{AppError, AppResult};
use crate::state::now;

/// Name of the HMAC key in `server_secrets`.
const KEY_NAME: &str = "embed_token_hmac";

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &[u8; 32], message: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; this cannot fail.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(message);
    mac
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
    let tag = mac(key, payload.as_bytes()).finalize().into_bytes();
    format!("{payload}.{}", URL_SAFE_NO_PAD.encode(tag))
}

/// The claims of `token` if its signature is right (expiry and database not checked).
pub fn verify_signature(key: &[u8; 32], token: &str) -> Option<Claims> {
    if token.len() > 2048 {
        return None;
    }
    let (payload, tag) = token.split_once('.')?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    mac(key, payload.as_bytes()).verify_slice(&tag).ok()?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

/// Loads the HMAC key, making it on the first start.
async fn load_or_create_key(db: &SqlitePool) -> AppResult<[u8; 32]> {
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

/// The HMAC key of embed tokens, loaded (or made and stored) on first use; one per server,
/// shared by the embed server functions, the console relay and the framing header.
#[derive(Default)]
pub struct EmbedKey(OnceCell<[u8; 32]>);

impl EmbedKey {
    /// The key, from the database the first time.
    pub async fn get(&self, db: &SqlitePool) -> AppResult<[u8; 32]> {
        self.0
            .get_or_try_init(|| load_or_create_key(db))
            .await
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The second part is HMAC-SHA256 of the first, whole: a cut tag does not verify.
    #[test]
    fn the_signature_is_hmac_sha256_of_the_payload() {
        let key = [7u8; 32];
        let token = sign(
            &key,
            &Claims {
                link_id: 1,
                cluster: "c".into(),
                node: "n".into(),
                vmid: 100,
                expires_at: 1,
                origin: "https://p".into(),
                single_use: false,
                view_only: false,
            },
        );
        let (payload, tag) = token.split_once('.').unwrap();
        let mut expected = HmacSha256::new_from_slice(&key).unwrap();
        expected.update(payload.as_bytes());
        assert_eq!(
            URL_SAFE_NO_PAD.decode(tag).unwrap(),
            expected.finalize().into_bytes().to_vec()
        );
        let short = format!("{payload}.{}", &tag[..10]);
        assert_eq!(verify_signature(&key, &short), None, "truncated tag");
    }

    #[tokio::test]
    async fn the_key_is_made_once_and_kept() {
        let db = crate::state::db::temp().await;
        let first = EmbedKey::default().get(&db).await.unwrap();
        assert_eq!(EmbedKey::default().get(&db).await.unwrap(), first, "stored");
    }
}
