//! `POST /api/management/v1/deployments/artifacts/generate` (Mender's create-artifact-worker):
//! a file and a target directory become a `single-file` artifact built on the server, then
//! stored and recorded like an upload.

use fleetlog_commands::app::Caller;
use std::io::Write;

use axum::extract::{Multipart, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use fleetlog_artifact::{SingleFileArtifact, parse_reader, write_single_file_artifact};
use futures::StreamExt;
use sha2::{Digest, Sha256};

use super::{ApiError, UserAuth};
use crate::app::artifacts;
use crate::state::AppState;

/// What the form gave, before the file.
#[derive(Default)]
struct Form {
    name: String,
    description: String,
    device_types: Vec<String>,
    kind: String,
    args: serde_json::Value,
}

pub(super) async fn generate(
    State(state): State<AppState>,
    user: UserAuth,
    mut form: Multipart,
) -> Result<Response, ApiError> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        ApiError::BadRequest(format!("invalid multipart body: {e}"))
    };
    let mut f = Form::default();
    while let Some(mut field) = form.next_field().await.map_err(bad)? {
        match field.name().unwrap_or_default() {
            "name" => f.name = field.text().await.map_err(bad)?,
            "description" => f.description = field.text().await.map_err(bad)?,
            "device_types_compatible" => f.device_types.push(field.text().await.map_err(bad)?),
            "type" => f.kind = field.text().await.map_err(bad)?,
            "args" => {
                let text = field.text().await.map_err(bad)?;
                if !text.trim().is_empty() {
                    f.args = serde_json::from_str(&text)
                        .map_err(|e| ApiError::BadRequest(format!("invalid args: {e}")))?;
                }
            }
            "file" => {
                check(&f)?;
                let file_name =
                    field.file_name().unwrap_or("file").rsplit('/').next().unwrap_or("file").to_owned();
                // The file goes to a temporary file first: the artifact's manifest needs its
                // size and checksum before its bytes.
                let tmp = tempfile::NamedTempFile::new().map_err(|e| ApiError::Internal(e.into()))?;
                let mut out =
                    std::io::BufWriter::new(tmp.reopen().map_err(|e| ApiError::Internal(e.into()))?);
                let (mut size, mut hash) = (0u64, Sha256::new());
                while let Some(chunk) = field.next().await {
                    let chunk = chunk.map_err(bad)?;
                    size += chunk.len() as u64;
                    if size > state.max_artifact_bytes {
                        return Err(ApiError::TooLarge);
                    }
                    hash.update(&chunk);
                    out.write_all(&chunk).map_err(|e| ApiError::Internal(e.into()))?;
                }
                out.flush().map_err(|e| ApiError::Internal(e.into()))?;
                let digest: [u8; 32] = hash.finalize().into();
                return build_and_store(&state, &user.caller, f, file_name, size, digest, tmp).await;
            }
            _ => {
                field.bytes().await.map_err(bad)?;
            }
        }
    }
    Err(ApiError::BadRequest("request does not contain the file".into()))
}

fn check(f: &Form) -> Result<(), ApiError> {
    if f.name.trim().is_empty() {
        return Err(ApiError::BadRequest("name is required".into()));
    }
    if f.device_types.is_empty() || f.device_types.iter().any(|d| d.trim().is_empty()) {
        return Err(ApiError::BadRequest("device_types_compatible is required".into()));
    }
    if f.kind != "single_file" && f.kind != "single-file" {
        return Err(ApiError::BadRequest(format!("unsupported type {:?}: only single_file", f.kind)));
    }
    match f.args.get("dest_dir").and_then(|d| d.as_str()) {
        Some(d) if d.starts_with('/') => Ok(()),
        _ => Err(ApiError::BadRequest("args must give an absolute dest_dir".into())),
    }
}

async fn build_and_store(
    state: &AppState,
    user: &Caller,
    f: Form,
    file_name: String,
    size: u64,
    digest: [u8; 32],
    file: tempfile::NamedTempFile,
) -> Result<Response, ApiError> {
    let dest_dir = f.args["dest_dir"].as_str().unwrap_or_default().to_owned();
    let file_name = f.args.get("filename").and_then(|n| n.as_str()).map(str::to_owned).unwrap_or(file_name);
    let spec = SingleFileArtifact::new(f.name.clone(), f.device_types.clone(), dest_dir, file_name, size);
    let built = tokio::task::spawn_blocking(move || -> Result<(tempfile::NamedTempFile, u64), ApiError> {
        let out = tempfile::NamedTempFile::new().map_err(|e| ApiError::Internal(e.into()))?;
        let input = std::io::BufReader::new(file.reopen().map_err(|e| ApiError::Internal(e.into()))?);
        let writer = std::io::BufWriter::new(out.reopen().map_err(|e| ApiError::Internal(e.into()))?);
        let len = write_single_file_artifact(&spec, &digest, input, writer)
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        Ok((out, len))
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))??;
    let (artifact, len) = built;
    let path = artifact.path().to_owned();
    let meta = tokio::task::spawn_blocking(move || {
        parse_reader(std::fs::File::open(&path)?, Default::default()).map_err(std::io::Error::other)
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?
    .map_err(|e| ApiError::Internal(e.into()))?;
    let id = uuid::Uuid::new_v4().to_string();
    let key = artifacts::storage_key(&user.tenant, &id);
    let file = tokio::fs::File::open(artifact.path()).await.map_err(|e| ApiError::Internal(e.into()))?;
    let body = tokio_util::io::ReaderStream::new(file);
    state.storage.put_stream(&key, body, Some(len)).await.map_err(|e| ApiError::Unavailable(e.into()))?;
    if let Err(e) = artifacts::record(state, user, &id, &key, f.description, meta).await {
        let _ = state.storage.delete(&key).await;
        return Err(e.into());
    }
    let location = format!("/api/management/v1/deployments/artifacts/{id}");
    Ok((StatusCode::CREATED, [(header::LOCATION, location)]).into_response())
}
