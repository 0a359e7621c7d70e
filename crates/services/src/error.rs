//! What can go wrong loading a probe database, and what is only worth a warning.

use std::fmt;

/// A line the parser accepted with reservations: an unknown directive, a pattern our regex
/// engine cannot compile (that match line is skipped), a fallback naming no known probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbWarning {
    /// 1-based line number in the database text.
    pub line: usize,
    /// What was wrong and what was done about it.
    pub message: String,
}

impl fmt::Display for DbWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Why a probe database could not be loaded. Every variant names the 1-based line and the
/// offending part of it.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DbError {
    /// A directive that belongs to a `Probe` section appeared before the first `Probe`.
    #[error("line {line}: `{directive}` before any Probe directive")]
    OutsideProbe { line: usize, directive: String },
    /// A directive is missing an argument or has one of the wrong shape.
    #[error("line {line}: {directive}: {what}")]
    Syntax {
        line: usize,
        directive: String,
        what: String,
    },
    /// A probe string holds an escape we do not know, or a bad `\xHH`.
    #[error("line {line}: bad escape `{escape}` in probe string")]
    BadEscape { line: usize, escape: String },
    /// A port list entry is not a port, a range, or a `T:`/`U:` prefix.
    #[error("line {line}: bad port list entry `{token}`")]
    BadPorts { line: usize, token: String },
    /// A numeric directive (`rarity`, `totalwaitms`, `tcpwrappedms`) has a bad value.
    #[error("line {line}: {directive}: bad value `{value}`")]
    BadNumber {
        line: usize,
        directive: String,
        value: String,
    },
    /// Two `Probe` directives in one file share a protocol and a name.
    #[error("line {line}: duplicate probe {proto} {name}")]
    DuplicateProbe {
        line: usize,
        proto: String,
        name: String,
    },
}

impl DbError {
    /// The 1-based line the error is on.
    pub fn line(&self) -> usize {
        match self {
            DbError::OutsideProbe { line, .. }
            | DbError::Syntax { line, .. }
            | DbError::BadEscape { line, .. }
            | DbError::BadPorts { line, .. }
            | DbError::BadNumber { line, .. }
            | DbError::DuplicateProbe { line, .. } => *line,
        }
    }
}
