//! A host's hardware (MAC) address and the vendor its prefix names.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The Ethernet address a host answered from, learnt when it is on-link
/// (an ARP or neighbour-discovery reply, or any frame from it).
///
/// `Display` writes the address alone, as Nmap does: upper-case hex in
/// colon-separated pairs, `02:00:C6:12:00:0B`. In JSON it is the object
/// `{"addr": "02:00:C6:12:00:0B", "vendor": "..." | null}`; the address reads
/// back in either case, with `:` or `-` between the pairs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MacAddress {
    #[serde(serialize_with = "write_addr", deserialize_with = "read_addr")]
    pub addr: [u8; 6],
    /// The organisation the address's prefix is registered to; `None` when
    /// the prefix is not known (locally administered addresses never are).
    #[serde(default)]
    pub vendor: Option<String>,
}

impl MacAddress {
    pub fn new(addr: [u8; 6], vendor: Option<String>) -> Self {
        MacAddress { addr, vendor }
    }

    /// Parses six pairs of hex digits separated by `:` or `-` (one separator
    /// throughout), in either case. Anything else is `None`.
    pub fn parse_addr(text: &str) -> Option<[u8; 6]> {
        let sep = if text.contains('-') { '-' } else { ':' };
        let mut addr = [0u8; 6];
        let mut parts = text.split(sep);
        for byte in &mut addr {
            let part = parts.next()?;
            if part.len() != 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            *byte = u8::from_str_radix(part, 16).ok()?;
        }
        parts.next().is_none().then_some(addr)
    }
}

impl fmt::Display for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.addr;
        write!(f, "{a:02X}:{b:02X}:{c:02X}:{d:02X}:{e:02X}:{g:02X}")
    }
}

fn write_addr<S: Serializer>(addr: &[u8; 6], s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&MacAddress::new(*addr, None))
}

fn read_addr<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 6], D::Error> {
    let text = String::deserialize(d)?;
    MacAddress::parse_addr(&text).ok_or_else(|| {
        serde::de::Error::invalid_value(
            serde::de::Unexpected::Str(&text),
            &"a MAC address such as 02:00:C6:12:00:0B",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADDR: [u8; 6] = [0x02, 0x00, 0xc6, 0x12, 0x00, 0x0b];

    #[test]
    fn displays_as_upper_case_colon_hex() {
        let mac = MacAddress::new(ADDR, Some("Vendor".into()));
        assert_eq!(mac.to_string(), "02:00:C6:12:00:0B");
        assert_eq!(
            MacAddress::new([0xff; 6], None).to_string(),
            "FF:FF:FF:FF:FF:FF"
        );
    }

    #[test]
    fn parses_either_case_and_either_separator() {
        for text in [
            "02:00:C6:12:00:0B",
            "02:00:c6:12:00:0b",
            "02-00-c6-12-00-0B",
        ] {
            assert_eq!(MacAddress::parse_addr(text), Some(ADDR), "{text}");
        }
    }

    #[test]
    fn rejects_anything_else() {
        for text in [
            "",
            "02:00:C6:12:00",
            "02:00:C6:12:00:0B:01",
            "02:00:C6:12:00:0G",
            "2:00:C6:12:00:0B",
            "002:00:C6:12:00:0B",
            "02:00-C6:12:00:0B",
            "02:00:C6:12:00:0B:",
            "+2:00:C6:12:00:0B",
            "02:00:C6:12:00:é",
            "0200C612000B",
        ] {
            assert_eq!(MacAddress::parse_addr(text), None, "{text:?}");
        }
    }

    #[test]
    fn json_is_an_object_with_the_display_form_and_reads_back() {
        let mac = MacAddress::new(ADDR, Some("Acme \"Labs\"".into()));
        let text = serde_json::to_string(&mac).unwrap();
        assert_eq!(
            text,
            r#"{"addr":"02:00:C6:12:00:0B","vendor":"Acme \"Labs\""}"#
        );
        assert_eq!(serde_json::from_str::<MacAddress>(&text).unwrap(), mac);
        let unknown = MacAddress::new(ADDR, None);
        let text = serde_json::to_string(&unknown).unwrap();
        assert_eq!(text, r#"{"addr":"02:00:C6:12:00:0B","vendor":null}"#);
        let lower: MacAddress = serde_json::from_str(r#"{"addr":"02:00:c6:12:00:0b"}"#).unwrap();
        assert_eq!(lower, unknown);
    }

    #[test]
    fn a_bad_address_in_json_is_an_error_naming_it() {
        let err = serde_json::from_str::<MacAddress>(r#"{"addr":"02:00","vendor":null}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("02:00"), "{err}");
        assert!(serde_json::from_str::<MacAddress>(r#"{"addr":[2,0,198,18,0,11]}"#).is_err());
    }
}
