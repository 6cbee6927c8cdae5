//! The two error layers of a command: the domain said no, or the store failed.

/// Why the event store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer appended to the aggregate since it was loaded (optimistic concurrency).
    #[error("wrong last sequence for {subject}")]
    Conflict {
        /// The subject whose expected sequence did not match.
        subject: String,
    },
    /// This exact command was already stored (a retry); nothing new was written.
    #[error("duplicate command")]
    Duplicate,
    /// A tenant, aggregate type or id cannot be a subject token (see `check_token`); holds at
    /// most its first 64 characters.
    #[error("invalid subject token {0:?}")]
    InvalidToken(String),
    /// An event is larger than the server takes in one message (its `max_payload`): it cannot
    /// be stored, whatever the retries (413).
    #[error("event of {size} bytes is over the log's limit of {max} bytes")]
    TooLarge {
        /// Encoded size with headers.
        size: usize,
        /// The server's `max_payload`.
        max: usize,
    },
    /// An event in the log could not be decoded.
    #[error("undecodable event at sequence {seq}: {source}")]
    Decode {
        /// Where it is.
        seq: u64,
        /// What is wrong.
        #[source]
        source: fleetlog_schemas::DecodeError,
    },
    /// NATS did not answer in time, or is not reachable; the append may or may not have happened.
    #[error("event store unavailable: {0}")]
    Unavailable(String),
    /// The append was sent but no acknowledgement came in time: it may or may not be stored
    /// (a client buffers while reconnecting and may deliver it later). Retrying the same command
    /// id is safe: it is stored at most once.
    #[error("event store did not confirm the append; it may or may not be stored: {0}")]
    OutcomeUnknown(String),
    /// JetStream answered with an error we do not map (a bug or misconfiguration).
    #[error("event store error {code}/{err_code}: {description}")]
    Server {
        /// HTTP-like status.
        code: u16,
        /// JetStream error code.
        err_code: u32,
        /// The server's words.
        description: String,
    },
}

/// Why a command did not produce its events.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<E: std::error::Error + 'static> {
    /// The aggregate refused the command (a 4xx for the caller).
    #[error(transparent)]
    Rejected(E),
    /// A unique value (e-mail, device identity) belongs to another aggregate (409).
    #[error("already taken by {holder}")]
    Taken {
        /// Id of the aggregate holding it.
        holder: String,
    },
    /// Concurrent writers kept winning after the bounded retries (409).
    #[error("the object was changed concurrently, try again")]
    Conflict,
    /// The store failed (5xx; the cause is logged).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An append request that failed: without an answer in time the outcome is unknown (the request
/// may sit in the client's buffer and reach the server after a reconnect); otherwise (no stream
/// listening, not sent) nothing was stored.
impl From<async_nats::RequestError> for StoreError {
    fn from(e: async_nats::RequestError) -> Self {
        match e.kind() {
            async_nats::RequestErrorKind::TimedOut => StoreError::OutcomeUnknown(e.to_string()),
            _ => StoreError::Unavailable(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_nats::{RequestError, RequestErrorKind};

    #[test]
    fn an_unanswered_append_has_an_unknown_outcome() {
        let timed_out = StoreError::from(RequestError::new(RequestErrorKind::TimedOut));
        assert!(matches!(timed_out, StoreError::OutcomeUnknown(_)), "{timed_out:?}");
        let no_stream = StoreError::from(RequestError::new(RequestErrorKind::NoResponders));
        assert!(matches!(no_stream, StoreError::Unavailable(_)), "{no_stream:?}");
    }
}
