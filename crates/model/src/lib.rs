//! Portolan's shared vocabulary.
//!
//! Every other crate speaks in these types: the engine produces [`HostResult`]s,
//! the output sinks consume them, and later the history store and the web
//! dashboard read them back. The types carry no behaviour beyond naming and
//! ordering, and they never depend on the engine, so sinks stay independent of
//! how a result was obtained.
//!
//! Names of states and reasons follow Nmap's spelling exactly (`open|filtered`,
//! `conn-refused`, `admin-prohibited`), because Nmap's XML consumers match on them.

mod host;
mod mac;
mod port;
mod run;
mod trace;

pub use host::{HostResult, HostStatus, HostTimes, Hostname, HostnameKind};
pub use mac::MacAddress;
pub use port::{
    PortResult, PortState, Protocol, Reason, ServiceInfo, ServiceMethod, TlsInfo, Tunnel,
};
pub use run::{compact_ranges, OutputOptions, RunInfo, RunKind, RunSummary, ScanInfo, ScanType};
pub use trace::{Trace, TraceHop, TraceProto};
