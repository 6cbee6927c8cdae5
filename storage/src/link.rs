//! Expiring download links for the local store: HMAC-SHA256 over the key, the expiry time and
//! the optional file name, checked by the gateway's download handler.
//!
//! A link is `{url_prefix}/{key}?expires={unix seconds}[&name={file name}]&signature={hex}`.
//! Keys need no escaping in the path (see [`crate::validate_key`]).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::Sha256;

use crate::{StoreError, validate_key};

/// Shortest secret accepted: below 128 bits a signature could be brute-forced offline.
pub const MIN_SECRET_LEN: usize = 16;

/// Characters escaped in query values and `filename*`: all but RFC 3986's unreserved ones.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Signs and checks download links. Cheap to clone; give every replica the same secret.
#[derive(Clone)]
pub struct LinkSigner {
    mac: Hmac<Sha256>,
    url_prefix: String,
}

/// What a verified link carries besides the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedLink {
    /// When the link stops working (unix seconds).
    pub expires_at: u64,
    /// The file name to offer in `Content-Disposition`, if the link has one.
    pub file_name: Option<String>,
}

/// Why a download link was refused. The handler answers 403 to all of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// A parameter is missing, repeated or not parseable, or the key is invalid.
    #[error("malformed download link: {0}")]
    Malformed(&'static str),
    /// The signature does not match: forged or altered link, or another secret.
    #[error("download link signature does not match")]
    BadSignature,
    /// The link was genuine but its time is up.
    #[error("download link expired")]
    Expired,
}

impl fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkSigner").field("url_prefix", &self.url_prefix).finish_non_exhaustive()
    }
}

impl LinkSigner {
    /// A signer with `secret` (at least [`MIN_SECRET_LEN`] bytes) making links under
    /// `url_prefix`, e.g. `https://fleet.example/api/devices/v1/deployments/download`.
    pub fn new(secret: &[u8], url_prefix: &str) -> Result<LinkSigner, StoreError> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(StoreError::Config(format!(
                "download link secret must have at least {MIN_SECRET_LEN} bytes"
            )));
        }
        let mac = Hmac::<Sha256>::new_from_slice(secret)
            .map_err(|_| StoreError::Config("unusable download link secret".into()))?;
        Ok(LinkSigner { mac, url_prefix: url_prefix.trim_end_matches('/').to_owned() })
    }

    /// A signer with a random secret: its links die with the process and other replicas
    /// refuse them, so only for a single node that does not mind (and for tests).
    pub fn random(url_prefix: &str) -> LinkSigner {
        let secret: [u8; 32] = rand::random();
        LinkSigner::new(&secret, url_prefix).expect("32 bytes is a valid secret")
    }

    /// The prefix links start with.
    pub fn url_prefix(&self) -> &str {
        &self.url_prefix
    }

    /// The full link to `key`, valid for `expires_in` from now.
    pub fn link(
        &self,
        key: &str,
        expires_in: Duration,
        file_name: Option<&str>,
    ) -> Result<String, StoreError> {
        validate_key(key)?;
        let expires_at = unix_now().saturating_add(expires_in.as_secs());
        Ok(format!("{}/{key}?{}", self.url_prefix, self.sign(key, expires_at, file_name)))
    }

    /// The query string (without `?`) that authorizes downloading `key` until `expires_at`
    /// (unix seconds).
    pub fn sign(&self, key: &str, expires_at: u64, file_name: Option<&str>) -> String {
        let signature = hex(&self.mac_of(key, expires_at, file_name));
        match file_name {
            Some(name) => {
                let name = utf8_percent_encode(name, QUERY_VALUE);
                format!("expires={expires_at}&name={name}&signature={signature}")
            }
            None => format!("expires={expires_at}&signature={signature}"),
        }
    }

    /// Check a link's query string (without `?`) for `key` (taken from the request path).
    pub fn verify(&self, key: &str, query: &str) -> Result<VerifiedLink, LinkError> {
        self.verify_at(key, query, unix_now())
    }

    /// [`LinkSigner::verify`] at the time `now` (unix seconds).
    pub fn verify_at(&self, key: &str, query: &str, now: u64) -> Result<VerifiedLink, LinkError> {
        validate_key(key).map_err(|_| LinkError::Malformed("invalid key"))?;
        let (mut expires, mut name, mut signature) = (None, None, None);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (field, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match field {
                "expires" => &mut expires,
                "name" => &mut name,
                "signature" => &mut signature,
                _ => continue,
            };
            if slot.replace(value).is_some() {
                return Err(LinkError::Malformed("repeated parameter"));
            }
        }
        let expires_at: u64 = expires
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse().ok())
            .ok_or(LinkError::Malformed("missing or bad expires"))?;
        let file_name = match name {
            Some(raw) => Some(
                percent_decode_str(raw)
                    .decode_utf8()
                    .map_err(|_| LinkError::Malformed("file name is not UTF-8"))?
                    .into_owned(),
            ),
            None => None,
        };
        let signature = signature.and_then(unhex).ok_or(LinkError::Malformed("missing or bad signature"))?;
        // Mac::verify_slice compares in constant time, so timing tells nothing about how much
        // of a forged signature was right. Expiry is checked after it, so "expired" is only
        // ever said of genuine links.
        let mut mac = self.mac.clone();
        feed(&mut mac, key, expires_at, file_name.as_deref());
        mac.verify_slice(&signature).map_err(|_| LinkError::BadSignature)?;
        if now >= expires_at {
            return Err(LinkError::Expired);
        }
        Ok(VerifiedLink { expires_at, file_name })
    }

    fn mac_of(&self, key: &str, expires_at: u64, file_name: Option<&str>) -> Vec<u8> {
        let mut mac = self.mac.clone();
        feed(&mut mac, key, expires_at, file_name);
        mac.finalize().into_bytes().to_vec()
    }
}

/// The signed message. Fields are newline-separated and a key holds no newline, so no two
/// (key, expiry, name) triples give the same message; the version tag lets the format change.
fn feed(mac: &mut Hmac<Sha256>, key: &str, expires_at: u64, file_name: Option<&str>) {
    mac.update(b"fleetlog-download-v1\n");
    mac.update(key.as_bytes());
    mac.update(format!("\n{expires_at}\n").as_bytes());
    match file_name {
        Some(name) => {
            mac.update(b"name:");
            mac.update(name.as_bytes());
        }
        None => mac.update(b"no-name"),
    }
}

/// `Content-Disposition` offering `file_name` for saving: an ASCII fallback for old clients and
/// the exact UTF-8 name (RFC 6266 / RFC 8187).
pub fn content_disposition(file_name: &str) -> String {
    let fallback: String = file_name
        .chars()
        .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' })
        .collect();
    let exact = utf8_percent_encode(file_name, QUERY_VALUE);
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{exact}")
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    // from_str_radix would take a '+' sign; only plain hex digits are a signature.
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIX: &str = "https://fleet.example/api/devices/v1/deployments/download";

    fn signer() -> LinkSigner {
        LinkSigner::new(b"0123456789abcdef0123456789abcdef", PREFIX).unwrap()
    }

    #[test]
    fn round_trip() {
        let s = signer();
        let query = s.sign("a/b.mender", 1000, None);
        assert_eq!(
            s.verify_at("a/b.mender", &query, 999),
            Ok(VerifiedLink { expires_at: 1000, file_name: None })
        );
        let query = s.sign("a/b.mender", 1000, Some("rootfs ü&=.mender"));
        let verified = s.verify_at("a/b.mender", &query, 0).unwrap();
        assert_eq!(verified.file_name.as_deref(), Some("rootfs ü&=.mender"));
    }

    #[test]
    fn link_has_prefix_key_and_query() {
        let link = signer().link("k1", Duration::from_secs(60), None).unwrap();
        let rest = link.strip_prefix(&format!("{PREFIX}/k1?")).unwrap();
        assert!(signer().verify("k1", rest).is_ok());
        assert!(signer().link("../etc/passwd", Duration::from_secs(60), None).is_err());
    }

    #[test]
    fn expired_links_are_refused() {
        let query = signer().sign("k", 1000, None);
        assert_eq!(signer().verify_at("k", &query, 1000), Err(LinkError::Expired));
    }

    #[test]
    fn forged_links_are_refused() {
        let s = signer();
        let query = s.sign("k", 1000, Some("n"));
        assert_eq!(s.verify_at("other", &query, 0), Err(LinkError::BadSignature));
        let later = query.replace("expires=1000", "expires=2000");
        assert_eq!(s.verify_at("k", &later, 0), Err(LinkError::BadSignature));
        let renamed = query.replace("name=n", "name=m");
        assert_eq!(s.verify_at("k", &renamed, 0), Err(LinkError::BadSignature));
        let unnamed = query.replace("name=n&", "");
        assert_eq!(s.verify_at("k", &unnamed, 0), Err(LinkError::BadSignature));
        let other = LinkSigner::new(b"another secret, 16+ bytes", PREFIX).unwrap();
        assert_eq!(other.verify_at("k", &query, 0), Err(LinkError::BadSignature));
        let flipped =
            format!("{}{}", &query[..query.len() - 1], if query.ends_with('0') { '1' } else { '0' });
        assert_eq!(s.verify_at("k", &flipped, 0), Err(LinkError::BadSignature));
    }

    #[test]
    fn malformed_links_are_refused() {
        let s = signer();
        let good = s.sign("k", 1000, None);
        for query in [
            "".to_owned(),
            "expires=1000".to_owned(),
            good.replace("expires=1000", "expires=+1000"),
            good.replace("expires=1000", "expires="),
            format!("{good}&expires=1000"),
            good[..good.len() - 1].to_owned(),
            good.replace("signature=", "signature=+"),
        ] {
            assert!(matches!(s.verify_at("k", &query, 0), Err(LinkError::Malformed(_))), "{query}");
        }
        assert!(matches!(s.verify_at("../k", &good, 0), Err(LinkError::Malformed(_))));
    }

    #[test]
    fn short_secrets_are_rejected() {
        assert!(LinkSigner::new(b"short", PREFIX).is_err());
    }

    #[test]
    fn disposition_escapes() {
        assert_eq!(
            content_disposition("a \"b\".mender"),
            "attachment; filename=\"a _b_.mender\"; filename*=UTF-8''a%20%22b%22.mender"
        );
        assert!(content_disposition("ü\r\n").starts_with("attachment; filename=\"___\""));
    }
}
