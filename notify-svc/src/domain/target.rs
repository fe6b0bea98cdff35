//! Where a webhook may point. A tenant's URL is fetched from inside the
//! platform, so it must not reach the platform itself: no loopback,
//! private, link-local (cloud metadata), shared, multicast or unspecified
//! address, unless the operator allows private targets (tests, on-premises
//! receivers). Checked when a webhook is created, on its literal host, and
//! again on every address its name resolves to when delivering.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Longest URL accepted.
pub const MAX_URL: usize = 2_048;

/// A webhook URL, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    url: String,
    host: String,
    port: u16,
}

/// Whether an address is the platform's own or a private network's.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => internal_v4(v4),
            None => internal_v6(v6),
        },
    }
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        // 100.64.0.0/10, carrier-grade NAT (shared address space)
        || (a == 100 && (64..128).contains(&b))
        // 0.0.0.0/8 and 240.0.0.0/4
        || a == 0
        || a >= 240
}

fn internal_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // fc00::/7 unique local, fe80::/10 link-local
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
}

impl Target {
    /// Checks a URL: `https://` (or `http://` when `allow_private`, for
    /// tests), a host, no credentials, at most [`MAX_URL`] characters, and no
    /// internal address as its literal host unless `allow_private`.
    pub fn parse(url: &str, allow_private: bool) -> Result<Self, String> {
        if url.len() > MAX_URL {
            return Err(format!("at most {MAX_URL} characters"));
        }
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| "an absolute URL, https://...".to_owned())?;
        let default_port = match scheme {
            "https" => 443,
            "http" if allow_private => 80,
            _ => return Err("https://, the only scheme a receiver is called on".into()),
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err("no credentials in the URL; the signature authenticates".into());
        }
        let (host, port) = split_port(authority)?;
        if host.is_empty() {
            return Err("a host".into());
        }
        let literal = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .ok();
        let local_name = host.eq_ignore_ascii_case("localhost")
            || host.to_ascii_lowercase().ends_with(".localhost");
        if !allow_private && (local_name || literal.is_some_and(is_internal)) {
            return Err("not a loopback, private or link-local address".into());
        }
        Ok(Self {
            url: url.to_owned(),
            host: host.to_owned(),
            port: port.unwrap_or(default_port),
        })
    }

    /// The URL as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The host (a name, or an address in brackets for IPv6).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether a delivery may connect to `resolved`, an address the host
    /// resolved to (a name may resolve to an internal address).
    pub fn may_connect(resolved: IpAddr, allow_private: bool) -> bool {
        allow_private || !is_internal(resolved)
    }
}

/// `host[:port]`, IPv6 in brackets.
fn split_port(authority: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => (&authority[..i], Some(&authority[i + 1..])),
        _ => (authority, None),
    };
    let port = port
        .map(|p| {
            p.parse::<u16>()
                .map_err(|_| "a port from 1 to 65535".to_owned())
        })
        .transpose()?;
    if port == Some(0) {
        return Err("a port from 1 to 65535".into());
    }
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_targets_are_refused_unless_allowed() {
        for url in [
            "https://127.0.0.1/hook",
            "https://localhost:8443/hook",
            "https://10.1.2.3/hook",
            "https://192.168.0.10/hook",
            "https://172.16.5.4/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://[::1]:8443/hook",
            "https://[fe80::1]/",
            "https://[fd00::1]/",
            "https://[::ffff:127.0.0.1]/",
        ] {
            assert!(Target::parse(url, false).is_err(), "{url}");
            assert!(Target::parse(url, true).is_ok(), "{url} allowed for tests");
        }
    }

    #[test]
    fn public_https_targets_are_taken_with_their_port() -> Result<(), String> {
        let t = Target::parse("https://hooks.example.com/boomerang?x=1", false)?;
        assert_eq!((t.host(), t.port()), ("hooks.example.com", 443));
        let t = Target::parse("https://203.0.113.9:8443/h", true)?;
        assert_eq!(t.port(), 8443);
        let t = Target::parse("https://[2001:db8::1]:9000/h", false)?;
        assert_eq!((t.host(), t.port()), ("[2001:db8::1]", 9000));
        Ok(())
    }

    #[test]
    fn malformed_urls_say_why() {
        for url in [
            "hooks.example.com/h",
            "ftp://hooks.example.com/",
            "http://hooks.example.com/",
            "https://user:pw@hooks.example.com/",
            "https://:443/",
            "https://hooks.example.com:0/",
            "https://hooks.example.com:99999/",
        ] {
            assert!(Target::parse(url, false).is_err(), "{url}");
        }
        assert!(Target::parse(&format!("https://e.com/{}", "a".repeat(MAX_URL)), false).is_err());
    }

    #[test]
    fn resolved_addresses_are_checked_too() {
        assert!(!Target::may_connect(
            "10.0.0.7"
                .parse()
                .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            false
        ));
        assert!(Target::may_connect(
            IpAddr::V4(Ipv4Addr::new(93, 184, 216, 34)),
            false
        ));
        assert!(Target::may_connect(IpAddr::V4(Ipv4Addr::LOCALHOST), true));
    }
}
