//! The S3 backend, through `aws-sdk-s3` with static credentials, any endpoint and path-style
//! addressing, so it works with AWS and with S3-compatible servers (SeaweedFS, MinIO, ...).

mod upload;

use std::error::Error;
use std::fmt::Debug;
use std::io;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
    SharedHttpClient,
};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

use crate::{
    BlobStream, ByteRange, GetObject, ObjectMeta, RangeSpec, StorageConfig, StoreError, content_disposition,
    validate_key,
};

/// Smallest part S3 accepts (all parts but the last).
const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

/// Objects in an S3 bucket; download links are presigned GET URLs.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    /// Signs links with the public endpoint, which may differ from the one the gateway uses.
    presign_client: Client,
    bucket: String,
    region: String,
    part_size: u64,
}

impl S3Store {
    /// Connect with `config`'s `s3_*` settings, creating the bucket if it is missing and
    /// `s3_create_bucket` is set.
    pub async fn connect(config: &StorageConfig) -> Result<S3Store, StoreError> {
        let (Some(access_key), Some(secret_key)) = (&config.s3_access_key, &config.s3_secret_key) else {
            return Err(StoreError::Config("the s3 backend needs an access key and a secret key".into()));
        };
        if config.s3_bucket.is_empty() {
            return Err(StoreError::Config("the s3 backend needs a bucket name".into()));
        }
        let part_size = config.s3_part_size_mib.saturating_mul(1024 * 1024);
        if part_size < MIN_PART_SIZE {
            return Err(StoreError::Config("the s3 part size must be at least 5 MiB".into()));
        }
        let credentials = Credentials::new(access_key, secret_key, None, None, "fleetlog-config");
        // The SDK's default HTTPS client would bring aws-lc-rs (a C build); ring does the same
        // job and is already a dependency of rustls elsewhere. Plain http:// works too.
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let client_for = |endpoint: Option<&String>| {
            let mut builder = aws_sdk_s3::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new(config.s3_region.clone()))
                .credentials_provider(credentials.clone())
                .force_path_style(config.s3_path_style)
                .http_client(SharedHttpClient::clone(&http))
                // Newer SDKs add CRC checksums (aws-chunked bodies) to every upload; not every
                // S3-compatible server takes those, and S3 needs them only where it says so.
                .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
            if let Some(endpoint) = endpoint {
                builder = builder.endpoint_url(endpoint);
            }
            Client::from_conf(builder.build())
        };
        let store = S3Store {
            client: client_for(config.s3_endpoint.as_ref()),
            presign_client: client_for(config.s3_public_endpoint.as_ref().or(config.s3_endpoint.as_ref())),
            bucket: config.s3_bucket.clone(),
            region: config.s3_region.clone(),
            part_size,
        };
        if config.s3_create_bucket {
            store.ensure_bucket().await?;
        }
        Ok(store)
    }

    /// The SDK client (for what this type does not wrap, e.g. listing in tests and tools).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Create the bucket unless it exists.
    pub async fn ensure_bucket(&self) -> Result<(), StoreError> {
        match self.client.head_bucket().bucket(&self.bucket).send().await {
            Ok(_) => return Ok(()),
            Err(e) if status_of(&e) == Some(404) => {}
            Err(e) => return Err(s3_error("HeadBucket", e)),
        }
        let mut create = self.client.create_bucket().bucket(&self.bucket);
        // us-east-1 is the one region that must not be named as a location constraint.
        if self.region != "us-east-1" {
            let location = CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(self.region.as_str()))
                .build();
            create = create.create_bucket_configuration(location);
        }
        match create.send().await {
            Ok(_) => Ok(()),
            // Another replica created it meanwhile.
            Err(e) if matches!(e.code(), Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists")) => Ok(()),
            Err(e) => Err(s3_error("CreateBucket", e)),
        }
    }

    /// See [`crate::Store::get`].
    pub async fn get(&self, key: &str, range: Option<RangeSpec>) -> Result<GetObject, StoreError> {
        validate_key(key)?;
        let request = self.client.get_object().bucket(&self.bucket).key(key);
        let output = match request.set_range(range.map(RangeSpec::to_header)).send().await {
            Ok(output) => output,
            Err(e) => {
                return Err(match status_of(&e) {
                    Some(404) => StoreError::NotFound(key.to_owned()),
                    // The 416 answer does not carry the size the caller needs for its own 416.
                    Some(416) => match self.head(key).await? {
                        Some(meta) => StoreError::RangeNotSatisfiable { size: meta.size },
                        None => StoreError::NotFound(key.to_owned()),
                    },
                    _ => s3_error("GetObject", e),
                });
            }
        };
        let length = u64::try_from(output.content_length().unwrap_or(0)).unwrap_or(0);
        // A server may answer a range request with the whole object (200, no Content-Range).
        let (range, size) = match output.content_range().and_then(ByteRange::parse_content_range) {
            Some((range, size)) => (Some(range), size),
            None => (None, length),
        };
        let body: BlobStream = Box::pin(futures::stream::unfold(output.body, |mut body| async move {
            let chunk = body.next().await?;
            Some((chunk.map_err(io::Error::other), body))
        }));
        Ok(GetObject { size, range, body })
    }

    /// See [`crate::Store::head`].
    pub async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        validate_key(key)?;
        match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(output) => Ok(Some(ObjectMeta {
                size: u64::try_from(output.content_length().unwrap_or(0)).unwrap_or(0),
                last_modified: output.last_modified().and_then(|t| SystemTime::try_from(*t).ok()),
            })),
            Err(e) if status_of(&e) == Some(404) => Ok(None),
            Err(e) => Err(s3_error("HeadObject", e)),
        }
    }

    /// See [`crate::Store::delete`].
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        validate_key(key)?;
        match self.client.delete_object().bucket(&self.bucket).key(key).send().await {
            Ok(_) => Ok(()),
            // S3 answers 204 for a missing key; some compatible servers say 404.
            Err(e) if status_of(&e) == Some(404) => Ok(()),
            Err(e) => Err(s3_error("DeleteObject", e)),
        }
    }

    /// See [`crate::Store::download_link`]. SigV4 presigned URLs last at most 7 days.
    pub async fn download_link(
        &self,
        key: &str,
        expires_in: Duration,
        file_name: Option<&str>,
    ) -> Result<String, StoreError> {
        validate_key(key)?;
        let presigning = PresigningConfig::expires_in(expires_in)
            .map_err(|e| StoreError::Config(format!("download link expiry: {e}")))?;
        let request = self
            .presign_client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_response_content_disposition(file_name.map(content_disposition));
        let presigned = request.presigned(presigning).await.map_err(|e| s3_error("presign GetObject", e))?;
        Ok(presigned.uri().to_owned())
    }
}

impl S3Store {
    /// See [`crate::Store::upload_link`]: a presigned `PutObject`.
    pub async fn upload_link(&self, key: &str, expires_in: Duration) -> Result<String, StoreError> {
        validate_key(key)?;
        let presigning = PresigningConfig::expires_in(expires_in)
            .map_err(|e| StoreError::Config(format!("upload link expiry: {e}")))?;
        let request = self.presign_client.put_object().bucket(&self.bucket).key(key);
        let presigned = request.presigned(presigning).await.map_err(|e| s3_error("presign PutObject", e))?;
        Ok(presigned.uri().to_owned())
    }
}

/// HTTP status of a failed request, when the server answered at all.
fn status_of<E>(error: &SdkError<E, HttpResponse>) -> Option<u16> {
    error.raw_response().map(|response| response.status().as_u16())
}

/// A StoreError with the SDK error's whole chain of causes (its Display alone says only
/// "service error").
fn s3_error<E: Error + 'static, R: Debug>(op: &'static str, error: SdkError<E, R>) -> StoreError {
    StoreError::S3 { op, message: DisplayErrorContext(&error).to_string() }
}
