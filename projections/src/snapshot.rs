//! Point-in-time copies: read models built from position 1 up to a position or an instant,
//! into a separate sled database, leaving the live ones alone (audits: "what did we know then?").

use std::sync::Arc;

use crate::feed::{Feed, nats};
use crate::host::{active_key, apply_batch, version_key};
use crate::{Projection, ProjectionError};

/// Where a copy stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// Up to and including this position.
    Position(u64),
    /// Up to and including this instant (microseconds since the epoch).
    Time(i64),
}

/// Builds `projections` into `db` from the log up to `until`; returns the last position
/// applied. `progress` is called after each batch with (position, target).
pub async fn build_copy(
    client: &async_nats::Client,
    stream_name: &str,
    db: &sled::Db,
    projections: &[Arc<dyn Projection>],
    until: Until,
    progress: &(dyn Fn(&str, u64, u64) + Sync),
) -> Result<u64, ProjectionError> {
    let js = async_nats::jetstream::new(client.clone());
    let mut stream = js.get_stream(stream_name).await.map_err(nats)?;
    let last = stream.info().await.map_err(nats)?.state.last_sequence;
    let target = match until {
        Until::Position(n) => n.min(last),
        Until::Time(_) => last,
    };
    let meta = db.open_tree("fleetlog.meta")?;
    let mut reached = 0;
    for projection in projections {
        let name = projection.name();
        let tree_name = format!("rm/{name}/1");
        db.drop_tree(&tree_name)?;
        let tree = db.open_tree(&tree_name)?;
        let mut position = 0;
        if target > 0 {
            let mut feed = Feed::open(&stream, client, 0, 1000).await?;
            'feed: while position < target {
                let mut events = feed.next_owned().await?.events;
                let before = events.len();
                events.retain(|e| {
                    e.seq <= target && !matches!(until, Until::Time(t) if e.envelope.occurred_at.0 > t)
                });
                let done = events.len() < before;
                if !events.is_empty() {
                    position = apply_batch(&tree, projection.as_ref(), &events)?;
                }
                progress(name, position, target);
                if done {
                    break 'feed;
                }
            }
        }
        meta.insert(version_key(&tree_name), projection.version().to_string().as_bytes())?;
        meta.insert(active_key(name), tree_name.as_bytes())?;
        reached = reached.max(position);
    }
    db.flush_async().await?;
    Ok(reached)
}
