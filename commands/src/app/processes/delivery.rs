//! One webhook request, as Mender's iot-manager makes it: a JSON `POST` with
//! `X-Men-Algorithm: MEN-HMAC-SHA256-Payload` and `X-Men-Signature` = hex of HMAC-SHA256 over
//! the body, keyed with the integration's secret decoded from hex. Guarded because the target
//! is whatever URL an operator typed: a timeout per request, at most 64 KiB of the answer read,
//! redirects followed only to the same host (at most 3), and `--webhook-allow` checked on the
//! resolved addresses.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::allow::AllowList;

/// The algorithm header Mender sends, and its value.
pub const ALGORITHM_HEADER: &str = "X-Men-Algorithm";
/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Men-Signature";
/// The algorithm name Mender uses.
pub const ALGORITHM: &str = "MEN-HMAC-SHA256-Payload";

/// How much of a receiver's answer is read (the rest is dropped with the connection).
const RESPONSE_CAP: usize = 64 * 1024;

/// What one request came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attempt {
    /// 2xx.
    pub success: bool,
    /// The HTTP status (0: none).
    pub status: u16,
    /// Why it failed.
    pub error: String,
}

/// The hex HMAC-SHA256 of `body` under the hex `secret`; `None` without a secret.
pub fn sign(secret_hex: &str, body: &[u8]) -> Option<String> {
    if secret_hex.is_empty() {
        return None;
    }
    let key: Vec<u8> = (0..secret_hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(secret_hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(body);
    Some(mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect())
}

/// Resolves names, keeping only addresses `--webhook-allow` lets through (all of them for a
/// listed name).
struct GuardedResolver(AllowList);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.0.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let by_name = allow.allows_name(&host);
            let kept: Vec<SocketAddr> =
                found.into_iter().filter(|a| by_name || allow.allows_addr(a.ip())).collect();
            if kept.is_empty() {
                let e = format!("{host} resolves to no address that --webhook-allow permits");
                return Err(e.into());
            }
            Ok(Box::new(kept.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Posts webhook requests; one per process, sharing connections.
#[derive(Clone)]
pub struct Deliverer {
    client: reqwest::Client,
    allow: AllowList,
}

impl Deliverer {
    /// A client with the guards.
    pub fn new(allow: AllowList, timeout: Duration) -> Result<Deliverer, reqwest::Error> {
        let redirects = reqwest::redirect::Policy::custom(|attempt| {
            let first = attempt.previous().first();
            let same = first.is_some_and(|f| {
                f.scheme() == attempt.url().scheme()
                    && f.host_str() == attempt.url().host_str()
                    && f.port_or_known_default() == attempt.url().port_or_known_default()
            });
            if attempt.previous().len() > 3 || !same { attempt.stop() } else { attempt.follow() }
        });
        let client = reqwest::Client::builder()
            .redirect(redirects)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .no_proxy()
            .user_agent(concat!("fleetlog-webhooks/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(GuardedResolver(allow.clone())))
            .build()?;
        Ok(Deliverer { client, allow })
    }

    /// Posts `body` to `url`, signed when there is a secret.
    pub async fn post(&self, url: &str, secret_hex: &str, body: &[u8]) -> Attempt {
        let failed = |error: String| Attempt { success: false, status: 0, error };
        let parsed = match reqwest::Url::parse(url) {
            Ok(u) => u,
            Err(e) => return failed(format!("invalid URL: {e}")),
        };
        // Names are checked by the resolver; address literals never reach it.
        let host = parsed.host_str().unwrap_or_default();
        let literal = host.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>().is_ok();
        if literal && !self.allow.allows_host(host) {
            return failed("the address is not permitted by --webhook-allow".into());
        }
        let mut req = self.client.post(parsed).header("Content-Type", "application/json").body(body.to_vec());
        if let Some(signature) = sign(secret_hex, body) {
            req = req.header(ALGORITHM_HEADER, ALGORITHM).header(SIGNATURE_HEADER, signature);
        }
        let mut resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return failed(describe(&e)),
        };
        let status = resp.status();
        // Read a little of the answer (so a keep-alive connection can be reused), never all.
        let mut read = 0;
        while read < RESPONSE_CAP {
            match resp.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                _ => break,
            }
        }
        let success = status.is_success();
        let error = if success {
            String::new()
        } else if status.is_redirection() {
            format!("{status}: redirects to another host are not followed")
        } else {
            status.to_string()
        };
        Attempt { success, status: status.as_u16(), error }
    }
}

/// A transport error's message with its causes (reqwest's own is terse).
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() { "timed out".to_owned() } else { e.to_string() };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hex_hmac_sha256_keyed_with_the_decoded_secret() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let key_hex: String = b"Jefe".iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            sign(&key_hex, b"what do ya want for nothing?").unwrap(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(sign("", b"x"), None);
    }
}
