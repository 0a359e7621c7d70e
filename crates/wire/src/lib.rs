//! Portolan wire crate.
