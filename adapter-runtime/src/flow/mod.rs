//! Flows: the loops that move records between JetStream and a connector. A flow knows nothing of a given
//! channel; everything channel-specific comes through the [`crate::connector::Connector`] and the mapping.

mod dead_letter;
mod inbound;
mod order_process;
mod outbound;
mod push;
mod reread;
mod shutdown;
mod sync;

pub use dead_letter::dead_letter;
pub use inbound::{H_DETAIL, InboundFlow, InboundSettings, Polled, Read, Reader, identity};
pub use order_process::OrderProcess;
pub use outbound::{MapFn, OutboundFlow, OutboundSettings, PrepareFn};
pub use push::PushPublisher;
pub use reread::RereadFlow;
pub use shutdown::Shutdown;
pub use sync::SyncRunner;
