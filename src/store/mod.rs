//! Storage: the only code that talks to D1 and KV. Every D1 statement binds its parameters
//! (no SQL is ever built from input); every failure becomes a [`StoreError`], logged here
//! with its cause and answered by the caller as the contract's 503.

pub mod d1;
pub mod kv;

#[derive(Debug)]
pub enum StoreError {
    /// A UNIQUE constraint refused the write (a concurrent or earlier duplicate).
    Conflict,
    /// D1 or KV is missing, unreachable or failing.
    Unavailable,
}

impl From<StoreError> for crate::api::ApiError {
    fn from(_: StoreError) -> Self {
        Self::Unavailable
    }
}

/// Logs a storage failure (never with request data) and classifies it.
pub(crate) fn failure(operation: &str, error: worker::Error) -> StoreError {
    let message = error.to_string();
    if message.contains("UNIQUE constraint failed") {
        return StoreError::Conflict;
    }
    worker::console_error!("storage failure during {operation}: {message}");
    StoreError::Unavailable
}
