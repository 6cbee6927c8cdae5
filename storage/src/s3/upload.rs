//! Streamed uploads to S3: one PutObject for a body that fits in a part, else a multipart
//! upload that buffers one part while the previous one is in flight, and is aborted on any
//! failure (or when the caller drops the future) so no orphan parts stay billed.

use std::io;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use tokio_util::task::AbortOnDropHandle;

use super::{S3Store, s3_error};
use crate::{StoreError, validate_key};

/// S3 allows at most this many parts per upload.
const MAX_PARTS: u64 = 10_000;

/// S3's largest part.
const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;

impl S3Store {
    /// See [`crate::Store::put_stream`].
    pub async fn put_stream<S>(
        &self,
        key: &str,
        body: S,
        expected_len: Option<u64>,
    ) -> Result<u64, StoreError>
    where
        S: Stream<Item = io::Result<Bytes>> + Send,
    {
        validate_key(key)?;
        let part_size = self.part_size_for(expected_len)?;
        let mut upload = None;
        let result = self.upload(key, std::pin::pin!(body), expected_len, part_size, &mut upload).await;
        if let Some(upload) = upload {
            match &result {
                Ok(_) => upload.complete().await?,
                Err(_) => upload.abort().await,
            }
        }
        result
    }

    /// Part size: the configured one, raised when a declared length would need more than
    /// 10,000 parts. Without a declared length the configured size caps the object
    /// (8 MiB parts: 78 GiB).
    fn part_size_for(&self, expected_len: Option<u64>) -> Result<usize, StoreError> {
        let needed = expected_len.unwrap_or(0).div_ceil(MAX_PARTS).next_multiple_of(1024 * 1024);
        let size = self.part_size.max(needed);
        if size > MAX_PART_SIZE {
            return Err(StoreError::TooLarge(format!(
                "{} bytes is more than S3 takes",
                expected_len.unwrap_or(0)
            )));
        }
        usize::try_from(size).map_err(|_| StoreError::Config("part size does not fit in memory".into()))
    }

    /// Read `body` into parts and send them. Starts a multipart upload in `upload` once the
    /// body outgrows one part; the caller completes or aborts it.
    async fn upload<S>(
        &self,
        key: &str,
        mut body: std::pin::Pin<&mut S>,
        expected_len: Option<u64>,
        part_size: usize,
        upload: &mut Option<Multipart>,
    ) -> Result<u64, StoreError>
    where
        S: Stream<Item = io::Result<Bytes>> + Send,
    {
        let mut buffer = BytesMut::new();
        let mut total: u64 = 0;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(StoreError::Body)?;
            total += chunk.len() as u64;
            if let Some(expected) = expected_len.filter(|&e| total > e) {
                return Err(StoreError::LengthMismatch { expected, actual: total });
            }
            buffer.extend_from_slice(&chunk);
            // Strictly more than a part: a body of exactly one part stays a single PutObject.
            while buffer.len() > part_size {
                let part = buffer.split_to(part_size).freeze();
                let multipart = match upload {
                    Some(multipart) => multipart,
                    None => upload.insert(self.start_multipart(key).await?),
                };
                multipart.send_part(part).await?;
            }
        }
        if let Some(expected) = expected_len.filter(|&e| total != e) {
            return Err(StoreError::LengthMismatch { expected, actual: total });
        }
        match upload {
            Some(multipart) => multipart.send_part(buffer.freeze()).await?,
            None => {
                let request = self.client.put_object().bucket(&self.bucket).key(key);
                let length = i64::try_from(buffer.len()).unwrap_or(i64::MAX);
                let request = request.content_length(length).body(ByteStream::from(buffer.freeze()));
                request.send().await.map_err(|e| s3_error("PutObject", e))?;
            }
        }
        Ok(total)
    }

    async fn start_multipart(&self, key: &str) -> Result<Multipart, StoreError> {
        let created = self.client.create_multipart_upload().bucket(&self.bucket).key(key).send().await;
        let created = created.map_err(|e| s3_error("CreateMultipartUpload", e))?;
        let upload_id = created
            .upload_id
            .ok_or_else(|| StoreError::S3 { op: "CreateMultipartUpload", message: "no upload id".into() })?;
        Ok(Multipart {
            client: self.client.clone(),
            bucket: self.bucket.clone(),
            key: key.to_owned(),
            upload_id,
            done: Vec::new(),
            in_flight: None,
            finished: false,
        })
    }
}

/// A multipart upload in progress. Dropped unfinished, it aborts itself in the background.
struct Multipart {
    client: Client,
    bucket: String,
    key: String,
    upload_id: String,
    done: Vec<CompletedPart>,
    /// The part being sent while the next one is read; aborted if we are dropped.
    in_flight: Option<AbortOnDropHandle<Result<CompletedPart, StoreError>>>,
    finished: bool,
}

impl Multipart {
    /// Send `data` as the next part, after waiting for the previous one: at most one part is
    /// in flight and one being filled, which bounds memory to two parts per upload.
    async fn send_part(&mut self, data: Bytes) -> Result<(), StoreError> {
        self.wait_in_flight().await?;
        let number = self.done.len() as u64 + 1;
        if number > MAX_PARTS {
            return Err(StoreError::TooLarge(format!("more than {MAX_PARTS} parts; declare the length")));
        }
        let number = number as i32;
        let request = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .part_number(number)
            .content_length(i64::try_from(data.len()).unwrap_or(i64::MAX))
            .body(ByteStream::from(data));
        let task = tokio::spawn(async move {
            let output = request.send().await.map_err(|e| s3_error("UploadPart", e))?;
            Ok(CompletedPart::builder().part_number(number).set_e_tag(output.e_tag).build())
        });
        self.in_flight = Some(AbortOnDropHandle::new(task));
        Ok(())
    }

    async fn wait_in_flight(&mut self) -> Result<(), StoreError> {
        if let Some(task) = self.in_flight.take() {
            let part =
                task.await.map_err(|e| StoreError::S3 { op: "UploadPart", message: e.to_string() })??;
            self.done.push(part);
        }
        Ok(())
    }

    async fn complete(mut self) -> Result<(), StoreError> {
        let result = self.finish().await;
        if result.is_err() {
            self.abort().await;
        }
        result
    }

    async fn finish(&mut self) -> Result<(), StoreError> {
        self.wait_in_flight().await?;
        let parts = CompletedMultipartUpload::builder().set_parts(Some(self.done.clone())).build();
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .multipart_upload(parts)
            .send()
            .await
            .map_err(|e| s3_error("CompleteMultipartUpload", e))?;
        self.finished = true;
        Ok(())
    }

    async fn abort(mut self) {
        self.finished = true;
        self.in_flight = None;
        abort_upload(self.client.clone(), self.bucket.clone(), self.key.clone(), self.upload_id.clone())
            .await;
    }
}

impl Drop for Multipart {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // The upload future was dropped mid-way (client gone, timeout): Drop cannot await, so
        // the abort runs as its own task.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (client, bucket) = (self.client.clone(), std::mem::take(&mut self.bucket));
            let (key, upload_id) = (std::mem::take(&mut self.key), std::mem::take(&mut self.upload_id));
            runtime.spawn(abort_upload(client, bucket, key, upload_id));
        }
    }
}

async fn abort_upload(client: Client, bucket: String, key: String, upload_id: String) {
    let aborted =
        client.abort_multipart_upload().bucket(&bucket).key(&key).upload_id(&upload_id).send().await;
    if let Err(e) = aborted {
        // Parts left behind cost storage until a bucket lifecycle rule clears them; say so.
        let error = aws_sdk_s3::error::DisplayErrorContext(&e);
        tracing::warn!(%bucket, %key, %upload_id, %error, "could not abort multipart upload");
    }
}
