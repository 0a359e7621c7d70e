//! Portolan driver crate.
