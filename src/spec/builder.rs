//! A small builder of specs for unit tests, so that a test says what it needs ("a VPC with one
//! public subnet and a stream") instead of carrying a YAML string. It writes the YAML a user
//! would and parses it, so every default and serde rule applies as in a real file.

use super::pipeline::Spec;

/// Builds a `Spec` for tests; `build` panics on a spec serde rejects (a broken test).
pub struct SpecBuilder {
    head: String,
    subnets: Vec<String>,
    groups: Vec<String>,
    sections: Vec<(&'static str, String)>,
}

impl SpecBuilder {
    /// Pipeline `p` in `eu-west-1`.
    pub fn new() -> SpecBuilder {
        SpecBuilder::pipeline("p", "eu-west-1")
    }

    pub fn pipeline(name: &str, region: &str) -> SpecBuilder {
        SpecBuilder {
            head: format!("version: 1\npipeline: {name}\nregion: {region}\n"),
            subnets: Vec::new(),
            groups: Vec::new(),
            sections: Vec::new(),
        }
    }

    /// A subnet of the VPC `10.0.0.0/16`, in zone `<region>a`.
    pub fn subnet(mut self, name: &str, cidr: &str, public: bool) -> SpecBuilder {
        self.subnets
            .push(format!("    - {{name: {name}, cidr: {cidr}, availability_zone: eu-west-1a, public: {public}}}\n"));
        self
    }

    /// A security group, its rules given as YAML flow mappings (`{ports: 443, group: lb}`).
    pub fn security_group(mut self, name: &str, ingress: &[&str]) -> SpecBuilder {
        self.groups.push(format!("    - {{name: {name}, ingress: [{}]}}\n", ingress.join(", ")));
        self
    }

    /// A provisioned stream with `shards` shards.
    pub fn stream(self, name: &str, shards: u32) -> SpecBuilder {
        self.item("streams", format!("{{name: {name}, shards: {shards}}}"))
    }

    pub fn bucket(self, name: &str) -> SpecBuilder {
        self.item("buckets", format!("{{name: {name}}}"))
    }

    /// Any item of a top-level list (`deliveries`, `roles`, `clusters`, …) as a YAML flow mapping.
    pub fn item(mut self, section: &'static str, yaml: String) -> SpecBuilder {
        self.sections.push((section, yaml));
        self
    }

    pub fn yaml(&self) -> String {
        let mut text = self.head.clone();
        if !self.subnets.is_empty() || !self.groups.is_empty() {
            text.push_str("network:\n  vpc: {cidr: 10.0.0.0/16}\n");
            if !self.subnets.is_empty() {
                text.push_str("  subnets:\n");
                text.extend(self.subnets.iter().map(String::as_str));
            }
            if !self.groups.is_empty() {
                text.push_str("  security_groups:\n");
                text.extend(self.groups.iter().map(String::as_str));
            }
        }
        let mut names: Vec<&str> = self.sections.iter().map(|(section, _)| *section).collect();
        names.dedup();
        for name in names {
            text.push_str(&format!("{name}:\n"));
            for (_, item) in self.sections.iter().filter(|(section, _)| *section == name) {
                text.push_str(&format!("  - {item}\n"));
            }
        }
        text
    }

    pub fn build(&self) -> Spec {
        let yaml = self.yaml();
        serde_saphyr::from_str(&yaml).unwrap_or_else(|error| panic!("test spec does not parse: {error}\n{yaml}"))
    }
}

impl Default for SpecBuilder {
    fn default() -> Self {
        SpecBuilder::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_what_it_is_told() {
        let spec = SpecBuilder::new().subnet("a", "10.0.0.0/24", true).stream("events", 2).bucket("lake").build();
        let network = spec.network.expect("network");
        assert_eq!((network.subnets.len(), network.subnets[0].public), (1, true));
        assert_eq!((spec.streams[0].shards, spec.buckets[0].name.as_str()), (Some(2), "lake"));
        assert!(super::super::validate::validate(&SpecBuilder::new().stream("events", 2).build()).is_empty());
    }
}
