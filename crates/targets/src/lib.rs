//! Portolan targets crate.
