//! The outer `.mender` tar: ordering rules, checksum checks and routing of each member.

use sha2::{Digest, Sha256};

use crate::decompress::{Compression, Decoder};
use crate::error::ArtifactError;
use crate::header::{Header, HeaderCollector};
use crate::header_json;
use crate::manifest::{ChecksumStore, verify};
use crate::meta::{self, ArtifactMeta, UpdateFile};
use crate::parser::Limits;
use crate::payload::{DataPipe, DataState, Totals};
use crate::tar::{Entry, EntrySink, TarReader};

/// The members the outer archive may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Version,
    Manifest,
    ManifestSig,
    ManifestAugment,
    Header(Compression),
    HeaderAugment(Compression),
    Data(usize, Compression),
}

/// Maps an outer member name to its kind; `Ok(None)` for names the format does not know.
fn classify(name: &str) -> Result<Option<Kind>, ArtifactError> {
    let compression = |suffix: &str| {
        Compression::from_suffix(suffix)
            .ok_or_else(|| ArtifactError::UnsupportedCompression { file: name.to_owned() })
    };
    Ok(Some(match name {
        "version" => Kind::Version,
        "manifest" => Kind::Manifest,
        "manifest.sig" => Kind::ManifestSig,
        "manifest-augment" => Kind::ManifestAugment,
        _ => {
            if let Some(suffix) = name.strip_prefix("header.tar") {
                Kind::Header(compression(suffix)?)
            } else if let Some(suffix) = name.strip_prefix("header-augment.tar") {
                Kind::HeaderAugment(compression(suffix)?)
            } else if let Some(rest) = name.strip_prefix("data/") {
                let (digits, suffix) = rest.split_at_checked(4).unwrap_or(("", ""));
                let suffix = suffix.strip_prefix(".tar");
                let (Some(suffix), true) =
                    (suffix, digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit()))
                else {
                    return Err(ArtifactError::payload(format!(
                        "invalid data file name '{name}': expected data/NNNN.tar[.gz|.xz|.zst]"
                    )));
                };
                Kind::Data(digits.parse().unwrap_or(usize::MAX), compression(suffix)?)
            } else {
                return Ok(None);
            }
        }
    }))
}

/// What the bytes of the current outer member feed.
enum Current {
    /// Between members, or inside a directory entry.
    Idle,
    /// Small files and the (size-capped) header archives are buffered whole, so the header's
    /// checksum is verified before its content is decompressed and interpreted.
    Buffer { kind: Kind, name: String, buf: Vec<u8> },
    /// A data archive, streamed (boxed: it is much larger than the other variants).
    Data(Box<DataPipe>),
}

/// [`EntrySink`] for the outer archive; holds everything learned so far.
pub(crate) struct Outer {
    limits: Limits,
    seen: Vec<Kind>,
    version: u32,
    version_digest: Vec<u8>,
    manifest: ChecksumStore,
    header: Option<Header>,
    files: Vec<Vec<UpdateFile>>,
    totals: Totals,
    current: Current,
}

impl Outer {
    /// An empty state enforcing `limits`.
    pub(crate) fn new(limits: Limits) -> Self {
        Outer {
            limits,
            seen: Vec::new(),
            version: 0,
            version_digest: Vec::new(),
            manifest: ChecksumStore::default(),
            header: None,
            files: Vec::new(),
            totals: Totals::default(),
            current: Current::Idle,
        }
    }

    /// The main header, once `header.tar*` has been read.
    pub(crate) fn header(&self) -> Option<&Header> {
        self.header.as_ref()
    }

    fn has(&self, pred: impl Fn(&Kind) -> bool) -> bool {
        self.seen.iter().any(pred)
    }

    /// Whether `kind` may come next, given what was seen before.
    fn allowed(&self, kind: Kind) -> bool {
        let manifest = self.has(|k| *k == Kind::Manifest);
        let sig = self.has(|k| *k == Kind::ManifestSig);
        let maug = self.has(|k| *k == Kind::ManifestAugment);
        let header = self.has(|k| matches!(k, Kind::Header(_)));
        let haug = self.has(|k| matches!(k, Kind::HeaderAugment(_)));
        let last_data =
            self.seen.iter().rev().find_map(|k| if let Kind::Data(i, _) = k { Some(*i) } else { None });
        match kind {
            Kind::Version => self.seen.is_empty(),
            Kind::Manifest => self.seen == [Kind::Version],
            Kind::ManifestSig => manifest && !sig && !maug && !header,
            Kind::ManifestAugment => self.version >= 3 && manifest && !maug && !header,
            Kind::Header(_) => manifest && !header,
            Kind::HeaderAugment(_) => header && maug && !haug && last_data.is_none(),
            Kind::Data(i, _) => header && (haug || !maug) && last_data.is_none_or(|l| i > l),
        }
    }

    /// What may come next, for error messages.
    fn expected(&self) -> String {
        let header = self.has(|k| matches!(k, Kind::Header(_)));
        let maug = self.has(|k| *k == Kind::ManifestAugment);
        let haug = self.has(|k| matches!(k, Kind::HeaderAugment(_)));
        match () {
            _ if self.seen.is_empty() => "'version' as the first file".into(),
            _ if self.seen == [Kind::Version] => "'manifest'".into(),
            _ if !header => "'manifest.sig', 'manifest-augment' or 'header.tar[.gz|.xz|.zst]'".into(),
            _ if maug && !haug => "'header-augment.tar[.gz|.xz|.zst]'".into(),
            _ => "'data/NNNN.tar[.gz|.xz|.zst]' (in increasing order) or the end of the archive".into(),
        }
    }

    /// Final checks once the outer archive ended; returns the metadata.
    pub(crate) fn finish(self, size: u64) -> Result<ArtifactMeta, ArtifactError> {
        let missing = |file: &str| ArtifactError::MissingFile { file: file.to_owned() };
        if !self.has(|k| *k == Kind::Version) {
            return Err(missing("version"));
        }
        if !self.has(|k| *k == Kind::Manifest) {
            return Err(missing("manifest"));
        }
        let signed = self.has(|k| *k == Kind::ManifestSig);
        let augment_missing =
            self.has(|k| *k == Kind::ManifestAugment) && !self.has(|k| matches!(k, Kind::HeaderAugment(_)));
        let Some(header) = self.header else { return Err(missing("header.tar[.gz|.xz|.zst]")) };
        if augment_missing {
            return Err(missing("header-augment.tar[.gz|.xz|.zst]"));
        }
        self.manifest.check_all_seen()?;
        Ok(meta::assemble(header, self.version, self.files, signed, size))
    }

    /// Interprets a fully buffered small file or header archive.
    fn complete_buffer(&mut self, kind: Kind, name: &str, buf: &[u8]) -> Result<(), ArtifactError> {
        match kind {
            Kind::Version => {
                self.version = header_json::version(buf)?;
                self.version_digest = Sha256::digest(buf).to_vec();
            }
            Kind::Manifest => {
                self.manifest.add(name, buf)?;
                let expected = self.manifest.take("version")?;
                verify("version", &expected, &self.version_digest)?;
            }
            Kind::ManifestAugment => self.manifest.add(name, buf)?,
            // Only presence matters: the server records `signed`, it does not verify.
            Kind::ManifestSig => {}
            Kind::Header(c) | Kind::HeaderAugment(c) => {
                let expected = self.manifest.take(name)?;
                verify(name, &expected, &Sha256::digest(buf))?;
                let main = match kind {
                    Kind::HeaderAugment(_) => self.header.as_ref().map(|h| &h.info),
                    _ => None,
                };
                let mut collector =
                    HeaderCollector::new(name, self.version, main, self.limits.max_header_size);
                let mut tar = TarReader::new(name, false);
                let mut decoder = Decoder::new(c, name, self.limits.xz_memory_limit)?;
                decoder.push(buf, &mut |out| tar.feed(out, &mut collector))?;
                decoder.finish(&mut |out| tar.feed(out, &mut collector))?;
                tar.finish()?;
                let parsed = collector.finish()?;
                match (kind, self.header.as_mut()) {
                    (Kind::HeaderAugment(_), Some(main)) => meta::apply_augment(main, parsed),
                    _ => {
                        self.files = vec![Vec::new(); parsed.payloads.len()];
                        self.header = Some(parsed);
                    }
                }
            }
            Kind::Data(..) => {}
        }
        Ok(())
    }
}

impl EntrySink for Outer {
    fn start(&mut self, entry: &Entry) -> Result<(), ArtifactError> {
        let kind = classify(&entry.name)?;
        let Some(kind) = kind.filter(|k| self.allowed(*k)) else {
            return Err(ArtifactError::WrongOrder { found: entry.name.clone(), expected: self.expected() });
        };
        self.seen.push(kind);
        self.current = match kind {
            Kind::Data(index, compression) => {
                let header = self
                    .header
                    .as_ref()
                    .ok_or_else(|| ArtifactError::MissingFile { file: "header.tar".into() })?;
                let Some(payload_type) = header.info.payload_types.get(index) else {
                    return Err(ArtifactError::payload(format!(
                        "'{}' has no matching payload in header-info",
                        entry.name
                    )));
                };
                let declared = header.payloads.get(index).and_then(|p| p.files.clone());
                Current::Data(Box::new(DataPipe {
                    decoder: Decoder::new(compression, &entry.name, self.limits.xz_memory_limit)?,
                    tar: TarReader::new(&entry.name, false),
                    state: DataState::new(&entry.name, index, payload_type.clone(), declared),
                }))
            }
            _ => {
                let limit = match kind {
                    Kind::Header(_) | Kind::HeaderAugment(_) => self.limits.max_header_size,
                    _ => self.limits.max_small_file_size,
                };
                if entry.size > limit {
                    return Err(ArtifactError::too_large(format!("'{}'", entry.name), limit));
                }
                // The size is capped above, so this allocation is bounded.
                Current::Buffer {
                    kind,
                    name: entry.name.clone(),
                    buf: Vec::with_capacity(entry.size as usize),
                }
            }
        };
        Ok(())
    }

    fn data(&mut self, chunk: &[u8]) -> Result<(), ArtifactError> {
        match &mut self.current {
            Current::Idle => Ok(()),
            Current::Buffer { buf, .. } => {
                buf.extend_from_slice(chunk);
                Ok(())
            }
            Current::Data(pipe) => pipe.run(Some(chunk), &mut self.manifest, &mut self.totals, &self.limits),
        }
    }

    fn end(&mut self) -> Result<(), ArtifactError> {
        match std::mem::replace(&mut self.current, Current::Idle) {
            Current::Idle => Ok(()),
            Current::Buffer { kind, name, buf } => self.complete_buffer(kind, &name, &buf),
            Current::Data(mut pipe) => {
                pipe.run(None, &mut self.manifest, &mut self.totals, &self.limits)?;
                if let Some(slot) = self.files.get_mut(pipe.state.index) {
                    *slot = std::mem::take(&mut pipe.state.files);
                }
                Ok(())
            }
        }
    }
}
