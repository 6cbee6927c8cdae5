//! A mutational fuzzer that runs on stable Rust: seeds from a committed corpus are mutated
//! (bit flips, interesting bytes, inserts, deletes, duplications, splices, truncation) and fed
//! to a target under `catch_unwind`. Without compiler coverage, the feedback is the target's
//! outcome class (which error, or which success shape): an input that reaches a class not seen
//! before joins the corpus, so mutations build on inputs that got further.
//!
//! `fleetlog-bench fuzz [--target T] [--execs N] [--seed S]` runs it (≥ 1M executions per
//! target by default); a short run of every target is a unit test, so `make test` runs it.

pub mod targets;

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A fuzz target: classifies one input's outcome (any panic is a crash).
pub struct Target {
    /// Name, also the corpus folder under `bench/fuzz/corpus/`.
    pub name: &'static str,
    /// Runs one input and names its outcome class.
    pub run: fn(&[u8]) -> String,
}

/// What one campaign found.
#[derive(Debug, Default)]
pub struct Report {
    /// Inputs executed.
    pub execs: u64,
    /// Inputs that panicked, with the panic message.
    pub crashes: Vec<(Vec<u8>, String)>,
    /// Distinct outcome classes reached.
    pub classes: usize,
    /// Corpus size at the end (seeds plus inputs that reached a new class).
    pub corpus: usize,
    /// Wall time.
    pub elapsed: Duration,
    /// The slowest single execution.
    pub slowest: Duration,
}

/// Largest input the mutator makes: bigger inputs only cost time.
const MAX_INPUT: usize = 64 * 1024;
/// Most inputs kept in the in-memory corpus.
const MAX_CORPUS: usize = 4096;

/// A small, fast, reproducible generator (xorshift64*): the same seed replays a campaign.
pub struct Rng(u64);

impl Rng {
    /// Seeded generator (0 is mapped to a fixed non-zero state).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

/// Bytes that tend to sit on boundaries in parsers (lengths, signs, tar and msgpack markers).
const INTERESTING: &[u8] =
    &[0, 1, 0x7f, 0x80, 0xff, b'0', b'9', b'"', b'{', b'}', b'[', b'\\', 0xc0, 0xcc, 0xdc, 0xde];

/// One mutation of `input`, possibly splicing in part of `other`.
pub fn mutate(rng: &mut Rng, input: &mut Vec<u8>, other: &[u8]) {
    let len = input.len();
    match rng.below(8) {
        0 if len > 0 => {
            let i = rng.below(len);
            input[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            input[i] = INTERESTING[rng.below(INTERESTING.len())];
        }
        2 if len > 0 => {
            // Overwrite a few bytes with a little-endian or big-endian boundary number.
            let i = rng.below(len);
            let n: [u8; 4] = [0xff, 0xff, 0xff, 0x7f];
            for (k, b) in n.iter().enumerate().take(len - i) {
                input[i + k] = *b;
            }
        }
        3 if len > 1 => {
            let start = rng.below(len);
            let end = (start + 1 + rng.below(64)).min(len);
            input.drain(start..end);
        }
        4 if len > 0 && len < MAX_INPUT => {
            let start = rng.below(len);
            let end = (start + 1 + rng.below(256)).min(len);
            let chunk = input[start..end].to_vec();
            let at = rng.below(len);
            input.splice(at..at, chunk);
        }
        5 if !other.is_empty() => {
            let start = rng.below(other.len());
            let end = (start + 1 + rng.below(512)).min(other.len());
            let at = rng.below(len + 1);
            input.splice(at..at, other[start..end].iter().copied());
        }
        6 if len > 0 => input.truncate(rng.below(len)),
        _ => {
            let at = rng.below(len + 1);
            input.insert(at, rng.next() as u8);
        }
    }
    input.truncate(MAX_INPUT);
}

/// The committed corpus of a target: every file under `bench/fuzz/corpus/<name>/`.
pub fn corpus_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join("corpus").join(name)
}

/// Reads a target's seeds (an empty input when there are none).
pub fn seeds(name: &str) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(corpus_dir(name))
        .map(|dir| dir.filter_map(|e| e.ok()).filter_map(|e| std::fs::read(e.path()).ok()).collect())
        .unwrap_or_default();
    if out.is_empty() {
        out.push(Vec::new());
    }
    out
}

/// Runs `execs` executions of `target` from `seeds`, reproducibly for one `seed`.
pub fn run(target: &Target, seeds: Vec<Vec<u8>>, execs: u64, seed: u64) -> Report {
    let mut rng = Rng::new(seed);
    let mut corpus = seeds;
    let mut classes = HashSet::new();
    let mut report = Report::default();
    let start = Instant::now();
    // Panics are expected findings here: keep their messages, not their default printing.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for _ in 0..execs {
        let mut input = corpus[rng.below(corpus.len())].clone();
        let other = corpus[rng.below(corpus.len())].clone();
        for _ in 0..=rng.below(4) {
            mutate(&mut rng, &mut input, &other);
        }
        let t = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| (target.run)(&input)));
        report.slowest = report.slowest.max(t.elapsed());
        report.execs += 1;
        match outcome {
            Ok(class) => {
                if classes.insert(class) && corpus.len() < MAX_CORPUS {
                    corpus.push(input);
                }
            }
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                report.crashes.push((input, msg));
            }
        }
    }
    std::panic::set_hook(hook);
    report.classes = classes.len();
    report.corpus = corpus.len();
    report.elapsed = start.elapsed();
    report
}

/// The outcome class of an error: its message with digits and quoted parts removed, cut short,
/// so that "offset 12" and "offset 13" are one class.
pub fn class_of(prefix: &str, message: &str) -> String {
    let mut out = String::with_capacity(48);
    out.push_str(prefix);
    let mut quoted = false;
    for c in message.chars() {
        if c == '"' || c == '`' {
            quoted = !quoted;
        } else if !quoted && !c.is_ascii_digit() {
            out.push(c);
        }
        if out.len() >= 48 {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests;
