//! `pipectl init`: write a commented starter spec, and the JSON Schema beside it for editors. The
//! starters are compiled in from `templates/`, so the binary needs no files.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::{CommandError, GlobalArgs, Status};

/// The arguments of `pipectl init` (its help line is `cli::Command`'s).
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Which starter: `minimal` or `clickstream`.
    #[arg(long, default_value = "minimal", value_name = "NAME")]
    pub template: String,
    /// Where to write it (default: the -f file, pipeline.yaml).
    pub file: Option<PathBuf>,
}

/// (name, description, text) of every starter spec.
pub const TEMPLATES: [(&str, &str, &str); 2] = [
    ("minimal", "one bucket and one stream", include_str!("../../templates/minimal.yaml")),
    (
        "clickstream",
        "the reference pipeline: network, lake bucket, event streams",
        include_str!("../../templates/clickstream.yaml"),
    ),
];

fn find(name: &str) -> Option<&'static str> {
    TEMPLATES.iter().find(|(template, _, _)| *template == name).map(|(_, _, text)| *text)
}

pub fn exec(global: &GlobalArgs, args: &InitArgs) -> Result<Status, CommandError> {
    let template = args.template.as_str();
    let file = args.file.as_deref().unwrap_or(global.spec_file());
    let text = find(template).ok_or_else(|| {
        let names: Vec<&str> = TEMPLATES.iter().map(|(name, _, _)| *name).collect();
        CommandError::Refused(format!("no template named `{template}`; choose one of: {}", names.join(", ")))
    })?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    let mut handle = options.open(file).map_err(|error| match error.kind() {
        std::io::ErrorKind::AlreadyExists => CommandError::Refused(format!(
            "{} already exists; pipectl init never overwrites a file (choose another name)",
            file.display()
        )),
        _ => CommandError::Failed(format!("cannot write {}: {error}", file.display())),
    })?;
    // The template's schema comment points into the repository; the written spec points at the
    // schema written beside it, which works offline and matches this pipectl.
    let text = text.replacen(crate::spec::SCHEMA_COMMENT_IN_REPOSITORY, crate::spec::SCHEMA_COMMENT_BESIDE_SPEC, 1);
    handle
        .write_all(text.as_bytes())
        .map_err(|error| CommandError::Failed(format!("cannot write {}: {error}", file.display())))?;
    outln!(
        "Wrote the `{template}` starter spec to {}. Next: edit it, then `pipectl plan -f {}`.",
        file.display(),
        file.display()
    );
    let schema = file.with_file_name(crate::spec::SCHEMA_FILE);
    let written =
        options.open(&schema).and_then(|mut handle| handle.write_all(crate::spec::spec_schema_text().as_bytes()));
    match written {
        Ok(()) => {
            outln!("Wrote its JSON Schema to {} for your editor (refresh it with `pipectl schema`).", schema.display())
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            outln!("Kept {}; `pipectl schema > {}` refreshes it.", schema.display(), schema.display())
        }
        Err(error) => return Err(CommandError::Failed(format!("cannot write {}: {error}", schema.display()))),
    }
    Ok(Status::Success)
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
