//! Sandboxes of the marketplaces' APIs and a demo ERP, used by tests, benchmarks and `twctl up`.

pub mod quota;
