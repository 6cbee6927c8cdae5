//! What a fleetlog token says (its claims) and which algorithm signs it.

use serde::{Deserialize, Serialize};

/// The claims of a fleetlog token; the same shape as Mender's own tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Token id.
    pub jti: String,
    /// Subject: the device id or the user id.
    pub sub: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds; the token is valid while `exp > now`.
    pub exp: i64,
    /// Issuer.
    pub iss: String,
    /// Set on device tokens.
    #[serde(rename = "mender.device", default, skip_serializing_if = "is_false")]
    pub device: bool,
    /// Set on user tokens.
    #[serde(rename = "mender.user", default, skip_serializing_if = "is_false")]
    pub user: bool,
    /// Tenant id; empty (and omitted) when single-tenant.
    #[serde(rename = "mender.tenant", default, skip_serializing_if = "String::is_empty")]
    pub tenant: String,
    /// Device tokens: the admission epoch they were issued under (the log position that began
    /// the auth set's current admission); absent in tokens of earlier versions.
    #[serde(rename = "fleetlog.epoch", default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u64>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The JWS algorithm of the signing key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum JwtAlgorithm {
    /// Ed25519 (`"alg":"EdDSA"`), the default: small keys, fast signing.
    #[default]
    EdDSA,
    /// RSASSA-PKCS1-v1_5 with SHA-256, for consumers that only know RSA.
    RS256,
}

impl JwtAlgorithm {
    /// The JOSE `alg` value.
    pub fn as_str(self) -> &'static str {
        match self {
            JwtAlgorithm::EdDSA => "EdDSA",
            JwtAlgorithm::RS256 => "RS256",
        }
    }

    /// The key file name used by [`JwtKeys::load_or_generate`].
    pub fn key_file_name(self) -> &'static str {
        match self {
            JwtAlgorithm::EdDSA => "jwt-ed25519.pem",
            JwtAlgorithm::RS256 => "jwt-rs256.pem",
        }
    }
}
