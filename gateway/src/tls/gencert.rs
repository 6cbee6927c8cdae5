//! `fleetlog admin gen-cert`: a self-signed CA and a server certificate signed by it, for trying
//! TLS locally and for the tests. Devices trust the CA (`ServerCertificate` in `mender.conf`),
//! so the server certificate can be made anew without touching them.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

use crate::settings::GenCertArgs;

/// The files written, in `out`.
pub const CA_CERT: &str = "ca.crt";
/// The CA's key (keep it to sign more certificates; the server does not need it).
pub const CA_KEY: &str = "ca.key";
/// The server's certificate, for `--tls-cert`.
pub const SERVER_CERT: &str = "server.crt";
/// The server's key, for `--tls-key`.
pub const SERVER_KEY: &str = "server.key";

/// A new key of `kind`: `ecdsa-p256` or `rsa-2048`.
fn new_key(kind: &str) -> anyhow::Result<KeyPair> {
    match kind.to_ascii_lowercase().as_str() {
        "ecdsa-p256" | "p256" | "ecdsa" => {
            KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).context("generating a P-256 key")
        }
        "rsa-2048" | "rsa" => {
            use pkcs8::EncodePrivateKey as _;
            // ring signs with RSA but does not make RSA keys: the rsa crate does.
            let key =
                rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).context("generating an RSA key")?;
            let der = key.to_pkcs8_der().context("encoding the RSA key")?;
            let der = rustls::pki_types::PrivatePkcs8KeyDer::from(der.as_bytes());
            KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_RSA_SHA256)
                .context("loading the RSA key")
        }
        other => bail!("unknown --key-type {other:?}: use ecdsa-p256 or rsa-2048"),
    }
}

/// An IP address, or a DNS name (labels of letters, digits and hyphens; a leading `*.` for a
/// wildcard).
fn is_host(host: &str) -> bool {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    let name = host.strip_prefix("*.").unwrap_or(host);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Writes `data` to `path`, readable by its owner only when `secret`.
fn write(path: &Path, data: &str, secret: bool) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mode = if secret { 0o600 } else { 0o644 };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(data.as_bytes()).with_context(|| format!("writing {}", path.display()))
}

/// Makes the CA and the server certificate for `args.hosts` into `args.out`; returns the
/// paths written.
pub fn generate(args: &GenCertArgs) -> anyhow::Result<Vec<PathBuf>> {
    if !(1..=3650).contains(&args.days) {
        bail!("--days must be between 1 and 3650");
    }
    let now = OffsetDateTime::now_utc();
    // An hour back, so that a device whose clock is a little behind accepts it at once.
    let not_before = now - Duration::hours(1);

    let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).context("generating the CA key")?;
    let mut ca = CertificateParams::default();
    ca.distinguished_name = rcgen::DistinguishedName::new();
    ca.distinguished_name.push(DnType::CommonName, "fleetlog local CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    ca.not_before = not_before;
    ca.not_after = now + Duration::days(3650);
    let ca_cert = ca.self_signed(&ca_key).context("signing the CA certificate")?;

    for host in &args.hosts {
        if !is_host(host) {
            bail!("--host {host:?} is neither a DNS name nor an IP address");
        }
    }
    let key = new_key(&args.key_type)?;
    let mut server = CertificateParams::new(args.hosts.clone())
        .map_err(|e| anyhow::anyhow!("--host {:?}: {e}", args.hosts))?;
    server.distinguished_name = rcgen::DistinguishedName::new();
    server.distinguished_name.push(DnType::CommonName, args.hosts[0].as_str());
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.use_authority_key_identifier_extension = true;
    server.not_before = not_before;
    server.not_after = now + Duration::days(i64::from(args.days));
    let issuer = Issuer::new(ca, &ca_key);
    let server_cert = server.signed_by(&key, &issuer).context("signing the server certificate")?;

    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let files = [
        (CA_CERT, ca_cert.pem(), false),
        (CA_KEY, ca_key.serialize_pem(), true),
        (SERVER_CERT, server_cert.pem(), false),
        (SERVER_KEY, key.serialize_pem(), true),
    ];
    let mut written = Vec::new();
    for (name, data, secret) in files {
        let path = args.out.join(name);
        write(&path, &data, secret)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::{GenCertArgs, SERVER_CERT, SERVER_KEY, generate};

    #[test]
    fn the_written_pair_loads_for_both_key_types_and_bad_hosts_are_refused() {
        for key_type in ["ecdsa-p256", "rsa-2048"] {
            let dir = tempfile::tempdir().unwrap();
            let args = GenCertArgs {
                hosts: vec!["localhost".into(), "127.0.0.1".into()],
                out: dir.path().into(),
                key_type: key_type.into(),
                days: 30,
            };
            assert_eq!(generate(&args).unwrap().len(), 4);
            crate::tls::load_pair(&dir.path().join(SERVER_CERT), &dir.path().join(SERVER_KEY)).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let bad = GenCertArgs {
            hosts: vec!["not a name".into()],
            out: dir.path().into(),
            key_type: "ecdsa-p256".into(),
            days: 30,
        };
        assert!(generate(&bad).is_err());
    }
}
