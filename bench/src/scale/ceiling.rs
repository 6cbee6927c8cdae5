//! sled's own ceiling for the scale run, measured in the same run: after the server stops, its
//! read-model store is counted (keys, bytes of keys and values, per tree) and a sample of its
//! keys is written raw into a fresh sled with the same page cache, in key order and batches of
//! 1,000. The projections cannot store keys faster than that, nor in fewer bytes than sled
//! needs for them; the build's figures are put against it.

use std::path::Path;
use std::time::Instant;

use super::report::Row;

/// Keys written raw for the ceiling (spread over the trees in proportion to their size).
const SAMPLE_KEYS: u64 = 2_000_000;

/// Sizes of the stopped server's store.
struct Census {
    /// (tree name, keys) for every tree with keys.
    trees: Vec<(sled::IVec, u64)>,
    keys: u64,
    /// Bytes of keys and values themselves.
    bytes: u64,
}

fn census(db: &sled::Db) -> anyhow::Result<Census> {
    let mut c = Census { trees: Vec::new(), keys: 0, bytes: 0 };
    for name in db.tree_names() {
        let tree = db.open_tree(&name)?;
        let mut keys = 0;
        for kv in tree.iter() {
            let (k, v) = kv?;
            keys += 1;
            c.bytes += (k.len() + v.len()) as u64;
        }
        if keys > 0 {
            c.trees.push((name, keys));
            c.keys += keys;
        }
    }
    Ok(c)
}

/// Writes the sample raw into a fresh store; returns (keys written, keys per second, bytes of
/// sled's files for them after a flush).
fn raw_write(db: &sled::Db, c: &Census, cache_mb: u64) -> anyhow::Result<(u64, f64, u64)> {
    let mut sample = Vec::new();
    for (name, keys) in &c.trees {
        let take = (keys * SAMPLE_KEYS).div_ceil(c.keys.max(1));
        let tree = db.open_tree(name)?;
        for kv in tree.iter().take(usize::try_from(take)?) {
            sample.push(kv?);
        }
    }
    let dir = tempfile::tempdir()?;
    let fresh = sled::Config::new().path(dir.path()).cache_capacity(cache_mb << 20).open()?;
    let rate = crate::rebuild::write_batches(&fresh.open_tree("raw")?, &sample)?;
    fresh.flush()?;
    Ok((sample.len() as u64, rate, crate::child::allocated(dir.path())))
}

/// Measures and prints the ceiling against the first build (`build_secs` for the whole store's
/// keys, a lower bound of what it wrote: keys written twice count once) and the store's size.
pub fn run(
    store: &Path,
    devices: u32,
    build_secs: f64,
    cache_mb: u64,
    rows: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let db = sled::Config::new().path(store).cache_capacity(cache_mb << 20).open()?;
    let c = census(&db)?;
    let (sampled, rate, sample_disk) = raw_write(&db, &c, cache_mb)?;
    let built = c.keys as f64 / build_secs;
    let per_device = |b: f64| b / f64::from(devices);
    let sled_per_key = sample_disk as f64 / sampled.max(1) as f64;
    println!(
        "(s12) sled ceiling (same run, {:.0} s): the store holds {} keys ({:.1} per device), {:.0} bytes of keys and values per device; {sampled} of them written raw into a fresh sled ({cache_mb} MiB cache, key order, batches of 1000) at {rate:.0} keys/s, where the first build stored at least {built:.0} keys/s = {:.2}x of that; sled's files for the sample: {sled_per_key:.0} bytes/key = {:.0} bytes/device at the store's key count",
        started.elapsed().as_secs_f64(),
        c.keys,
        c.keys as f64 / f64::from(devices),
        per_device(c.bytes as f64),
        built / rate,
        per_device(sled_per_key * c.keys as f64),
    );
    rows.push(Row {
        figure: "sled's ceiling for the store (same run)",
        measured: format!(
            "raw write {rate:.0} keys/s (build >= {:.2}x of it); keys and values {:.0} bytes/device, sled's files for them ~{:.0}",
            built / rate,
            per_device(c.bytes as f64),
            per_device(sled_per_key * c.keys as f64)
        ),
        goal: "baseline",
        met: None,
    });
    Ok(())
}
