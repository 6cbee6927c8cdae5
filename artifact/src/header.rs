//! Collects the content of `header.tar*` and `header-augment.tar*` as their entries stream by.

use serde_json::{Map, Value};

use crate::error::ArtifactError;
use crate::header_json::{self, HeaderInfo, TypeInfo};
use crate::tar::{Entry, EntrySink};

/// Per-payload header files (`headers/NNNN/...`).
#[derive(Debug, Default, Clone)]
pub(crate) struct PayloadHeader {
    /// Parsed `type-info`.
    pub type_info: Option<TypeInfo>,
    /// Parsed `meta-data` (`None` when absent or empty).
    pub meta_data: Option<Map<String, Value>>,
    /// Version 2 `files` list.
    pub files: Option<Vec<String>>,
}

/// Everything learned from one header archive.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    /// `header-info` (for the augment header only `payload_types` is meaningful).
    pub info: HeaderInfo,
    /// Augment header only: per-payload type overrides.
    pub augment_types: Vec<Option<String>>,
    /// State script names, in archive order.
    pub scripts: Vec<String>,
    /// One entry per payload declared in `header-info`.
    pub payloads: Vec<PayloadHeader>,
}

/// Where the bytes of the current header entry go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    HeaderInfo,
    TypeInfo(usize),
    MetaData(usize),
    Files(usize),
    Discard,
}

/// [`EntrySink`] for a header archive. Only the small JSON files are buffered, and the
/// total of all entry bytes is capped by `limit`, so a hostile header cannot grow memory.
pub(crate) struct HeaderCollector {
    archive: String,
    version: u32,
    augment: bool,
    limit: u64,
    total: u64,
    target: Option<(Target, String)>,
    buf: Vec<u8>,
    in_headers: bool,
    info: Option<HeaderInfo>,
    augment_types: Vec<Option<String>>,
    scripts: Vec<String>,
    payloads: Vec<PayloadHeader>,
}

impl HeaderCollector {
    /// A collector for `archive` (its outer file name) of a format `version` artifact.
    /// `main_info` is the main header's info when collecting `header-augment`.
    pub(crate) fn new(archive: &str, version: u32, main_info: Option<&HeaderInfo>, limit: u64) -> Self {
        HeaderCollector {
            archive: archive.to_owned(),
            version,
            augment: main_info.is_some(),
            limit,
            total: 0,
            target: None,
            buf: Vec::new(),
            in_headers: false,
            info: main_info.cloned(),
            augment_types: Vec::new(),
            scripts: Vec::new(),
            payloads: main_info
                .map(|i| vec![PayloadHeader::default(); i.payload_types.len()])
                .unwrap_or_default(),
        }
    }

    /// Returns what was collected, checking that the required files were present.
    pub(crate) fn finish(self) -> Result<Header, ArtifactError> {
        let missing =
            |file: String| ArtifactError::MissingFile { file: format!("{file} in {}", self.archive) };
        if self.augment && self.augment_types.is_empty() {
            return Err(missing("header-info".to_owned()));
        }
        let info = self.info.ok_or_else(|| missing("header-info".to_owned()))?;
        if !self.augment {
            for (i, p) in self.payloads.iter().enumerate() {
                if self.version >= 3 && p.type_info.is_none() {
                    return Err(missing(format!("headers/{i:04}/type-info")));
                }
                if self.version == 2 && p.files.is_none() {
                    return Err(missing(format!("headers/{i:04}/files")));
                }
            }
        }
        Ok(Header { info, augment_types: self.augment_types, scripts: self.scripts, payloads: self.payloads })
    }

    /// Decides where a new entry's bytes go, enforcing the header's ordering rules.
    fn route(&mut self, name: &str) -> Result<Target, ArtifactError> {
        let seen_info = if self.augment { !self.augment_types.is_empty() } else { self.info.is_some() };
        if !seen_info {
            if name != "header-info" {
                return Err(self.wrong_order(name, "'header-info' as the first file"));
            }
            return Ok(Target::HeaderInfo);
        }
        if let Some(script) = name.strip_prefix("scripts/") {
            if self.augment {
                return Err(ArtifactError::header(&self.archive, "state scripts are not allowed here"));
            }
            if self.in_headers {
                return Err(self.wrong_order(name, "only 'headers/NNNN/...' files (scripts must come first)"));
            }
            if script.is_empty() || script.contains('/') {
                return Err(ArtifactError::header(
                    &self.archive,
                    format!("invalid state script name '{name}'"),
                ));
            }
            self.scripts.push(script.to_owned());
            return Ok(Target::Discard);
        }
        let parts: Vec<&str> = name.split('/').collect();
        let index = match parts.as_slice() {
            ["headers", n, ..]
                if parts.len() >= 3 && n.len() == 4 && n.bytes().all(|b| b.is_ascii_digit()) =>
            {
                n.parse::<usize>().unwrap_or(usize::MAX)
            }
            _ => return Err(ArtifactError::header(&self.archive, format!("unexpected file '{name}'"))),
        };
        self.in_headers = true;
        let Some(payload) = self.payloads.get(index) else {
            return Err(ArtifactError::header(
                &self.archive,
                format!("'{name}' belongs to payload {index}, which header-info does not declare"),
            ));
        };
        let (target, present) = match parts[2..] {
            ["type-info"] => (Target::TypeInfo(index), payload.type_info.is_some()),
            ["meta-data"] => (Target::MetaData(index), payload.meta_data.is_some()),
            ["files"] if self.version == 2 => (Target::Files(index), payload.files.is_some()),
            // Legacy per-payload directories of format v1/v2; their content has no meaning now.
            ["checksums" | "signatures" | "scripts", ..] if parts.len() > 3 => (Target::Discard, false),
            _ => return Err(ArtifactError::header(&self.archive, format!("unexpected file '{name}'"))),
        };
        if present {
            return Err(ArtifactError::header(&self.archive, format!("'{name}' appears twice")));
        }
        Ok(target)
    }

    fn wrong_order(&self, found: &str, expected: &str) -> ArtifactError {
        ArtifactError::WrongOrder {
            found: found.to_owned(),
            expected: format!("{expected} in {}", self.archive),
        }
    }
}

impl EntrySink for HeaderCollector {
    fn start(&mut self, entry: &Entry) -> Result<(), ArtifactError> {
        if self.total.saturating_add(entry.size) > self.limit {
            return Err(ArtifactError::too_large(format!("the content of {}", self.archive), self.limit));
        }
        let target = self.route(&entry.name)?;
        self.target = Some((target, entry.name.clone()));
        self.buf.clear();
        Ok(())
    }

    fn data(&mut self, chunk: &[u8]) -> Result<(), ArtifactError> {
        // Entry sizes were checked against the limit in `start`; the tar reader never
        // delivers more than the declared size, so this cannot exceed it.
        self.total += chunk.len() as u64;
        if !matches!(self.target, Some((Target::Discard, _))) {
            self.buf.extend_from_slice(chunk);
        }
        Ok(())
    }

    fn end(&mut self) -> Result<(), ArtifactError> {
        let Some((target, name)) = self.target.take() else { return Ok(()) };
        let bytes = std::mem::take(&mut self.buf);
        let file = if self.augment { format!("{name} (header-augment)") } else { name };
        match target {
            Target::HeaderInfo if self.augment => {
                self.augment_types = header_json::augment_payload_types(&bytes)?;
                if self.augment_types.is_empty() {
                    return Err(ArtifactError::header(file, "no payloads are listed"));
                }
            }
            Target::HeaderInfo => {
                let info = header_json::header_info(self.version, &bytes)?;
                self.payloads = vec![PayloadHeader::default(); info.payload_types.len()];
                self.info = Some(info);
            }
            Target::TypeInfo(i) => self.payloads[i].type_info = Some(header_json::type_info(&file, &bytes)?),
            Target::MetaData(i) => self.payloads[i].meta_data = header_json::meta_data(&file, &bytes)?,
            Target::Files(i) => self.payloads[i].files = Some(header_json::files_v2(&file, &bytes)?),
            Target::Discard => {}
        }
        Ok(())
    }
}
