//! Unit tests of the tar reader and header codec on hand-built archives.

use super::*;
use crate::tar_header::encode_file_header;

/// Records everything the reader reports.
#[derive(Default, Debug)]
struct Recorder {
    entries: Vec<(String, u64, i64, Vec<u8>)>,
    open: bool,
}

impl EntrySink for Recorder {
    fn start(&mut self, e: &Entry) -> Result<(), ArtifactError> {
        assert!(!self.open, "start without end");
        self.open = true;
        self.entries.push((e.name.clone(), e.size, e.mtime.secs, Vec::new()));
        Ok(())
    }
    fn data(&mut self, chunk: &[u8]) -> Result<(), ArtifactError> {
        assert!(self.open, "data outside an entry");
        self.entries.last_mut().expect("entry").3.extend_from_slice(chunk);
        Ok(())
    }
    fn end(&mut self) -> Result<(), ArtifactError> {
        assert!(std::mem::replace(&mut self.open, false), "end without start");
        Ok(())
    }
}

/// A raw header block with a correct checksum.
fn block(name: &str, size: &[u8], typeflag: u8, gnu: bool) -> Vec<u8> {
    let mut b = vec![0u8; BLOCK];
    b[..name.len()].copy_from_slice(name.as_bytes());
    b[100..108].copy_from_slice(b"0000644\0");
    b[124..124 + size.len()].copy_from_slice(size);
    b[136..148].copy_from_slice(b"14524770400\0");
    b[156] = typeflag;
    b[257..265].copy_from_slice(if gnu { b"ustar  \0" } else { b"ustar\x0000" });
    b[148..156].copy_from_slice(b"        ");
    let sum: u32 = b.iter().map(|&x| u32::from(x)).sum();
    b[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    b
}

fn content(data: &[u8]) -> Vec<u8> {
    let mut v = data.to_vec();
    v.resize(data.len().next_multiple_of(BLOCK), 0);
    v
}

fn octal(n: usize) -> Vec<u8> {
    format!("{n:011o}\0").into_bytes()
}

fn read_all(archive: &[u8], chunk: usize, outer: bool) -> Result<Recorder, ArtifactError> {
    let mut reader = TarReader::new("test.tar", outer);
    let mut rec = Recorder::default();
    for piece in archive.chunks(chunk) {
        reader.feed(piece, &mut rec)?;
    }
    reader.finish()?;
    Ok(rec)
}

fn end() -> Vec<u8> {
    vec![0u8; 2 * BLOCK]
}

#[test]
fn reads_ustar_gnu_longname_pax_and_skips_dirs() {
    let long = "l".repeat(150);
    let pax = format!("{} path=pax/{long}\n", 14 + long.len()); // " path=pax/" + "\n" + 3 digits
    let mut tar = Vec::new();
    tar.extend(block("dir/", b"00000000000\0", b'5', false));
    tar.extend(block("./a", &octal(3), b'0', false));
    tar.extend(content(b"abc"));
    tar.extend(block("././@LongLink", &octal(long.len() + 1), b'L', true));
    tar.extend(content(format!("{long}\0").as_bytes()));
    tar.extend(block("truncated-name", &octal(0), b'0', true));
    tar.extend(block("PaxHeader", &octal(pax.len()), b'x', false));
    tar.extend(content(pax.as_bytes()));
    tar.extend(block("short", &octal(600), b'0', false));
    tar.extend(content(&[7u8; 600]));
    tar.extend(end());
    for chunk in [1, 7, 511, 512, 513, tar.len()] {
        let rec = read_all(&tar, chunk, true).unwrap();
        let names: Vec<(&str, u64)> = rec.entries.iter().map(|e| (e.0.as_str(), e.1)).collect();
        assert_eq!(names, [("a", 3), (long.as_str(), 0), (format!("pax/{long}").as_str(), 600)]);
        assert_eq!(rec.entries[0].3, b"abc");
        assert_eq!(rec.entries[2].3, vec![7u8; 600]);
        assert_eq!(rec.entries[0].2, 1_700_000_000);
    }
}

#[test]
fn base256_and_pax_sizes_and_writer_headers_round_trip() {
    let mut field = vec![0u8; 12];
    field[0] = 0x80;
    field[7] = 0x02; // 2 << 32 = 8 GiB
    assert_eq!(crate::tar_header::parse_numeric(&field).unwrap(), 8 << 30);
    for (name, size) in [("small", 5u64), (&"n".repeat(120) as &str, 9 << 30)] {
        let mut hdr = Vec::new();
        encode_file_header(name, size, 1_700_000_000, 0o644, &mut hdr);
        let mut reader = TarReader::new("w.tar", false);
        let mut rec = Recorder::default();
        reader.feed(&hdr, &mut rec).unwrap();
        assert_eq!((rec.entries[0].0.as_str(), rec.entries[0].1), (name, size));
        assert!(reader.finish().is_err(), "content is missing");
    }
}

#[test]
fn rejects_links_bad_checksums_and_stray_blocks() {
    let mut tar = block("link", &octal(0), b'2', false);
    tar.extend(end());
    assert!(matches!(read_all(&tar, 512, false), Err(ArtifactError::UnsupportedEntry { .. })));

    let mut bad = block("a", &octal(0), b'0', false);
    bad[0] = b'b';
    assert_eq!(read_all(&bad, 512, true).unwrap_err(), ArtifactError::NotATar);
    let mut second = block("a", &octal(0), b'0', false);
    second.extend(&bad);
    assert!(matches!(read_all(&second, 512, true), Err(ArtifactError::CorruptTar { .. })));

    let mut stray = vec![0u8; BLOCK];
    stray.extend(block("a", &octal(0), b'0', false));
    assert!(matches!(read_all(&stray, 512, false), Err(ArtifactError::CorruptTar { .. })));

    let mut pax = block("PaxHeader", &octal(9), b'x', false);
    pax.extend(content(b"9 garbage"));
    pax.extend(end());
    assert!(matches!(read_all(&pax, 512, false), Err(ArtifactError::CorruptTar { .. })));
}

#[test]
fn end_marker_rules() {
    let mut tar = block("a", &octal(1), b'0', false);
    tar.extend(content(b"x"));
    // Embedded archives may stop after an entry; the outer one needs the marker.
    assert!(read_all(&tar, 100, false).is_ok());
    assert!(matches!(read_all(&tar, 100, true), Err(ArtifactError::UnexpectedEof { .. })));
    tar.extend(end());
    tar.extend(b"trailing bytes after the marker are ignored");
    assert_eq!(read_all(&tar, 100, true).unwrap().entries.len(), 1);
    // Stopping inside an entry is truncation for both.
    assert!(read_all(&tar[..BLOCK + 1], 100, false).is_err());
}
