//! Unit tests of the push decoders: chunking, multi-member streams, truncation, corruption.

use std::io::Write;

use super::*;
use crate::gzip::MAX_GZIP_HEADER;

fn sample() -> Vec<u8> {
    (0..200_000u32).map(|i| (i % 251) as u8 ^ (i / 997) as u8).collect()
}

/// Decodes `data` pushed in `chunk`-sized pieces.
fn decode(compression: Compression, data: &[u8], chunk: usize) -> Result<Vec<u8>, ArtifactError> {
    let mut dec = Decoder::new(compression, "t", 1 << 26)?;
    let mut out = Vec::new();
    for piece in data.chunks(chunk.max(1)) {
        dec.push(piece, &mut |o| {
            out.extend_from_slice(o);
            Ok(())
        })?;
    }
    dec.finish(&mut |o| {
        out.extend_from_slice(o);
        Ok(())
    })?;
    Ok(out)
}

fn gzip_with(builder: flate2::GzBuilder, data: &[u8]) -> Vec<u8> {
    let mut enc = builder.write(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn compressed(compression: Compression, data: &[u8]) -> Vec<u8> {
    match compression {
        Compression::None => data.to_vec(),
        Compression::Gzip => gzip_with(flate2::GzBuilder::new(), data),
        Compression::Xz => {
            let mut enc = xz2::write::XzEncoder::new(Vec::new(), 1);
            enc.write_all(data).unwrap();
            enc.finish().unwrap()
        }
        Compression::Zstd => zstd::stream::encode_all(data, 1).unwrap(),
    }
}

const ALL: [Compression; 4] = [Compression::None, Compression::Gzip, Compression::Xz, Compression::Zstd];

#[test]
fn every_codec_round_trips_in_any_chunking() {
    let data = sample();
    for c in ALL {
        let packed = compressed(c, &data);
        for chunk in [1, 7, 4096, packed.len()] {
            if chunk == 1 && packed.len() > 50_000 {
                continue; // byte-at-a-time over the whole uncompressed sample is only slow
            }
            assert_eq!(decode(c, &packed, chunk).unwrap(), data, "{c:?} chunk {chunk}");
        }
    }
}

#[test]
fn truncated_and_corrupt_streams_fail() {
    let data = sample();
    for c in [Compression::Gzip, Compression::Xz, Compression::Zstd] {
        let packed = compressed(c, &data);
        for cut in [0, 1, 10, packed.len() / 2, packed.len() - 1] {
            assert!(decode(c, &packed[..cut], 4096).is_err(), "{c:?} cut {cut}");
        }
        let mut bad = packed.clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 0xff;
        assert!(!decode(c, &bad, 4096).is_ok_and(|out| out == data), "{c:?}");
        let mut trailing = packed;
        trailing.extend_from_slice(b"junk");
        assert!(decode(c, &trailing, 4096).is_err(), "{c:?} trailing junk");
    }
}

#[test]
fn gzip_optional_header_fields_and_multiple_members() {
    let builder = flate2::GzBuilder::new().filename("data.tar").comment("c").extra(vec![1, 2, 3]);
    let mut packed = gzip_with(builder, b"first ");
    packed.extend(gzip_with(flate2::GzBuilder::new(), b"second"));
    for chunk in [1, 3, 100] {
        assert_eq!(decode(Compression::Gzip, &packed, chunk).unwrap(), b"first second");
    }
    let huge_name = flate2::GzBuilder::new().filename(vec![b'n'; MAX_GZIP_HEADER + 10]);
    let err = decode(Compression::Gzip, &gzip_with(huge_name, b"x"), 1000).unwrap_err();
    assert!(err.to_string().contains("gzip header too large"), "{err}");
    let err = decode(Compression::Gzip, b"PK\x03\x04 not gzip", 4).unwrap_err();
    assert!(err.to_string().contains("not in gzip format"), "{err}");
}

#[test]
fn consumer_errors_pass_through_unchanged() {
    let packed = compressed(Compression::Gzip, &sample());
    let mut dec = Decoder::new(Compression::Gzip, "t", 1 << 26).unwrap();
    let err = dec.push(&packed, &mut |_| Err(ArtifactError::NotATar)).unwrap_err();
    assert_eq!(err, ArtifactError::NotATar);
}
