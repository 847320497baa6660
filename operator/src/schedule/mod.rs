//! `SyncSchedule` firing: when ([`due`], pure) and what is sent ([`command`]).

pub mod command;
pub mod due;
