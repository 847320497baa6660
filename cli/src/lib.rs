//! `twctl`: the command line of Tradewind. Each command is a function from its arguments to its output, so tests
//! call them directly and `main` only parses arguments and prints.

pub mod commands;
pub mod nats;
pub mod table;
