//! Portolan output crate.
