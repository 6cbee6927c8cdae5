//! Device keys Mender accepts beyond fleetlog's default, against auth requests signed by
//! OpenSSL (`openssl dgst -sha256 -sign`, as mender-client's OpenSSL keystore signs): RSA
//! 1024, ECDSA P-521 and P-224.

use super::super::signature::{KeyError, KeyPolicy, parse_public_key, parse_public_key_with};

struct Signed {
    body: String,
    signature: String,
    pubkey: String,
}

fn signed(key: &str) -> Signed {
    let text = include_str!("../../../tests/fixtures/openssl-auth-requests.jsonl");
    let r: serde_json::Value = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .find(|r: &serde_json::Value| r["key"] == key)
        .unwrap();
    let s = |k: &str| r[k].as_str().unwrap().to_owned();
    Signed { body: s("body"), signature: s("signature"), pubkey: s("pubkey") }
}

#[test]
fn p521_is_accepted_by_default_and_its_openssl_signature_verifies() {
    let r = signed("ecdsa-p521");
    let key = parse_public_key(&r.pubkey).unwrap();
    assert_eq!(key.algorithm(), "ecdsa-p521");
    assert_eq!(key.to_canonical_pem(), r.pubkey, "stored as sent");
    key.verify(r.body.as_bytes(), &r.signature).unwrap();
    let tampered = r.body.replacen("02:00", "02:01", 1);
    assert!(key.verify(tampered.as_bytes(), &r.signature).is_err());
}

#[test]
fn p224_needs_the_setting() {
    let r = signed("ecdsa-p224");
    assert_eq!(parse_public_key(&r.pubkey).unwrap_err(), KeyError::P224NotAllowed);
    let policy = KeyPolicy { allow_p224: true, ..KeyPolicy::default() };
    let key = parse_public_key_with(&r.pubkey, &policy).unwrap();
    assert_eq!(key.algorithm(), "ecdsa-p224");
    key.verify(r.body.as_bytes(), &r.signature).unwrap();
    assert!(key.verify(b"{}", &r.signature).is_err());
}

#[test]
fn rsa_1024_needs_the_setting() {
    let r = signed("rsa-1024");
    let refused = parse_public_key(&r.pubkey).unwrap_err();
    assert_eq!(refused, KeyError::RsaKeySize(1024, 2048));
    assert!(refused.to_string().contains("--min-rsa-bits"), "{refused}");
    let policy = KeyPolicy { min_rsa_bits: 1024, ..KeyPolicy::default() };
    let key = parse_public_key_with(&r.pubkey, &policy).unwrap();
    key.verify(r.body.as_bytes(), &r.signature).unwrap();
}
