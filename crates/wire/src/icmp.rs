//! ICMP destination-unreachable types and codes (RFC 792, RFC 1812, RFC 4443).

/// ICMPv4 type 3 (destination unreachable) codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unreach4 {
    Net,
    Host,
    Protocol,
    Port,
    FragNeeded,
    SourceRouteFailed,
    NetUnknown,
    HostUnknown,
    SourceHostIsolated,
    NetProhibited,
    HostProhibited,
    NetTos,
    HostTos,
    CommProhibited,
    HostPrecedence,
    PrecedenceCutoff,
    Unknown(u8),
}

impl From<u8> for Unreach4 {
    fn from(code: u8) -> Self {
        use Unreach4::*;
        match code {
            0 => Net,
            1 => Host,
            2 => Protocol,
            3 => Port,
            4 => FragNeeded,
            5 => SourceRouteFailed,
            6 => NetUnknown,
            7 => HostUnknown,
            8 => SourceHostIsolated,
            9 => NetProhibited,
            10 => HostProhibited,
            11 => NetTos,
            12 => HostTos,
            13 => CommProhibited,
            14 => HostPrecedence,
            15 => PrecedenceCutoff,
            other => Unknown(other),
        }
    }
}

/// ICMPv6 type 1 (destination unreachable) codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unreach6 {
    NoRoute,
    AdminProhibited,
    BeyondScope,
    Address,
    Port,
    SourcePolicy,
    RejectRoute,
    Unknown(u8),
}

impl From<u8> for Unreach6 {
    fn from(code: u8) -> Self {
        use Unreach6::*;
        match code {
            0 => NoRoute,
            1 => AdminProhibited,
            2 => BeyondScope,
            3 => Address,
            4 => Port,
            5 => SourcePolicy,
            6 => RejectRoute,
            other => Unknown(other),
        }
    }
}

pub const ICMP4_DEST_UNREACH: u8 = 3;
pub const ICMP6_DEST_UNREACH: u8 = 1;

/// What an unreachable message says about the path to a port, in the terms
/// port scanners report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnreachKind {
    Net,
    Host,
    Protocol,
    Port,
    AdminProhibited,
    Other,
}

impl Unreach4 {
    pub fn kind(self) -> UnreachKind {
        use Unreach4::*;
        match self {
            Net | NetUnknown | NetTos => UnreachKind::Net,
            Host | HostUnknown | SourceHostIsolated | HostTos => UnreachKind::Host,
            Protocol => UnreachKind::Protocol,
            Port => UnreachKind::Port,
            NetProhibited | HostProhibited | CommProhibited | HostPrecedence | PrecedenceCutoff => {
                UnreachKind::AdminProhibited
            }
            FragNeeded | SourceRouteFailed | Unknown(_) => UnreachKind::Other,
        }
    }
}

impl Unreach6 {
    pub fn kind(self) -> UnreachKind {
        use Unreach6::*;
        match self {
            NoRoute | BeyondScope => UnreachKind::Net,
            Address => UnreachKind::Host,
            Port => UnreachKind::Port,
            AdminProhibited | SourcePolicy | RejectRoute => UnreachKind::AdminProhibited,
            Unknown(_) => UnreachKind::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prohibited_codes_map_to_admin_prohibited() {
        for code in [9, 10, 13] {
            assert_eq!(Unreach4::from(code).kind(), UnreachKind::AdminProhibited);
        }
        assert_eq!(Unreach6::from(1).kind(), UnreachKind::AdminProhibited);
    }

    #[test]
    fn unknown_codes_are_kept() {
        assert_eq!(Unreach4::from(200), Unreach4::Unknown(200));
        assert_eq!(Unreach6::from(99).kind(), UnreachKind::Other);
        assert_eq!(Unreach4::from(1).kind(), UnreachKind::Host);
        assert_eq!(Unreach6::from(3).kind(), UnreachKind::Host);
    }
}
