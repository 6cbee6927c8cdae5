//! Push-style decompression of the `header.tar.*` and `data/NNNN.tar.*` members.
//!
//! The compressed bytes arrive in arbitrary chunks from the outer tar, so each codec is
//! driven through its low-level streaming API and hands decompressed output to a callback
//! through one fixed 32 KiB buffer. Nothing grows with the size of the payload.

use crate::error::ArtifactError;
use crate::gzip::{GzError, Gzip, Stage};

/// Output buffer size for all codecs.
const OUT_BUF: usize = 32 * 1024;

/// Compression of an embedded tar, chosen by its file-name suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// `.tar`
    None,
    /// `.tar.gz`
    Gzip,
    /// `.tar.xz` (called "lzma" by mender-artifact)
    Xz,
    /// `.tar.zst`
    Zstd,
}

impl Compression {
    /// Maps the part of a name after `.tar` to a compression, `None` if unknown.
    pub(crate) fn from_suffix(suffix: &str) -> Option<Self> {
        match suffix {
            "" => Some(Compression::None),
            ".gz" => Some(Compression::Gzip),
            ".xz" => Some(Compression::Xz),
            ".zst" => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// The file-name suffix, including the dot (empty for [`Compression::None`]).
    pub fn suffix(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gzip => ".gz",
            Compression::Xz => ".xz",
            Compression::Zstd => ".zst",
        }
    }
}

/// Receives decompressed bytes.
pub(crate) type Out<'a> = &'a mut dyn FnMut(&[u8]) -> Result<(), ArtifactError>;

/// A streaming decoder for one compressed file.
pub(crate) struct Decoder {
    file: String,
    codec: Codec,
    buf: Vec<u8>,
}

enum Codec {
    None,
    Gzip(Box<Gzip>),
    #[cfg(feature = "xz")]
    Xz {
        stream: xz2::stream::Stream,
        ended: bool,
    },
    #[cfg(feature = "zstd")]
    Zstd {
        dec: zstd::stream::raw::Decoder<'static>,
        frame_done: bool,
    },
}

impl Decoder {
    /// A decoder for `file`; `xz_memlimit` caps liblzma's dictionary allocation.
    pub(crate) fn new(compression: Compression, file: &str, xz_memlimit: u64) -> Result<Self, ArtifactError> {
        let unsupported = || ArtifactError::UnsupportedCompression { file: file.to_owned() };
        let codec = match compression {
            Compression::None => Codec::None,
            Compression::Gzip => Codec::Gzip(Box::new(Gzip::new())),
            #[cfg(feature = "xz")]
            Compression::Xz => {
                let stream =
                    xz2::stream::Stream::new_stream_decoder(xz_memlimit, 0).map_err(|_| unsupported())?;
                Codec::Xz { stream, ended: false }
            }
            #[cfg(feature = "zstd")]
            Compression::Zstd => {
                let dec = zstd::stream::raw::Decoder::new().map_err(|_| unsupported())?;
                Codec::Zstd { dec, frame_done: false }
            }
            #[allow(unreachable_patterns)]
            _ => return Err(unsupported()),
        };
        #[cfg(not(feature = "xz"))]
        let _ = xz_memlimit;
        let buf = if matches!(codec, Codec::None) { Vec::new() } else { vec![0; OUT_BUF] };
        Ok(Decoder { file: file.to_owned(), codec, buf })
    }

    /// Decompresses `input`, passing all output produced so far to `out`.
    pub(crate) fn push(&mut self, mut input: &[u8], out: Out<'_>) -> Result<(), ArtifactError> {
        match &mut self.codec {
            Codec::None => return out(input),
            Codec::Gzip(gz) => {
                return gz.push(input, &mut self.buf, out).map_err(|e| match e {
                    GzError::Corrupt(reason) => self.corrupt(reason),
                    GzError::Out(err) => err,
                });
            }
            #[allow(unreachable_patterns)]
            _ => {}
        }
        // Codecs may return output in several pieces (e.g. when their window wraps), so keep
        // calling until a call neither consumes nor produces anything.
        loop {
            let (consumed, produced) = self.step(input)?;
            out(&self.buf[..produced])?;
            input = &input[consumed..];
            if consumed == 0 && produced == 0 {
                // All input used: the codec needs more. Input left that it refuses: corrupt.
                return if input.is_empty() { Ok(()) } else { Err(self.corrupt("the stream stalled")) };
            }
        }
    }

    /// One decode call of the xz or zstd codec into `self.buf`: (consumed, produced).
    #[cfg_attr(not(any(feature = "xz", feature = "zstd")), allow(unused_variables))]
    fn step(&mut self, input: &[u8]) -> Result<(usize, usize), ArtifactError> {
        match &mut self.codec {
            #[cfg(feature = "xz")]
            Codec::Xz { stream, ended } => {
                if *ended {
                    return match input.is_empty() {
                        true => Ok((0, 0)),
                        false => Err(self.corrupt("data after the end of the xz stream")),
                    };
                }
                let (in0, out0) = (stream.total_in(), stream.total_out());
                let status = match stream.process(input, &mut self.buf, xz2::stream::Action::Run) {
                    Ok(status) => status,
                    Err(xz2::stream::Error::MemLimit) => {
                        return Err(self.corrupt("the xz stream needs more memory than the configured limit"));
                    }
                    Err(e) => return Err(self.corrupt(&format!("invalid xz data ({e:?})"))),
                };
                *ended = status == xz2::stream::Status::StreamEnd;
                Ok(((stream.total_in() - in0) as usize, (stream.total_out() - out0) as usize))
            }
            #[cfg(feature = "zstd")]
            Codec::Zstd { dec, frame_done } => {
                use zstd::stream::raw::{InBuffer, Operation, OutBuffer};
                let mut inb = InBuffer::around(input);
                let mut outb = OutBuffer::around(&mut self.buf[..]);
                let Ok(hint) = dec.run(&mut inb, &mut outb) else {
                    return Err(self.corrupt("invalid zstd data"));
                };
                let (consumed, produced) = (inb.pos(), outb.pos());
                if consumed > 0 || produced > 0 {
                    // An idle call on a finished frame reports a nonzero hint for the next
                    // frame, so only calls that did something say whether a frame is open.
                    *frame_done = hint == 0;
                }
                Ok((consumed, produced))
            }
            // None and gzip are handled in `push`.
            _ => Ok((0, 0)),
        }
    }

    fn corrupt(&self, reason: &str) -> ArtifactError {
        ArtifactError::Decompress { file: self.file.clone(), reason: reason.to_owned() }
    }

    /// Flushes remaining output and checks that the compressed stream was complete.
    pub(crate) fn finish(&mut self, out: Out<'_>) -> Result<(), ArtifactError> {
        self.push(&[], out)?;
        let complete = match &self.codec {
            Codec::None => true,
            Codec::Gzip(gz) => gz.stage == Stage::Done,
            #[cfg(feature = "xz")]
            Codec::Xz { ended, .. } => *ended,
            #[cfg(feature = "zstd")]
            Codec::Zstd { frame_done, .. } => *frame_done,
        };
        if complete {
            Ok(())
        } else {
            Err(ArtifactError::eof(format!("the compressed data of '{}' is truncated", self.file)))
        }
    }
}

#[cfg(all(test, feature = "xz", feature = "zstd"))]
#[path = "decompress_tests.rs"]
mod tests;
