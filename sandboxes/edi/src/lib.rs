//! A simulated EDI trading partner (a retailer) and a real OpenSSH server to reach it over SFTP.
//!
//! The partner works on the folder its transport serves: it reads what we put in `in/` and drops its 850
//! purchase orders and 997 acknowledgements into `out/`, as a retailer's EDI system does. It has its own small
//! X12 reader and writer, independent of the connector's, so a mistake in one is not hidden by the other.
//! [`SshServer`] runs the system's `sshd` on a free port with a temporary host key, serving SFTP to one user key.

pub mod partner;
pub mod ssh;

pub use partner::{Partner, PurchaseOrder, PurchaseOrderLine, Received, ReceivedSet};
pub use ssh::SshServer;
