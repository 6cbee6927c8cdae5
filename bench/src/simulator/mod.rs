//! A device simulator: many devices that speak the wire the real Mender client speaks, over HTTP.
//!
//! Each device has its own Ed25519 key and signs its auth request the way the client does; an
//! operator (a user token) accepts the pending devices through the management API, the devices
//! ask again and get their JWTs, then poll `next` and walk a deployment through downloading,
//! installing and success. Every batch of requests is bounded by `in_flight`.

mod operator;

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use base64::Engine;
use bytes::Bytes;
use ed25519_dalek::pkcs8::EncodePublicKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use futures::{StreamExt, TryStreamExt};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The device type every simulated device reports (the one the fixture artifact is built for).
pub const DEVICE_TYPE: &str = "raspberrypi4";
/// What a device runs before its first update.
pub const FACTORY_IMAGE: &str = "factory-image";

/// A fleet's key material: one seed per run, so two runs against one server never collide.
#[derive(Clone, Copy)]
pub struct Seed([u8; 32]);

impl Seed {
    /// A fresh random seed.
    pub fn random() -> Seed {
        let mut s = [0u8; 32];
        s[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        s[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        Seed(s)
    }

    /// Device `index`'s MAC address (its whole identity) and its public key as PEM.
    pub fn identity(&self, index: u32) -> (String, String) {
        let mac = format!(
            "02:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            self.0[0],
            index >> 24 & 255,
            index >> 16 & 255,
            index >> 8 & 255,
            index & 255
        );
        (mac, self.key(index).verifying_key().to_public_key_pem(LineEnding::LF).expect("pem"))
    }

    /// Derived rather than drawn, so a device's key costs one hash and never needs storing.
    fn key(&self, index: u32) -> ed25519_dalek::SigningKey {
        let digest = Sha256::new().chain_update(self.0).chain_update(index.to_be_bytes()).finalize();
        ed25519_dalek::SigningKey::from_bytes(&digest.into())
    }
}

/// One simulated device: its signed auth request and what the server has given it.
pub struct SimDevice {
    /// Its identity, `{"mac": ...}`.
    pub mac: String,
    /// The auth request body, signed once: the client signs exactly the bytes it sends.
    body: Bytes,
    signature: String,
    /// The device id, known once an operator has accepted it.
    pub id: String,
    /// Its JWT, once accepted.
    pub token: String,
    /// The artifact it runs (`artifact_name` in `next`).
    pub artifact_name: String,
    /// The `next` body, kept serialized because an idle device sends the same one every poll.
    provides: Bytes,
}

impl SimDevice {
    /// Device `index` of the fleet `seed`, running the factory image.
    pub fn new(seed: &Seed, index: u32) -> SimDevice {
        let (mac, pem) = seed.identity(index);
        let id_data = json!({ "mac": mac }).to_string();
        // Field order and the trailing newline of the client's Go json.Encoder.
        let body = format!(
            "{{\"id_data\":{},\"tenant_token\":\"\",\"pubkey\":{}}}\n",
            Value::from(id_data),
            Value::from(pem)
        );
        let signature = ed25519_dalek::Signer::sign(&seed.key(index), body.as_bytes()).to_bytes();
        let mut device = SimDevice {
            mac,
            body: Bytes::from(body),
            signature: base64::engine::general_purpose::STANDARD.encode(signature),
            id: String::new(),
            token: String::new(),
            artifact_name: String::new(),
            provides: Bytes::new(),
        };
        device.runs(FACTORY_IMAGE);
        device
    }

    /// Records what the device now runs; its next poll says so.
    fn runs(&mut self, artifact_name: &str) {
        self.artifact_name = artifact_name.to_owned();
        // The 3.4 client's flat provides.
        let provides = json!({
            "artifact_name": artifact_name,
            "device_type": DEVICE_TYPE,
            "rootfs-image.version": artifact_name,
        });
        self.provides = Bytes::from(provides.to_string());
    }
}

/// A deployment handed out by `next`.
#[derive(Debug, Clone)]
pub struct Update {
    /// The deployment id.
    pub deployment: String,
    /// The artifact's name.
    pub artifact_name: String,
    /// The signed download link.
    pub uri: String,
}

/// How long each onboarding step took.
pub struct Onboarding {
    /// First auth requests (each answered 401, pending).
    pub submitted: Duration,
    /// Listing the pending devices and accepting each.
    pub accepted: Duration,
    /// Second auth requests (each answered 200 with a JWT).
    pub authorized: Duration,
}

/// A fleetlog (or Mender) server as its devices and one operator see it.
#[derive(Clone)]
pub struct Sim {
    /// The shared HTTP client (its pool holds up to `in_flight` connections).
    pub http: reqwest::Client,
    /// `http://host:port`, no trailing slash.
    pub base: String,
    /// Requests in flight at most, per batch.
    pub in_flight: usize,
    next_url: reqwest::Url,
}

impl Sim {
    /// A simulator talking to `base`.
    pub fn new(base: &str, in_flight: usize) -> anyhow::Result<Sim> {
        let http = reqwest::Client::builder().pool_max_idle_per_host(in_flight).build()?;
        Self::with_client(base, in_flight, http)
    }

    /// A simulator talking to `base` through `http` (e.g. a client trusting a private CA).
    pub fn with_client(base: &str, in_flight: usize, http: reqwest::Client) -> anyhow::Result<Sim> {
        let base = base.trim_end_matches('/').to_owned();
        let next_url = format!("{base}/api/devices/v1/deployments/device/deployments/next").parse()?;
        Ok(Sim { http, base, in_flight, next_url })
    }

    /// One auth request, as the client sends it (an empty tenant token is `Bearer `).
    pub(crate) async fn auth_request(&self, device: &SimDevice) -> anyhow::Result<reqwest::Response> {
        let url = format!("{}/api/devices/v1/authentication/auth_requests", self.base);
        Ok(self
            .http
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header(AUTHORIZATION, "Bearer ")
            .header("X-MEN-Signature", &device.signature)
            .body(device.body.clone())
            .send()
            .await?)
    }

    /// Brings `devices` from unknown to accepted with a JWT each, through the real flow.
    pub async fn onboard(&self, operator: &str, devices: &mut [SimDevice]) -> anyhow::Result<Onboarding> {
        let started = Instant::now();
        futures::stream::iter(devices.iter())
            .map(|d| async move {
                let res = self.auth_request(d).await?;
                ensure!(res.status() == StatusCode::UNAUTHORIZED, "new device {}: {}", d.mac, res.status());
                Ok(())
            })
            .buffer_unordered(self.in_flight)
            .try_collect::<()>()
            .await?;
        let submitted = started.elapsed();

        let started = Instant::now();
        self.accept(operator, devices).await?;
        let accepted = started.elapsed();

        let started = Instant::now();
        futures::stream::iter(devices.iter_mut())
            .map(|d| async move {
                let res = self.auth_request(d).await?;
                ensure!(res.status() == StatusCode::OK, "accepted device {}: {}", d.mac, res.status());
                d.token = res.text().await?;
                Ok(())
            })
            .buffer_unordered(self.in_flight)
            .try_collect::<()>()
            .await?;
        Ok(Onboarding { submitted, accepted, authorized: started.elapsed() })
    }

    /// The `next` request `device` sends, ready to send (its future borrows nothing).
    pub fn next_request(&self, device: &SimDevice) -> reqwest::RequestBuilder {
        self.http
            .post(self.next_url.clone())
            .bearer_auth(&device.token)
            .header(CONTENT_TYPE, "application/json")
            .body(device.provides.clone())
    }

    /// One `next` poll: `None` for 204 (nothing to do), the update for 200.
    pub async fn next(&self, device: &SimDevice) -> anyhow::Result<Option<Update>> {
        let res = self.next_request(device).send().await?;
        match res.status() {
            StatusCode::NO_CONTENT => Ok(None),
            StatusCode::OK => {
                let v: Value = res.json().await?;
                let text = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_owned);
                Ok(Some(Update {
                    deployment: text("/id").context("next: no id")?,
                    artifact_name: text("/artifact/artifact_name").context("next: no artifact_name")?,
                    uri: text("/artifact/source/uri").context("next: no source uri")?,
                }))
            }
            other => bail!("next for {}: {other} {}", device.mac, res.text().await.unwrap_or_default()),
        }
    }

    /// One status report (`downloading`, `installing`, `success`, ...); 204 expected.
    pub async fn report(&self, device: &SimDevice, deployment: &str, status: &str) -> anyhow::Result<()> {
        let url = format!("{}/api/devices/v1/deployments/device/deployments/{deployment}/status", self.base);
        let res =
            self.http.put(url).bearer_auth(&device.token).json(&json!({ "status": status })).send().await?;
        ensure!(res.status() == StatusCode::NO_CONTENT, "{status} from {}: {}", device.mac, res.status());
        Ok(())
    }

    /// Downloads an artifact as the client does: no token, and a `Content-Length` it insists on
    /// (the client refuses a download of unknown length). Returns the byte count.
    pub async fn download(&self, uri: &str) -> anyhow::Result<u64> {
        let res = self.http.get(uri).send().await?;
        ensure!(res.status() == StatusCode::OK, "download: {}", res.status());
        let length: u64 = res
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .context("download without Content-Length")?;
        let got = res.bytes().await?.len() as u64;
        ensure!(got == length, "download: Content-Length {length}, got {got} bytes");
        Ok(got)
    }

    /// Installs `update` on `device`: downloading, (the download itself if `fetch`),
    /// installing, success; the device then runs the new artifact.
    pub async fn install(&self, device: &mut SimDevice, update: &Update, fetch: bool) -> anyhow::Result<()> {
        self.report(device, &update.deployment, "downloading").await?;
        if fetch {
            self.download(&update.uri).await?;
        }
        self.report(device, &update.deployment, "installing").await?;
        self.report(device, &update.deployment, "success").await?;
        device.runs(&update.artifact_name);
        Ok(())
    }
}
