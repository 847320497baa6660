//! The JetStream edge: turning the [`crate::topology`] definitions into streams, consumers and buckets, and
//! the operations every flow needs on them (publish an event, dead-letter and replay, polling cursors,
//! transaction timelines). Everything above this module works on [`crate::envelope`] events and plain data.

mod cursor;
mod dead_letter;
mod error;
mod headers;
mod heartbeat;
mod provision;
mod publish;
mod sync_runs;
mod timeline;

pub use cursor::{Cursor, CursorStore};
pub use dead_letter::{
    DeadLetter, DeadLetterStore, ErrorClass, H_REPLAY_FOR, H_REREAD_SUBJECT, ReplayOutcome,
    ReplayPlan, StoredDeadLetter,
};
pub use error::Error;
pub use headers::{from_header_map, to_header_map};
pub use heartbeat::{Heartbeat, Heartbeats, OperationStats};
pub use provision::{consumer_config, ensure_consumer, ensure_kv, ensure_stream, stream_config};
pub use publish::{PublishOutcome, publish_event, publish_raw};
pub use sync_runs::SyncRuns;
pub use timeline::{Step, Timeline, TimelineEntry};
