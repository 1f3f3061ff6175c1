//! IPv4 CIDR arithmetic for validation: parsing, containment and overlap.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 network written as `a.b.c.d/n`, with its host bits zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub network: u32,
    pub prefix: u8,
}

impl Cidr {
    fn mask(self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        }
    }

    fn last(self) -> u32 {
        self.network | !self.mask()
    }

    /// True when every address of `other` is inside `self`.
    pub fn contains(self, other: Cidr) -> bool {
        other.prefix >= self.prefix && (other.network & self.mask()) == self.network
    }

    pub fn overlaps(self, other: Cidr) -> bool {
        self.network <= other.last() && other.network <= self.last()
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.network), self.prefix)
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (address, prefix) =
            text.split_once('/').ok_or_else(|| format!("`{text}` is not a CIDR block (expected a.b.c.d/n)"))?;
        let address: Ipv4Addr = address.parse().map_err(|_| format!("`{address}` is not an IPv4 address"))?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|prefix| *prefix <= 32)
            .ok_or_else(|| format!("`/{prefix}` is not a prefix length between 0 and 32"))?;
        let unmasked = Cidr { network: u32::from(address), prefix };
        let network = unmasked.network & unmasked.mask();
        if network != unmasked.network {
            let suggestion = Cidr { network, prefix };
            return Err(format!("`{text}` has host bits set; the network is `{suggestion}`"));
        }
        Ok(unmasked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> Cidr {
        text.parse().unwrap()
    }

    #[test]
    fn containment_and_overlap() {
        let vpc = cidr("10.0.0.0/16");
        assert!(vpc.contains(cidr("10.0.1.0/24")));
        assert!(!vpc.contains(cidr("10.1.0.0/24")));
        assert!(!cidr("10.0.1.0/24").contains(vpc));
        assert!(cidr("10.0.0.0/23").overlaps(cidr("10.0.1.0/24")));
        assert!(!cidr("10.0.0.0/24").overlaps(cidr("10.0.1.0/24")));
    }

    #[test]
    fn rejects_malformed_blocks() {
        assert!("10.0.0.0".parse::<Cidr>().is_err());
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("300.0.0.0/16".parse::<Cidr>().is_err());
        let message = "10.0.0.1/16".parse::<Cidr>().unwrap_err();
        assert!(message.contains("10.0.0.0/16"), "{message}");
    }
}
