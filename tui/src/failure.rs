//! What every command returns: the output to print, or a failure with its message and the
//! exit status to end with.

use kpath_sim::scenario::ScenarioError;

/// A failure with the message to print and the exit status to end with.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub status: i32,
}

impl From<ScenarioError> for Failure {
    fn from(e: ScenarioError) -> Self {
        Failure {
            message: e.to_string(),
            status: 2,
        }
    }
}

pub(crate) fn usage(message: String) -> Failure {
    Failure {
        message: format!("error: {message}"),
        status: 2,
    }
}

/// What a command produced.
pub enum Output {
    Text(String),
    /// A test report: print it, and exit 1 when `ok` is false.
    Report {
        text: String,
        ok: bool,
    },
    /// Bytes written to a file; the text says where.
    Written(String),
}
