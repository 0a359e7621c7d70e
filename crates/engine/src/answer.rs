//! From a parsed packet to an [`Answer`]: which scanned host and port it is
//! about, and what it says.

use crate::probe::{Answer, AnswerKind};
use portolan_model::Protocol;
use portolan_wire::reply::{ipproto, Reply, ReplyBody};

/// ICMPv4 type 3 and ICMPv6 type 1: destination unreachable.
const UNREACH_V4: u8 = 3;
const UNREACH_V6: u8 = 1;

/// The answer a reply carries, if it can be one: a TCP segment, a UDP
/// datagram, or an ICMP destination-unreachable quoting a TCP or UDP probe.
pub(crate) fn from_reply(r: &Reply) -> Option<Answer> {
    match r.body {
        ReplyBody::Tcp {
            sport,
            dport,
            seq,
            ack,
            flags,
            window,
        } => Some(Answer {
            host: r.src,
            protocol: Protocol::Tcp,
            port: sport,
            our_port: dport,
            ttl: r.ttl,
            kind: AnswerKind::Tcp {
                seq,
                ack,
                flags,
                window,
            },
        }),
        ReplyBody::Udp { sport, dport, .. } => Some(Answer {
            host: r.src,
            protocol: Protocol::Udp,
            port: sport,
            our_port: dport,
            ttl: r.ttl,
            kind: AnswerKind::Udp,
        }),
        ReplyBody::IcmpError {
            v6,
            icmp_type,
            code,
            quoted,
        } => {
            let unreach = if v6 { UNREACH_V6 } else { UNREACH_V4 };
            let protocol = match quoted.protocol {
                ipproto::TCP => Protocol::Tcp,
                ipproto::UDP => Protocol::Udp,
                _ => return None,
            };
            (icmp_type == unreach).then_some(Answer {
                host: quoted.dst,
                protocol,
                port: quoted.dport,
                our_port: quoted.sport,
                ttl: r.ttl,
                kind: AnswerKind::Unreach {
                    v6,
                    code,
                    quoted_seq: quoted.tcp_seq,
                },
            })
        }
        _ => None,
    }
}
