//! Device public keys and the `X-MEN-Signature` check on `auth_requests`.
//!
//! A Mender device signs the exact raw body of `POST /api/devices/v1/authentication/auth_requests`
//! with its private key and sends the base64 signature in `X-MEN-Signature`; the body carries its
//! public key as PEM. Accepted keys: RSA 2048–8192 bits (SPKI or PKCS#1 PEM; down to 1024 bits
//! when configured), ECDSA P-256, P-384 and P-521 (P-224 when configured, see [`super::ec`]),
//! Ed25519 (SPKI PEM). Mender accepts all of these unconditionally; fleetlog keeps the weak
//! ones behind a setting ([`KeyPolicy`]).
//!
//! The digests follow what the real client and Mender's own server do (read in
//! `mendersoftware/mender` `store/keystore.go`, the 3.x OpenSSL-based keystore, and in the
//! deviceauth `utils/crypto.go` `VerifyAuthReqSign`, 2023 version):
//! * the client calls `SignPKCS1v15(openssl.SHA256_Method, body)` for every key type except
//!   Ed25519 (which gets a nil digest, i.e. pure Ed25519 over the body). For EC keys that OpenSSL
//!   `EVP_Sign*` call yields an ASN.1 DER ECDSA signature over **SHA-256 of the body, whatever the
//!   curve** — so P-384 devices sign a SHA-256 digest too, not SHA-384;
//! * deviceauth computes `sha256.Sum256(body)` for both RSA and ECDSA keys and calls
//!   `rsa.VerifyPKCS1v15(SHA256)` / `ecdsa.Verify` (after `asn1.Unmarshal` of `{R, S}`), and
//!   `ed25519.Verify` over the raw body.
//!

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::Verifier as _;
use pkcs8::{EncodePublicKey as _, LineEnding};
use rsa::{BigUint, Pkcs1v15Sign, RsaPublicKey};
use sha2::{Digest as _, Sha256};
use spki::der::Decode as _;
use spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};

/// Smallest RSA modulus accepted by default, in bits (also the floor of token signing keys).
pub const RSA_MIN_BITS: usize = 2048;
/// The smallest `--min-rsa-bits` that may be configured (what Mender's own test runner uses).
pub const RSA_LOWEST_CONFIGURABLE_BITS: usize = 1024;
/// Largest RSA modulus accepted, in bits (bounds the cost of one verification).
pub const RSA_MAX_BITS: usize = 8192;

const OID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// Which device keys are accepted beyond the secure default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPolicy {
    /// Smallest RSA modulus, in bits (1024..=2048; default 2048).
    pub min_rsa_bits: usize,
    /// Whether ECDSA P-224 keys are accepted (default no).
    pub allow_p224: bool,
}

impl Default for KeyPolicy {
    fn default() -> Self {
        KeyPolicy { min_rsa_bits: RSA_MIN_BITS, allow_p224: false }
    }
}

/// DER `DigestInfo` prefix for SHA-256 (RFC 8017 §9.2, note 1). Spelled out so PKCS#1 v1.5 does
/// not need sha2's `oid` feature, which would make us edit a dependency line we do not own.
pub(crate) const SHA256_DIGEST_INFO_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
    0x04, 0x20,
];

/// The PKCS#1 v1.5 padding scheme with SHA-256.
pub fn pkcs1v15_sha256() -> Pkcs1v15Sign {
    Pkcs1v15Sign { hash_len: Some(32), prefix: SHA256_DIGEST_INFO_PREFIX.into() }
}

/// Why a public key from a device was refused. The Display text is meant for the client (400 body).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// No `-----BEGIN ...-----` / `-----END ...-----` block was found.
    #[error("pubkey is not a PEM block (expected -----BEGIN PUBLIC KEY-----)")]
    NotPem,
    /// The PEM body is not valid base64.
    #[error("pubkey PEM body is not valid base64")]
    BadPemBody,
    /// A private key was sent where a public key belongs.
    #[error("pubkey holds a private key; send only the public key")]
    PrivateKey,
    /// A PEM block of some other type (certificate, parameters, ...).
    #[error("unsupported PEM type \"{0}\"; expected PUBLIC KEY or RSA PUBLIC KEY")]
    UnsupportedPemType(String),
    /// The DER inside the PEM does not decode as a public key.
    #[error("pubkey is malformed: {0}")]
    Malformed(String),
    /// The key algorithm is not RSA, ECDSA or Ed25519.
    #[error("unsupported public key algorithm {0}; expected RSA, ECDSA (P-256, P-384, P-521) or Ed25519")]
    UnsupportedAlgorithm(String),
    /// An ECDSA key on a curve other than P-256, P-384, P-521 (or an allowed P-224).
    #[error("unsupported elliptic curve {0}; expected P-256, P-384 or P-521")]
    UnsupportedCurve(String),
    /// A P-224 key while the server does not allow them.
    #[error("ECDSA P-224 keys are not accepted by this server (see --allow-ecdsa-p224); use P-256 or larger")]
    P224NotAllowed,
    /// An RSA key outside the accepted size range (its bits, the configured minimum).
    #[error("RSA key of {0} bits is not accepted; it must have {1} to 8192 bits (see --min-rsa-bits)")]
    RsaKeySize(usize, usize),
}

/// Why a request signature was refused. The Display text is meant for the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// `X-MEN-Signature` is not standard base64.
    #[error("X-MEN-Signature is not valid base64")]
    BadBase64,
    /// The decoded signature has the wrong shape for the key (length, DER structure).
    #[error("X-MEN-Signature is malformed for this key type")]
    Malformed,
    /// Well-formed, but it does not verify against this key and body.
    #[error("X-MEN-Signature does not match the request body and public key")]
    Mismatch,
}

/// A device's parsed public key, ready to verify request signatures.
#[derive(Debug, Clone)]
pub struct DevicePublicKey {
    key: Key,
    // Computed once at parse time: it is what the key is stored and compared by.
    canonical_pem: String,
}

#[derive(Debug, Clone)]
enum Key {
    Rsa(RsaPublicKey),
    Ecdsa(super::ec::EcKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl PartialEq for DevicePublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.canonical_pem == other.canonical_pem
    }
}

impl Eq for DevicePublicKey {}

/// Parses the `pubkey` of an auth request under the default [`KeyPolicy`].
pub fn parse_public_key(pem: &str) -> Result<DevicePublicKey, KeyError> {
    parse_public_key_with(pem, &KeyPolicy::default())
}

/// Parses the `pubkey` of an auth request: SPKI `PUBLIC KEY` (RSA, ECDSA, Ed25519) or PKCS#1
/// `RSA PUBLIC KEY` PEM, refusing what `policy` does not allow.
pub fn parse_public_key_with(pem: &str, policy: &KeyPolicy) -> Result<DevicePublicKey, KeyError> {
    let (label, der) = decode_pem(pem)?;
    let key = match label {
        "PUBLIC KEY" => parse_spki(&der, policy)?,
        "RSA PUBLIC KEY" => Key::Rsa(parse_pkcs1(&der, policy)?),
        other if other.contains("PRIVATE KEY") => return Err(KeyError::PrivateKey),
        other => return Err(KeyError::UnsupportedPemType(other.to_owned())),
    };
    let encoded = match &key {
        Key::Rsa(k) => k.to_public_key_pem(LineEnding::LF),
        Key::Ecdsa(k) => Ok(k.to_pem()?),
        Key::Ed25519(k) => k.to_public_key_pem(LineEnding::LF),
    };
    let canonical_pem = encoded.map_err(|e| KeyError::Malformed(e.to_string()))?;
    Ok(DevicePublicKey { key, canonical_pem })
}

impl DevicePublicKey {
    /// Checks `signature_b64` (the `X-MEN-Signature` header) over the exact raw `body` bytes.
    pub fn verify(&self, body: &[u8], signature_b64: &str) -> Result<(), SignatureError> {
        let sig = STANDARD.decode(signature_b64.trim()).map_err(|_| SignatureError::BadBase64)?;
        match &self.key {
            Key::Rsa(k) => {
                k.verify(pkcs1v15_sha256(), &Sha256::digest(body), &sig).map_err(|_| SignatureError::Mismatch)
            }
            // SHA-256 on every curve: that is what mender-client signs (see the module docs).
            Key::Ecdsa(k) => k.verify(&Sha256::digest(body).into(), &sig),
            Key::Ed25519(k) => {
                let sig =
                    ed25519_dalek::Signature::from_slice(&sig).map_err(|_| SignatureError::Malformed)?;
                k.verify(body, &sig).map_err(|_| SignatureError::Mismatch)
            }
        }
    }

    /// The key as one normalised SPKI PEM (64-column base64, `\n` line ends, trailing newline), so
    /// the same key sent as PKCS#1, with other line wrapping or a compressed EC point compares equal.
    /// For keys the Go client sends this is byte-for-byte what it sent.
    pub fn to_canonical_pem(&self) -> String {
        self.canonical_pem.clone()
    }

    /// The key type: `"rsa"`, `"ecdsa-p256"` (`-p224`, `-p384`, `-p521`) or `"ed25519"`.
    pub fn algorithm(&self) -> &'static str {
        match &self.key {
            Key::Rsa(_) => "rsa",
            Key::Ecdsa(k) => k.algorithm(),
            Key::Ed25519(_) => "ed25519",
        }
    }
}

/// Finds the first PEM block and returns its label and decoded body. Hand-rolled rather than a
/// strict RFC 7468 decoder so that keys re-wrapped at other widths or with `\r\n` still parse.
fn decode_pem(text: &str) -> Result<(&str, Vec<u8>), KeyError> {
    const BEGIN: &str = "-----BEGIN ";
    let start = text.find(BEGIN).ok_or(KeyError::NotPem)? + BEGIN.len();
    let rest = &text[start..];
    let label_end = rest.find("-----").ok_or(KeyError::NotPem)?;
    let label = &rest[..label_end];
    let after_label = &rest[label_end + 5..];
    let end_marker = format!("-----END {label}-----");
    let body_end = after_label.find(&end_marker).ok_or(KeyError::NotPem)?;
    if label.contains("PRIVATE KEY") {
        // Say so before looking at the body, which may be encrypted.
        return Err(KeyError::PrivateKey);
    }
    let body: String = after_label[..body_end].chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = STANDARD.decode(body).map_err(|_| KeyError::BadPemBody)?;
    Ok((label, der))
}

fn parse_spki(der: &[u8], policy: &KeyPolicy) -> Result<Key, KeyError> {
    let spki = SubjectPublicKeyInfoRef::from_der(der).map_err(|e| KeyError::Malformed(e.to_string()))?;
    let key_bytes = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| KeyError::Malformed("public key bit string is not byte aligned".into()))?;
    let oid = spki.algorithm.oid;
    if oid == OID_RSA_ENCRYPTION {
        Ok(Key::Rsa(parse_pkcs1(key_bytes, policy)?))
    } else if oid == OID_EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters_oid()
            .map_err(|_| KeyError::Malformed("ECDSA key without a named curve".into()))?;
        Ok(Key::Ecdsa(super::ec::EcKey::parse(curve, key_bytes, policy)?))
    } else if oid == OID_ED25519 {
        let bytes: &[u8; 32] = key_bytes
            .try_into()
            .map_err(|_| KeyError::Malformed("Ed25519 public key must be 32 bytes".into()))?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .map_err(|_| KeyError::Malformed("Ed25519 public key is not a curve point".into()))?;
        Ok(Key::Ed25519(key))
    } else {
        Err(KeyError::UnsupportedAlgorithm(oid.to_string()))
    }
}

/// Parses a PKCS#1 `RSAPublicKey` and checks its size. Builds the key by hand because the rsa
/// crate's DER decoders cap the modulus at 4096 bits and we accept up to 8192.
fn parse_pkcs1(der: &[u8], policy: &KeyPolicy) -> Result<RsaPublicKey, KeyError> {
    let parsed = pkcs1::RsaPublicKey::from_der(der).map_err(|e| KeyError::Malformed(e.to_string()))?;
    let n = BigUint::from_bytes_be(parsed.modulus.as_bytes());
    let bits = n.bits();
    if !(policy.min_rsa_bits..=RSA_MAX_BITS).contains(&bits) {
        return Err(KeyError::RsaKeySize(bits, policy.min_rsa_bits));
    }
    let e = BigUint::from_bytes_be(parsed.public_exponent.as_bytes());
    let key = RsaPublicKey::new_with_max_size(n, e, RSA_MAX_BITS)
        .map_err(|e| KeyError::Malformed(format!("invalid RSA key: {e}")))?;
    Ok(key)
}

#[cfg(test)]
#[path = "signature_tests.rs"]
mod tests;
