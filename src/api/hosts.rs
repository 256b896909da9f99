//! Which `Host` headers the server answers. A browser page on another site can reach a
//! loopback server through DNS rebinding: its own host name is made to resolve to 127.0.0.1,
//! and the browser then sends that name in `Host`. Refusing names other than loopback ones
//! closes that door, while every client that really means this server (boto3, the AWS CLI, a
//! browser on `localhost`) keeps working.
//!
//! Accepted: `localhost` and names under `.localhost` (RFC 6761 reserves them for loopback),
//! loopback addresses, the address the server is bound to (any IP literal when it is bound to
//! all interfaces: an address cannot be rebound), and the names given with `--allow-host`.
//! A request without `Host` (HTTP/1.0 tools) is accepted: browsers always send one.

use std::net::IpAddr;

/// The accepted `Host` values.
#[derive(Clone, Debug, Default)]
pub struct HostPolicy {
    /// The address the server listens on, when known.
    pub bound: Option<IpAddr>,
    /// Extra host names (lower case, without port), from `--allow-host`.
    pub allowed: Vec<String>,
}

impl HostPolicy {
    /// Whether a request with this `Host` header value is answered.
    pub fn accepts(&self, host: &str) -> bool {
        let name = strip_port(host.trim()).to_ascii_lowercase();
        let name = name.strip_suffix('.').unwrap_or(&name);
        if name == "localhost" || name.ends_with(".localhost") {
            return true;
        }
        if self.allowed.iter().any(|a| a == name) {
            return true;
        }
        let literal = name.strip_prefix('[').and_then(|n| n.strip_suffix(']'));
        match literal.unwrap_or(name).parse::<IpAddr>() {
            Ok(ip) => ip.is_loopback() || self.bound.is_some_and(|b| b == ip || b.is_unspecified()),
            Err(_) => false,
        }
    }
}

/// `name:port` -> `name`, `[v6]:port` -> `[v6]`, a bare IPv6 address unchanged.
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        };
    }
    match host.rsplit_once(':') {
        // More than one colon: a bare IPv6 address, not name:port.
        Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name
        }
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_and_the_bound_address_are_accepted() {
        let p = HostPolicy {
            bound: Some("192.168.1.5".parse().unwrap()),
            allowed: vec!["stepsim.internal".into()],
        };
        for ok in [
            "localhost",
            "LOCALHOST:8083",
            "bucket.localhost:8083",
            "127.0.0.1:8083",
            "127.0.0.2",
            "[::1]:8083",
            "::1",
            "192.168.1.5:8083",
            "stepsim.internal:9000",
            "localhost.",
        ] {
            assert!(p.accepts(ok), "{ok}");
        }
        for refused in [
            "evil.example.com",
            "evil.example.com:8083",
            "localhost.evil.com",
            "192.168.1.6:8083",
            "10.0.0.1",
            "",
            "[::2]:8083",
            "stepsim.internal.evil.com",
        ] {
            assert!(!p.accepts(refused), "{refused}");
        }
    }

    #[test]
    fn all_interfaces_accept_any_address_but_no_other_name() {
        let p = HostPolicy {
            bound: Some("0.0.0.0".parse().unwrap()),
            allowed: Vec::new(),
        };
        assert!(p.accepts("10.1.2.3:8083"));
        assert!(!p.accepts("attacker.example:8083"));
        // Unknown bound address (a router built without a listener): loopback only.
        let p = HostPolicy::default();
        assert!(p.accepts("127.0.0.1:1") && !p.accepts("10.1.2.3"));
    }
}
