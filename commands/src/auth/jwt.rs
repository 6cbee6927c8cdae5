//! fleetlog's own JWTs (users and devices): compact JWS, `EdDSA` (default) or `RS256`, one key.
//!
//! Hand-rolled on purpose: the only tokens we accept are the ones we sign, so verification pins
//! the algorithm to our key's and never trusts the header to choose it (no `none`, no HMAC
//! confusion with the public key).

use std::fmt;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer as _;
use pkcs8::EncodePublicKey as _;
use rand_core::{OsRng, RngCore as _};
use rsa::traits::PublicKeyParts as _;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use spki::ObjectIdentifier;

pub use super::claims::{Claims, JwtAlgorithm};
use super::signature::pkcs1v15_sha256;

const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// Size of the RSA keys we generate for RS256.
const RSA_GENERATED_BITS: usize = 3072;

/// Why a token was refused, or the signing key could not be set up. The token variants' Display
/// texts are client-facing.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    /// Not three base64url segments, or a header/payload that is not the expected JSON.
    #[error("token is malformed")]
    Malformed,
    /// The header names an algorithm other than ours (including `none`).
    #[error("token algorithm is not accepted")]
    WrongAlgorithm,
    /// The header names a key id that is not ours.
    #[error("token was signed by an unknown key")]
    UnknownKey,
    /// The signature does not verify.
    #[error("token signature is invalid")]
    BadSignature,
    /// `exp` is not in the future.
    #[error("token has expired")]
    Expired,
    /// The key file could not be read or written.
    #[error("JWT key file {path}: {source}")]
    KeyFile {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The key material is unusable.
    #[error("JWT key: {0}")]
    Key(String),
}

enum SigningKey {
    // Boxed: the expanded Ed25519 key is a few hundred bytes, the RSA variant is boxed too.
    EdDSA { secret: Box<ed25519_dalek::SigningKey> },
    RS256 { secret: Box<RsaPrivateKey>, public: RsaPublicKey },
}

impl SigningKey {
    fn algorithm(&self) -> JwtAlgorithm {
        match self {
            SigningKey::EdDSA { .. } => JwtAlgorithm::EdDSA,
            SigningKey::RS256 { .. } => JwtAlgorithm::RS256,
        }
    }
}

/// The key fleetlog signs and verifies its tokens with, plus its `kid`; and, while keys are
/// rotated, the previous keys, which only verify (tokens they signed live until they expire).
pub struct JwtKeys {
    key: SigningKey,
    kid: String,
    /// Earlier keys, found by a token's `kid`.
    previous: Vec<JwtKeys>,
    /// Our base64url header, precomputed: signing reuses it, and verification compares against
    /// it first so that our own tokens skip decoding and parsing the header.
    header_b64: String,
}

impl fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.debug_struct("JwtKeys").field("alg", &self.algorithm()).field("kid", &self.kid).finish()
    }
}

#[derive(Deserialize)]
struct Header<'a> {
    alg: &'a str,
    #[serde(default)]
    kid: Option<&'a str>,
}

impl JwtKeys {
    /// A fresh random key (RSA keys have 3072 bits).
    pub fn generate(alg: JwtAlgorithm) -> Result<JwtKeys, JwtError> {
        match alg {
            JwtAlgorithm::EdDSA => {
                let mut seed = [0u8; 32];
                OsRng.try_fill_bytes(&mut seed).map_err(|e| JwtError::Key(e.to_string()))?;
                Self::from_ed25519(ed25519_dalek::SigningKey::from_bytes(&seed))
            }
            JwtAlgorithm::RS256 => Self::from_rsa(
                RsaPrivateKey::new(&mut OsRng, RSA_GENERATED_BITS)
                    .map_err(|e| JwtError::Key(e.to_string()))?,
            ),
        }
    }

    fn from_ed25519(secret: ed25519_dalek::SigningKey) -> Result<JwtKeys, JwtError> {
        let public = secret.verifying_key();
        let der = public.to_public_key_der().map_err(|e| JwtError::Key(e.to_string()))?;
        Ok(Self::assemble(SigningKey::EdDSA { secret: Box::new(secret) }, der.as_bytes()))
    }

    fn from_rsa(secret: RsaPrivateKey) -> Result<JwtKeys, JwtError> {
        let public = secret.to_public_key();
        if public.n().bits() < super::signature::RSA_MIN_BITS {
            return Err(JwtError::Key("RSA key must have at least 2048 bits".into()));
        }
        let der = public.to_public_key_der().map_err(|e| JwtError::Key(e.to_string()))?;
        Ok(Self::assemble(SigningKey::RS256 { secret: Box::new(secret), public }, der.as_bytes()))
    }

    fn assemble(key: SigningKey, public_der: &[u8]) -> JwtKeys {
        let digest = Sha256::digest(public_der);
        let kid: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        // kid is hex, so plain formatting yields valid JSON.
        let header = format!(r#"{{"alg":"{}","typ":"JWT","kid":"{kid}"}}"#, key.algorithm().as_str());
        JwtKeys { key, kid, previous: Vec::new(), header_b64: URL_SAFE_NO_PAD.encode(header) }
    }

    /// The algorithm of this key.
    pub fn algorithm(&self) -> JwtAlgorithm {
        self.key.algorithm()
    }

    /// The key id: the first 16 hex digits of SHA-256 over the public key's SPKI DER.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs `claims` into a compact JWS `header.payload.signature`.
    pub fn sign(&self, claims: &Claims) -> String {
        // Serialising a struct of strings, integers and bools cannot fail; were it ever to, the
        // empty payload makes a token that never verifies rather than a panic.
        let payload = serde_json::to_vec(claims).unwrap_or_default();
        let mut token = String::with_capacity(self.header_b64.len() + payload.len() * 2 + 520);
        token.push_str(&self.header_b64);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut token);
        let signature = match &self.key {
            SigningKey::EdDSA { secret } => secret.sign(token.as_bytes()).to_bytes().to_vec(),
            // With an RNG the rsa crate blinds the private-key operation (timing side channels).
            // It only fails on RNG failure; the empty signature then never verifies.
            SigningKey::RS256 { secret, .. } => secret
                .sign_with_rng(&mut OsRng, pkcs1v15_sha256(), &Sha256::digest(token.as_bytes()))
                .unwrap_or_default(),
        };
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        token
    }

    /// Verifies a token we signed: structure, `alg` (must be ours), `kid` (if present), signature,
    /// then `exp > now_unix`.
    ///
    /// Cost: one signature verification dominates (Ed25519: tens of microseconds; RS256: one RSA
    /// public-key operation with e = 65537, same order, not measured here), plus base64 and JSON
    /// of a ~200-byte payload.
    /// Allocations are the decoded payload and the claim strings (plus the signature buffer for
    /// RS256); our own header is matched as a string without decoding, and the Ed25519 signature
    /// is decoded onto the stack. The device poll path should still cache verified tokens.
    pub fn verify(&self, token: &str, now_unix: i64) -> Result<Claims, JwtError> {
        let (signing_input, signature_b64) = token.rsplit_once('.').ok_or(JwtError::Malformed)?;
        let (header_b64, payload_b64) = signing_input.split_once('.').ok_or(JwtError::Malformed)?;
        if payload_b64.contains('.') {
            return Err(JwtError::Malformed);
        }
        if header_b64 != self.header_b64
            && let Some(older) = self.check_foreign_header(header_b64)?
        {
            return older.verify(token, now_unix);
        }
        match &self.key {
            SigningKey::EdDSA { secret } => {
                let mut sig = [0u8; 64];
                match URL_SAFE_NO_PAD.decode_slice(signature_b64, &mut sig) {
                    Ok(64) => {}
                    _ => return Err(JwtError::BadSignature),
                }
                let sig = ed25519_dalek::Signature::from_bytes(&sig);
                secret.verify_strict(signing_input.as_bytes(), &sig).map_err(|_| JwtError::BadSignature)?;
            }
            SigningKey::RS256 { public, .. } => {
                let sig = URL_SAFE_NO_PAD.decode(signature_b64).map_err(|_| JwtError::BadSignature)?;
                let digest = Sha256::digest(signing_input.as_bytes());
                public.verify(pkcs1v15_sha256(), &digest, &sig).map_err(|_| JwtError::BadSignature)?;
            }
        }
        let payload = URL_SAFE_NO_PAD.decode(payload_b64).map_err(|_| JwtError::Malformed)?;
        let claims: Claims = serde_json::from_slice(&payload).map_err(|_| JwtError::Malformed)?;
        if claims.exp <= now_unix {
            return Err(JwtError::Expired);
        }
        Ok(claims)
    }

    /// The slow path for a header that is not byte-for-byte ours: decode it and say precisely why
    /// it is refused, accept an equivalent header (same `alg`, our `kid` or none), or name the
    /// previous key whose `kid` it carries.
    fn check_foreign_header(&self, header_b64: &str) -> Result<Option<&JwtKeys>, JwtError> {
        let bytes = URL_SAFE_NO_PAD.decode(header_b64).map_err(|_| JwtError::Malformed)?;
        let header: Header<'_> = serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)?;
        let foreign_kid = header.kid.filter(|kid| *kid != self.kid);
        if let Some(older) = foreign_kid.and_then(|kid| self.previous.iter().find(|k| k.kid == kid)) {
            return Ok(Some(older));
        }
        if header.alg != self.algorithm().as_str() {
            return Err(JwtError::WrongAlgorithm);
        }
        match foreign_kid {
            Some(_) => Err(JwtError::UnknownKey),
            None => Ok(None),
        }
    }

    /// Adds keys that verify but no longer sign (key rotation: the old key stays until the
    /// tokens it signed have expired). Their own previous keys are not consulted.
    pub fn with_previous(mut self, previous: Vec<JwtKeys>) -> JwtKeys {
        self.previous = previous.into_iter().filter(|k| k.kid != self.kid).collect();
        self
    }
}

#[path = "keyfile.rs"]
mod keyfile;

#[cfg(test)]
#[path = "jwt_tests.rs"]
mod tests;
