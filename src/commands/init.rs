//! Starter specs for `pipectl init`, compiled in from `templates/` so the binary needs no files.

/// (name, description, text) of every starter spec.
pub const TEMPLATES: [(&str, &str, &str); 2] = [
    ("minimal", "one bucket and one stream", include_str!("../../templates/minimal.yaml")),
    (
        "clickstream",
        "the reference pipeline: network, lake bucket, event streams",
        include_str!("../../templates/clickstream.yaml"),
    ),
];

pub fn find(name: &str) -> Option<&'static str> {
    TEMPLATES.iter().find(|(template, _, _)| *template == name).map(|(_, _, text)| *text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_is_a_valid_spec() {
        for (name, _, text) in TEMPLATES {
            if let Err(error) = crate::spec::load_bytes(name, text.as_bytes()) {
                panic!("template {name} is invalid:\n{error}");
            }
        }
    }
}
