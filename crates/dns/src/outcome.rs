//! What a batch of reverse lookups found, address by address, and what it saw on the wire.

use std::net::IpAddr;

/// How the lookup of one address ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The first PTR name, in presentation form without the trailing dot.
    Name(String),
    /// The server said the reverse name does not exist (NXDOMAIN).
    NxDomain,
    /// The name exists but holds no usable PTR record (NOERROR with no answer; or, from the
    /// system resolver, "no name" without saying which).
    NoName,
    /// No answer within the tries (or before the overall deadline, or the servers were
    /// judged unresponsive before this address was sent).
    TimedOut,
    /// Every try ended in an error answer; this is the last response code (SERVFAIL = 2,
    /// REFUSED = 5, ...), or 0 for a truncated answer without a usable record.
    ServerFailure(u8),
    /// The last try could not be sent (no route to the server, for instance).
    SendFailed,
    /// The system resolver failed with this `getnameinfo` error code.
    SystemError(i32),
}

impl Outcome {
    /// The name found, if any.
    pub fn name(&self) -> Option<&str> {
        match self {
            Outcome::Name(name) => Some(name),
            _ => None,
        }
    }
}

/// One address and how its lookup ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReverseResult {
    pub addr: IpAddr,
    pub outcome: Outcome,
}

/// Counts of what a batch of lookups sent and received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Queries sent, retries included.
    pub queries_sent: u64,
    /// Queries the operating system refused to send.
    pub send_errors: u64,
    /// Datagrams received.
    pub datagrams: u64,
    /// Responses that matched an outstanding query (ID, server address and port, question).
    pub accepted: u64,
    /// Well-formed responses that matched no outstanding query: wrong ID, wrong source,
    /// or wrong question.
    pub forged: u64,
    /// Valid answers that came after their address had finished (a retry answered first).
    pub late: u64,
    /// Datagrams that are not readable DNS responses.
    pub malformed: u64,
    /// Tries that ended without an answer.
    pub timeouts: u64,
}

/// The results of a batch, in the order of the addresses given (duplicates included), and
/// the batch's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookups {
    pub results: Vec<ReverseResult>,
    pub stats: Stats,
}

impl Lookups {
    /// Each address with its name, if one was found.
    pub fn names(&self) -> Vec<(IpAddr, Option<String>)> {
        self.results
            .iter()
            .map(|r| (r.addr, r.outcome.name().map(str::to_string)))
            .collect()
    }
}
