//! `fleetlog-bench fuzz [--target T] [--execs N] [--seed S]`: a long campaign per target
//! (1M executions each by default), with the rate and what it reached; crashing inputs are
//! written to `bench/fuzz/crashes/` and make the run fail.

use anyhow::{Context, bail};

use crate::fuzz::{corpus_dir, seeds, targets};

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(String::as_str)
}

/// Runs the campaigns the arguments ask for.
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let execs: u64 =
        flag(args, "--execs").map(str::parse).transpose().context("--execs")?.unwrap_or(1_000_000);
    let seed: u64 = flag(args, "--seed").map(str::parse).transpose().context("--seed")?.unwrap_or(0x5eed);
    let only = flag(args, "--target");
    if let Some(t) = only
        && !targets::ALL.iter().any(|x| x.name == t)
    {
        bail!("unknown target {t:?}; targets: artifact, auth, frame, filter");
    }
    let mut crashed = 0;
    for target in targets::ALL.iter().filter(|t| only.is_none_or(|o| o == t.name)) {
        let seeds = seeds(target.name);
        let n = seeds.len();
        let r = crate::fuzz::run(target, seeds, execs, seed);
        let rate = r.execs as f64 / r.elapsed.as_secs_f64();
        println!(
            "fuzz {:<9} {:>9} execs in {:>6.1} s = {:>8.0}/s, seeds {n}, outcome classes {}, corpus {}, slowest {:.2} ms, crashes {}",
            target.name,
            r.execs,
            r.elapsed.as_secs_f64(),
            rate,
            r.classes,
            r.corpus,
            r.slowest.as_secs_f64() * 1e3,
            r.crashes.len()
        );
        let dir = corpus_dir(target.name).join("../../crashes");
        for (i, (input, msg)) in r.crashes.iter().enumerate().take(20) {
            std::fs::create_dir_all(&dir)?;
            let path = dir.join(format!("{}-{i}", target.name));
            std::fs::write(&path, input)?;
            println!("  crash {}: {msg}", path.display());
        }
        crashed += r.crashes.len();
    }
    if crashed > 0 {
        bail!("{crashed} crashing inputs");
    }
    Ok(())
}
