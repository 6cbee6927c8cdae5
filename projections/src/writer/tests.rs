//! The writer's batches in parts, its early spills and its paged scans against the tree.

use super::*;

fn tree() -> Tree {
    let db = sled::Config::new().temporary(true).open().unwrap();
    db.open_tree("t").unwrap()
}

#[test]
fn a_batch_beyond_one_sled_batch_is_written_in_parts_and_ends_whole() {
    let tree = tree();
    let n = MAX_BATCH_WRITES * 3 + 7;
    let mut w = Writer::new(&tree);
    for i in 0..n {
        w.insert(format!("k{i:06}"), vec![1]);
    }
    w.commit(42).unwrap();
    assert_eq!(tree.len(), n + 1, "every write and the checkpoint");
    assert_eq!(checkpoint(&tree).unwrap(), 42);
    assert!(!incomplete(&tree).unwrap(), "the last part clears the mark");
    // A crash between parts leaves the mark: the host rebuilds such a tree.
    tree.insert(INCOMPLETE_KEY, &43u64.to_be_bytes()).unwrap();
    assert!(incomplete(&tree).unwrap());
}

#[test]
fn a_long_batch_spills_early_reads_its_own_writes_and_ends_whole() {
    let tree = tree();
    tree.insert("k000000", vec![9]).unwrap();
    let mut w = Writer::new(&tree);
    w.spill_if_large().unwrap();
    assert!(!incomplete(&tree).unwrap(), "a small batch stays in memory");
    w.remove("k000000").unwrap();
    let n = MAX_PENDING_WRITES + 10;
    for i in 1..n {
        w.insert(format!("k{i:06}"), vec![1]);
    }
    w.spill_if_large().unwrap();
    assert!(incomplete(&tree).unwrap(), "spilled writes are in the tree, marked incomplete");
    assert_eq!(w.pending.len(), 0, "nothing is held after a spill");
    assert_eq!(tree.get("k000000").unwrap(), None, "the removal was spilled too");
    // Later writes overlay the spilled ones, and reads see both.
    w.insert("k000001", vec![2]);
    assert_eq!(w.get(b"k000001").unwrap().as_deref(), Some(&[2u8][..]));
    assert_eq!(w.get(b"k000002").unwrap().as_deref(), Some(&[1u8][..]));
    w.commit(7).unwrap();
    assert!(!incomplete(&tree).unwrap(), "the commit clears the mark");
    assert_eq!(checkpoint(&tree).unwrap(), 7);
    assert_eq!(tree.len(), n - 1 + 1, "every write but the removed key, and the checkpoint");
    assert_eq!(tree.get("k000001").unwrap().as_deref(), Some(&[2u8][..]));
}

/// Every page size walks the same keys as one whole scan, over a mix of tree keys, pending
/// inserts, overwrites and removals (whole pages of removed keys included).
#[test]
fn paged_scans_walk_exactly_what_a_whole_scan_finds() {
    let tree = tree();
    for i in 0..60 {
        tree.insert(format!("p/{i:03}"), vec![0]).unwrap();
    }
    tree.insert("o/000", vec![0]).unwrap();
    tree.insert("q/000", vec![0]).unwrap();
    let mut w = Writer::new(&tree);
    for i in 10..25 {
        w.remove(format!("p/{i:03}")).unwrap();
    }
    for i in (0..60).step_by(7) {
        w.insert(format!("p/{i:03}"), vec![1]);
    }
    for i in 60..70 {
        w.insert(format!("p/{i:03}a"), vec![2]);
    }
    w.insert("p/", vec![3]);
    let whole = w.scan_prefix(b"p/").unwrap();
    assert_eq!(whole.len(), 60 - 15 + 2 + 10 + 1, "the mix this test means to build");
    for limit in [1, 2, 3, 5, 8, 15, 16, 59, 60, 200] {
        let (mut paged, mut after) = (Vec::new(), None::<Vec<u8>>);
        loop {
            let page = w.scan_page(b"p/", after.as_deref(), limit).unwrap();
            assert!(page.len() <= limit);
            let Some((last, _)) = page.last() else { break };
            after = Some(last.clone());
            paged.extend(page);
        }
        assert_eq!(paged, whole, "pages of {limit}");
    }
}
