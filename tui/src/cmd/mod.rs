//! The commands, one file each.

pub mod compare;
pub mod lab;
pub mod test;
pub mod trace;
