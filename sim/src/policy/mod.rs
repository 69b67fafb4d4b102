//! NetworkPolicy: what the API says may talk to whom (`reference.rs`, the oracle, in plain
//! code) and the reachability matrix between a cluster's pods (`matrix.rs`), as Kubernetes'
//! e2e netpol suite prints it. The enforcing CNI's rules (kube-router's, in `k8s`) are
//! checked against the reference.

pub mod explain;
pub mod matrix;
pub mod reference;

pub use matrix::{Matrix, matrix};
pub use reference::{Decision, Party, Probe, Side, decide};

#[cfg(test)]
mod tests;
