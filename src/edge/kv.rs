//! The KV denylist (binding `DENYLIST`): `jti` → [`Revocation`], expiring with the token.
//! KV is eventually consistent: a write may reach other locations only after about 60 s.

use worker::kv::KvStore;

use super::{failure, StoreError};
use crate::denylist::{kv_ttl, Revocation};

pub struct Denylist(pub KvStore);

/// A revoked refresh token to write to the denylist.
pub struct Entry {
    pub jti: String,
    pub exp: i64,
    pub revocation: Revocation,
}

impl Denylist {
    pub async fn get(&self, jti: &str) -> Result<Option<Revocation>, StoreError> {
        let value = self
            .0
            .get(jti)
            .text()
            .await
            .map_err(|e| failure("denylist read", e.into()))?;
        Ok(value.as_deref().map(Revocation::decode))
    }

    /// Writes every entry, concurrently; fails if any write fails.
    pub async fn put_all(&self, entries: &[Entry], now: i64) -> Result<(), StoreError> {
        let writes = entries.iter().map(|entry| async move {
            self.0
                .put(&entry.jti, entry.revocation.encode())
                .map_err(|e| failure("denylist write", e.into()))?
                .expiration_ttl(kv_ttl(entry.exp, now))
                .execute()
                .await
                .map_err(|e| failure("denylist write", e.into()))
        });
        for result in futures_util::future::join_all(writes).await {
            result?;
        }
        Ok(())
    }
}
