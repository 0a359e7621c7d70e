//! What to scan: target and port specifications, exclusions, the port table,
//! the keyed shuffle that orders them, shards and the resume index.
//!
//! Pure: no I/O (host names are resolved by the caller), no clock, no OS
//! randomness; seeds come in as arguments. Memory stays proportional to the
//! number of specs, never to the number of addresses.
//!
//! ```
//! use portolan_targets::{parse_target, Include, TargetSet, TargetSpec};
//! let TargetSpec::Concrete(net) = parse_target("192.0.2.0/28").unwrap() else { panic!() };
//! let TargetSpec::Concrete(gw) = parse_target("192.0.2.1").unwrap() else { panic!() };
//! let set = TargetSet::new(vec![Include::spec(net)], vec![gw]).unwrap();
//! assert_eq!(set.upper_bound(), 16);
//! assert_eq!(set.iter(42).count(), 15);
//! ```

mod coverage;
mod glob;
pub mod lists;
pub mod permute;
pub mod ports;
pub mod resume;
pub mod set;
pub mod shard;
pub mod spec;
pub mod table;

pub use lists::{parse_exclude_list, parse_target_list};
pub use permute::{shuffle_ports, Permutation};
pub use ports::{parse_ports, PortError, PortSpec};
pub use resume::{ResumeIndex, ResumePoint, SharedResumeIndex, Tracked};
pub use set::{Include, IntoTargets, Target, TargetIter, TargetSet};
pub use shard::{Shard, ShardError};
pub use spec::{parse_target, ConcreteSpec, HostName, TargetError, TargetSpec};
pub use table::{PortEntry, PortTable, TableError};
