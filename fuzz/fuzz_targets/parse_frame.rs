//! `parse_frame` (and `strip_link` under it) on arbitrary frames; the first
//! input byte picks the link type so one corpus covers both.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portolan_wire::ether::{strip_link, LinkType};
use portolan_wire::reply::parse_frame;

fuzz_target!(|data: &[u8]| {
    let Some((selector, frame)) = data.split_first() else {
        return;
    };
    let link = if selector & 1 == 0 {
        LinkType::Ethernet
    } else {
        LinkType::RawIp
    };
    if let Some((_, payload)) = strip_link(frame, link) {
        assert!(payload.len() <= frame.len());
    }
    let _ = parse_frame(frame, link);
});
