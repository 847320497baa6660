//! Server-side apply and field ownership (`metadata.managedFields`), as pure functions over JSON values and a
//! kind's schema.

pub mod fieldpath;
pub mod managed;
pub mod merge;
