//! The signing key's file: generated once into the data dir (PKCS#8 PEM, mode 0600) and shared
//! by the replicas that point at it.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::Path;

use pkcs8::der::zeroize::Zeroizing;
use pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, LineEnding, PrivateKeyInfo, SecretDocument};
use rand_core::{OsRng, RngCore as _};
use rsa::RsaPrivateKey;

use super::{JwtAlgorithm, JwtError, JwtKeys, OID_ED25519, OID_RSA_ENCRYPTION, SigningKey};

impl JwtKeys {
    /// Loads `dir/jwt-ed25519.pem` (or `dir/jwt-rs256.pem`), a PKCS#8 private key PEM, or generates
    /// and writes it (mode 0600, creating `dir` as 0700) when absent. Replicas pointing at the same
    /// file share the key; when several generate at once the first one to publish the file wins and
    /// the others load it.
    pub fn load_or_generate(dir: &Path, alg: JwtAlgorithm) -> Result<JwtKeys, JwtError> {
        let path = dir.join(alg.key_file_name());
        if !path.exists() {
            let pem = Self::generate(alg)?.to_pkcs8_pem()?;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|source| JwtError::KeyFile { path: dir.to_owned(), source })?;
            publish_key_file(&path, pem.as_bytes())?;
        }
        let pem = std::fs::read_to_string(&path)
            .map_err(|source| JwtError::KeyFile { path: path.clone(), source })?;
        let keys = Self::from_pem(&pem)?;
        if keys.algorithm() != alg {
            return Err(JwtError::Key(format!("{} does not hold an {} key", path.display(), alg.as_str())));
        }
        Ok(keys)
    }

    /// Reads a PKCS#8 `PRIVATE KEY` PEM; Ed25519 gives `EdDSA`, RSA (2048 bits or more) `RS256`.
    pub fn from_pem(pem: &str) -> Result<JwtKeys, JwtError> {
        let bad = |e: pkcs8::Error| JwtError::Key(format!("expected a PKCS#8 PRIVATE KEY PEM: {e}"));
        let (_, doc) = pkcs8::SecretDocument::from_pem(pem).map_err(|e| bad(e.into()))?;
        let info = pkcs8::PrivateKeyInfo::try_from(doc.as_bytes()).map_err(bad)?;
        if info.algorithm.oid == OID_ED25519 {
            // Both versions of PKCS#8: v1 (what we write now, and OpenSSL) and v2 with the
            // public key (what versions before 0.2 wrote); keys on disk must keep loading.
            Self::from_ed25519(ed25519_dalek::SigningKey::from_pkcs8_der(doc.as_bytes()).map_err(bad)?)
        } else if info.algorithm.oid == OID_RSA_ENCRYPTION {
            Self::from_rsa(RsaPrivateKey::from_pkcs8_der(doc.as_bytes()).map_err(bad)?)
        } else {
            Err(JwtError::Key(format!("unsupported key algorithm {}", info.algorithm.oid)))
        }
    }

    /// The key as a standard PKCS#8 v1 `PRIVATE KEY` PEM (RFC 5208; for Ed25519 RFC 8410's
    /// form without the optional public key), which OpenSSL and python-cryptography read.
    pub(super) fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, JwtError> {
        let key = |e: &dyn std::fmt::Display| JwtError::Key(e.to_string());
        match &self.key {
            SigningKey::EdDSA { secret } => {
                // CurvePrivateKey ::= OCTET STRING (the 32-byte seed), itself the PKCS#8 privateKey.
                let mut inner = Zeroizing::new(vec![0x04, 0x20]);
                inner.extend_from_slice(&secret.to_bytes());
                let algorithm = pkcs8::AlgorithmIdentifierRef { oid: OID_ED25519, parameters: None };
                let doc =
                    SecretDocument::try_from(PrivateKeyInfo::new(algorithm, &inner)).map_err(|e| key(&e))?;
                doc.to_pem("PRIVATE KEY", LineEnding::LF).map_err(|e| key(&e))
            }
            SigningKey::RS256 { secret, .. } => secret.to_pkcs8_pem(LineEnding::LF).map_err(|e| key(&e)),
        }
    }
}

/// Writes the key to a private temp file, then hard-links it into place: the link fails if the
/// file already exists (another replica won the race) and readers never see a half-written key.
fn publish_key_file(path: &Path, pem: &[u8]) -> Result<(), JwtError> {
    let io_err = |source| JwtError::KeyFile { path: path.to_owned(), source };
    // Unique per process and call, so concurrent generators never share a temp file.
    let tmp = path.with_extension(format!("pem.{}-{:016x}.tmp", std::process::id(), OsRng.next_u64()));
    let written = (|| {
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        file.write_all(pem)?;
        file.sync_all()
    })();
    let published = written.and_then(|()| match std::fs::hard_link(&tmp, path) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::Unsupported => std::fs::rename(&tmp, path),
        other => other,
    });
    let _ = std::fs::remove_file(&tmp);
    published.map_err(io_err)
}
