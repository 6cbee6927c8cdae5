//! The parser must never panic: random, truncated and bit-flipped artifacts give `Ok` or
//! `Err`, and every truncation before the end-of-archive marker is an error.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use common::{FIXTURES, fixture};
use fleetlog_artifact::{ArtifactError, ArtifactMeta, ArtifactParser, Limits};

/// xorshift64*: deterministic, dependency-free randomness for reproducible failures.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Parses with random chunk sizes, turning a panic into a test failure naming `what`.
fn parse_no_panic(bytes: &[u8], rng: &mut Rng, what: &str) -> Result<ArtifactMeta, ArtifactError> {
    let seed = rng.next();
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut rng = Rng(seed | 1);
        let mut parser = ArtifactParser::new(Limits::default());
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = (1 + rng.below(4096)).min(rest.len());
            parser.feed(&rest[..n])?;
            rest = &rest[n..];
        }
        parser.finish()
    }));
    result.unwrap_or_else(|_| panic!("parser panicked on {what} (chunk seed {seed})"))
}

/// Length up to and including the end-of-archive marker (GNU tar pads with more zeros).
fn meaningful_len(bytes: &[u8]) -> usize {
    let last = bytes.iter().rposition(|&b| b != 0).unwrap_or(0);
    (last / 512 + 1) * 512 + 1024
}

#[test]
fn every_truncation_is_an_error() {
    let mut rng = Rng(0x5eed_0001);
    for name in FIXTURES {
        let bytes = fixture(name);
        let end = meaningful_len(&bytes).min(bytes.len());
        let mut cuts: Vec<usize> = (0..end).step_by(37).collect();
        for boundary in (0..end).step_by(512) {
            cuts.extend([boundary.saturating_sub(1), boundary, boundary + 1]);
        }
        for cut in cuts.into_iter().filter(|&c| c < end) {
            let what = format!("{name} cut at {cut}");
            let result = parse_no_panic(&bytes[..cut], &mut rng, &what);
            assert!(result.is_err(), "{what} was accepted");
        }
    }
}

#[test]
fn bit_flips_never_panic() {
    let mut rng = Rng(0x5eed_0002);
    for name in FIXTURES {
        let bytes = fixture(name);
        // Small fixtures: one flip at every byte; the rest: a random sample.
        let positions: Vec<usize> = if bytes.len() <= 6144 {
            (0..bytes.len()).collect()
        } else {
            (0..1500).map(|_| rng.below(bytes.len())).collect()
        };
        let mut rejected = 0;
        for pos in positions {
            let mut flipped = bytes.clone();
            flipped[pos] ^= 1 << rng.below(8);
            let what = format!("{name} with byte {pos} flipped");
            rejected += usize::from(parse_no_panic(&flipped, &mut rng, &what).is_err());
        }
        assert!(rejected > 0, "{name}: no bit flip was detected");
    }
}

#[test]
fn random_garbage_never_panics() {
    let mut rng = Rng(0x5eed_0003);
    for round in 0..300 {
        let len = rng.below(20_000);
        let garbage: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        assert!(parse_no_panic(&garbage, &mut rng, &format!("garbage round {round}")).is_err());
    }
}

#[test]
fn spliced_garbage_never_panics() {
    // Keeps the valid prefix (tar headers, version, manifest) and overwrites a random range,
    // which reaches deeper parser states than pure noise.
    let mut rng = Rng(0x5eed_0004);
    for name in FIXTURES {
        let bytes = fixture(name);
        for round in 0..200 {
            let mut spliced = bytes.clone();
            let start = rng.below(spliced.len());
            let len = rng.below(64).min(spliced.len() - start);
            for b in &mut spliced[start..start + len] {
                *b = rng.next() as u8;
            }
            if rng.below(4) == 0 {
                spliced.truncate(rng.below(spliced.len()));
            }
            let _ = parse_no_panic(&spliced, &mut rng, &format!("{name} splice round {round}"));
        }
    }
}
