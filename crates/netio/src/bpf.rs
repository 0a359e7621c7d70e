//! Classic BPF programs that keep a packet socket's receive queue down to the
//! replies a scan can use.
//!
//! The kernel runs the program on every packet the socket would otherwise
//! queue, so unrelated traffic on a busy interface never costs a copy, a
//! wake-up or a slot in the receive buffer. The programs here are written for
//! a cooked (`SOCK_DGRAM`) packet socket, where offset 0 is the first byte of
//! the IP header; the ethertype and the packet type come from the kernel's
//! ancillary loads (`SKF_AD_PROTOCOL`, `SKF_AD_PKTTYPE`) rather than from a
//! link header, so one program serves Ethernet, loopback and tun alike.
//!
//! A load past the end of the packet makes the kernel stop the program and
//! drop the packet, so truncated headers are rejected without explicit length
//! checks.
//!
//! [`scan_filter`] serves port scans; [`discovery_filter`] adds the ARP
//! replies host discovery waits for (offset 0 is then the ARP header).

use libc::sock_filter;
use std::ops::RangeInclusive;

/// A classic BPF program, ready for `SO_ATTACH_FILTER`.
#[derive(Debug, Clone)]
pub struct Program {
    insns: Vec<sock_filter>,
}

impl Program {
    /// Number of instructions.
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }

    /// The instructions, in the layout `struct sock_fprog` points at.
    pub fn as_slice(&self) -> &[sock_filter] {
        &self.insns
    }
}

/// The value `ret` gives for an accepted packet: "keep all of it".
const ACCEPT_ALL: u32 = u32::MAX;
/// `sll_pkttype` / `skb->pkt_type` of a packet this host is sending.
const PACKET_OUTGOING: u32 = libc::PACKET_OUTGOING as u32;
const ETHERTYPE_IPV4: u32 = libc::ETH_P_IP as u32;
const ETHERTYPE_IPV6: u32 = libc::ETH_P_IPV6 as u32;
const ETHERTYPE_ARP: u32 = libc::ETH_P_ARP as u32;
/// The first word of an Ethernet/IPv4 ARP message: hardware type 1
/// (Ethernet), protocol type 0x0800 (IPv4).
const ARP_ETHERNET_IPV4: u32 = 0x0001_0800;
/// Offset of the ARP operation, and the operation of a reply.
const ARP_OPERATION: u32 = 6;
const ARP_REPLY: u32 = 2;
const PROTO_ICMP: u32 = 1;
const PROTO_TCP: u32 = 6;
const PROTO_UDP: u32 = 17;
const PROTO_ICMPV6: u32 = 58;
/// IPv6 extension headers that may sit between the fixed header and the
/// transport: hop-by-hop, routing, fragment, destination options, AH,
/// mobility, HIP, shim6. ESP is left out: what follows it is encrypted.
const IPV6_EXT_HEADERS: [u32; 8] = [0, 43, 44, 60, 51, 135, 139, 140];
/// IPv4 flags/fragment-offset field: the offset bits.
const IPV4_FRAG_OFFSET_MASK: u32 = 0x1fff;
/// Offsets from the start of the IP header.
const IPV4_FRAG_FIELD: u32 = 6;
const IPV4_PROTOCOL: u32 = 9;
const IPV6_NEXT_HEADER: u32 = 6;
const IPV6_HEADER_LEN: u32 = 40;
/// Offset of the destination port in both the TCP and the UDP header.
const L4_DST_PORT: u32 = 2;

/// For a cooked (`SOCK_DGRAM`) packet socket: accepts IPv4/IPv6 TCP or UDP
/// whose destination port is in `ports` (inclusive; an empty range accepts no
/// TCP or UDP), all ICMP and ICMPv6, and IPv6 packets whose first next-header
/// is an extension header (rare; userspace parses those). Rejects packets the
/// host is sending (`PACKET_OUTGOING`), IPv4 fragments other than the first,
/// and everything else.
pub fn scan_filter(ports: RangeInclusive<u16>) -> Program {
    ip_filter(ports, false)
}

/// For host discovery on a cooked packet socket: everything [`scan_filter`]
/// accepts, plus ARP replies (ethertype 0x0806, Ethernet/IPv4, operation 2),
/// whose payload starts at offset 0 with the hardware type. ARP requests and
/// packets the host is sending (its own replies to others' requests among
/// them) are rejected.
pub fn discovery_filter(ports: RangeInclusive<u16>) -> Program {
    ip_filter(ports, true)
}

/// The IP part of both filters, and the ARP part when `arp_replies`.
fn ip_filter(ports: RangeInclusive<u16>, arp_replies: bool) -> Program {
    let (lo, hi) = (u32::from(*ports.start()), u32::from(*ports.end()));
    let mut a = Asm::default();
    a.stmt(LD_W_ABS, ancillary(libc::SKF_AD_PKTTYPE));
    a.jeq(PACKET_OUTGOING, L::Reject, L::Next);
    a.stmt(LD_W_ABS, ancillary(libc::SKF_AD_PROTOCOL));
    a.jeq(ETHERTYPE_IPV4, L::Next, L::NotV4);
    ipv4_part(&mut a, lo, hi);
    a.mark(L::NotV4);
    if arp_replies {
        a.jeq(ETHERTYPE_IPV6, L::Next, L::NotV6);
        ipv6_part(&mut a, lo, hi);
        a.mark(L::NotV6);
        arp_part(&mut a);
    } else {
        a.jeq(ETHERTYPE_IPV6, L::Next, L::Reject);
        ipv6_part(&mut a, lo, hi);
    }
    a.mark(L::Reject);
    a.stmt(RET_K, 0);
    a.mark(L::Accept);
    a.stmt(RET_K, ACCEPT_ALL);
    a.finish()
}

/// With the ethertype in A: accepts Ethernet/IPv4 ARP replies, rejects the
/// rest. Ends the block.
fn arp_part(a: &mut Asm) {
    a.jeq(ETHERTYPE_ARP, L::Next, L::Reject);
    a.stmt(LD_W_ABS, 0);
    a.jeq(ARP_ETHERNET_IPV4, L::Next, L::Reject);
    a.stmt(LD_H_ABS, ARP_OPERATION);
    a.jeq(ARP_REPLY, L::Accept, L::Reject);
}

/// IPv4: first fragments only; ICMP always; TCP/UDP by destination port past
/// the header length the IHL gives.
fn ipv4_part(a: &mut Asm, lo: u32, hi: u32) {
    a.stmt(LD_H_ABS, IPV4_FRAG_FIELD);
    a.jump(JSET_K, IPV4_FRAG_OFFSET_MASK, L::Reject, L::Next);
    a.stmt(LD_B_ABS, IPV4_PROTOCOL);
    a.jeq(PROTO_ICMP, L::Accept, L::Next);
    a.jeq(PROTO_TCP, L::V4Ports, L::Next);
    a.jeq(PROTO_UDP, L::V4Ports, L::Reject);
    a.mark(L::V4Ports);
    a.stmt(LDX_B_MSH, 0);
    a.stmt(LD_H_IND, L4_DST_PORT);
    port_range(a, lo, hi);
}

/// IPv6: ICMPv6 always; TCP/UDP right after the fixed header by destination
/// port; a leading extension header goes to userspace.
fn ipv6_part(a: &mut Asm, lo: u32, hi: u32) {
    a.stmt(LD_B_ABS, IPV6_NEXT_HEADER);
    a.jeq(PROTO_ICMPV6, L::Accept, L::Next);
    a.jeq(PROTO_TCP, L::V6Ports, L::Next);
    a.jeq(PROTO_UDP, L::V6Ports, L::Next);
    for ext in IPV6_EXT_HEADERS {
        a.jeq(ext, L::Accept, L::Next);
    }
    a.jump(JA, 0, L::Reject, L::Reject);
    a.mark(L::V6Ports);
    a.stmt(LD_H_ABS, IPV6_HEADER_LEN + L4_DST_PORT);
    port_range(a, lo, hi);
}

/// Accepts when `lo <= A <= hi`, else rejects. Ends the block.
fn port_range(a: &mut Asm, lo: u32, hi: u32) {
    a.jump(JGE_K, lo, L::Next, L::Reject);
    a.jump(JGT_K, hi, L::Reject, L::Accept);
}

/// The `k` of an ancillary load (`SKF_AD_OFF + what`), as the kernel reads it.
fn ancillary(what: libc::c_int) -> u32 {
    (libc::SKF_AD_OFF + what) as u32
}

const fn code(parts: u32) -> u16 {
    parts as u16
}

const LD_W_ABS: u16 = code(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS);
const LD_H_ABS: u16 = code(libc::BPF_LD | libc::BPF_H | libc::BPF_ABS);
const LD_B_ABS: u16 = code(libc::BPF_LD | libc::BPF_B | libc::BPF_ABS);
const LD_H_IND: u16 = code(libc::BPF_LD | libc::BPF_H | libc::BPF_IND);
const LDX_B_MSH: u16 = code(libc::BPF_LDX | libc::BPF_B | libc::BPF_MSH);
const JA: u16 = code(libc::BPF_JMP | libc::BPF_JA);
const JEQ_K: u16 = code(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K);
const JGT_K: u16 = code(libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K);
const JGE_K: u16 = code(libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K);
const JSET_K: u16 = code(libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K);
const RET_K: u16 = code(libc::BPF_RET | libc::BPF_K);

/// Jump targets; `Next` is the following instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum L {
    Next,
    NotV4,
    NotV6,
    V4Ports,
    V6Ports,
    Reject,
    Accept,
}

#[derive(Debug, Clone, Copy)]
enum Item {
    Insn(sock_filter),
    Jump { code: u16, k: u32, jt: L, jf: L },
    Mark(L),
}

/// A two-pass assembler: jumps name labels, `finish` turns them into the
/// forward offsets classic BPF wants.
#[derive(Debug, Default)]
struct Asm {
    items: Vec<Item>,
}

impl Asm {
    fn stmt(&mut self, code: u16, k: u32) {
        let insn = sock_filter {
            code,
            jt: 0,
            jf: 0,
            k,
        };
        self.items.push(Item::Insn(insn));
    }

    fn jump(&mut self, code: u16, k: u32, jt: L, jf: L) {
        self.items.push(Item::Jump { code, k, jt, jf });
    }

    fn jeq(&mut self, k: u32, jt: L, jf: L) {
        self.jump(JEQ_K, k, jt, jf);
    }

    fn mark(&mut self, label: L) {
        self.items.push(Item::Mark(label));
    }

    /// Instruction index of each label.
    fn positions(&self) -> Vec<(L, usize)> {
        let mut pos = Vec::new();
        let mut n = 0;
        for item in &self.items {
            match item {
                Item::Mark(l) => pos.push((*l, n)),
                _ => n += 1,
            }
        }
        pos
    }

    fn finish(self) -> Program {
        let pos = self.positions();
        let offset = |at: usize, l: L| -> u8 {
            if l == L::Next {
                return 0;
            }
            let (_, target) = pos.iter().find(|(m, _)| *m == l).expect("label marked");
            let off = target.checked_sub(at + 1).expect("jumps go forward");
            u8::try_from(off).expect("jump fits in 8 bits")
        };
        let mut insns = Vec::with_capacity(self.items.len());
        for item in self.items {
            let at = insns.len();
            match item {
                Item::Insn(i) => insns.push(i),
                Item::Jump { code: JA, jt, .. } => insns.push(sock_filter {
                    code: JA,
                    jt: 0,
                    jf: 0,
                    k: u32::from(offset(at, jt)),
                }),
                Item::Jump { code, k, jt, jf } => insns.push(sock_filter {
                    code,
                    jt: offset(at, jt),
                    jf: offset(at, jf),
                    k,
                }),
                Item::Mark(_) => {}
            }
        }
        Program { insns }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: u32 = 0;
    const OUTGOING: u32 = 4;

    /// What the kernel knows about a packet besides its bytes.
    #[derive(Debug, Clone, Copy)]
    struct Meta {
        pkttype: u32,
        protocol: u32,
    }

    fn load(pkt: &[u8], at: u32, size: usize) -> Option<u32> {
        let at = usize::try_from(at).ok()?;
        let bytes = pkt.get(at..at.checked_add(size)?)?;
        Some(bytes.iter().fold(0, |acc, b| (acc << 8) | u32::from(*b)))
    }

    fn load_abs(pkt: &[u8], meta: Meta, k: u32, size: usize) -> Option<u32> {
        if k == ancillary(libc::SKF_AD_PKTTYPE) {
            return Some(meta.pkttype);
        }
        if k == ancillary(libc::SKF_AD_PROTOCOL) {
            return Some(meta.protocol);
        }
        assert!(k < 0x8000_0000, "unknown ancillary load {k:#x}");
        load(pkt, k, size)
    }

    fn size_of(code: u16) -> usize {
        match u32::from(code) & 0x18 {
            libc::BPF_W => 4,
            libc::BPF_H => 2,
            _ => 1,
        }
    }

    /// A classic-BPF interpreter for the instructions the scan filter uses, with
    /// the kernel's rule that a load out of bounds ends the program with 0.
    fn run(prog: &Program, pkt: &[u8], meta: Meta) -> u32 {
        let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
        loop {
            let i = prog.as_slice()[pc];
            pc += 1;
            let class = u32::from(i.code) & 0x07;
            let mode = u32::from(i.code) & 0xe0;
            let cond = |taken: bool| usize::from(if taken { i.jt } else { i.jf });
            match (class, mode) {
                (libc::BPF_RET, _) => return i.k,
                (libc::BPF_LD, libc::BPF_ABS) => match load_abs(pkt, meta, i.k, size_of(i.code)) {
                    Some(v) => a = v,
                    None => return 0,
                },
                (libc::BPF_LD, libc::BPF_IND) => match load(pkt, x + i.k, size_of(i.code)) {
                    Some(v) => a = v,
                    None => return 0,
                },
                (libc::BPF_LDX, libc::BPF_MSH) => match load(pkt, i.k, 1) {
                    Some(v) => x = 4 * (v & 0xf),
                    None => return 0,
                },
                (libc::BPF_JMP, _) => {
                    pc += match u32::from(i.code) & 0xf0 {
                        libc::BPF_JA => i.k as usize,
                        libc::BPF_JEQ => cond(a == i.k),
                        libc::BPF_JGT => cond(a > i.k),
                        libc::BPF_JGE => cond(a >= i.k),
                        libc::BPF_JSET => cond(a & i.k != 0),
                        op => panic!("jump op {op:#x} not interpreted"),
                    }
                }
                _ => panic!("instruction {:#x} not interpreted", i.code),
            }
        }
    }

    const V4: Meta = Meta {
        pkttype: HOST,
        protocol: 0x0800,
    };
    const V6: Meta = Meta {
        pkttype: HOST,
        protocol: 0x86dd,
    };

    /// An IPv4 header of `ihl` words (options zeroed) followed by `l4`.
    fn ipv4(ihl: u8, proto: u8, frag: u16, l4: &[u8]) -> Vec<u8> {
        let mut p = vec![0u8; usize::from(ihl) * 4];
        p[0] = 0x40 | ihl;
        p[6..8].copy_from_slice(&frag.to_be_bytes());
        p[8] = 64;
        p[9] = proto;
        p.extend_from_slice(l4);
        p
    }

    fn ipv6(next: u8, l4: &[u8]) -> Vec<u8> {
        let mut p = vec![0u8; 40];
        p[0] = 0x60;
        p[6] = next;
        p[7] = 64;
        p.extend_from_slice(l4);
        p
    }

    /// The first 8 bytes of a TCP or UDP header.
    fn ports(src: u16, dst: u16) -> Vec<u8> {
        let mut h = vec![0u8; 8];
        h[0..2].copy_from_slice(&src.to_be_bytes());
        h[2..4].copy_from_slice(&dst.to_be_bytes());
        h
    }

    fn accepted(prog: &Program, pkt: &[u8], meta: Meta) -> bool {
        run(prog, pkt, meta) != 0
    }

    #[test]
    fn ipv4_tcp_and_udp_by_destination_port() {
        let f = scan_filter(40000..=40009);
        for proto in [6, 17] {
            for (dst, ok) in [(39999, false), (40000, true), (40009, true), (40010, false)] {
                let pkt = ipv4(5, proto, 0, &ports(80, dst));
                assert_eq!(accepted(&f, &pkt, V4), ok, "proto {proto} port {dst}");
            }
            // The source port does not matter.
            let pkt = ipv4(5, proto, 0, &ports(40000, 80));
            assert!(!accepted(&f, &pkt, V4));
        }
    }

    #[test]
    fn ipv4_options_move_the_transport_header() {
        let f = scan_filter(40000..=40000);
        // 40000 sits where a 20-byte header's destination port would be, inside
        // the options of this 24-byte header; the real destination port is 2.
        let mut pkt = ipv4(6, 6, 0, &ports(1, 2));
        pkt[22..24].copy_from_slice(&40000u16.to_be_bytes());
        assert!(!accepted(&f, &pkt, V4));
        let pkt = ipv4(6, 6, 0, &ports(80, 40000));
        assert!(accepted(&f, &pkt, V4));
        let pkt = ipv4(15, 17, 0, &ports(80, 40000));
        assert!(accepted(&f, &pkt, V4));
    }

    #[test]
    fn ipv4_fragments_other_than_the_first_are_rejected() {
        let f = scan_filter(40000..=40000);
        let more_fragments = 0x2000;
        let first = ipv4(5, 6, more_fragments, &ports(80, 40000));
        assert!(accepted(&f, &first, V4));
        let dont_fragment = 0x4000;
        let df = ipv4(5, 6, dont_fragment, &ports(80, 40000));
        assert!(accepted(&f, &df, V4));
        for frag in [1, 0x2000 | 185, 0x1fff] {
            let later = ipv4(5, 6, frag, &ports(80, 40000));
            assert!(!accepted(&f, &later, V4), "fragment field {frag:#x}");
            let icmp = ipv4(5, 1, frag, &[3, 3, 0, 0]);
            assert!(!accepted(&f, &icmp, V4), "ICMP fragment {frag:#x}");
        }
    }

    #[test]
    fn icmp_is_accepted_whatever_it_carries() {
        let f = scan_filter(40000..=40000);
        assert!(accepted(&f, &ipv4(5, 1, 0, &[3, 3, 0, 0]), V4));
        assert!(accepted(&f, &ipv6(58, &[1, 4, 0, 0]), V6));
        // ICMPv4 carried in IPv6 or the reverse is not ICMP.
        assert!(!accepted(&f, &ipv6(1, &[3, 3, 0, 0]), V6));
        assert!(!accepted(&f, &ipv4(5, 58, 0, &[1, 4, 0, 0]), V4));
    }

    #[test]
    fn ipv6_tcp_and_udp_by_destination_port() {
        let f = scan_filter(1000..=2000);
        for proto in [6, 17] {
            for (dst, ok) in [
                (999, false),
                (1000, true),
                (1500, true),
                (2000, true),
                (2001, false),
            ] {
                let pkt = ipv6(proto, &ports(80, dst));
                assert_eq!(accepted(&f, &pkt, V6), ok, "proto {proto} port {dst}");
            }
        }
    }

    #[test]
    fn ipv6_extension_headers_go_to_userspace() {
        let f = scan_filter(40000..=40000);
        for ext in [0, 43, 44, 60, 51] {
            let pkt = ipv6(ext, &[6, 0, 0, 0, 0, 0, 0, 0]);
            assert!(accepted(&f, &pkt, V6), "extension header {ext}");
        }
        for other in [59, 50, 132, 47, 4] {
            assert!(!accepted(&f, &ipv6(other, &ports(1, 40000)), V6), "{other}");
        }
    }

    #[test]
    fn outgoing_packets_are_rejected() {
        let f = scan_filter(40000..=40000);
        let pkt = ipv4(5, 6, 0, &ports(80, 40000));
        let out = Meta {
            pkttype: OUTGOING,
            ..V4
        };
        assert!(!accepted(&f, &pkt, out));
        for pkttype in [1, 2, 3] {
            let other = Meta { pkttype, ..V4 };
            assert!(accepted(&f, &pkt, other), "pkttype {pkttype}");
        }
        let icmp6 = ipv6(58, &[1, 4, 0, 0]);
        let out6 = Meta {
            pkttype: OUTGOING,
            ..V6
        };
        assert!(!accepted(&f, &icmp6, out6));
    }

    #[test]
    fn other_ethertypes_are_rejected() {
        let f = scan_filter(0..=u16::MAX);
        let pkt = ipv4(5, 6, 0, &ports(80, 40000));
        for protocol in [0x0806, 0x8100, 0x88cc, 0x0000] {
            let meta = Meta { protocol, ..V4 };
            assert!(!accepted(&f, &pkt, meta), "ethertype {protocol:#x}");
        }
        // The ethertype, not the version nibble, decides which header is parsed:
        // read as IPv6, this header's next-header byte is the DF flag (64).
        let df = ipv4(5, 1, 0x4000, &[0; 8]);
        assert!(accepted(&f, &df, V4));
        assert!(!accepted(&f, &df, V6));
    }

    #[test]
    fn truncated_headers_are_rejected() {
        let f = scan_filter(0..=u16::MAX);
        let full = ipv4(5, 6, 0, &ports(80, 40000));
        assert!(accepted(&f, &full, V4));
        assert!(!accepted(&f, &full[..23], V4));
        assert!(!accepted(&f, &full[..8], V4));
        let full6 = ipv6(17, &ports(80, 40000));
        assert!(accepted(&f, &full6, V6));
        assert!(!accepted(&f, &full6[..43], V6));
        assert!(!accepted(&f, &[], V6));
    }

    #[test]
    fn whole_and_empty_port_ranges() {
        let all = scan_filter(0..=u16::MAX);
        for dst in [0, 1, 80, 65535] {
            assert!(accepted(&all, &ipv4(5, 17, 0, &ports(1, dst)), V4));
        }
        #[allow(clippy::reversed_empty_ranges)]
        let none = scan_filter(2..=1);
        for dst in [0, 1, 2, 80, 65535] {
            assert!(!accepted(&none, &ipv4(5, 6, 0, &ports(1, dst)), V4));
            assert!(!accepted(&none, &ipv6(6, &ports(1, dst)), V6));
        }
        assert!(accepted(&none, &ipv4(5, 1, 0, &[0; 8]), V4));
    }

    const ARP: Meta = Meta {
        pkttype: HOST,
        protocol: 0x0806,
    };

    /// An Ethernet/IPv4 ARP message with operation `op`, as a cooked socket
    /// delivers it (no link header), padded as a short frame is.
    fn arp(op: u16) -> Vec<u8> {
        let mut p = vec![0, 1, 8, 0, 6, 4];
        p.extend_from_slice(&op.to_be_bytes());
        p.extend_from_slice(&[2, 0, 0, 0, 0, 2, 198, 18, 0, 2]);
        p.extend_from_slice(&[2, 0, 0, 0, 0, 1, 198, 18, 0, 1]);
        p.resize(46, 0);
        p
    }

    #[test]
    fn discovery_filter_accepts_arp_replies_only() {
        let f = discovery_filter(40000..=40000);
        assert!(accepted(&f, &arp(2), ARP));
        // Trailing padding is not needed: the 28-byte message alone passes.
        assert!(accepted(&f, &arp(2)[..28], ARP));
        for op in [1, 3, 4, 0, 0x0102] {
            assert!(!accepted(&f, &arp(op), ARP), "operation {op}");
        }
        // ARP over another hardware or protocol type.
        let mut token_ring = arp(2);
        token_ring[1] = 6;
        assert!(!accepted(&f, &token_ring, ARP));
        let mut not_ipv4 = arp(2);
        not_ipv4[2..4].copy_from_slice(&[0x86, 0xdd]);
        assert!(!accepted(&f, &not_ipv4, ARP));
        // Cut short before the operation.
        assert!(!accepted(&f, &arp(2)[..7], ARP));
        assert!(!accepted(&f, &arp(2)[..3], ARP));
    }

    #[test]
    fn discovery_filter_rejects_outgoing_arp_and_other_ethertypes() {
        let f = discovery_filter(40000..=40000);
        let out = Meta {
            pkttype: OUTGOING,
            ..ARP
        };
        assert!(!accepted(&f, &arp(2), out));
        // As for IP, frames to broadcast or to other hosts are kept: the
        // engine judges what they say.
        for pkttype in [1, 2, 3] {
            assert!(accepted(&f, &arp(2), Meta { pkttype, ..ARP }), "{pkttype}");
        }
        // RARP, VLAN, LLDP: an ARP reply's bytes under another ethertype.
        for protocol in [0x8035, 0x8100, 0x88cc, 0x0000] {
            let meta = Meta { protocol, ..ARP };
            assert!(!accepted(&f, &arp(2), meta), "ethertype {protocol:#x}");
        }
    }

    #[test]
    fn discovery_filter_keeps_what_the_scan_filter_keeps() {
        let scan = scan_filter(40000..=40009);
        let disc = discovery_filter(40000..=40009);
        let out4 = Meta {
            pkttype: OUTGOING,
            ..V4
        };
        let cases = [
            (ipv4(5, 6, 0, &ports(80, 40000)), V4),
            (ipv4(5, 17, 0, &ports(80, 40010)), V4),
            (ipv4(5, 6, 0, &ports(80, 40000)), out4),
            (ipv4(5, 1, 0, &[0, 0, 0, 0]), V4),
            (ipv4(5, 1, 1, &[0, 0, 0, 0]), V4),
            (ipv4(6, 6, 0, &ports(1, 40009)), V4),
            (ipv6(58, &[129, 0, 0, 0]), V6),
            (ipv6(6, &ports(80, 40005)), V6),
            (ipv6(17, &ports(80, 39999)), V6),
            (ipv6(43, &[6, 0, 0, 0, 0, 0, 0, 0]), V6),
            (ipv6(50, &ports(1, 40000)), V6),
            (ipv4(5, 6, 0, &ports(80, 40000)), V6),
            (arp(2), V4),
        ];
        for (i, (pkt, meta)) in cases.iter().enumerate() {
            let want = accepted(&scan, pkt, *meta);
            assert_eq!(accepted(&disc, pkt, *meta), want, "case {i}");
        }
        // The cases are not all one answer.
        let kept = cases.iter().filter(|(p, m)| accepted(&scan, p, *m)).count();
        assert!(kept > 0 && kept < cases.len(), "{kept}");
        // The scan filter itself still rejects ARP replies.
        assert!(!accepted(&scan, &arp(2), ARP));
    }

    #[test]
    fn program_is_well_formed_for_the_kernel() {
        for f in [scan_filter(1..=2), discovery_filter(1..=2)] {
            well_formed(&f);
        }
    }

    fn well_formed(f: &Program) {
        let insns = f.as_slice();
        assert_eq!(f.len(), insns.len());
        assert!(f.len() <= libc::BPF_MAXINSNS as usize);
        let last = insns.last().expect("not empty");
        assert_eq!(u32::from(last.code) & 0x07, libc::BPF_RET);
        for (at, i) in insns.iter().enumerate() {
            if u32::from(i.code) & 0x07 == libc::BPF_JMP {
                let far = if i.code == JA {
                    i.k as usize
                } else {
                    usize::from(i.jt.max(i.jf))
                };
                assert!(
                    at + 1 + far < insns.len(),
                    "jump at {at} leaves the program"
                );
            }
        }
    }
}
