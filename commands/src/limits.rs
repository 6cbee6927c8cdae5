//! What the store refuses before talking to NATS: subject tokens it cannot build a subject
//! from, and events larger than one message.

use crate::error::StoreError;

/// Checks that a value can be one token of a NATS subject (see
/// [`fleetlog_events::token::is_subject_token`]). The store builds no subject without it, so an
/// id that slipped past the edge's checks is a 400, never a subject nats-server refuses.
pub fn check_token(token: &str) -> Result<&str, StoreError> {
    if fleetlog_events::token::is_subject_token(token) {
        Ok(token)
    } else {
        // The error is shown to the client: echo a bounded prefix only.
        Err(StoreError::InvalidToken(token.chars().take(64).collect()))
    }
}

/// Room kept for a stored event's headers (ids, sequence, type, batch markers: well under this).
const HEADER_ALLOWANCE: usize = 512;

/// Whether an encoded event of `payload_len` bytes, with its headers, fits in one message of
/// `max_payload`; else [`StoreError::TooLarge`], found before anything is sent rather than as a
/// publish error that reads like an outage (and is retried forever).
pub fn fits(payload_len: usize, max_payload: usize) -> Result<(), StoreError> {
    let size = payload_len + HEADER_ALLOWANCE;
    if size > max_payload { Err(StoreError::TooLarge { size, max: max_payload }) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_fits_with_room_for_its_headers() {
        assert!(fits(1024, 1 << 20).is_ok());
        assert!(fits((1 << 20) - HEADER_ALLOWANCE, 1 << 20).is_ok());
        assert!(matches!(fits(1 << 20, 1 << 20), Err(StoreError::TooLarge { max: 1_048_576, .. })));
    }

    #[test]
    fn an_invalid_token_is_echoed_bounded() {
        let long = "x".repeat(8192);
        match check_token(&long) {
            Err(StoreError::InvalidToken(shown)) => assert_eq!(shown.len(), 64),
            other => panic!("{other:?}"),
        }
        assert_eq!(check_token("default").unwrap(), "default");
    }
}
