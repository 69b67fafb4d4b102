//! The `kpath` command line. The terminal UI joins it in a later issue; everything here
//! only parses arguments, calls `kpath_sim` and prints what it returns.

pub mod cli;
pub mod lab_cmd;
pub mod test_cmd;
pub mod trace_cmd;
