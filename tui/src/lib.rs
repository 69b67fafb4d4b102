//! The `kpath` command line and terminal UI. Everything here parses arguments, calls
//! `kpath_sim` and shows what it returns; nothing here decides a packet's fate.

pub mod args;
pub mod cmd;
pub mod failure;
pub mod tui;
