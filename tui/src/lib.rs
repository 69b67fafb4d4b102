//! The `kpath` command line and terminal UI. Everything here parses arguments, calls
//! `kpath_sim` and shows what it returns; nothing here decides a packet's fate.

pub mod cli;
pub mod compare_cmd;
pub mod lab_cmd;
pub mod test_cmd;
pub mod trace_cmd;
pub mod tui;
