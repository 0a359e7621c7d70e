//! `parse_ip` on arbitrary bytes: must never panic, and what it returns
//! must stay within the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portolan_wire::reply::{parse_ip, ReplyBody};

fuzz_target!(|data: &[u8]| {
    if let Ok(reply) = parse_ip(data) {
        if let ReplyBody::Udp { payload_len, .. } = reply.body {
            assert!(payload_len + 8 <= data.len());
        }
    }
});
