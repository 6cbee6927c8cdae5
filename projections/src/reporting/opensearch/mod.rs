//! Reporting on OpenSearch: the client and its indices, the translation of records and
//! queries, the backend that answers the API, and the indexer that projects the log there.

mod backend;
mod client;
mod indexer;
mod touched;
mod translate;
mod worker;

pub use backend::OpenSearchBackend;
pub use client::{Index, SearchClient};
pub use indexer::{IndexerStatus, SEARCH_MODEL, SearchIndexer};
pub use translate::{document, key};
