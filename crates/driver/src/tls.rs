//! TLS for version detection: a client that accepts any certificate and
//! speaks every protocol version the TLS library still has (TLS 1.0 and 1.1
//! included, at security level 0), and what a handshake shows of the server.

use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::Id;
use openssl::ssl::{SslConnector, SslMethod, SslRef, SslVerifyMode};
use openssl::x509::{X509NameRef, X509Ref};
use portolan_model::TlsInfo;

/// A connector for scanning: no verification, no SNI, every version and
/// cipher the library allows. Old servers (TLS 1.0 only, small keys, SHA-1)
/// must still complete a handshake so the service behind can be named.
pub fn scan_connector() -> Result<SslConnector, openssl::error::ErrorStack> {
    let mut b = SslConnector::builder(SslMethod::tls_client())?;
    b.set_verify(SslVerifyMode::NONE);
    b.set_security_level(0);
    b.set_min_proto_version(None)?;
    b.set_max_proto_version(None)?;
    b.set_cipher_list("ALL:@SECLEVEL=0")?;
    Ok(b.build())
}

/// What the finished handshake `ssl` settled on, and the server certificate.
pub fn session_info(ssl: &SslRef) -> TlsInfo {
    let cert = ssl.peer_certificate();
    let cert = cert.as_deref();
    TlsInfo {
        protocol: protocol_name(ssl.version_str()),
        cipher: ssl.current_cipher().map(|c| c.name().to_owned()),
        subject: cert.map(|c| dn_text(c.subject_name())),
        issuer: cert.map(|c| dn_text(c.issuer_name())),
        not_before: cert.and_then(|c| iso_time(&c.not_before().to_string())),
        not_after: cert.and_then(|c| iso_time(&c.not_after().to_string())),
        public_key: cert.and_then(public_key_text),
        sha256: cert.and_then(|c| {
            c.digest(MessageDigest::sha256())
                .ok()
                .map(|d| d.iter().map(|b| format!("{b:02x}")).collect())
        }),
    }
}

/// Nmap's spelling: `TLSv1.0` for the library's `TLSv1`.
fn protocol_name(v: &str) -> String {
    match v {
        "TLSv1" => "TLSv1.0".to_owned(),
        other => other.to_owned(),
    }
}

/// `commonName=s1.svc.test/organizationName=Portolan Lab`: common name,
/// organisation, state and country first (the order Nmap's ssl-cert prints
/// them in), then any other attribute in certificate order.
fn dn_text(name: &X509NameRef) -> String {
    let mut parts: Vec<(usize, String)> = name
        .entries()
        .enumerate()
        .map(|(i, e)| {
            let nid = e.object().nid();
            let key = nid
                .long_name()
                .map(|n| camel_name(nid, n))
                .unwrap_or_else(|_| e.object().to_string());
            let value = String::from_utf8_lossy(e.data().as_slice()).into_owned();
            (
                rank(nid).unwrap_or(FIRST.len() + i),
                format!("{key}={value}"),
            )
        })
        .collect();
    parts.sort_by_key(|(r, _)| *r);
    let texts: Vec<String> = parts.into_iter().map(|(_, t)| t).collect();
    texts.join("/")
}

/// Attributes that lead a distinguished name, in this order.
const FIRST: [Nid; 4] = [
    Nid::COMMONNAME,
    Nid::ORGANIZATIONNAME,
    Nid::STATEORPROVINCENAME,
    Nid::COUNTRYNAME,
];

fn rank(nid: Nid) -> Option<usize> {
    FIRST.iter().position(|n| *n == nid)
}

/// OpenSSL's long names are already Nmap's (`commonName`), but for a few.
fn camel_name(nid: Nid, long: &str) -> String {
    match nid {
        Nid::PKCS9_EMAILADDRESS => "emailAddress".to_owned(),
        _ => long.to_owned(),
    }
}

/// `rsaEncryption 2048` style: the key type and size.
fn public_key_text(cert: &X509Ref) -> Option<String> {
    let key = cert.public_key().ok()?;
    let kind = match key.id() {
        Id::RSA => "rsa",
        Id::EC => "ec",
        Id::DSA => "dsa",
        Id::ED25519 => "ed25519",
        Id::ED448 => "ed448",
        _ => "unknown",
    };
    Some(format!("{kind} {}", key.bits()))
}

/// `Nov 21 10:17:02 2026 GMT` (OpenSSL's form) to `2026-11-21T10:17:02`.
pub(crate) fn iso_time(text: &str) -> Option<String> {
    let mut it = text.split_whitespace();
    let month = it.next()?;
    let day: u32 = it.next()?.parse().ok()?;
    let hms = it.next()?;
    let year: u32 = it.next()?.parse().ok()?;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let m = MONTHS.iter().position(|x| *x == month)? + 1;
    let valid = hms.len() == 8 && hms.bytes().filter(|b| *b == b':').count() == 2;
    valid.then(|| format!("{year:04}-{m:02}-{day:02}T{hms}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssl_times_become_iso() {
        assert_eq!(
            iso_time("Nov  1 09:05:00 2026 GMT").as_deref(),
            Some("2026-11-01T09:05:00")
        );
        assert_eq!(
            iso_time("Dec 31 23:59:59 2049 GMT").as_deref(),
            Some("2049-12-31T23:59:59")
        );
        assert_eq!(iso_time("garbage"), None);
        assert_eq!(iso_time("Foo 1 00:00:00 2026 GMT"), None);
    }

    #[test]
    fn tls1_is_spelt_as_nmap_does() {
        assert_eq!(protocol_name("TLSv1"), "TLSv1.0");
        assert_eq!(protocol_name("TLSv1.3"), "TLSv1.3");
    }

    #[test]
    fn the_scan_connector_builds_and_allows_old_versions() {
        let c = scan_connector().expect("connector");
        let ssl = c
            .configure()
            .expect("configure")
            .verify_hostname(false)
            .use_server_name_indication(false)
            .into_ssl("x")
            .expect("ssl");
        // Security level 0 is what lets TLS 1.0 and SHA-1 signatures through.
        assert_eq!(ssl.ssl_context().security_level(), 0);
    }
}
