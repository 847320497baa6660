//! Mapping evaluation throughput (filled in with the mapping engine).
fn main() {}
