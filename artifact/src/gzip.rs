//! gzip (RFC 1952) decoding on top of flate2's raw inflate, fed in arbitrary chunks.

use flate2::{Crc, Decompress, FlushDecompress, Status};

use crate::decompress::Out;
use crate::error::ArtifactError;

/// A gzip header with file name and comment never needs more than this in practice; the
/// cap keeps a hostile header from growing memory.
pub(crate) const MAX_GZIP_HEADER: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    Header,
    Body,
    Trailer,
    Done,
}

/// Why the gzip layer stopped: bad input, or the consumer of the output failed.
pub(crate) enum GzError {
    Corrupt(&'static str),
    Out(ArtifactError),
}

impl From<&'static str> for GzError {
    fn from(reason: &'static str) -> Self {
        GzError::Corrupt(reason)
    }
}

/// gzip (RFC 1952) on top of flate2's raw inflate; multi-member files are accepted like Go's
/// reader does. The header is parsed here so its size can be capped.
pub(crate) struct Gzip {
    pub(crate) stage: Stage,
    head: Vec<u8>,
    inflate: Decompress,
    crc: Crc,
    trailer: Vec<u8>,
}

impl Gzip {
    pub(crate) fn new() -> Self {
        Gzip {
            stage: Stage::Header,
            head: Vec::new(),
            inflate: Decompress::new(false),
            crc: Crc::new(),
            trailer: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, mut input: &[u8], buf: &mut [u8], out: Out<'_>) -> Result<(), GzError> {
        // Flushing with no input only matters while inflating (output may be pending).
        let mut flush = input.is_empty();
        while !input.is_empty() || (flush && self.stage == Stage::Body) {
            flush = false;
            match self.stage {
                Stage::Done | Stage::Header => {
                    if self.stage == Stage::Done {
                        // Another member follows.
                        self.head.clear();
                        self.stage = Stage::Header;
                    }
                    let before = self.head.len();
                    let take = input.len().min(MAX_GZIP_HEADER + 1 - before);
                    self.head.extend_from_slice(&input[..take]);
                    match gzip_header_len(&self.head)? {
                        Some(len) => {
                            input = &input[len - before..];
                            self.head.clear();
                            self.inflate.reset(false);
                            self.crc.reset();
                            self.stage = Stage::Body;
                        }
                        None if self.head.len() > MAX_GZIP_HEADER => {
                            return Err(GzError::Corrupt("gzip header too large"));
                        }
                        None => input = &input[take..],
                    }
                }
                Stage::Body => loop {
                    let (in0, out0) = (self.inflate.total_in(), self.inflate.total_out());
                    let status = self.inflate.decompress(input, buf, FlushDecompress::None);
                    let status = status.map_err(|_| "invalid deflate data")?;
                    let consumed = (self.inflate.total_in() - in0) as usize;
                    let produced = (self.inflate.total_out() - out0) as usize;
                    self.crc.update(&buf[..produced]);
                    out(&buf[..produced]).map_err(GzError::Out)?;
                    input = &input[consumed..];
                    if status == Status::StreamEnd {
                        self.stage = Stage::Trailer;
                        self.trailer.clear();
                        break;
                    }
                    if consumed == 0 && produced == 0 {
                        if !input.is_empty() {
                            return Err(GzError::Corrupt("deflate stream stalled"));
                        }
                        break;
                    }
                },
                Stage::Trailer => {
                    let take = input.len().min(8 - self.trailer.len());
                    self.trailer.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    if self.trailer.len() == 8 {
                        let crc = u32::from_le_bytes([
                            self.trailer[0],
                            self.trailer[1],
                            self.trailer[2],
                            self.trailer[3],
                        ]);
                        let len = u32::from_le_bytes([
                            self.trailer[4],
                            self.trailer[5],
                            self.trailer[6],
                            self.trailer[7],
                        ]);
                        if crc != self.crc.sum() || len != self.crc.amount() {
                            return Err(GzError::Corrupt("gzip CRC mismatch"));
                        }
                        self.stage = Stage::Done;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Length of the gzip member header at the start of `h`, `None` if more bytes are needed.
fn gzip_header_len(h: &[u8]) -> Result<Option<usize>, &'static str> {
    const MAGIC: [u8; 3] = [0x1f, 0x8b, 8];
    if h.iter().zip(MAGIC).any(|(a, b)| *a != b) {
        return Err("not in gzip format");
    }
    if h.len() < 10 {
        return Ok(None);
    }
    let flags = h[3];
    if flags & 0xe0 != 0 {
        return Err("reserved gzip header flags set");
    }
    let mut pos = 10;
    if flags & 0x04 != 0 {
        let Some(x) = h.get(pos..pos + 2) else { return Ok(None) };
        pos += 2 + usize::from(u16::from_le_bytes([x[0], x[1]]));
    }
    for flag in [0x08, 0x10] {
        // FNAME and FCOMMENT: NUL-terminated strings.
        if flags & flag != 0 {
            let Some(rest) = h.get(pos..) else { return Ok(None) };
            let Some(nul) = rest.iter().position(|&b| b == 0) else { return Ok(None) };
            pos += nul + 1;
        }
    }
    if flags & 0x02 != 0 {
        pos += 2;
    }
    Ok((h.len() >= pos).then_some(pos))
}
