//! The short vendor name shown next to a MAC address.
//!
//! The registry holds each organisation's legal name ("Cisco Systems, Inc",
//! "Huawei Technologies Co.,Ltd"). A scan report reads better with the name people use,
//! so [`short_name`] applies a small clean-up of our own:
//!
//! 1. surrounding whitespace is trimmed and each run of inner whitespace becomes one space;
//! 2. a trailing company-form word ([`COMPANY_FORMS`], compared without case and without
//!    dots, so `Inc`, `Inc.` and `INC` are alike) is dropped together with the commas,
//!    spaces and ampersands before it, up to [`MAX_FORMS`] times ("Co., Ltd." loses both
//!    words, "GmbH & Co. KG" all three).
//!
//! A word is only dropped when something is left: "Limited" alone stays "Limited".

use std::borrow::Cow;

/// Company-form words dropped from the end of a name, lower case, without dots.
pub const COMPANY_FORMS: &[&str] = &[
    "ab",
    "ag",
    "as",
    "a/s",
    "bhd",
    "bv",
    "co",
    "coltd",
    "company",
    "corp",
    "corporation",
    "doo",
    "gesmbh",
    "gmbh",
    "inc",
    "incorporated",
    "kft",
    "kg",
    "kk",
    "limited",
    "llc",
    "ltd",
    "ltda",
    "nv",
    "oy",
    "plc",
    "pte",
    "pty",
    "pvt",
    "sa",
    "sarl",
    "sas",
    "sdn",
    "sl",
    "spa",
    "srl",
    "sro",
];

/// How many trailing company-form words are dropped at most.
pub const MAX_FORMS: usize = 3;

/// The registry name cleaned up for display (see the module docs).
pub fn short_name(full: &str) -> String {
    let normal = collapse_whitespace(full);
    let mut name: &str = &normal;
    for _ in 0..MAX_FORMS {
        match drop_form(name) {
            Some(shorter) => name = shorter,
            None => break,
        }
    }
    name.to_string()
}

/// Trims and turns every run of whitespace into one space; borrows when nothing changes.
fn collapse_whitespace(s: &str) -> Cow<'_, str> {
    if is_collapsed(s) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    Cow::Owned(out)
}

/// ASCII text with single inner spaces and no other whitespace: the common case.
fn is_collapsed(s: &str) -> bool {
    let b = s.as_bytes();
    let edge_ok = |c: Option<&u8>| c.is_none_or(|c| *c != b' ');
    edge_ok(b.first())
        && edge_ok(b.last())
        && b.iter()
            .all(|&c| c.is_ascii() && (c == b' ' || !char::from(c).is_whitespace()))
        && !s.contains("  ")
}

/// `name` without its last word, if that word is a company form and something remains.
fn drop_form(name: &str) -> Option<&str> {
    let cut = name.rfind([' ', ','])?;
    let word = name.get(cut + 1..)?;
    if !is_company_form(word) {
        return None;
    }
    let rest = name.get(..cut)?.trim_end_matches([' ', ',', '&']);
    (!rest.is_empty()).then_some(rest)
}

fn is_company_form(word: &str) -> bool {
    /// Longer than the longest form, dots included generously.
    const MAX_WORD: usize = 20;
    if word.len() > MAX_WORD {
        return false;
    }
    let bare = || {
        word.bytes()
            .filter(|&b| b != b'.')
            .map(|b| b.to_ascii_lowercase())
    };
    COMPANY_FORMS.iter().any(|form| bare().eq(form.bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn drops_common_suffixes() {
        let cases = [
            ("Cisco Systems, Inc", "Cisco Systems"),
            ("VMware, Inc.", "VMware"),
            ("PCS Systemtechnik GmbH", "PCS Systemtechnik"),
            ("Raspberry Pi Trading Ltd", "Raspberry Pi Trading"),
            ("Microsoft Corporation", "Microsoft"),
            ("Huawei Technologies Co.,Ltd", "Huawei Technologies"),
            (
                "Shenzhen Dptek Technology Co., Ltd.",
                "Shenzhen Dptek Technology",
            ),
            ("IOG Products LLC", "IOG Products"),
            ("Philips Lighting B.V.", "Philips Lighting"),
            ("Siemens AG", "Siemens"),
            ("Acme S.A.", "Acme"),
            ("Example Pty. Ltd.", "Example"),
            ("Solace Systems Inc.", "Solace Systems"),
            ("XOR UK Corporation Limited", "XOR UK"),
            ("AUMA Riester GmbH & Co. KG", "AUMA Riester"),
            ("2C - Trifonov & Co", "2C - Trifonov"),
            ("ATCOM Technology Co.Ltd.", "ATCOM Technology"),
            ("AZD Praha s.r.o.", "AZD Praha"),
        ];
        for (full, short) in cases {
            assert_eq!(short_name(full), short, "for {full:?}");
        }
    }

    #[test]
    fn whitespace_is_trimmed_and_collapsed() {
        assert_eq!(
            short_name(" Shenzhen  Elebao\tTechnology Co., Ltd "),
            "Shenzhen Elebao Technology"
        );
    }

    #[test]
    fn keeps_names_without_a_form() {
        for name in [
            "IGT",
            "Private",
            "IEEE Registration Authority",
            "TELEPLATFORMS",
        ] {
            assert_eq!(short_name(name), name);
        }
        // Only whole words count: "Zinc" and "Cosco" end in letters of a form.
        assert_eq!(short_name("Zinc"), "Zinc");
        assert_eq!(short_name("Foo Zinc"), "Foo Zinc");
        assert_eq!(short_name("Cosco"), "Cosco");
    }

    #[test]
    fn never_empties_a_name() {
        assert_eq!(short_name("Limited"), "Limited");
        assert_eq!(short_name("Inc."), "Inc.");
        assert_eq!(short_name("Co., Ltd."), "Co.");
        assert_eq!(short_name(""), "");
    }

    #[test]
    fn drops_at_most_max_forms() {
        assert_eq!(short_name("Acme Co Ltd Inc Corp"), "Acme Co");
    }

    proptest! {
        #[test]
        fn result_is_clean_and_nonempty(name in any::<String>()) {
            let short = short_name(&name);
            prop_assert_eq!(short.trim(), short.as_str());
            prop_assert!(!short.contains("  "));
            prop_assert_eq!(short.is_empty(), name.trim().is_empty());
            prop_assert!(short.len() <= name.len());
        }
    }
}
