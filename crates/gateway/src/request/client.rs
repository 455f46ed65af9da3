//! The client's address: the connection's peer, unless the peer is a proxy the operator
//! trusts (`trusted_proxies`), in which case the nearest address its `X-Forwarded-For` (or
//! `Forwarded`) names that is not itself a trusted proxy. A client writes these headers as it
//! likes, so they are never believed from anyone else.

use std::net::{IpAddr, SocketAddr};

use http::{HeaderMap, HeaderValue};
use ipnet::IpNet;

const X_FORWARDED_FOR: &str = "x-forwarded-for";
const FORWARDED: &str = "forwarded";

/// Forwarded hops read at most, so a huge header costs a bounded walk.
const MAX_HOPS: usize = 32;

/// An address as text, on the stack: the forwarded headers and the access log write one per
/// request. IPv4 is written octet by octet (`Display` goes through the formatter, several times
/// the cost); IPv6 through `Display`.
pub(crate) struct IpText {
    buf: [u8; 45],
    len: usize,
}

impl IpText {
    pub(crate) fn new(ip: IpAddr) -> Self {
        let mut text = IpText {
            buf: [0; 45],
            len: 0,
        };
        match ip {
            IpAddr::V4(v4) => {
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        text.push(b".");
                    }
                    text.push(itoa::Buffer::new().format(octet).as_bytes());
                }
            }
            IpAddr::V6(v6) => {
                use std::io::Write as _;
                let mut rest = &mut text.buf[..];
                // The longest IPv6 text (`ffff:...:255.255.255.255`) is 45 bytes: it fits.
                let _ = write!(rest, "{v6}");
                text.len = 45 - rest.len();
            }
        }
        text
    }

    fn push(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII digits, dots, colons and hex letters were written.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

/// The connection's peer, with its address as `X-Forwarded-For` writes it, made once per
/// connection rather than per request (formatting and copying it cost about 350 instructions).
#[derive(Clone, Debug)]
pub(crate) struct Peer {
    pub(crate) addr: SocketAddr,
    pub(crate) text: HeaderValue,
}

impl Peer {
    pub(crate) fn new(addr: SocketAddr) -> Self {
        let text = IpText::new(addr.ip().to_canonical());
        // Only digits, dots, colons and hex letters: always a valid value.
        let text = HeaderValue::from_str(text.as_str())
            .unwrap_or_else(|_| HeaderValue::from_static("unknown"));
        Self { addr, text }
    }
}

pub(crate) fn client_address(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    // An IPv4 client reaching an IPv6 socket shows as `::ffff:a.b.c.d`.
    let peer = peer.ip().to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if trusted.is_empty() || !is_trusted(&peer) {
        return peer;
    }
    let hops = if headers.contains_key(X_FORWARDED_FOR) {
        x_forwarded_for(headers)
    } else {
        forwarded_for(headers)
    };
    // From the nearest hop outwards: the first one no trusted proxy vouches for is the client.
    // A hop that does not parse ends the walk there: nothing beyond it can be trusted.
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop {
            Some(ip) => {
                client = ip.to_canonical();
                if !is_trusted(&client) {
                    break;
                }
            }
            None => break,
        }
    }
    client
}

/// `X-Forwarded-For: client, proxy1, proxy2`, every header line in order.
fn x_forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("").split(','))
        .take(MAX_HOPS)
        .map(|hop| parse_node(hop.trim()))
        .collect()
}

/// `Forwarded: for=192.0.2.60;proto=http, for="[2001:db8::1]:4711"` (RFC 7239).
fn forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all(FORWARDED)
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("").split(','))
        .take(MAX_HOPS)
        .map(|element| {
            element
                .split(';')
                .filter_map(|pair| pair.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                .and_then(|(_, v)| parse_node(v.trim().trim_matches('"')))
        })
        .collect()
}

/// `192.0.2.1`, `192.0.2.1:80`, `2001:db8::1`, `[2001:db8::1]:80`; `unknown` and obfuscated
/// names are no address.
fn parse_node(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    text.strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .and_then(|t| t.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(peer: &str, headers: &[(&str, &str)], trusted: &[&str]) -> String {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let trusted: Vec<IpNet> = trusted
            .iter()
            .map(|t| pylon_model::parse_ip_range(t).unwrap())
            .collect();
        client_address(peer.parse().unwrap(), &map, &trusted).to_string()
    }

    #[test]
    fn headers_count_only_from_a_trusted_peer() {
        let xff = [("x-forwarded-for", "203.0.113.9")];
        assert_eq!(client("198.51.100.1:5", &xff, &[]), "198.51.100.1");
        assert_eq!(
            client("198.51.100.1:5", &xff, &["10.0.0.0/8"]),
            "198.51.100.1"
        );
        assert_eq!(client("10.0.0.2:5", &xff, &["10.0.0.0/8"]), "203.0.113.9");
        assert_eq!(client("10.0.0.2:5", &[], &["10.0.0.0/8"]), "10.0.0.2");
        assert_eq!(
            client("[::ffff:10.0.0.2]:5", &xff, &["10.0.0.0/8"]),
            "203.0.113.9"
        );
    }

    #[test]
    fn the_nearest_untrusted_hop_is_the_client() {
        let trusted = ["10.0.0.0/8"];
        // The client wrote the first entry itself; the trusted proxy appended what it saw.
        let spoofed = [("x-forwarded-for", "1.2.3.4, 203.0.113.9, 10.0.0.7")];
        assert_eq!(client("10.0.0.2:5", &spoofed, &trusted), "203.0.113.9");
        let lines = [
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-for", "203.0.113.9:4711, 10.0.0.7"),
        ];
        assert_eq!(client("10.0.0.2:5", &lines, &trusted), "203.0.113.9");
        // Everything trusted: the farthest hop.
        let all = [("x-forwarded-for", "10.1.1.1, 10.0.0.7")];
        assert_eq!(client("10.0.0.2:5", &all, &trusted), "10.1.1.1");
        // An entry that does not parse stops the walk at the last trusted hop.
        let garbage = [("x-forwarded-for", "203.0.113.9, nonsense, 10.0.0.7")];
        assert_eq!(client("10.0.0.2:5", &garbage, &trusted), "10.0.0.7");
    }

    #[test]
    fn forwarded_is_read_when_x_forwarded_for_is_absent() {
        let trusted = ["10.0.0.0/8"];
        let fwd = [(
            "forwarded",
            "for=198.51.100.17;proto=https, for=\"[2001:db8::1]:4711\", For=10.0.0.3",
        )];
        assert_eq!(client("10.0.0.2:5", &fwd, &trusted), "2001:db8::1");
        let hidden = [("forwarded", "for=198.51.100.17, for=_hidden, for=10.0.0.3")];
        assert_eq!(client("10.0.0.2:5", &hidden, &trusted), "10.0.0.3");
    }

    #[test]
    fn addresses_read_as_display_writes_them() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "255.255.255.255",
            "10.20.3.40",
            "::1",
            "2001:db8::7",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "::ffff:255.255.255.255",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(IpText::new(ip).as_str(), ip.to_string());
        }
    }

    #[test]
    fn a_peer_is_written_as_its_canonical_address() {
        for (addr, text) in [
            ("192.0.2.1:5000", "192.0.2.1"),
            ("[::ffff:192.0.2.7]:443", "192.0.2.7"),
            ("[2001:db8::7]:80", "2001:db8::7"),
        ] {
            let peer = Peer::new(addr.parse().unwrap());
            assert_eq!(peer.text, text);
            assert_eq!(peer.addr, addr.parse::<SocketAddr>().unwrap());
        }
    }
}
