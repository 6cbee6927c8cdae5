//! Encoding and decoding of single tar header blocks and pax records.

use crate::tar::BLOCK;

/// Largest size or mtime an 11-digit octal ustar field can hold.
const MAX_OCTAL: u64 = 0o77_777_777_777;

/// A modification time with optional sub-second precision (pax headers carry nanoseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mtime {
    /// Seconds since the Unix epoch.
    pub secs: i64,
    /// Nanoseconds, `0..1_000_000_000`.
    pub nanos: u32,
}

/// The fields of one 512-byte header that the reader needs.
#[derive(Debug)]
pub(crate) struct RawHeader {
    pub name: String,
    pub size: u64,
    pub mtime: Mtime,
    pub typeflag: u8,
}

impl RawHeader {
    /// Decodes and checksums a header block; `Err` carries a human-readable reason.
    pub(crate) fn parse(block: &[u8; BLOCK]) -> Result<RawHeader, String> {
        let stored = parse_numeric(&block[148..156]).map_err(|_| "not a tar header".to_owned())?;
        let (unsigned, signed) = checksums(block);
        // Old tar implementations summed signed chars, so accept either interpretation.
        if stored != unsigned && i64::try_from(stored).ok() != Some(signed) {
            return Err("tar header checksum mismatch".to_owned());
        }
        let size = parse_numeric(&block[124..136])?;
        let secs = parse_numeric(&block[136..148])?;
        let mtime = Mtime { secs: i64::try_from(secs).map_err(|_| "mtime out of range")?, nanos: 0 };
        let mut name = cstr(&block[0..100]).to_vec();
        // Only POSIX ustar ("ustar\0") uses the prefix field; GNU stores other data there.
        if &block[257..263] == b"ustar\0" {
            let prefix = cstr(&block[345..500]);
            if !prefix.is_empty() {
                let mut full = prefix.to_vec();
                full.push(b'/');
                full.extend_from_slice(&name);
                name = full;
            }
        }
        let name = String::from_utf8(name).map_err(|_| "entry name is not UTF-8".to_owned())?;
        Ok(RawHeader { name, size, mtime, typeflag: block[156] })
    }
}

/// Sum of the header bytes with the checksum field counted as spaces, as unsigned and as
/// signed bytes.
fn checksums(block: &[u8; BLOCK]) -> (u64, i64) {
    let mut unsigned = 0u64;
    let mut signed = 0i64;
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += u64::from(b);
        signed += i64::from(b as i8);
    }
    (unsigned, signed)
}

/// The bytes of a NUL-terminated field.
fn cstr(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

/// Parses an octal field (space/NUL padded) or a GNU base-256 field (high bit set), the
/// latter being how sizes of 8 GiB and more are stored without pax.
pub(crate) fn parse_numeric(field: &[u8]) -> Result<u64, String> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        if field[0] & 0x40 != 0 {
            return Err("negative numeric field".to_owned());
        }
        let mut value: u64 = u64::from(field[0] & 0x3f);
        for &b in &field[1..] {
            if value > u64::MAX >> 8 {
                return Err("numeric field overflows".to_owned());
            }
            value = (value << 8) | u64::from(b);
        }
        return Ok(value);
    }
    let text = cstr(field);
    let digits = text.iter().skip_while(|&&b| b == b' ').take_while(|&&b| b != b' ');
    let mut value: u64 = 0;
    for &b in digits {
        if !(b'0'..=b'7').contains(&b) {
            return Err("invalid octal number in tar header".to_owned());
        }
        value = value.checked_mul(8).and_then(|v| v.checked_add(u64::from(b - b'0'))).ok_or("overflow")?;
    }
    Ok(value)
}

/// The pax keys this crate understands.
#[derive(Debug, Default)]
pub(crate) struct Pax {
    pub path: Option<String>,
    pub size: Option<u64>,
    pub mtime: Option<Mtime>,
}

/// Parses pax extended header records (`"<len> <key>=<value>\n"`); unknown keys are ignored.
pub(crate) fn parse_pax(mut data: &[u8]) -> Result<Pax, String> {
    const BAD: &str = "invalid pax header";
    let mut pax = Pax::default();
    while !data.is_empty() {
        let space = data.iter().position(|&b| b == b' ').ok_or(BAD)?;
        let len: usize = std::str::from_utf8(&data[..space]).ok().and_then(|s| s.parse().ok()).ok_or(BAD)?;
        if len <= space + 1 || len > data.len() || data[len - 1] != b'\n' {
            return Err(BAD.to_owned());
        }
        let record = std::str::from_utf8(&data[space + 1..len - 1]).map_err(|_| BAD)?;
        let (key, value) = record.split_once('=').ok_or(BAD)?;
        match key {
            "path" => pax.path = Some(value.to_owned()),
            "size" => pax.size = Some(value.parse().map_err(|_| BAD)?),
            "mtime" => pax.mtime = Some(parse_pax_time(value).ok_or(BAD)?),
            _ => {}
        }
        data = &data[len..];
    }
    Ok(pax)
}

/// Parses a pax time, `secs[.fraction]`, keeping up to nanosecond precision.
fn parse_pax_time(value: &str) -> Option<Mtime> {
    let (secs, frac) = value.split_once('.').unwrap_or((value, ""));
    let secs: i64 = secs.parse().ok()?;
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut nanos = 0u32;
    for i in 0..9 {
        nanos = nanos * 10 + frac.as_bytes().get(i).map_or(0, |d| u32::from(d - b'0'));
    }
    // A negative time with a fraction means secs - frac; no artifact tool writes one, and
    // mtimes before 1970 carry no meaning here, so round to whole seconds instead.
    if secs < 0 { Some(Mtime { secs, nanos: 0 }) } else { Some(Mtime { secs, nanos }) }
}

/// Appends the header block(s) for a regular file: a pax header first when the name or
/// size does not fit the ustar fields.
pub(crate) fn encode_file_header(name: &str, size: u64, mtime: u64, mode: u32, out: &mut Vec<u8>) {
    let mut records = String::new();
    if name.len() > 100 {
        records.push_str(&pax_record("path", name));
    }
    if size > MAX_OCTAL {
        records.push_str(&pax_record("size", &size.to_string()));
    }
    if !records.is_empty() {
        out.extend_from_slice(&ustar_block("PaxHeader", records.len() as u64, mtime, 0o644, b'x'));
        out.extend_from_slice(records.as_bytes());
        out.resize(out.len().next_multiple_of(BLOCK), 0);
    }
    // The ustar name is only a fallback for readers without pax support: cut at a char
    // boundary within 100 bytes.
    let mut cut = name.len().min(100);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    let short = &name[..cut];
    // With a pax size record the ustar field is ignored by readers; 0 keeps it well-formed.
    let ustar_size = if size > MAX_OCTAL { 0 } else { size };
    out.extend_from_slice(&ustar_block(short, ustar_size, mtime, mode, b'0'));
}

/// One pax record with its self-inclusive length prefix.
fn pax_record(key: &str, value: &str) -> String {
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    while len.to_string().len() + body.len() != len {
        len += 1;
    }
    format!("{len}{body}")
}

/// A POSIX ustar header block; `size` and `mtime` must fit 11 octal digits.
fn ustar_block(name: &str, size: u64, mtime: u64, mode: u32, typeflag: u8) -> [u8; BLOCK] {
    let mut b = [0u8; BLOCK];
    let put = |b: &mut [u8; BLOCK], at: usize, s: &[u8]| b[at..at + s.len()].copy_from_slice(s);
    put(&mut b, 0, name.as_bytes());
    put(&mut b, 100, format!("{:07o}\0", mode & 0o7777).as_bytes());
    put(&mut b, 108, b"0000000\0");
    put(&mut b, 116, b"0000000\0");
    put(&mut b, 124, format!("{size:011o}\0").as_bytes());
    put(&mut b, 136, format!("{:011o}\0", mtime.min(MAX_OCTAL)).as_bytes());
    b[156] = typeflag;
    put(&mut b, 257, b"ustar\x0000");
    put(&mut b, 329, b"0000000\0");
    put(&mut b, 337, b"0000000\0");
    let (sum, _) = checksums(&b);
    put(&mut b, 148, format!("{sum:06o}\0 ").as_bytes());
    b
}
