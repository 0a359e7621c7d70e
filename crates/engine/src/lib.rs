//! Portolan engine crate.
