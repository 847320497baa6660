//! Real services for Tradewind's tests: a NATS JetStream server and a PostgreSQL database per test, no mocks.
//!
//! Add the crate as a dev-dependency (`test-support = { path = "../test-support" }`) and use it from a tokio test:
//!
//! ```no_run
//! use test_support::{NatsServer, TestDatabase};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! // A fresh `nats-server -js` on a free loopback port, its JetStream store in a temp dir.
//! let mut nats = NatsServer::start().await?;
//! let jetstream = async_nats::jetstream::new(nats.client().await?);
//! jetstream.create_key_value(async_nats::jetstream::kv::Config {
//!     bucket: "offers".to_string(),
//!     ..Default::default()
//! }).await?;
//! nats.kill()?; // SIGKILL: clients see the outage
//! nats.restart().await?; // same port, same store: JetStream data survives
//!
//! // A fresh database `tw_test_…`, dropped (WITH (FORCE)) when `db` is dropped.
//! let db = TestDatabase::create().await?;
//! let client = db.client().await?;
//! client.batch_execute("CREATE TABLE items (sku text PRIMARY KEY)").await?;
//! # Ok(())
//! # }
//! ```
//!
//! What it needs, both set up by `scripts/setup.sh`:
//!
//! - `nats-server` 2.10.0 or newer: the binary named by `TRADEWIND_NATS_SERVER`, else `nats-server` on `PATH`.
//!   Older servers (Debian's 2.9) are refused with an error that names the version found.
//! - PostgreSQL: `TRADEWIND_PG_URL` (default [`DEFAULT_PG_URL`]), a role that may create databases.
//!
//! Each server and database belongs to one test; processes are killed and databases dropped on `Drop`, also
//! when the test panics.

mod error;
mod nats;
mod pg;
mod wait;

pub use error::Error;
pub use nats::{MIN_NATS_VERSION, NATS_SERVER_ENV, NatsServer, is_supported_version, nats_binary};
pub use pg::{DEFAULT_PG_URL, PG_URL_ENV, TestDatabase, pg_base_url};
pub use wait::eventually;
