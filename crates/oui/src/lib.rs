//! MAC address vendors from the IEEE registry files (Debian's ieee-data), read at run time.
//!
//! # Where the data comes from
//!
//! The IEEE Registration Authority publishes who holds each block of MAC addresses. Debian's
//! `ieee-data` package installs those public registry files under `/usr/share/ieee-data/`,
//! and [`VendorDb`] reads four of them when asked, never at build time:
//!
//! | file | registry | prefix |
//! | --- | --- | --- |
//! | `oui.csv` | MA-L (OUI) | 24 bits |
//! | `mam.csv` | MA-M | 28 bits |
//! | `oui36.csv` | MA-S (OUI-36) | 36 bits |
//! | `iab.csv` | IAB | 36 bits |
//!
//! Each is CSV with the header `Registry,Assignment,Organization Name,Organization Address`,
//! the assignment written as 6, 7 or 9 hex digits. Nothing from Nmap (its
//! `nmap-mac-prefixes` file or anything derived from it) is used or shipped: the names come
//! from the IEEE's files on the machine, and the short forms from our own clean-up
//! ([`short_name`]).
//!
//! # Lookup
//!
//! [`VendorDb::vendor`] finds the longest registered prefix of an address: a 36-bit
//! assignment wins over the 28-bit one that may hold it, which wins over the 24-bit block
//! (MA-M and MA-S blocks are carved out of 24-bit blocks registered to the IEEE itself).
//! Multicast and locally administered addresses are not assigned by the IEEE and have no
//! vendor.
//!
//! ```
//! use portolan_oui::VendorDb;
//!
//! let db = VendorDb::from_csv_text(
//!     "Registry,Assignment,Organization Name,Organization Address\r\n\
//!      MA-L,00000C,\"Cisco Systems, Inc\",170 WEST TASMAN DRIVE SAN JOSE CA US 95134-1706 \r\n",
//! );
//! let mac = [0x00, 0x00, 0x0c, 0x12, 0x34, 0x56];
//! assert_eq!(db.vendor(mac), Some("Cisco Systems"));
//! assert_eq!(db.vendor_full(mac), Some("Cisco Systems, Inc"));
//! ```
//!
//! # Robustness
//!
//! Any byte sequence loads without a panic: malformed records (an unknown registry, an
//! assignment that is not 6, 7 or 9 hex digits matching its registry, a missing or empty
//! name, an unclosed quote) are skipped and counted in [`VendorDb::skipped`]. Invalid
//! UTF-8 is replaced, not rejected. When one prefix is registered twice (the MA-L file has
//! a few historical duplicates), the first record read wins.

mod csv;
mod name;

use std::borrow::Cow;
use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::path::{Path, PathBuf};

pub use name::{short_name, COMPANY_FORMS, MAX_FORMS};

/// Where Debian's `ieee-data` package installs the registry files.
pub const DEBIAN_DIR: &str = "/usr/share/ieee-data";

/// Environment variable naming another directory holding the registry files.
pub const ENV_DIR: &str = "PORTOLAN_IEEE_DATA";

/// The registry files read from a directory, in the order they are read (so the first
/// record of a prefix found in an earlier file wins).
pub const FILES: [&str; 4] = ["oui36.csv", "iab.csv", "mam.csv", "oui.csv"];

/// Errors from loading the registry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OuiError {
    /// None of [`FILES`] could be read in the directory.
    #[error("no IEEE registry file could be read in {}: {source}", dir.display())]
    NoRegistryFiles {
        /// The directory searched.
        dir: PathBuf,
        /// Why the last file tried (`oui.csv`) could not be read.
        #[source]
        source: io::Error,
    },
}

/// A registered vendor found for an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vendor<'a> {
    /// The cleaned-up name for display ([`short_name`]).
    pub name: &'a str,
    /// The organisation name as registered, surrounding whitespace trimmed.
    pub full_name: &'a str,
    /// The length of the matching assignment: 24, 28 or 36.
    pub prefix_bits: u8,
}

/// The registered MAC address blocks and their holders, read from the IEEE registry files.
///
/// Stored compactly: one sorted key array per prefix length (binary searched), indices into
/// a table of distinct names.
pub struct VendorDb {
    /// 36-bit prefixes (MA-S, IAB).
    s36: Table<u64>,
    /// 28-bit prefixes (MA-M).
    m28: Table<u32>,
    /// 24-bit prefixes (MA-L).
    l24: Table<u32>,
    /// Distinct (full, short) names.
    names: Vec<(Box<str>, Box<str>)>,
    skipped: usize,
}

impl fmt::Debug for VendorDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VendorDb")
            .field("prefixes_36", &self.s36.keys.len())
            .field("prefixes_28", &self.m28.keys.len())
            .field("prefixes_24", &self.l24.keys.len())
            .field("names", &self.names.len())
            .field("skipped", &self.skipped)
            .finish()
    }
}

impl VendorDb {
    /// Reads whichever of [`FILES`] exist in `dir`. An error only if none can be read; a
    /// file that reads but holds nothing usable gives an empty (or smaller) database.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<VendorDb, OuiError> {
        let dir = dir.as_ref();
        let mut texts = Vec::new();
        let mut last_error = None;
        for file in FILES {
            match std::fs::read(dir.join(file)) {
                Ok(bytes) => texts.push(bytes),
                Err(e) => last_error = Some(e),
            }
        }
        match (texts.is_empty(), last_error) {
            (true, Some(source)) => Err(OuiError::NoRegistryFiles {
                dir: dir.to_path_buf(),
                source,
            }),
            _ => Ok(Self::from_texts(
                texts.iter().map(|b| String::from_utf8_lossy(b)),
            )),
        }
    }

    /// The registry installed on this machine: the directory named by [`ENV_DIR`] if that
    /// is set and not empty, else [`DEBIAN_DIR`]. `None` if nothing there can be read.
    pub fn system() -> Option<VendorDb> {
        Self::load_dir(Self::system_dir()).ok()
    }

    /// The directory [`VendorDb::system`] reads.
    pub fn system_dir() -> PathBuf {
        dir_from_env(std::env::var_os(ENV_DIR))
    }

    /// Parses one registry file's text (any of the four; records say which registry).
    pub fn from_csv_text(text: &str) -> VendorDb {
        Self::from_texts([Cow::Borrowed(text)])
    }

    /// Parses one registry file's bytes, replacing invalid UTF-8.
    pub fn from_csv_bytes(bytes: &[u8]) -> VendorDb {
        Self::from_texts([String::from_utf8_lossy(bytes)])
    }

    fn from_texts<'a>(texts: impl IntoIterator<Item = Cow<'a, str>>) -> VendorDb {
        let texts: Vec<Cow<'a, str>> = texts.into_iter().collect();
        let mut builder = Builder::default();
        for text in &texts {
            builder.add_text(text);
        }
        builder.finish()
    }

    /// The display name of the vendor of `mac`'s longest registered prefix.
    pub fn vendor(&self, mac: [u8; 6]) -> Option<&str> {
        self.lookup(mac).map(|v| v.name)
    }

    /// The registered organisation name of the vendor of `mac`'s longest registered prefix.
    pub fn vendor_full(&self, mac: [u8; 6]) -> Option<&str> {
        self.lookup(mac).map(|v| v.full_name)
    }

    /// The longest registered prefix of `mac` and its holder. `None` for multicast and
    /// locally administered addresses, and for unregistered ones.
    pub fn lookup(&self, mac: [u8; 6]) -> Option<Vendor<'_>> {
        if mac[0] & 0x03 != 0 {
            return None;
        }
        let m = mac.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let (index, prefix_bits) = self
            .s36
            .get(m >> 12)
            .map(|i| (i, 36))
            .or_else(|| self.m28.get(narrow(m >> 20)).map(|i| (i, 28)))
            .or_else(|| self.l24.get(narrow(m >> 24)).map(|i| (i, 24)))?;
        let (full, short) = self.names.get(index as usize)?;
        Some(Vendor {
            name: short,
            full_name: full,
            prefix_bits,
        })
    }

    /// How many prefixes are registered (all lengths).
    pub fn len(&self) -> usize {
        self.s36.keys.len() + self.m28.keys.len() + self.l24.keys.len()
    }

    /// Whether no prefix is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many malformed records were skipped while loading.
    pub fn skipped(&self) -> usize {
        self.skipped
    }
}

fn dir_from_env(value: Option<OsString>) -> PathBuf {
    match value {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(DEBIAN_DIR),
    }
}

/// A prefix shifted down from 48 bits fits in 28 bits or fewer.
fn narrow(prefix: u64) -> u32 {
    u32::try_from(prefix).unwrap_or(u32::MAX)
}

/// Sorted prefixes and, in step, indices into the name table.
#[derive(Debug, Default)]
struct Table<K> {
    keys: Vec<K>,
    names: Vec<u32>,
}

impl<K: Ord + Copy> Table<K> {
    /// Sorts by key, keeping the first-read record of each key.
    fn build(mut pairs: Vec<(K, u32)>) -> Self {
        pairs.sort_by_key(|&(k, _)| k); // stable: equal keys stay in reading order
        pairs.dedup_by_key(|&mut (k, _)| k);
        let (keys, names) = pairs.into_iter().unzip();
        Table { keys, names }
    }

    fn get(&self, key: K) -> Option<u32> {
        let i = self.keys.binary_search(&key).ok()?;
        self.names.get(i).copied()
    }
}

/// One record's assignment, by prefix length.
enum Prefix {
    L24(u32),
    M28(u32),
    S36(u64),
}

impl Prefix {
    /// The prefix a record registers, if its registry and assignment agree.
    fn parse(registry: &str, assignment: &str) -> Option<Prefix> {
        let digits = assignment.trim();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let value = u64::from_str_radix(digits, 16).ok()?;
        match (registry.trim(), digits.len()) {
            ("MA-L", 6) => Some(Prefix::L24(narrow(value))),
            ("MA-M", 7) => Some(Prefix::M28(narrow(value))),
            ("MA-S" | "IAB", 9) => Some(Prefix::S36(value)),
            _ => None,
        }
    }
}

/// Accumulates records from one or more texts, sharing one name table.
#[derive(Default)]
struct Builder<'a> {
    s36: Vec<(u64, u32)>,
    m28: Vec<(u32, u32)>,
    l24: Vec<(u32, u32)>,
    name_index: HashMap<Cow<'a, str>, u32, BuildHasherDefault<NameHasher>>,
    names: Vec<(Box<str>, Box<str>)>,
    skipped: usize,
}

impl<'a> Builder<'a> {
    fn add_text(&mut self, text: &'a str) {
        let mut reader = csv::Reader::new(text);
        let mut fields = Vec::with_capacity(csv::MAX_FIELDS);
        while let Some(record) = reader.next_record(&mut fields) {
            match record {
                Ok(()) => self.add_record(&mut fields),
                Err(csv::Unterminated) => self.skipped += 1,
            }
        }
    }

    fn add_record(&mut self, fields: &mut Vec<Cow<'a, str>>) {
        if is_blank(fields) || is_header(fields) {
            return;
        }
        let mut fields = fields.drain(..);
        let (Some(registry), Some(assignment), Some(name)) =
            (fields.next(), fields.next(), fields.next())
        else {
            self.skipped += 1;
            return;
        };
        let prefix = Prefix::parse(&registry, &assignment);
        let name = trim_cow(name);
        match (prefix, self.intern(name)) {
            (Some(prefix), Some(index)) => self.push(prefix, index),
            _ => self.skipped += 1,
        }
    }

    fn push(&mut self, prefix: Prefix, index: u32) {
        match prefix {
            Prefix::L24(p) => self.l24.push((p, index)),
            Prefix::M28(p) => self.m28.push((p, index)),
            Prefix::S36(p) => self.s36.push((p, index)),
        }
    }

    /// The index of `name` in the name table, adding it if new. `None` for an empty name
    /// (or a table past `u32::MAX` names, which no registry reaches).
    fn intern(&mut self, name: Cow<'a, str>) -> Option<u32> {
        if name.is_empty() {
            return None;
        }
        if let Some(&index) = self.name_index.get(name.as_ref()) {
            return Some(index);
        }
        let index = u32::try_from(self.names.len()).ok()?;
        let short = short_name(&name);
        self.names.push((name.as_ref().into(), short.into()));
        self.name_index.insert(name, index);
        Some(index)
    }

    fn finish(self) -> VendorDb {
        VendorDb {
            s36: Table::build(self.s36),
            m28: Table::build(self.m28),
            l24: Table::build(self.l24),
            names: self.names,
            skipped: self.skipped,
        }
    }
}

/// A quick multiply-rotate hash for deduplicating names. The names come from files on the
/// machine, not from the network, so resisting crafted collisions (SipHash's job) is not
/// worth the third of the load time it cost.
#[derive(Debug, Default)]
struct NameHasher(u64);

impl NameHasher {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;

    fn mix(&mut self, word: u64) {
        self.0 = (self.0 ^ word).wrapping_mul(Self::K).rotate_left(23);
    }
}

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
        let mut last = [0u8; 8];
        let rest = chunks.remainder();
        last[..rest.len()].copy_from_slice(rest);
        self.mix(u64::from_le_bytes(last) ^ (rest.len() as u64) << 59);
    }

    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
}

/// An empty (or all-whitespace) line.
fn is_blank(fields: &[Cow<'_, str>]) -> bool {
    matches!(fields, [only] if only.trim().is_empty())
}

fn is_header(fields: &[Cow<'_, str>]) -> bool {
    matches!(fields, [registry, assignment, ..]
        if registry.trim() == "Registry" && assignment.trim() == "Assignment")
}

fn trim_cow(s: Cow<'_, str>) -> Cow<'_, str> {
    match s {
        Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
        Cow::Owned(o) if o.trim().len() == o.len() => Cow::Owned(o),
        Cow::Owned(o) => Cow::Owned(o.trim().to_string()),
    }
}

#[cfg(test)]
mod tests;
