//! Reads the real IEEE registry that Debian's `ieee-data` package installs.
//!
//! This test does not skip when the files are missing: CI installs the package through
//! `scripts/setup-test-deps.sh`, and a machine without it should say so loudly.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use portolan_oui::{VendorDb, DEBIAN_DIR, FILES};

fn installed() -> VendorDb {
    for file in FILES {
        let path = Path::new(DEBIAN_DIR).join(file);
        assert!(
            path.is_file(),
            "{} is missing: install Debian's ieee-data package \
             (apt-get install ieee-data, or run scripts/setup-test-deps.sh as root)",
            path.display()
        );
    }
    VendorDb::load_dir(DEBIAN_DIR).unwrap()
}

#[test]
fn well_known_assignments() {
    let db = installed();
    let cisco = db.vendor([0x00, 0x00, 0x0c, 0x12, 0x34, 0x56]).unwrap();
    assert!(cisco.starts_with("Cisco"), "00:00:0C is {cisco:?}");
    assert_eq!(
        db.vendor([0x00, 0x50, 0x56, 0xc0, 0x00, 0x01]),
        Some("VMware")
    );
    assert_eq!(
        db.vendor([0x00, 0x0c, 0x29, 0xab, 0xcd, 0xef]),
        Some("VMware")
    );
    let vbox = db
        .vendor_full([0x08, 0x00, 0x27, 0x00, 0x00, 0x01])
        .unwrap();
    assert!(
        vbox.contains("PCS") || vbox.contains("Oracle"),
        "08:00:27 is {vbox:?}"
    );
    let apple = db.lookup([0x00, 0x03, 0x93, 0x00, 0x00, 0x01]).unwrap();
    assert_eq!((apple.name, apple.prefix_bits), ("Apple", 24));
}

#[test]
fn smaller_blocks_inside_ieee_blocks() {
    let db = installed();
    // 70:B3:D5 and 00:50:C2 are 24-bit blocks of the IEEE itself, carved into MA-S and IAB.
    let whole = db.lookup([0x70, 0xb3, 0xd5, 0xf2, 0xf0, 0x01]).unwrap();
    assert_eq!((whole.full_name, whole.prefix_bits), ("TELEPLATFORMS", 36));
    let iab = db.lookup([0x00, 0x50, 0xc2, 0x7d, 0x50, 0x01]).unwrap();
    assert_eq!((iab.name, iab.prefix_bits), ("DEUTA-WERKE", 36));
    let mam = db.lookup([0x20, 0x85, 0x93, 0xb0, 0x00, 0x01]).unwrap();
    assert_eq!((mam.name, mam.prefix_bits), ("IOG Products", 28));
}

#[test]
fn loads_nearly_every_record() {
    let db = installed();
    // ~32.5k MA-L, ~4.4k MA-M, ~5k MA-S and ~4.6k IAB assignments.
    assert!(db.len() > 40_000, "only {} prefixes loaded", db.len());
    // The files are well formed: a parser that loses track of quoting skips many records.
    assert!(
        db.skipped() * 1000 < db.len(),
        "{} records skipped of {}",
        db.skipped(),
        db.len()
    );
}

#[test]
fn locally_administered_addresses_have_no_vendor() {
    let db = installed();
    // The Cisco block with the local bit set, and a typical random (local) address.
    assert_eq!(db.vendor([0x02, 0x00, 0x0c, 0x12, 0x34, 0x56]), None);
    assert_eq!(db.vendor([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]), None);
    assert_eq!(db.vendor([0x01, 0x00, 0x5e, 0x00, 0x00, 0x01]), None);
}
