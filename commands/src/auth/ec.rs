//! ECDSA device keys on the NIST curves Mender accepts: P-256, P-384 and P-521 always, P-224
//! only when configured (`--allow-ecdsa-p224`; its 112-bit security is below today's
//! recommendations, so it is off by default).
//!
//! Every curve verifies a **SHA-256** digest of the body, as Mender's client signs and its
//! deviceauth checks (see [`super::signature`]). Go's `ecdsa.Verify` turns a digest into a
//! number by keeping its leftmost bits up to the order's size: a 32-byte digest on P-224 is
//! cut to 28 bytes, on P-384 and P-521 it is taken whole. RustCrypto's prehash check refuses a
//! digest shorter than half the field (33 bytes on P-521), so for P-521 the digest is padded
//! with leading zeros first, which is the same number.

use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
use pkcs8::{EncodePublicKey as _, LineEnding};
use spki::ObjectIdentifier;

use super::signature::{KeyError, KeyPolicy, SignatureError};

const OID_P224: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.33");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

/// An ECDSA public key.
#[derive(Clone)]
pub enum EcKey {
    P224(p224::ecdsa::VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    P521(p521::ecdsa::VerifyingKey),
}

// By hand: p521's key type has no `Debug`.
impl std::fmt::Debug for EcKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.algorithm())
    }
}

impl EcKey {
    /// Parses the SEC1 point of a key on `curve`, if the curve is accepted under `policy`.
    pub fn parse(curve: ObjectIdentifier, point: &[u8], policy: &KeyPolicy) -> Result<EcKey, KeyError> {
        let bad = |_| KeyError::Malformed("ECDSA public point is not on the curve".into());
        if curve == OID_P256 {
            Ok(EcKey::P256(p256::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(bad)?))
        } else if curve == OID_P384 {
            Ok(EcKey::P384(p384::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(bad)?))
        } else if curve == OID_P521 {
            Ok(EcKey::P521(p521::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(bad)?))
        } else if curve == OID_P224 && policy.allow_p224 {
            Ok(EcKey::P224(p224::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(bad)?))
        } else if curve == OID_P224 {
            Err(KeyError::P224NotAllowed)
        } else {
            Err(KeyError::UnsupportedCurve(curve.to_string()))
        }
    }

    /// Checks a DER signature over a SHA-256 `digest`.
    pub fn verify(&self, digest: &[u8; 32], der: &[u8]) -> Result<(), SignatureError> {
        let mismatch = |_| SignatureError::Mismatch;
        let malformed = |_| SignatureError::Malformed;
        match self {
            EcKey::P224(k) => {
                let sig = p224::ecdsa::Signature::from_der(der).map_err(malformed)?;
                k.verify_prehash(digest, &sig).map_err(mismatch)
            }
            EcKey::P256(k) => {
                let sig = p256::ecdsa::Signature::from_der(der).map_err(malformed)?;
                k.verify_prehash(digest, &sig).map_err(mismatch)
            }
            EcKey::P384(k) => {
                let sig = p384::ecdsa::Signature::from_der(der).map_err(malformed)?;
                k.verify_prehash(digest, &sig).map_err(mismatch)
            }
            EcKey::P521(k) => {
                let sig = p521::ecdsa::Signature::from_der(der).map_err(malformed)?;
                let mut padded = [0u8; 66];
                padded[66 - digest.len()..].copy_from_slice(digest);
                k.verify_prehash(&padded, &sig).map_err(mismatch)
            }
        }
    }

    /// The key as SPKI PEM.
    pub fn to_pem(&self) -> Result<String, KeyError> {
        let pem = match self {
            EcKey::P224(k) => k.to_public_key_pem(LineEnding::LF),
            EcKey::P256(k) => k.to_public_key_pem(LineEnding::LF),
            EcKey::P384(k) => k.to_public_key_pem(LineEnding::LF),
            EcKey::P521(k) => p521::PublicKey::from_affine(*k.as_affine())
                .map_err(|e| KeyError::Malformed(e.to_string()))?
                .to_public_key_pem(LineEnding::LF),
        };
        pem.map_err(|e| KeyError::Malformed(e.to_string()))
    }

    /// `ecdsa-p224`, `ecdsa-p256`, `ecdsa-p384` or `ecdsa-p521`.
    pub fn algorithm(&self) -> &'static str {
        match self {
            EcKey::P224(_) => "ecdsa-p224",
            EcKey::P256(_) => "ecdsa-p256",
            EcKey::P384(_) => "ecdsa-p384",
            EcKey::P521(_) => "ecdsa-p521",
        }
    }
}

#[cfg(test)]
#[path = "ec_tests.rs"]
mod tests;
