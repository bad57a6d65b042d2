//! The address guard for URLs we did not get from the user (registry remotes): only public
//! addresses, checked on the URL itself (`check_url`, no DNS), on every address its host resolves
//! to (`resolve_public`), and again inside the HTTP client on every connection and redirect
//! (`PublicResolver`), so that a second DNS answer (rebinding) cannot reach a private address.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::{Host, Url};

/// Why an address was refused. Also the error the HTTP client's resolver and redirect policy
/// return, so that `http` can tell a refusal from a failed connection.
#[derive(Debug, Clone)]
pub(crate) struct Refused {
    /// The URL or host name that was refused.
    pub(crate) target: String,
    /// What is wrong with it.
    pub(crate) reason: String,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "address guard refused {}: {}", self.target, self.reason)
    }
}

impl std::error::Error for Refused {}

/// Checks what can be checked without DNS: the scheme is http or https, there is a host, the host
/// is not a `localhost` name, and an IP literal host is a public address.
pub fn check_url(url: &Url) -> Result<(), String> {
    match url.scheme() {
        "http" | "https" => {}
        other => return Err(format!("scheme {other:?} is not http or https")),
    }
    match url.host() {
        None => Err("the URL has no host".to_string()),
        Some(Host::Ipv4(ip)) => check_ip(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => check_ip(IpAddr::V6(ip)),
        Some(Host::Domain(name)) => check_host_name(name),
    }
}

/// Refuses host names that always mean this machine.
pub fn check_host_name(name: &str) -> Result<(), String> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") || name == "localhost.localdomain" {
        return Err(format!("{name} is this machine"));
    }
    Ok(())
}

/// Checks one address: refuses loopback, private (RFC 1918), link-local (cloud metadata
/// included), CGNAT, unique-local, unspecified, multicast, broadcast and reserved ranges, also in
/// their IPv4-mapped, IPv4-compatible, NAT64 and 6to4 forms.
pub fn check_ip(ip: IpAddr) -> Result<(), String> {
    match ip {
        IpAddr::V4(v4) => check_v4(v4).map_err(|what| format!("{v4} is {what}")),
        IpAddr::V6(v6) => check_v6(v6).map_err(|what| format!("{v6} is {what}")),
    }
}

fn check_v4(ip: Ipv4Addr) -> Result<(), &'static str> {
    let [a, b, c, _] = ip.octets();
    let refused = match a {
        0 => Some("an unspecified (\"this network\") address"),
        10 => Some("a private address (10.0.0.0/8)"),
        100 if (64..128).contains(&b) => Some("a shared CGNAT address (100.64.0.0/10)"),
        127 => Some("a loopback address"),
        169 if b == 254 => Some("a link-local address (169.254.0.0/16, cloud metadata)"),
        172 if (16..32).contains(&b) => Some("a private address (172.16.0.0/12)"),
        192 if b == 168 => Some("a private address (192.168.0.0/16)"),
        192 if b == 0 && c == 0 => Some("an IETF protocol address (192.0.0.0/24)"),
        198 if b == 18 || b == 19 => Some("a benchmarking address (198.18.0.0/15)"),
        224..=239 => Some("a multicast address"),
        240..=255 => Some("a reserved or broadcast address"),
        _ => None,
    };
    refused.map_or(Ok(()), Err)
}

fn check_v6(ip: Ipv6Addr) -> Result<(), &'static str> {
    let seg = ip.segments();
    if ip.is_unspecified() {
        return Err("the unspecified address");
    }
    if ip.is_loopback() {
        return Err("the loopback address");
    }
    // IPv4-mapped (::ffff:a.b.c.d) and the deprecated IPv4-compatible (::a.b.c.d) forms.
    if seg[..5] == [0, 0, 0, 0, 0] && (seg[5] == 0 || seg[5] == 0xffff) {
        let v4 = Ipv4Addr::new((seg[6] >> 8) as u8, seg[6] as u8, (seg[7] >> 8) as u8, seg[7] as u8);
        return check_v4(v4).map_err(|_| "an IPv4-mapped form of a refused IPv4 address");
    }
    // NAT64 (64:ff9b::/96) embeds an IPv4 address in the last 32 bits.
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let v4 = Ipv4Addr::new((seg[6] >> 8) as u8, seg[6] as u8, (seg[7] >> 8) as u8, seg[7] as u8);
        return check_v4(v4).map_err(|_| "a NAT64 form of a refused IPv4 address");
    }
    // 6to4 (2002::/16) embeds an IPv4 address in bits 16..48.
    if seg[0] == 0x2002 {
        let v4 = Ipv4Addr::new((seg[1] >> 8) as u8, seg[1] as u8, (seg[2] >> 8) as u8, seg[2] as u8);
        return check_v4(v4).map_err(|_| "a 6to4 form of a refused IPv4 address");
    }
    match seg[0] {
        s if s & 0xfe00 == 0xfc00 => Err("a unique-local address (fc00::/7)"),
        s if s & 0xffc0 == 0xfe80 => Err("a link-local address (fe80::/10)"),
        s if s & 0xffc0 == 0xfec0 => Err("a site-local address (fec0::/10)"),
        s if s & 0xff00 == 0xff00 => Err("a multicast address"),
        _ => Ok(()),
    }
}

/// `check_url`, then resolves the host and checks every address it resolves to. Returns the
/// addresses (with the URL's port) so a caller can pin them.
pub async fn resolve_public(url: &Url) -> Result<Vec<SocketAddr>, String> {
    check_url(url)?;
    let port = url.port_or_known_default().unwrap_or(80);
    match url.host() {
        Some(Host::Ipv4(ip)) => Ok(vec![SocketAddr::new(IpAddr::V4(ip), port)]),
        Some(Host::Ipv6(ip)) => Ok(vec![SocketAddr::new(IpAddr::V6(ip), port)]),
        Some(Host::Domain(name)) => resolve_name(name, port).await,
        None => Err("the URL has no host".to_string()),
    }
}

/// Resolves a host name and refuses it when any of its addresses is not public (a name that
/// points at both a public and a private address is not trusted either).
async fn resolve_name(name: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    check_host_name(name)?;
    let addrs: Vec<SocketAddr> =
        tokio::net::lookup_host((name, port)).await.map_err(|e| format!("could not resolve {name}: {e}"))?.collect();
    if addrs.is_empty() {
        return Err(format!("{name} resolves to no address"));
    }
    for addr in &addrs {
        check_ip(addr.ip()).map_err(|reason| format!("{name} resolves to {reason}"))?;
    }
    Ok(addrs)
}

/// The DNS resolver of a `PublicOnly` HTTP client: every connection (the first one and every
/// redirect) resolves through here, and the addresses it checked are the ones connected to.
#[derive(Debug, Default)]
pub(crate) struct PublicResolver;

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            match resolve_name(&host, 0).await {
                Ok(addrs) => Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs),
                Err(reason) => {
                    Err(Box::new(Refused { target: host, reason }) as Box<dyn std::error::Error + Send + Sync>)
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url_ok(s: &str) -> bool {
        check_url(&Url::parse(s).expect("test URL")).is_ok()
    }

    #[test]
    fn refuses_local_and_special_addresses() {
        for s in [
            "http://127.0.0.1/",
            "http://127.1.2.3:8080/mcp",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://172.31.255.255/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://100.64.0.1/",
            "http://100.127.255.255/",
            "http://0.0.0.0/",
            "http://224.0.0.1/",
            "http://255.255.255.255/",
            "http://[::1]/",
            "http://[::]/",
            "http://[fe80::1]/",
            "http://[fc00::1]/",
            "http://[fd00:ec2::254]/",
            "http://[ff02::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:169.254.169.254]/",
            "http://[::ffff:10.0.0.1]/",
            "http://[64:ff9b::a00:1]/",
            "http://[2002:c0a8:101::1]/",
            "http://localhost/",
            "http://LOCALHOST./",
            "http://api.localhost/",
            "http://2130706433/",
            "http://0x7f.1/",
            "ftp://example.com/",
            "file:///etc/passwd",
        ] {
            assert!(!url_ok(s), "{s} should be refused");
        }
    }

    #[test]
    fn accepts_public_addresses() {
        for s in [
            "https://example.com/mcp",
            "http://93.184.216.34/",
            "http://172.32.0.1/",
            "http://100.128.0.1/",
            "http://192.169.0.1/",
            "http://[2606:4700::1111]/",
            "http://[::ffff:8.8.8.8]/",
        ] {
            assert!(url_ok(s), "{s} should be accepted");
        }
    }

    #[test]
    fn refusal_names_the_range() {
        let err = check_url(&Url::parse("http://169.254.169.254/").expect("test URL")).unwrap_err();
        assert!(err.contains("link-local"), "{err}");
    }
}
