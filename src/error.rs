//! Errors that carry their exit code: 2 for bad usage, 1 for run-time failure,
//! and any explicit code (e.g. `http --check-status`).

use std::fmt;

/// Exit code for a failure at run time.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code for bad usage: unparsable arguments, values out of range.
pub const EXIT_USAGE: u8 = 2;

/// An error with an explicit exit code. Its message is shown as it is.
#[derive(Debug)]
pub struct Exit {
    /// The process exit code.
    pub code: u8,
    /// What went wrong and what to do, for the user.
    pub message: String,
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

/// A bad-usage error (exit code 2): the message should name the culprit and the fix.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    Exit {
        code: EXIT_USAGE,
        message: message.into(),
    }
    .into()
}

/// An error with a chosen exit code.
pub fn exit_with(code: u8, message: impl Into<String>) -> anyhow::Error {
    Exit {
        code,
        message: message.into(),
    }
    .into()
}

/// The exit code an error maps to: its own if it carries one, else 1.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    err.chain()
        .find_map(|e| e.downcast_ref::<Exit>())
        .map_or(EXIT_FAILURE, |e| e.code)
}

/// One line for the user: the error and its causes joined with ": ".
pub fn one_line(err: &anyhow::Error) -> String {
    join_causes(err.chain())
}

/// The same line for any error: its message and every `source()` below it.
pub fn chain_text(err: &(dyn std::error::Error + 'static)) -> String {
    join_causes(std::iter::successors(Some(err), |e| e.source()))
}

/// Messages joined with ": ", each once: context chains often repeat the inner message.
fn join_causes<'a>(chain: impl Iterator<Item = &'a (dyn std::error::Error + 'static)>) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in chain {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}
