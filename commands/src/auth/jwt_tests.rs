//! Tests for fleetlog's JWTs: round trips, forgeries, expiry and the shared key file.

use std::os::unix::fs::PermissionsExt as _;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pkcs8::{EncodePrivateKey as _, LineEnding};

use super::*;

const NOW: i64 = 1_764_000_000;

fn claims() -> Claims {
    Claims {
        jti: "0192f0c4-7d1e-7c3a-9c61-3f1c2b4a5d6e".into(),
        sub: "3e60d1f1-a98c-51d5-9def-f2401584ab50".into(),
        iat: NOW,
        exp: NOW + 3600,
        iss: "fleetlog".into(),
        device: true,
        user: false,
        tenant: String::new(),
        epoch: None,
    }
}

/// One RSA 2048 key for all tests, rather than 3072 bits per test as `generate` would: RSA key
/// generation takes seconds in debug builds.
fn rs256_keys() -> &'static JwtKeys {
    static KEYS: std::sync::OnceLock<JwtKeys> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        JwtKeys::from_rsa(RsaPrivateKey::new(&mut OsRng, 2048).expect("keygen")).expect("keys")
    })
}

fn segments(token: &str) -> Vec<String> {
    token.split('.').map(str::to_owned).collect()
}

#[test]
fn round_trip_eddsa() {
    let keys = JwtKeys::generate(JwtAlgorithm::EdDSA).expect("keys");
    let token = keys.sign(&claims());
    assert_eq!(keys.verify(&token, NOW).expect("verifies"), claims());

    let header = URL_SAFE_NO_PAD.decode(&segments(&token)[0]).expect("b64");
    let header: serde_json::Value = serde_json::from_slice(&header).expect("json");
    assert_eq!(header, serde_json::json!({"alg": "EdDSA", "typ": "JWT", "kid": keys.kid()}));
    assert_eq!(keys.kid().len(), 16);
}

#[test]
fn round_trip_rs256() {
    let keys = rs256_keys();
    assert_eq!(keys.algorithm(), JwtAlgorithm::RS256);
    let mut user = claims();
    (user.device, user.user, user.tenant) = (false, true, "acme".into());
    let token = keys.sign(&user);
    assert_eq!(keys.verify(&token, NOW).expect("verifies"), user);

    // from_pem detects RS256 from the key itself.
    let pem = keys.to_pkcs8_pem().expect("pem");
    let reloaded = JwtKeys::from_pem(&pem).expect("loads");
    assert_eq!((reloaded.algorithm(), reloaded.kid()), (JwtAlgorithm::RS256, keys.kid()));
    assert_eq!(reloaded.verify(&token, NOW).expect("verifies"), user);
}

#[test]
fn claims_use_mender_names_and_omit_defaults() {
    let json = serde_json::to_value(claims()).expect("json");
    assert_eq!(json["mender.device"], serde_json::json!(true));
    assert!(json.get("mender.user").is_none() && json.get("mender.tenant").is_none());
    let mut user = claims();
    (user.device, user.user, user.tenant) = (false, true, "acme".into());
    let json = serde_json::to_value(&user).expect("json");
    assert_eq!((json["mender.user"].clone(), json["mender.tenant"].clone()), (true.into(), "acme".into()));
    assert!(json.get("mender.device").is_none());
}

#[test]
fn expired() {
    let keys = JwtKeys::generate(JwtAlgorithm::EdDSA).expect("keys");
    let token = keys.sign(&claims());
    assert!(keys.verify(&token, NOW + 3599).is_ok());
    assert!(matches!(keys.verify(&token, NOW + 3600), Err(JwtError::Expired)));
    assert!(matches!(keys.verify(&token, NOW + 7200), Err(JwtError::Expired)));
}

#[test]
fn tampered_payload() {
    let eddsa = JwtKeys::generate(JwtAlgorithm::EdDSA).expect("keys");
    for keys in [&eddsa, rs256_keys()] {
        let token = keys.sign(&claims());
        let mut parts = segments(&token);
        let mut forged = claims();
        forged.sub = "someone-else".into();
        parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).expect("json"));
        assert!(matches!(keys.verify(&parts.join("."), NOW), Err(JwtError::BadSignature)));
    }
}

#[test]
fn signed_by_another_key() {
    let ours = JwtKeys::generate(JwtAlgorithm::EdDSA).expect("keys");
    let theirs = JwtKeys::generate(JwtAlgorithm::EdDSA).expect("keys");
    let token = theirs.sign(&claims());
    assert!(matches!(ours.verify(&token, NOW), Err(JwtError::UnknownKey)));

    // The same token relabelled with our header still fails, on the signature.
    let mut parts = segments(&token);
    parts[0] = ours.header_b64.clone();
    assert!(matches!(ours.verify(&parts.join("."), NOW), Err(JwtError::BadSignature)));

    // Without a kid the header is accepted, the signature is not.
    parts[0] = URL_SAFE_NO_PAD.encode(r#"{"alg":"EdDSA","typ":"JWT"}"#);
    assert!(matches!(ours.verify(&parts.join("."), NOW), Err(JwtError::BadSignature)));
}

#[test]
fn a_rotated_key_still_verifies_what_it_signed_and_signs_no_more() {
    // The old key is RSA, the new one Ed25519: rotation may change the algorithm too.
    let old = rs256_keys();
    let old_token = old.sign(&claims());
    let old_pem = old.to_pkcs8_pem().expect("pem");
    let new = JwtKeys::generate(JwtAlgorithm::EdDSA)
        .expect("keys")
        .with_previous(vec![JwtKeys::from_pem(&old_pem).expect("old key")]);
    assert_eq!(new.verify(&old_token, NOW).expect("old token").sub, claims().sub);
    // New tokens are signed by the new key only.
    let fresh = new.sign(&claims());
    assert!(old.verify(&fresh, NOW).is_err());
    assert!(new.verify(&fresh, NOW).is_ok());
    // An old token still expires, and a key nobody configured is still unknown.
    assert!(matches!(new.verify(&old_token, NOW + 7200), Err(JwtError::Expired)));
    let stranger = JwtKeys::generate(JwtAlgorithm::EdDSA).expect("keys");
    assert!(matches!(new.verify(&stranger.sign(&claims()), NOW), Err(JwtError::UnknownKey)));
}

#[test]
fn forged_algorithms_are_rejected() {
    let keys = JwtKeys::generate(JwtAlgorithm::EdDSA).expect("keys");
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims()).expect("json"));
    let none = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    for token in [format!("{none}.{payload}."), format!("{none}.{payload}")] {
        assert!(matches!(keys.verify(&token, NOW), Err(JwtError::WrongAlgorithm | JwtError::Malformed)));
    }
    assert!(matches!(keys.verify(&format!("{none}.{payload}."), NOW), Err(JwtError::WrongAlgorithm)));

    let hs256 = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{}"}}"#, keys.kid()));
    let mac = URL_SAFE_NO_PAD.encode([0x5au8; 32]);
    assert!(matches!(keys.verify(&format!("{hs256}.{payload}.{mac}"), NOW), Err(JwtError::WrongAlgorithm)));

    // An RS256 token (a real one, from another key) is not accepted by EdDSA keys, nor vice versa.
    let rsa = rs256_keys();
    assert!(matches!(keys.verify(&rsa.sign(&claims()), NOW), Err(JwtError::WrongAlgorithm)));
    assert!(matches!(rsa.verify(&keys.sign(&claims()), NOW), Err(JwtError::WrongAlgorithm)));
}

#[test]
fn malformed_tokens() {
    let keys = JwtKeys::generate(JwtAlgorithm::EdDSA).expect("keys");
    let token = keys.sign(&claims());
    let parts = segments(&token);
    for bad in [
        String::new(),
        "abc".into(),
        "a.b".into(),
        format!("{token}.extra"),
        format!("!!.{}.{}", parts[1], parts[2]),
        format!("{}.{}.{}", URL_SAFE_NO_PAD.encode("not json"), parts[1], parts[2]),
    ] {
        assert!(matches!(keys.verify(&bad, NOW), Err(JwtError::Malformed)), "{bad:?}");
    }
    let bad_sig = format!("{}.{}.{}", parts[0], parts[1], &parts[2][..40]);
    assert!(matches!(keys.verify(&bad_sig, NOW), Err(JwtError::BadSignature)));
    for err in [JwtError::Malformed, JwtError::BadSignature, JwtError::Expired, JwtError::WrongAlgorithm] {
        assert!(err.to_string().starts_with("token "), "{err}");
    }
}

#[test]
fn load_or_generate_shares_one_key_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("keys");
    let first = JwtKeys::load_or_generate(&dir, JwtAlgorithm::EdDSA).expect("generates");
    let second = JwtKeys::load_or_generate(&dir, JwtAlgorithm::EdDSA).expect("loads");
    assert_eq!(first.kid(), second.kid());
    assert_eq!(second.verify(&first.sign(&claims()), NOW).expect("verifies"), claims());

    let path = dir.join("jwt-ed25519.pem");
    let mode = std::fs::metadata(&path).expect("metadata").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let pem = std::fs::read_to_string(&path).expect("read");
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert_eq!(JwtKeys::from_pem(&pem).expect("from_pem").kid(), first.kid());
    let leftovers: Vec<_> =
        std::fs::read_dir(&dir).expect("ls").map(|e| e.expect("entry").file_name()).collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("jwt-ed25519.pem")]);

    // A key file of the wrong type is refused rather than silently used.
    let rsa_pem = rs256_keys().to_pkcs8_pem().expect("pem");
    std::fs::write(dir.join("jwt-rs256.pem"), pem.as_bytes()).expect("write");
    assert!(matches!(JwtKeys::load_or_generate(&dir, JwtAlgorithm::RS256), Err(JwtError::Key(_))));
    std::fs::write(dir.join("jwt-rs256.pem"), rsa_pem.as_bytes()).expect("write");
    let rsa = JwtKeys::load_or_generate(&dir, JwtAlgorithm::RS256).expect("loads");
    assert_eq!(rsa.algorithm(), JwtAlgorithm::RS256);
}

#[test]
fn from_pem_rejects_non_keys() {
    assert!(matches!(JwtKeys::from_pem("nope"), Err(JwtError::Key(_))));
    let p256 = p256::SecretKey::random(&mut OsRng).to_pkcs8_pem(LineEnding::LF).expect("pem");
    assert!(matches!(JwtKeys::from_pem(&p256), Err(JwtError::Key(m)) if m.contains("unsupported")));
}

#[test]
fn generated_key_files_are_standard_pkcs8_that_openssl_reads() {
    for alg in [JwtAlgorithm::EdDSA, JwtAlgorithm::RS256] {
        if alg == JwtAlgorithm::RS256 && cfg!(debug_assertions) {
            // A 3072-bit key takes seconds in a debug build; the RSA writer is the rsa crate's
            // standard PKCS#8, checked on the 2048-bit test key below.
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        JwtKeys::load_or_generate(dir.path(), alg).expect("generates");
        assert_openssl_reads(&dir.path().join(alg.key_file_name()));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rsa.pem");
    std::fs::write(&path, rs256_keys().to_pkcs8_pem().unwrap().as_bytes()).unwrap();
    assert_openssl_reads(&path);
}

fn assert_openssl_reads(path: &std::path::Path) {
    let pem = std::fs::read_to_string(path).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");
    let out = std::process::Command::new("openssl")
        .args(["pkey", "-noout", "-in"])
        .arg(path)
        .output()
        .expect("openssl is installed (make installs it)");
    assert!(out.status.success(), "openssl pkey: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn key_files_of_earlier_versions_still_load() {
    // Versions before this one wrote Ed25519 keys as PKCS#8 v2 with the public key.
    let secret = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let old = secret.to_pkcs8_pem(pkcs8::LineEnding::LF).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("jwt-ed25519.pem"), old.as_bytes()).unwrap();
    let loaded = JwtKeys::load_or_generate(dir.path(), JwtAlgorithm::EdDSA).expect("an old key file loads");
    let rewritten = JwtKeys::from_pem(&loaded.to_pkcs8_pem().unwrap()).unwrap();
    assert_eq!(loaded.kid(), rewritten.kid(), "the same key in the new format");
    assert_eq!(rewritten.verify(&loaded.sign(&claims()), NOW).unwrap(), claims());
}
