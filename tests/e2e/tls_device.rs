//! Device mutual TLS (`--device-client-ca`): a device presenting a certificate of the device
//! CA is admitted on its first signed auth request, without an operator; without one it is
//! pending as usual; a forged signature or an operator's reject wins over the certificate; a
//! certificate of another CA fails the handshake.

use std::path::Path;

use crate::server::{Server, client_trusting};
use crate::tls::certs;

/// A device CA and one device certificate signed by it, in `dir`: `device-ca.crt`, and
/// `device.crt` + `device.key` (PEM).
pub fn device_certs(dir: &Path) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::default();
    ca.distinguished_name.push(DnType::CommonName, "fleet device CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut device = CertificateParams::new(Vec::<String>::new()).unwrap();
    device.distinguished_name.push(DnType::CommonName, "device-0001");
    device.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = device.signed_by(&key, &Issuer::new(ca, &ca_key)).unwrap();
    std::fs::write(dir.join("device-ca.crt"), ca_cert.pem()).unwrap();
    std::fs::write(dir.join("device.crt"), cert.pem()).unwrap();
    std::fs::write(dir.join("device.key"), key.serialize_pem()).unwrap();
}

#[tokio::test]
async fn a_device_with_a_certificate_of_the_device_ca_is_admitted_without_an_operator() {
    let dir = certs("ecdsa-p256");
    device_certs(dir.path());
    let ca = dir.path().join("device-ca.crt");
    let server = Server::start_tls(dir.path(), |args| args.tls.device_client_ca = Some(ca)).await;
    let identity = [
        std::fs::read(dir.path().join("device.crt")).unwrap(),
        std::fs::read(dir.path().join("device.key")).unwrap(),
    ]
    .concat();
    let with_cert = client_trusting(
        server.ca.as_ref().unwrap(),
        reqwest::Client::builder().identity(reqwest::Identity::from_pem(&identity).unwrap()),
    );
    let url = format!("{}/api/devices/v1/authentication/auth_requests", server.base);
    let send = |client: &reqwest::Client, (body, signature): &(String, String)| {
        client
            .post(&url)
            .header("Content-Type", "application/json")
            .header("X-MEN-Signature", signature)
            .body(body.clone())
            .send()
    };
    let mut requests = crate::server::captured();
    let (first, second) = (requests.remove(0), requests.remove(0));

    // Without a certificate: pending, as usual (operators, GUIs and other devices need none).
    assert_eq!(send(&server.http, &first).await.unwrap().status(), 401);
    // The same device with its certificate: admitted at once, its token in the answer.
    let res = send(&with_cert, &first).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/jwt");
    let (_, devices) = server.get("/api/management/v2/devauth/devices").await;
    assert_eq!(devices[0]["status"], "accepted", "{devices}");
    // A bad signature with a good certificate admits nothing.
    let forged = (second.0.clone(), first.1.clone());
    assert_eq!(send(&with_cert, &forged).await.unwrap().status(), 401);
    // An operator's reject wins over the certificate.
    let (_, devices) = server.get("/api/management/v2/devauth/devices").await;
    let id = devices[0]["id"].as_str().unwrap();
    let set = devices[0]["auth_sets"][0]["id"].as_str().unwrap();
    assert_eq!(server.set_status(id, set, "rejected").await, 204);
    assert_eq!(send(&with_cert, &first).await.unwrap().status(), 401);
    // A certificate of another CA fails the handshake.
    let other = certs("ecdsa-p256");
    device_certs(other.path());
    let stranger_identity = [
        std::fs::read(other.path().join("device.crt")).unwrap(),
        std::fs::read(other.path().join("device.key")).unwrap(),
    ]
    .concat();
    let stranger = client_trusting(
        server.ca.as_ref().unwrap(),
        reqwest::Client::builder().identity(reqwest::Identity::from_pem(&stranger_identity).unwrap()),
    );
    assert!(send(&stranger, &second).await.is_err());
}
