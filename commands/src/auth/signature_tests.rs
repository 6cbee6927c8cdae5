//! Tests for device signatures, against real mender-client 3.4 auth requests captured on the wire.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::signature::hazmat::PrehashSigner as _;
use pkcs1::EncodeRsaPublicKey as _;
use pkcs8::{DecodePublicKey as _, EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
use rand_core::{OsRng, RngCore as _};
use rsa::{BigUint, RsaPrivateKey, RsaPublicKey};
use sha2::{Digest as _, Sha256, Sha384};

use super::*;

const CAPTURES: &[&str] = &[
    concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/captures/05-v2-404-fallback-and-auth-401.jsonl"),
    concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/captures/14-tenant-token.jsonl"),
    concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/captures/20-recipe-e2e-fresh-device.jsonl"),
];

/// One captured `auth_requests` call: raw body, `X-Men-Signature`, and the `pubkey` inside.
struct AuthRequest {
    body: String,
    signature: String,
    pubkey: String,
}

fn captured_auth_requests() -> Vec<AuthRequest> {
    let mut out = Vec::new();
    for path in CAPTURES {
        let text = std::fs::read_to_string(path).expect("capture file");
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let record: serde_json::Value = serde_json::from_str(line).expect("capture line is JSON");
            if !record["path"].as_str().unwrap_or("").ends_with("/authentication/auth_requests") {
                continue;
            }
            let body = record["body"].as_str().expect("body").to_owned();
            assert_eq!(Some(body.len() as u64), record["body_len"].as_u64(), "capture body is exact");
            let signature =
                record["headers"]["X-Men-Signature"].as_str().expect("signature header").to_owned();
            let parsed: serde_json::Value = serde_json::from_str(&body).expect("body is JSON");
            let pubkey = parsed["pubkey"].as_str().expect("pubkey").to_owned();
            out.push(AuthRequest { body, signature, pubkey });
        }
    }
    out
}

#[test]
fn every_captured_auth_request_verifies() {
    let requests = captured_auth_requests();
    assert!(requests.len() >= 9, "found {} auth requests", requests.len());
    let mut algorithms: Vec<&str> = Vec::new();
    for req in &requests {
        let key = parse_public_key(&req.pubkey).expect("captured key parses");
        key.verify(req.body.as_bytes(), &req.signature).expect("captured signature verifies");
        // The Go client sends canonical SPKI PEM already.
        assert_eq!(key.to_canonical_pem(), req.pubkey);
        algorithms.push(key.algorithm());
    }
    for alg in ["rsa", "ed25519", "ecdsa-p256"] {
        assert!(algorithms.contains(&alg), "no {alg} request among {algorithms:?}");
    }
}

#[test]
fn one_changed_byte_fails() {
    for req in captured_auth_requests() {
        let key = parse_public_key(&req.pubkey).expect("parses");
        let mut body = req.body.clone().into_bytes();
        let mid = body.len() / 2;
        body[mid] ^= 0x01;
        assert_eq!(key.verify(&body, &req.signature), Err(SignatureError::Mismatch), "{}", key.algorithm());
        // The trailing newline of Go's json.Encoder is part of what is signed.
        let trimmed = req.body.trim_end().as_bytes();
        assert_eq!(key.verify(trimmed, &req.signature), Err(SignatureError::Mismatch));
    }
}

#[test]
fn signature_from_another_key_fails() {
    let requests = captured_auth_requests();
    let mut cross_checked = 0;
    for a in &requests {
        let key = parse_public_key(&a.pubkey).expect("parses");
        for b in requests.iter().filter(|b| b.pubkey != a.pubkey) {
            assert!(key.verify(b.body.as_bytes(), &b.signature).is_err());
            assert!(key.verify(a.body.as_bytes(), &b.signature).is_err());
            cross_checked += 1;
        }
    }
    assert!(cross_checked > 0);

    // Same algorithm, other key, same body.
    let req = requests.iter().find(|r| r.pubkey.len() < 200 && r.pubkey.contains("MFkw")).expect("p256");
    let key = parse_public_key(&req.pubkey).expect("parses");
    let other = p256::ecdsa::SigningKey::random(&mut OsRng);
    let sig: p256::ecdsa::Signature = other.sign_prehash(&Sha256::digest(req.body.as_bytes())).expect("sign");
    let sig_b64 = STANDARD.encode(sig.to_der());
    assert_eq!(key.verify(req.body.as_bytes(), &sig_b64), Err(SignatureError::Mismatch));
}

#[test]
fn p384_signs_sha256_like_the_mender_client() {
    let secret = p384::ecdsa::SigningKey::random(&mut OsRng);
    let pem = secret.verifying_key().to_public_key_pem(LineEnding::LF).expect("pem");
    let key = parse_public_key(&pem).expect("parses");
    assert_eq!(key.algorithm(), "ecdsa-p384");
    assert_eq!(key.to_canonical_pem(), pem);

    let body = br#"{"id_data":"{\"mac\":\"02:00:00:00:00:09\"}","tenant_token":"","pubkey":"..."}
"#;
    let sig: p384::ecdsa::Signature = secret.sign_prehash(&Sha256::digest(body)).expect("sign");
    key.verify(body, &STANDARD.encode(sig.to_der())).expect("SHA-256 over P-384 verifies");

    let mut tampered = body.to_vec();
    tampered[3] ^= 0x20;
    assert_eq!(key.verify(&tampered, &STANDARD.encode(sig.to_der())), Err(SignatureError::Mismatch));

    // A SHA-384 digest is not what the client sends, so it must not verify.
    let sig384: p384::ecdsa::Signature = secret.sign_prehash(&Sha384::digest(body)).expect("sign");
    assert_eq!(key.verify(body, &STANDARD.encode(sig384.to_der())), Err(SignatureError::Mismatch));
}

#[test]
fn rsa_pkcs1_pem_is_accepted_and_canonicalised() {
    let secret = RsaPrivateKey::new(&mut OsRng, 2048).expect("keygen");
    let public = secret.to_public_key();
    let pkcs1_pem = public.to_pkcs1_pem(LineEnding::CRLF).expect("pkcs1 pem");
    assert!(pkcs1_pem.starts_with("-----BEGIN RSA PUBLIC KEY-----"));
    let key = parse_public_key(&pkcs1_pem).expect("parses");
    assert_eq!(key.algorithm(), "rsa");
    assert_eq!(key.to_canonical_pem(), public.to_public_key_pem(LineEnding::LF).expect("spki pem"));

    let body = b"{\"id_data\":\"{}\"}\n";
    let sig = secret.sign(pkcs1v15_sha256(), &Sha256::digest(body)).expect("sign");
    key.verify(body, &STANDARD.encode(&sig)).expect("verifies");
    assert_eq!(key.verify(b"{\"id_data\":\"{ }\"}\n", &STANDARD.encode(&sig)), Err(SignatureError::Mismatch));
}

#[test]
fn captured_rsa_key_as_pkcs1_and_rewrapped_compares_equal() {
    let req = captured_auth_requests().into_iter().find(|r| r.pubkey.len() > 600).expect("an RSA request");
    let spki = parse_public_key(&req.pubkey).expect("parses");
    let public = RsaPublicKey::from_public_key_pem(&req.pubkey).expect("rsa key");
    let as_pkcs1 = parse_public_key(&public.to_pkcs1_pem(LineEnding::LF).expect("pem")).expect("parses");
    assert_eq!(as_pkcs1, spki);
    as_pkcs1.verify(req.body.as_bytes(), &req.signature).expect("same key verifies");

    // Re-wrapped at 76 columns with CRLF and surrounding whitespace.
    let b64 = STANDARD.encode(der_of(&req.pubkey));
    let lines: Vec<&str> =
        b64.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).expect("ascii")).collect();
    let rewrapped =
        format!("  -----BEGIN PUBLIC KEY-----\r\n{}\r\n-----END PUBLIC KEY-----\r\n\r\n", lines.join("\r\n"));
    assert_eq!(parse_public_key(&rewrapped).expect("parses").to_canonical_pem(), req.pubkey);
}

fn der_of(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).expect("base64")
}

fn pem_of(label: &str, der: &[u8]) -> String {
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", STANDARD.encode(der))
}

/// An RSA public key with a modulus of exactly `bits` bits (not a real key: only its size matters).
fn rsa_pkcs1_pem_of_size(bits: usize) -> String {
    let mut bytes = vec![0u8; bits.div_ceil(8)];
    OsRng.fill_bytes(&mut bytes);
    bytes[0] = 0x80 >> ((8 - bits % 8) % 8);
    let last = bytes.len() - 1;
    bytes[last] |= 1;
    let n = BigUint::from_bytes_be(&bytes);
    let key = RsaPublicKey::new_with_max_size(n, BigUint::from(65537u32), 16384).expect("key");
    key.to_pkcs1_pem(LineEnding::LF).expect("pem")
}

#[test]
fn key_errors() {
    assert_eq!(parse_public_key("hello"), Err(KeyError::NotPem));
    assert_eq!(parse_public_key(""), Err(KeyError::NotPem));
    assert_eq!(
        parse_public_key("-----BEGIN PUBLIC KEY-----\nnot*base64!\n-----END PUBLIC KEY-----\n"),
        Err(KeyError::BadPemBody)
    );
    assert!(matches!(parse_public_key(&pem_of("PUBLIC KEY", b"garbage bytes")), Err(KeyError::Malformed(_))));
    assert!(matches!(
        parse_public_key(&pem_of("CERTIFICATE", b"whatever")),
        Err(KeyError::UnsupportedPemType(t)) if t == "CERTIFICATE"
    ));

    let ed = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let private_pem = ed.to_pkcs8_pem(LineEnding::LF).expect("pem");
    assert_eq!(parse_public_key(&private_pem), Err(KeyError::PrivateKey));
    assert_eq!(parse_public_key(&pem_of("RSA PRIVATE KEY", b"x")), Err(KeyError::PrivateKey));
    assert_eq!(parse_public_key(&pem_of("EC PRIVATE KEY", b"x")), Err(KeyError::PrivateKey));

    // X25519 (1.3.101.110): an algorithm we do not take.
    let mut x25519 = vec![0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00];
    x25519.extend_from_slice(&[9u8; 32]);
    assert_eq!(
        parse_public_key(&pem_of("PUBLIC KEY", &x25519)),
        Err(KeyError::UnsupportedAlgorithm("1.3.101.110".into()))
    );

    // secp256k1 (1.3.132.0.10): a curve we do not take.
    let mut k256 = vec![0x30, 0x56, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    k256.extend_from_slice(&[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a, 0x03, 0x42, 0x00, 0x04]);
    k256.extend_from_slice(&[1u8; 64]);
    assert_eq!(
        parse_public_key(&pem_of("PUBLIC KEY", &k256)),
        Err(KeyError::UnsupportedCurve("1.3.132.0.10".into()))
    );

    assert_eq!(parse_public_key(&rsa_pkcs1_pem_of_size(1024)), Err(KeyError::RsaKeySize(1024, 2048)));
    assert_eq!(parse_public_key(&rsa_pkcs1_pem_of_size(2047)), Err(KeyError::RsaKeySize(2047, 2048)));
    assert_eq!(parse_public_key(&rsa_pkcs1_pem_of_size(8200)), Err(KeyError::RsaKeySize(8200, 2048)));
    assert_eq!(parse_public_key(&rsa_pkcs1_pem_of_size(2048)).map(|k| k.algorithm()), Ok("rsa"));
    assert_eq!(parse_public_key(&rsa_pkcs1_pem_of_size(8192)).map(|k| k.algorithm()), Ok("rsa"));

    for err in [KeyError::NotPem, KeyError::PrivateKey, KeyError::RsaKeySize(1024, 2048)] {
        assert!(err.to_string().len() > 20, "{err}");
    }
}

#[test]
fn signature_errors() {
    let requests = captured_auth_requests();
    for req in &requests {
        let key = parse_public_key(&req.pubkey).expect("parses");
        let body = req.body.as_bytes();
        assert_eq!(key.verify(body, "not base64!"), Err(SignatureError::BadBase64));
        let short = STANDARD.encode([0u8; 10]);
        let expected =
            if key.algorithm() == "rsa" { SignatureError::Mismatch } else { SignatureError::Malformed };
        assert_eq!(key.verify(body, &short), Err(expected), "{}", key.algorithm());
    }
    assert!(SignatureError::Mismatch.to_string().contains("X-MEN-Signature"));
}
