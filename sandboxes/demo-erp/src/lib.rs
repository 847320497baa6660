//! A demo ERP on PostgreSQL: items, stock per location, sales orders, shipments, an outbox with triggers, a REST API.
