//! Renderers: one file per output, each turning what `sim` decided into bytes for people
//! and tools. They never decide anything and never walk a packet; everything they print is
//! in the values they are given.
//!
//! - `text`: a trace or flow, one line per step (`kpath trace`, golden files);
//! - `json`: the same as JSON (schema in docs/trace-json.md);
//! - `pcap`: the frames a trace put on each link, as pcapng (`kpath pcap`);
//! - `outcomes`: every possible outcome with its probability (`--all-outcomes`);
//! - `rules`: the rules-only answer for a node's dumps (`trace --iptables-save`);
//! - `compare`: one scenario in each kube-proxy mode, side by side (`kpath compare`);
//! - `verify`: the kernel against kpath, check by check (`kpath verify`);
//! - `test_report`: `kpath test`'s results as text, JSON or JUnit XML;
//! - `diagram`: a journey as a Mermaid sequence diagram, and the topology with the path as
//!   SVG (`kpath diagram`).

pub mod compare;
pub mod diagram;
pub mod json;
pub mod outcomes;
pub mod pcap;
pub mod policy;
pub mod rules;
pub mod test_report;
pub mod text;
pub mod verify;
