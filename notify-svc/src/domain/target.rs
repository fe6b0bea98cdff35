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
    let s = ip.segments();
    let first = s[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // fc00::/7 unique local, fe80::/10 link-local, fec0::/10 site-local
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first & 0xffc0) == 0xfec0
        // ::/96 IPv4-compatible, 64:ff9b::/96 NAT64, 2002::/16 6to4: an IPv4
        // address inside, which could be anything
        || s[..6] == [0; 6]
        || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
        || first == 0x2002
}

impl Target {
    /// Checks a URL: `https://` (or `http://` when `allow_private`, for
    /// tests), a host, no credentials, at most [`MAX_URL`] characters, and no
    /// internal address as its host unless `allow_private`. The URL is parsed
    /// as the HTTP client will parse it (WHATWG), so every spelling of an
    /// address (`2130706433`, `127.1`, `0xa9.254.169.254`, a trailing dot, a
    /// backslash) is judged by the address it means; the normalised URL is
    /// what is kept and called.
    pub fn parse(raw: &str, allow_private: bool) -> Result<Self, String> {
        if raw.len() > MAX_URL {
            return Err(format!("at most {MAX_URL} characters"));
        }
        let url =
            url::Url::parse(raw).map_err(|e| format!("an absolute URL, https://... ({e})"))?;
        match url.scheme() {
            "https" => {}
            "http" if allow_private => {}
            _ => return Err("https://, the only scheme a receiver is called on".into()),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("no credentials in the URL; the signature authenticates".into());
        }
        let internal = match url.host().ok_or_else(|| "a host".to_owned())? {
            url::Host::Ipv4(v4) => is_internal(IpAddr::V4(v4)),
            url::Host::Ipv6(v6) => is_internal(IpAddr::V6(v6)),
            url::Host::Domain(name) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                name.is_empty() || name == "localhost" || name.ends_with(".localhost")
            }
        };
        if !allow_private && internal {
            return Err("not a loopback, private or link-local address".into());
        }
        let port = url
            .port_or_known_default()
            .filter(|p| *p != 0)
            .ok_or_else(|| "a port from 1 to 65535".to_owned())?;
        Ok(Self {
            host: url.host_str().unwrap_or_default().to_owned(),
            url: url.as_str().to_owned(),
            port,
        })
    }

    /// The URL, normalised.
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
            // Other spellings of internal addresses, as the client reads them.
            "https://2130706433/",
            "https://127.1/",
            "https://0x7f.0.0.1/",
            "https://0xa9.254.169.254/latest",
            "https://127.0.0.1./",
            "https://127.0.0.%31/",
            "https://169.254.169.254\\a.example.com/latest",
            "https://LOCALHOST./",
            "https://[::127.0.0.1]/",
            "https://[64:ff9b::a9fe:a9fe]/",
            "https://[2002:7f00:1::]/",
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
        // Kept as the client will call it.
        let t = Target::parse("HTTPS://Hooks.Example.COM:443/a b", false)?;
        assert_eq!(t.url(), "https://hooks.example.com/a%20b");
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
