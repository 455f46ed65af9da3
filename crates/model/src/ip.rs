//! Client addresses as policies and settings write them.

/// Parses an address (`192.0.2.7`, `::1`) or a CIDR range (`10.0.0.0/8`) as a network.
pub fn parse_ip_range(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    if text.contains('/') {
        text.parse::<ipnet::IpNet>()
            .map_err(|_| format!("`{text}` is not an IPv4 or IPv6 CIDR range"))
    } else {
        text.parse::<std::net::IpAddr>()
            .map(ipnet::IpNet::from)
            .map_err(|_| format!("`{text}` is not an IPv4 or IPv6 address"))
    }
}
