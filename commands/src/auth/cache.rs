//! Verified tokens, remembered: a device polls with the same token for a week, and checking
//! its signature on every request is most of the cost of the device API. Only the signature
//! and the claims are cached; expiry and the device's admission are checked on every request.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::jwt::Claims;

/// Tokens remembered at most; past that the cache starts over (cheap, and rare).
const MAX_TOKENS: usize = 100_000;

/// A map from a token's full text to its verified claims.
#[derive(Default)]
pub struct TokenCache {
    tokens: RwLock<HashMap<String, Arc<Claims>>>,
}

impl TokenCache {
    /// The claims of a token verified before, if any (no allocation on a hit).
    pub fn get(&self, token: &str) -> Option<Arc<Claims>> {
        self.tokens.read().ok()?.get(token).cloned()
    }

    /// Remembers a verified token.
    pub fn insert(&self, token: &str, claims: Arc<Claims>) {
        if let Ok(mut map) = self.tokens.write() {
            if map.len() >= MAX_TOKENS {
                map.clear();
            }
            map.insert(token.to_owned(), claims);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_and_forgets_when_full() {
        let cache = TokenCache::default();
        let claims = Arc::new(Claims {
            jti: "j".into(),
            sub: "s".into(),
            iat: 0,
            exp: 1,
            iss: "fleetlog".into(),
            device: true,
            user: false,
            tenant: String::new(),
            epoch: None,
        });
        assert!(cache.get("t").is_none());
        cache.insert("t", claims.clone());
        assert_eq!(cache.get("t").unwrap().sub, "s");
        for i in 0..MAX_TOKENS {
            cache.insert(&i.to_string(), claims.clone());
        }
        assert!(cache.get("t").is_none(), "started over when full");
    }
}
