//! The [`Denylist`] on KV (binding `DENYLIST`): `jti` → [`Revocation`], expiring with the
//! token. KV is eventually consistent: a write may reach other locations only after about
//! 60 s, which is why it only ever caches what D1 decided.

use std::cell::OnceCell;
use std::future::Future;
use std::task::Poll;

use worker::kv::KvStore;
use worker::Env;

use super::{env, Trips};
use crate::domain::revocation::{kv_ttl, Revocation};
use crate::domain::store::{Denylist, Entry, StoreError};

/// KV, resolved from the environment on first use.
pub struct KvDenylist<'a> {
    env: &'a Env,
    trips: &'a Trips,
    /// The request's `waitUntil`, for writes after the answer ([`Denylist::defer`]).
    waiter: Option<&'a worker::Context>,
    kv: OnceCell<Result<KvStore, StoreError>>,
}

impl<'a> KvDenylist<'a> {
    pub fn new(env: &'a Env, trips: &'a Trips, waiter: Option<&'a worker::Context>) -> Self {
        Self {
            env,
            trips,
            waiter,
            kv: OnceCell::new(),
        }
    }

    fn kv(&self) -> Result<&KvStore, StoreError> {
        self.kv
            .get_or_init(|| env::kv(self.env))
            .as_ref()
            .map_err(Clone::clone)
    }

    async fn put(&self, entry: &Entry, now: i64) -> Result<(), StoreError> {
        Trips::count(&self.trips.kv);
        put(self.kv()?, entry, now).await
    }
}

/// Writes one entry, expiring with its token.
async fn put(kv: &KvStore, entry: &Entry, now: i64) -> Result<(), StoreError> {
    let failure = |e: worker::kv::KvError| {
        StoreError::Unavailable(format!("storage failure during denylist write: {e}"))
    };
    kv.put(&entry.jti, entry.revocation.encode())
        .map_err(failure)?
        .expiration_ttl(kv_ttl(entry.exp, now))
        .execute()
        .await
        .map_err(failure)
}

/// A failed write is logged and otherwise changes nothing: D1 already decided, and the
/// entry's absence only costs a D1 round trip later.
fn logged(result: Result<(), StoreError>) {
    if let Err(StoreError::Unavailable(cause)) = result {
        worker::console_error!("{cause}; D1 keeps deciding");
    }
}

impl Denylist for KvDenylist<'_> {
    async fn get(&self, jti: &str) -> Result<Option<Revocation>, StoreError> {
        Trips::count(&self.trips.kv);
        let value = self.kv()?.get(jti).text().await.map_err(|e| {
            StoreError::Unavailable(format!("storage failure during denylist read: {e}"))
        })?;
        Ok(value.as_deref().map(Revocation::decode))
    }

    fn ready(&self) -> Result<(), StoreError> {
        self.kv().map(|_| ())
    }

    /// Writes every entry concurrently; a failure is [`logged`].
    async fn publish(&self, entries: &[Entry], now: i64) {
        // Concurrently: every write is polled until all have finished. (futures-util's
        // `join_all` does the same with twice the code in the module.)
        let mut writes: Vec<_> = entries
            .iter()
            .map(|entry| Some(Box::pin(self.put(entry, now))))
            .collect();
        std::future::poll_fn(|cx| {
            for slot in writes.iter_mut() {
                if let Some(write) = slot {
                    if let Poll::Ready(result) = write.as_mut().poll(cx) {
                        logged(result);
                        *slot = None;
                    }
                }
            }
            if writes.iter().all(Option::is_none) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }

    /// One write at a time in the request's `waitUntil` (the answer does not wait; the
    /// isolate stays until they are done). Without a request (an RPC call) the write is
    /// spawned on the isolate's event loop.
    fn defer(&self, entries: Vec<Entry>, now: i64) {
        let kv = match self.kv() {
            Ok(kv) => kv.clone(),
            Err(error) => return logged(Err(error)),
        };
        let writes = async move {
            for entry in &entries {
                logged(put(&kv, entry, now).await);
            }
        };
        match self.waiter {
            Some(waiter) => waiter.wait_until(writes),
            None => worker::wasm_bindgen_futures::spawn_local(writes),
        }
    }
}
