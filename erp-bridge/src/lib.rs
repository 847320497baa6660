//! tradewind-bridge: runs an ErpConnection: ERP events in (PostgreSQL outbox, signed webhook, NATS), orders, returns and settlements out (REST, PostgreSQL, NATS).
