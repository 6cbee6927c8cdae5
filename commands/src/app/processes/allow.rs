//! `--webhook-allow`: which hosts webhook deliveries may reach. The default (`any`) lets an
//! operator post to private networks (a receiver beside the server is the common case); one
//! flag locks it down to listed networks and host names. Addresses are checked after name
//! resolution, by the resolver the delivery client uses, so a name cannot be re-pointed at a
//! forbidden address between a check and the connection.

use std::net::IpAddr;

/// The hosts webhooks may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowList {
    any: bool,
    nets: Vec<(IpAddr, u8)>,
    hosts: Vec<String>,
}

impl Default for AllowList {
    fn default() -> Self {
        AllowList { any: true, nets: Vec::new(), hosts: Vec::new() }
    }
}

impl AllowList {
    /// Parses a comma-separated list of `any`, CIDRs (`10.0.0.0/8`, `::1/128`), addresses and
    /// host names (`hooks.example.com`, `*.example.com`).
    pub fn parse(text: &str) -> Result<AllowList, String> {
        let mut list = AllowList { any: false, nets: Vec::new(), hosts: Vec::new() };
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if item == "any" || item == "*" {
                list.any = true;
            } else if let Some((addr, bits)) = item.split_once('/') {
                let addr: IpAddr = addr.parse().map_err(|_| format!("{item:?}: not a CIDR"))?;
                let max = if addr.is_ipv4() { 32 } else { 128 };
                let bits: u8 =
                    bits.parse().ok().filter(|b| *b <= max).ok_or(format!("{item:?}: bad prefix"))?;
                list.nets.push((addr, bits));
            } else if let Ok(addr) = item.parse::<IpAddr>() {
                list.nets.push((addr, if addr.is_ipv4() { 32 } else { 128 }));
            } else if item.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.*".contains(&b)) {
                list.hosts.push(item.to_ascii_lowercase());
            } else {
                return Err(format!("{item:?}: not a host name, address or CIDR"));
            }
        }
        if !list.any && list.nets.is_empty() && list.hosts.is_empty() {
            return Err("empty: give `any`, or networks and host names".into());
        }
        Ok(list)
    }

    /// Whether everything is allowed.
    pub fn allows_all(&self) -> bool {
        self.any
    }

    /// Whether a host name is listed (then whatever it resolves to is allowed).
    pub fn allows_name(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.any
            || self.hosts.iter().any(|h| match h.strip_prefix("*.") {
                Some(domain) => host.ends_with(&format!(".{domain}")),
                None => *h == host,
            })
    }

    /// Whether an address is in a listed network.
    pub fn allows_addr(&self, addr: IpAddr) -> bool {
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            v4 => v4,
        };
        self.any || self.nets.iter().any(|(net, bits)| in_net(addr, *net, *bits))
    }

    /// Whether a URL's host (a name or an address literal) may be reached, before resolution:
    /// names not listed are decided by their addresses when resolved.
    pub fn allows_host(&self, host: &str) -> bool {
        match host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
            Ok(addr) => self.allows_addr(addr),
            Err(_) => self.allows_name(host) || !self.nets.is_empty(),
        }
    }
}

/// The host of an `http(s)://` URL (an IPv6 literal with its brackets), without user or port.
pub fn host_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit('@').next()?;
    if host_port.starts_with('[') {
        return host_port.find(']').map(|end| &host_port[..=end]);
    }
    host_port.split(':').next().filter(|h| !h.is_empty())
}

fn in_net(addr: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (addr, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - u32::from(bits)) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - u32::from(bits)) };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_addresses_and_names_are_matched() {
        let list = AllowList::parse("10.0.0.0/8, 192.168.1.5, hooks.example.com, *.corp.example").unwrap();
        assert!(!list.allows_all());
        assert!(list.allows_addr("10.20.30.40".parse().unwrap()));
        assert!(list.allows_addr("::ffff:10.1.1.1".parse().unwrap()));
        assert!(!list.allows_addr("11.0.0.1".parse().unwrap()));
        assert!(list.allows_addr("192.168.1.5".parse().unwrap()));
        assert!(!list.allows_addr("192.168.1.6".parse().unwrap()));
        assert!(list.allows_name("HOOKS.example.com."));
        assert!(list.allows_name("a.b.corp.example") && !list.allows_name("corp.example"));
        assert!(!list.allows_host("127.0.0.1") && list.allows_host("[::ffff:10.0.0.1]"));
        assert_eq!(host_of("http://u:p@[::1]:80/x"), Some("[::1]"));
        assert_eq!(host_of("https://Hooks.example.com:8443?q"), Some("Hooks.example.com"));
    }

    #[test]
    fn the_default_allows_everything_and_bad_entries_are_errors() {
        assert!(AllowList::default().allows_addr("127.0.0.1".parse().unwrap()));
        assert!(AllowList::parse("any").unwrap().allows_all());
        for bad in ["", "10.0.0.0/33", "1.2.3.4/x", "a b", "http://x"] {
            assert!(AllowList::parse(bad).is_err(), "{bad}");
        }
        let only_names = AllowList::parse("hooks.example.com").unwrap();
        assert!(!only_names.allows_host("other.example.com") && !only_names.allows_host("127.0.0.1"));
    }
}
