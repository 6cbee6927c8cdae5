//! The short fuzz run `make test` does: every target from its committed corpus, a few seconds
//! each, no crash. The long runs (≥ 1M executions per target) are `fleetlog-bench fuzz`.

use super::{Rng, mutate, run, seeds, targets};

#[test]
fn every_target_survives_a_short_campaign_from_its_corpus() {
    for target in targets::ALL {
        let seeds = seeds(target.name);
        assert!(seeds.iter().any(|s| !s.is_empty()), "{} has a committed corpus", target.name);
        let report = run(target, seeds, 3_000, 0x5eed);
        assert!(
            report.crashes.is_empty(),
            "{} crashed on {} inputs, first: {:?} {:?}",
            target.name,
            report.crashes.len(),
            report.crashes[0].1,
            String::from_utf8_lossy(&report.crashes[0].0)
        );
        assert_eq!(report.execs, 3_000);
        // The corpus seeds reach more than one outcome: the target really runs the code.
        assert!(report.classes > 1, "{} reached only {} outcome class", target.name, report.classes);
    }
}

#[test]
fn seeds_of_the_corpus_reach_the_success_path() {
    // Unmutated seeds must be accepted, otherwise the campaign only explores error paths.
    for target in targets::ALL {
        let ok = seeds(target.name).iter().filter(|s| (target.run)(s).starts_with("ok")).count()
            + seeds(target.name).iter().filter(|s| (target.run)(s).starts_with("verified")).count();
        assert!(ok > 0, "no seed of {} reaches success", target.name);
    }
}

#[test]
fn mutation_is_reproducible_and_bounded() {
    let (mut a, mut b) = (Rng::new(7), Rng::new(7));
    let (mut x, mut y) = (b"seed input".to_vec(), b"seed input".to_vec());
    for _ in 0..10_000 {
        mutate(&mut a, &mut x, b"other");
        mutate(&mut b, &mut y, b"other");
    }
    assert_eq!(x, y);
    assert!(x.len() <= 64 * 1024);
}
