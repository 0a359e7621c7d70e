//! Portolan netio crate.
