#![allow(clippy::unwrap_used)]

use super::*;
use proptest::prelude::*;

const HEADER: &str = "Registry,Assignment,Organization Name,Organization Address\r\n";

fn db(records: &str) -> VendorDb {
    VendorDb::from_csv_text(&format!("{HEADER}{records}"))
}

fn mac(s: &str) -> [u8; 6] {
    let bytes: Vec<u8> = s
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect();
    bytes.try_into().unwrap()
}

#[test]
fn finds_a_24_bit_assignment() {
    let db = db(
        "MA-L,00000C,\"Cisco Systems, Inc\",170 WEST TASMAN DRIVE SAN JOSE CA US 95134-1706 \r\n\
                 MA-L,005056,\"VMware, Inc.\",3401 Hillview Avenue PALO ALTO CA US 94304 \r\n",
    );
    assert_eq!(db.len(), 2);
    assert_eq!(db.skipped(), 0);
    assert_eq!(
        db.lookup(mac("00:00:0c:12:34:56")),
        Some(Vendor {
            name: "Cisco Systems",
            full_name: "Cisco Systems, Inc",
            prefix_bits: 24
        })
    );
    assert_eq!(db.vendor(mac("00:50:56:ff:ff:ff")), Some("VMware"));
    assert_eq!(
        db.vendor_full(mac("00:50:56:00:00:00")),
        Some("VMware, Inc.")
    );
    // The neighbouring blocks are not registered.
    assert_eq!(db.vendor(mac("00:00:0d:00:00:00")), None);
    assert_eq!(db.vendor(mac("00:50:55:ff:ff:ff")), None);
}

const NESTED: [&str; 3] = [
    "MA-L,70B3D5,IEEE Registration Authority,445 Hoes Lane Piscataway NJ US 08554 \r\n",
    "MA-M,70B3D59,Middle Block Ltd,Somewhere \r\n",
    "MA-S,70B3D59FC,Truecom Telesoft Private Limited,\"2nd Floor, Block N\"\r\n",
];

fn assert_longest_prefix_wins(db: &VendorDb) {
    let found = |m: &str| db.lookup(mac(m)).map(|v| (v.full_name, v.prefix_bits));
    assert_eq!(
        found("70:b3:d5:9f:c1:23"),
        Some(("Truecom Telesoft Private Limited", 36))
    );
    assert_eq!(found("70:b3:d5:9f:d0:00"), Some(("Middle Block Ltd", 28)));
    assert_eq!(found("70:b3:d5:90:00:00"), Some(("Middle Block Ltd", 28)));
    assert_eq!(
        found("70:b3:d5:10:00:00"),
        Some(("IEEE Registration Authority", 24))
    );
    assert_eq!(found("70:b3:d6:9f:c1:23"), None);
}

#[test]
fn longest_prefix_wins_whatever_the_record_order() {
    assert_longest_prefix_wins(&db(&NESTED.concat()));
    let reversed: String = NESTED.iter().rev().copied().collect();
    assert_longest_prefix_wins(&db(&reversed));
}

#[test]
fn a_36_bit_entry_wins_inside_a_24_bit_block_without_a_28_bit_one() {
    let db = db(&[NESTED[0], NESTED[2]].concat());
    assert_eq!(db.lookup(mac("70:b3:d5:9f:c0:00")).unwrap().prefix_bits, 36);
    assert_eq!(db.lookup(mac("70:b3:d5:9f:b0:00")).unwrap().prefix_bits, 24);
}

#[test]
fn quoted_names_keep_commas_and_quotes() {
    let db = db("MA-L,001EFC,\"JSC \"\"MASSA-K\"\"\",\"15, A, Pirogovskaya nab.\r\nSaint-Petersburg RU 194044 \"\r\n\
                 MA-L,A047D7,Best IT World (India) Pvt Ltd,\"87, Mistry Complex,, Midc Cross Road \"\"A\"\", Mumbai \"\r\n\
                 MA-M,FCA47AA,\" Shenzhen Elebao Technology Co., Ltd\",\"F/6, Tower A\"\r\n");
    assert_eq!(db.skipped(), 0);
    assert_eq!(
        db.vendor_full(mac("00:1e:fc:00:00:01")),
        Some("JSC \"MASSA-K\"")
    );
    // The address ran over a line break; the next record is still read.
    assert_eq!(
        db.vendor(mac("a0:47:d7:00:00:01")),
        Some("Best IT World (India)")
    );
    assert_eq!(
        db.vendor_full(mac("fc:a4:7a:a0:00:01")),
        Some("Shenzhen Elebao Technology Co., Ltd")
    );
    assert_eq!(
        db.vendor(mac("fc:a4:7a:a0:00:01")),
        Some("Shenzhen Elebao Technology")
    );
}

#[test]
fn multicast_and_locally_administered_have_no_vendor() {
    let db = db("MA-L,00000C,\"Cisco Systems, Inc\",x\r\n\
                 MA-L,020000,Local Squatter,x\r\n\
                 MA-L,010000,Multicast Squatter,x\r\n\
                 MA-L,030000,Both Squatter,x\r\n");
    assert_eq!(db.len(), 4);
    assert_eq!(db.vendor(mac("00:00:0c:00:00:01")), Some("Cisco Systems"));
    for m in [
        "02:00:0c:00:00:01", // the Cisco block with the local bit set
        "01:00:0c:00:00:01", // and with the multicast bit set
        "02:00:00:12:34:56",
        "01:00:00:12:34:56",
        "03:00:00:12:34:56",
        "ff:ff:ff:ff:ff:ff",
    ] {
        assert_eq!(db.lookup(mac(m)), None, "{m}");
    }
}

#[test]
fn malformed_records_are_skipped_and_counted() {
    let bad = [
        "MA-L,00000,Too Short,x",
        "MA-L,0000000,Too Long For MA-L,x",
        "MA-M,000000,Too Short For MA-M,x",
        "MA-S,0000001,Wrong Length For MA-S,x",
        "IAB,00000C,Wrong Length For IAB,x",
        "MA-L,00G00C,Not Hex,x",
        "MA-L,+1234A,Signed,x",
        "MA-L,,No Assignment,x",
        "XX-L,00000E,Unknown Registry,x",
        "MA-L,00000F,,x",
        "MA-L,000010,   ,x",
        "MA-L,000011",
        "MA-L",
        "garbage",
    ];
    let good = "MA-L,00000C,\"Cisco Systems, Inc\",x\r\n\r\n  \r\nMA-M,0000AB1,Good M,x\r\n";
    let text = format!(
        "{}\r\n{good}{HEADER}MA-S,00000D123,\"Unclosed",
        bad.join("\r\n")
    );
    let db = db(&text);
    assert_eq!(db.skipped(), bad.len() + 1, "the unclosed quote counts too");
    assert_eq!(db.len(), 2);
    assert_eq!(db.vendor(mac("00:00:0c:00:00:00")), Some("Cisco Systems"));
    assert_eq!(db.vendor(mac("00:00:ab:10:00:00")), Some("Good M"));
    for m in [
        "00:00:0e:00:00:00",
        "00:00:0f:00:00:00",
        "00:00:10:00:00:00",
    ] {
        assert_eq!(db.vendor(mac(m)), None, "{m}");
    }
}

#[test]
fn lower_case_hex_and_padded_fields_are_accepted() {
    let db = db("MA-L , 00000c ,  Cisco   Systems, Inc  ,x\n");
    // Unquoted, the comma ends the name: "  Cisco   Systems" is the name field.
    assert_eq!(
        db.vendor_full(mac("00:00:0c:00:00:00")),
        Some("Cisco   Systems")
    );
    assert_eq!(db.vendor(mac("00:00:0c:00:00:00")), Some("Cisco Systems"));
}

#[test]
fn the_first_record_of_a_duplicate_prefix_wins() {
    let db = db("MA-L,080030,NETWORK RESEARCH CORPORATION,x\r\n\
                 MA-L,080030,ROYAL MELBOURNE INST OF TECH,x\r\n\
                 MA-L,080030,CERN,x\r\n");
    assert_eq!(db.len(), 1);
    assert_eq!(db.skipped(), 0);
    assert_eq!(
        db.vendor(mac("08:00:30:00:00:00")),
        Some("NETWORK RESEARCH")
    );
}

#[test]
fn names_are_stored_once() {
    let db = db("MA-L,00000C,\"Cisco Systems, Inc\",a\r\n\
                 MA-L,000142,\"Cisco Systems, Inc\",b\r\n\
                 MA-L,000143,\"Cisco Systems, Inc\",c\r\n\
                 MA-L,005056,\"VMware, Inc.\",d\r\n");
    assert_eq!(db.len(), 4);
    assert_eq!(db.names.len(), 2);
    assert_eq!(db.vendor(mac("00:01:43:00:00:00")), Some("Cisco Systems"));
}

#[test]
fn invalid_utf8_is_replaced() {
    let mut bytes = HEADER.as_bytes().to_vec();
    bytes.extend_from_slice(b"MA-L,00000C,Caf\xe9 Systems,x\r\nMA-L,005056,VMware,x\r\n");
    let db = VendorDb::from_csv_bytes(&bytes);
    assert_eq!(
        db.vendor(mac("00:00:0c:00:00:00")),
        Some("Caf\u{fffd} Systems")
    );
    assert_eq!(db.vendor(mac("00:50:56:00:00:00")), Some("VMware"));
}

#[test]
fn load_dir_reads_the_files_present() {
    let dir = tempfile::tempdir().unwrap();
    let write = |file: &str, body: &str| {
        std::fs::write(dir.path().join(file), format!("{HEADER}{body}")).unwrap();
    };
    write("oui.csv", NESTED[0]);
    write("mam.csv", NESTED[1]);
    write("oui36.csv", NESTED[2]);
    write("iab.csv", "IAB,0050C27D5,DEUTA-WERKE GmbH,x\r\nbroken\r\n");
    let db = VendorDb::load_dir(dir.path()).unwrap();
    assert_longest_prefix_wins(&db);
    assert_eq!(db.vendor(mac("00:50:c2:7d:50:01")), Some("DEUTA-WERKE"));
    assert_eq!(db.len(), 4);
    assert_eq!(db.skipped(), 1);
}

#[test]
fn load_dir_with_one_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mam.csv"), NESTED[1]).unwrap();
    let db = VendorDb::load_dir(dir.path()).unwrap();
    assert_eq!(db.len(), 1);
    assert_eq!(db.vendor(mac("70:b3:d5:90:00:00")), Some("Middle Block"));
}

#[test]
fn load_dir_fails_only_when_nothing_reads() {
    let dir = tempfile::tempdir().unwrap();
    let err = VendorDb::load_dir(dir.path()).unwrap_err();
    let OuiError::NoRegistryFiles {
        dir: reported,
        source,
    } = &err;
    assert_eq!(reported, dir.path());
    assert_eq!(source.kind(), io::ErrorKind::NotFound);
    assert!(err.to_string().contains(&dir.path().display().to_string()));
    // An empty file is readable: an empty database, not an error.
    std::fs::write(dir.path().join("oui.csv"), "").unwrap();
    let db = VendorDb::load_dir(dir.path()).unwrap();
    assert!(db.is_empty());
}

#[test]
fn system_dir_follows_the_environment() {
    assert_eq!(dir_from_env(None), Path::new(DEBIAN_DIR));
    assert_eq!(dir_from_env(Some("".into())), Path::new(DEBIAN_DIR));
    assert_eq!(
        dir_from_env(Some("/opt/ieee".into())),
        Path::new("/opt/ieee")
    );
}

/// Quotes a field as a CSV writer does.
fn quote(field: &str) -> String {
    format!("\"{}\"", field.replace('"', "\"\""))
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512),
                                   probes in proptest::collection::vec(any::<[u8; 6]>(), 0..8)) {
        let db = VendorDb::from_csv_bytes(&bytes);
        // Every record, kept or skipped, consumes at least one byte.
        prop_assert!(db.len() + db.skipped() <= bytes.len());
        for m in probes {
            if let Some(v) = db.lookup(m) {
                prop_assert!(!v.full_name.is_empty());
                prop_assert!([24, 28, 36].contains(&v.prefix_bits));
            }
        }
    }

    /// Lines shaped like records, with every field free to go wrong.
    #[test]
    fn record_like_lines_never_panic(
        lines in proptest::collection::vec(
            (
                prop_oneof!["MA-L", "MA-M", "MA-S", "IAB", ".{0,5}"],
                "[0-9A-Fa-fG+ -]{0,10}",
                ".{0,20}",
                ".{0,20}",
            ),
            0..32,
        )
    ) {
        let text: String = lines
            .iter()
            .map(|(r, a, n, addr)| format!("{r},{a},{n},{addr}\r\n"))
            .collect();
        let db = VendorDb::from_csv_text(&text);
        // Every record, kept or skipped, ends at a line break or the end of the text.
        let pieces = text.split(['\r', '\n']).count();
        prop_assert!(db.len() + db.skipped() <= pieces);
        for (_, a, _, _) in &lines {
            let digits: Vec<u8> = a.bytes().filter(u8::is_ascii_hexdigit).collect();
            let mut m = [0u8; 6];
            for (i, pair) in digits.chunks(2).take(6).enumerate() {
                let hex = std::str::from_utf8(pair).unwrap_or("0");
                m[i] = u8::from_str_radix(hex, 16).unwrap_or(0);
            }
            if let Some(v) = db.lookup(m) {
                prop_assert!(!v.full_name.is_empty());
            }
        }
    }

    /// Valid records with any names survive garbage lines around them.
    #[test]
    fn records_survive_garbage(
        entries in proptest::collection::btree_map(0u32..0x00FC_FFFF, any::<String>(), 1..16),
        garbage in proptest::collection::vec("[^\"\r\n]{0,40}", 0..16),
    ) {
        // Keep the first octet's multicast and local bits clear.
        let entries: Vec<(u32, String)> = entries
            .into_iter()
            .map(|(p, n)| (p & 0x00FC_FFFF, n))
            .filter(|(_, n)| !n.trim().is_empty())
            .collect::<std::collections::BTreeMap<_, _>>()
            .into_iter()
            .collect();
        let mut text = String::from(HEADER);
        for (i, (prefix, name)) in entries.iter().enumerate() {
            text += &format!("MA-L,{prefix:06X},{},\"addr, {i}\"\r\n", quote(name));
            if let Some(g) = garbage.get(i) {
                text += &format!("#{g}\r\n");
            }
        }
        let db = VendorDb::from_csv_text(&text);
        prop_assert_eq!(db.len(), entries.len());
        prop_assert_eq!(db.skipped(), garbage.len().min(entries.len()));
        for (prefix, name) in &entries {
            let [_, a, b, c] = prefix.to_be_bytes();
            prop_assert_eq!(db.vendor_full([a, b, c, 0x12, 0x34, 0x56]), Some(name.trim()));
        }
    }
}
