//! The states of recently commanded aggregates, so that the next command on the same
//! aggregate in this process decides without reading the aggregate's history again.
//!
//! Safe by construction: every append is guarded by the subject's expected last sequence, so
//! a stale entry (another replica wrote since) loses with a conflict, is forgotten, and the
//! command reloads from the log. The command ids kept per entry make a retry on this process
//! idempotent without a read.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How many command ids an entry remembers.
const RECENT_COMMANDS: usize = 8;

struct Entry {
    last_seq: u64,
    since_snapshot: usize,
    state: Arc<dyn Any + Send + Sync>,
    commands: Vec<String>,
}

/// A bounded map subject → (state, last sequence, recent command ids).
pub(crate) struct StateCache {
    entries: Mutex<HashMap<String, Entry>>,
    capacity: usize,
}

/// A cached state.
pub(crate) struct Cached<S> {
    pub state: S,
    pub last_seq: u64,
    pub commands: Vec<String>,
    /// Events past the aggregate's newest snapshot (for those that have snapshots).
    pub since_snapshot: usize,
}

impl StateCache {
    pub(crate) fn new(capacity: usize) -> StateCache {
        StateCache { entries: Mutex::new(HashMap::new()), capacity }
    }

    pub(crate) fn get<S: Clone + 'static>(&self, subject: &str) -> Option<Cached<S>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let e = entries.get(subject)?;
        let state = e.state.downcast_ref::<S>()?.clone();
        Some(Cached {
            state,
            last_seq: e.last_seq,
            commands: e.commands.clone(),
            since_snapshot: e.since_snapshot,
        })
    }

    pub(crate) fn put<S: Send + Sync + 'static>(
        &self,
        subject: &str,
        state: S,
        last_seq: u64,
        mut commands: Vec<String>,
        since_snapshot: usize,
    ) {
        if commands.len() > RECENT_COMMANDS {
            commands.drain(..commands.len() - RECENT_COMMANDS);
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded the simple way: when full, start over (the log is the truth; this only
        // saves reads).
        if entries.len() >= self.capacity && !entries.contains_key(subject) {
            entries.clear();
        }
        entries
            .insert(subject.to_owned(), Entry { last_seq, since_snapshot, state: Arc::new(state), commands });
    }

    pub(crate) fn forget(&self, subject: &str) {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).remove(subject);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_are_bounded_and_typed() {
        let c = StateCache::new(2);
        c.put("a", 1u32, 5, vec!["c1".into()], 0);
        let got = c.get::<u32>("a").unwrap();
        assert_eq!((got.state, got.last_seq, got.commands), (1, 5, vec!["c1".to_owned()]));
        assert!(c.get::<String>("a").is_none(), "another type is a miss");
        c.put("b", 2u32, 1, (0..20).map(|i| i.to_string()).collect(), 3);
        assert_eq!(c.get::<u32>("b").unwrap().since_snapshot, 3);
        assert_eq!(c.get::<u32>("b").unwrap().commands.len(), RECENT_COMMANDS);
        c.put("c", 3u32, 1, vec![], 0);
        assert!(c.get::<u32>("a").is_none(), "full: started over");
        c.forget("c");
        assert!(c.get::<u32>("c").is_none());
    }
}
