//! A small push-style tar reader (ustar, GNU `L` long names, pax `x` headers).
//!
//! Artifacts arrive as a stream cut into arbitrary chunks, so instead of pulling from an
//! `io::Read` this reader is *fed* bytes and reports entries to an [`EntrySink`]. It keeps at
//! most one 512-byte header block plus one bounded pax/long-name record in memory.

use crate::error::ArtifactError;
use crate::tar_header::{Mtime, RawHeader, parse_pax};

/// Size of a tar block.
pub(crate) const BLOCK: usize = 512;

/// Longest pax record or GNU long name we buffer; real ones are a few hundred bytes.
const MAX_META: u64 = 64 * 1024;

/// One archive member, after pax / long-name overrides are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Path inside the archive, without a leading `./`.
    pub name: String,
    /// Content length in bytes.
    pub size: u64,
    /// Modification time.
    pub mtime: Mtime,
}

/// Receives the regular-file entries of an archive, in order.
pub(crate) trait EntrySink {
    /// A new file begins; `data` calls for its content follow, then `end`.
    fn start(&mut self, entry: &Entry) -> Result<(), ArtifactError>;
    /// A piece of the current file's content.
    fn data(&mut self, chunk: &[u8]) -> Result<(), ArtifactError>;
    /// The current file is complete.
    fn end(&mut self) -> Result<(), ArtifactError>;
}

/// What the bytes following a header are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// Content of a regular file, forwarded to the sink.
    File,
    /// Content to drop (directories, global pax headers, GNU long link names).
    Skip,
    /// A pax extended header for the next entry, buffered.
    Pax,
    /// A GNU long name for the next entry, buffered.
    LongName,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting a header block.
    Header,
    /// Collecting the block after a first all-zero block.
    SecondZero,
    /// Inside an entry's content.
    Body { body: Body, remaining: u64, pad: u64 },
    /// Skipping padding up to the next block boundary.
    Pad { remaining: u64 },
    /// End-of-archive marker seen; anything after it is ignored, like GNU tar and Go do.
    End,
}

/// Overrides collected from pax / long-name entries for the next real entry.
#[derive(Debug, Default)]
struct Pending {
    path: Option<String>,
    size: Option<u64>,
    mtime: Option<Mtime>,
}

/// Push-style tar parser; see the module docs.
#[derive(Debug)]
pub(crate) struct TarReader {
    archive: String,
    outer: bool,
    block: Box<[u8; BLOCK]>,
    fill: usize,
    state: State,
    pending: Pending,
    meta: Vec<u8>,
    headers_seen: u64,
}

impl TarReader {
    /// A reader for the archive called `archive` in error messages. `outer` marks the
    /// `.mender` file itself: a bad first header then means "not a tar" and the end-of-archive
    /// marker is mandatory, which is how truncated uploads are told from complete ones.
    pub(crate) fn new(archive: &str, outer: bool) -> Self {
        TarReader {
            archive: archive.to_owned(),
            outer,
            block: Box::new([0; BLOCK]),
            fill: 0,
            state: State::Header,
            pending: Pending::default(),
            meta: Vec::new(),
            headers_seen: 0,
        }
    }

    /// Consumes `input`, reporting entries to `sink`.
    pub(crate) fn feed(&mut self, mut input: &[u8], sink: &mut dyn EntrySink) -> Result<(), ArtifactError> {
        while !input.is_empty() {
            match self.state {
                State::End => return Ok(()),
                State::Header | State::SecondZero => {
                    let n = (BLOCK - self.fill).min(input.len());
                    self.block[self.fill..self.fill + n].copy_from_slice(&input[..n]);
                    self.fill += n;
                    input = &input[n..];
                    if self.fill == BLOCK {
                        self.fill = 0;
                        self.on_header(sink)?;
                    }
                }
                State::Body { body, remaining, pad } => {
                    let n = clamp(remaining, input.len());
                    let chunk = &input[..n];
                    match body {
                        Body::File => sink.data(chunk)?,
                        Body::Pax | Body::LongName => self.meta.extend_from_slice(chunk),
                        Body::Skip => {}
                    }
                    input = &input[n..];
                    let remaining = remaining - n as u64;
                    self.state = State::Body { body, remaining, pad };
                    if remaining == 0 {
                        self.body_done(body, pad, sink)?;
                    }
                }
                State::Pad { remaining } => {
                    let n = clamp(remaining, input.len());
                    input = &input[n..];
                    let remaining = remaining - n as u64;
                    self.state = if remaining == 0 { State::Header } else { State::Pad { remaining } };
                }
            }
        }
        Ok(())
    }

    /// Checks that the input ended at a valid place. Embedded archives may end right after
    /// an entry (Go's reader accepts that); the outer archive needs its end-of-archive marker.
    pub(crate) fn finish(&self) -> Result<(), ArtifactError> {
        let clean_stop = self.fill == 0
            && matches!(self.state, State::Header | State::SecondZero)
            && self.pending.path.is_none()
            && self.pending.size.is_none();
        match self.state {
            State::End => Ok(()),
            _ if clean_stop && !self.outer => Ok(()),
            // Less than one block of something that does not even start like an artifact.
            _ if self.outer && self.headers_seen == 0 && !looks_like_version(&self.block[..self.fill]) => {
                Err(ArtifactError::NotATar)
            }
            _ if self.outer => Err(ArtifactError::eof("the upload is truncated")),
            _ => Err(ArtifactError::eof(format!("'{}' is truncated", self.archive))),
        }
    }

    fn on_header(&mut self, sink: &mut dyn EntrySink) -> Result<(), ArtifactError> {
        if self.block.iter().all(|&b| b == 0) {
            self.state = if self.state == State::SecondZero { State::End } else { State::SecondZero };
            return Ok(());
        }
        if self.state == State::SecondZero {
            return Err(ArtifactError::tar(&self.archive, "data after a single end-of-archive block"));
        }
        let first = self.headers_seen == 0;
        self.headers_seen += 1;
        let raw = match RawHeader::parse(&self.block) {
            Ok(raw) => raw,
            Err(_) if first && self.outer => return Err(ArtifactError::NotATar),
            Err(reason) => return Err(ArtifactError::tar(&self.archive, reason)),
        };
        let body = match raw.typeflag {
            b'x' => Body::Pax,
            b'L' => Body::LongName,
            b'g' | b'K' | b'5' => Body::Skip,
            b'0' | b'\0' | b'7' => Body::File,
            _ => {
                let name = self.pending.path.take().unwrap_or(raw.name);
                return Err(ArtifactError::UnsupportedEntry { archive: self.archive.clone(), name });
            }
        };
        let mut size = raw.size;
        if matches!(body, Body::Pax | Body::LongName) {
            if size > MAX_META {
                return Err(ArtifactError::tar(&self.archive, "oversized pax or long-name header"));
            }
            self.meta.clear();
        } else if raw.typeflag != b'g' && raw.typeflag != b'K' {
            // A real entry: apply and clear the overrides collected for it.
            let pending = std::mem::take(&mut self.pending);
            size = pending.size.unwrap_or(size);
            let name = normalize(pending.path.unwrap_or(raw.name));
            if body == Body::File && name.is_empty() {
                return Err(ArtifactError::tar(&self.archive, "entry with an empty name"));
            }
            let mtime = pending.mtime.unwrap_or(raw.mtime);
            if body == Body::File {
                sink.start(&Entry { name, size, mtime })?;
            }
        }
        let pad = (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64;
        self.state = State::Body { body, remaining: size, pad };
        if size == 0 {
            self.body_done(body, pad, sink)?;
        }
        Ok(())
    }

    fn body_done(&mut self, body: Body, pad: u64, sink: &mut dyn EntrySink) -> Result<(), ArtifactError> {
        match body {
            Body::File => sink.end()?,
            Body::Pax => {
                let meta = std::mem::take(&mut self.meta);
                let pax = parse_pax(&meta).map_err(|r| ArtifactError::tar(&self.archive, r))?;
                self.pending.path = pax.path.or(self.pending.path.take());
                self.pending.size = pax.size.or(self.pending.size);
                self.pending.mtime = pax.mtime.or(self.pending.mtime);
            }
            Body::LongName => {
                let meta = std::mem::take(&mut self.meta);
                let end = meta.iter().position(|&b| b == 0).unwrap_or(meta.len());
                let name = String::from_utf8(meta[..end].to_vec())
                    .map_err(|_| ArtifactError::tar(&self.archive, "long name is not UTF-8"))?;
                self.pending.path = Some(name);
            }
            Body::Skip => {}
        }
        self.state = if pad == 0 { State::Header } else { State::Pad { remaining: pad } };
        Ok(())
    }
}

/// Whether a partial first block could be the start of an artifact (`version` comes first).
fn looks_like_version(partial: &[u8]) -> bool {
    let n = partial.len().min(7);
    partial[..n] == b"version"[..n]
}

/// `min(remaining, available)` as a slice length.
fn clamp(remaining: u64, available: usize) -> usize {
    usize::try_from(remaining).map_or(available, |r| r.min(available))
}

/// Drops a leading `./` and trailing `/`, which some tar writers add.
fn normalize(name: String) -> String {
    let trimmed = name.strip_prefix("./").unwrap_or(&name).trim_end_matches('/');
    if trimmed.len() == name.len() { name } else { trimmed.to_owned() }
}

#[cfg(test)]
#[path = "tar_tests.rs"]
mod tests;
