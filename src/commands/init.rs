//! `pipectl init`: write a commented starter spec, and the JSON Schema beside it for editors. The
//! starters are compiled in from `templates/`, so the binary needs no files.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{CommandError, GlobalArgs, Status};

/// The arguments of `pipectl init` (its help line is `cli::Command`'s).
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Which starter spec to write.
    #[arg(long, value_enum, default_value_t = Template::Minimal, value_name = "NAME")]
    pub template: Template,
    /// Where to write it (default: the -f file, pipeline.yaml).
    // Its id is not `file`, which would hide the global `-f, --file` from `init`.
    #[arg(id = "path", value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// The starter specs, each compiled in from `templates/<name>.yaml`; `--help` lists them with
/// these lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Template {
    /// One bucket and one stream.
    Minimal,
    /// A stream delivered to the lake by Firehose (JSON lines by day), with alarms.
    StreamToLake,
    /// Stream to lake as Parquet, with a Glue table and an Athena workgroup to query it.
    QueryableLake,
    /// The full night batch (the reference example): network, lake, streams, catalog, query,
    /// a Spark cluster with its nightly job, alarms.
    Clickstream,
}

impl Template {
    /// The starter's text, as in `templates/`.
    pub fn text(self) -> &'static str {
        match self {
            Template::Minimal => include_str!("../../templates/minimal.yaml"),
            Template::StreamToLake => include_str!("../../templates/stream-to-lake.yaml"),
            Template::QueryableLake => include_str!("../../templates/queryable-lake.yaml"),
            Template::Clickstream => include_str!("../../templates/clickstream.yaml"),
        }
    }

    /// Its name on the command line (`stream-to-lake`).
    pub fn name(self) -> String {
        self.to_possible_value().map(|value| value.get_name().to_string()).unwrap_or_default()
    }
}

pub fn exec(global: &GlobalArgs, args: &InitArgs) -> Result<Status, CommandError> {
    let template = args.template.name();
    let file = args.file.as_deref().unwrap_or(global.spec_file());
    let text = args.template.text();
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
        for template in Template::value_variants() {
            let name = template.name();
            if let Err(error) = crate::spec::load_bytes(&name, template.text().as_bytes()) {
                panic!("template {name} is invalid:\n{error}");
            }
        }
    }

    /// Each `templates/<name>.yaml` is the starter `--template <name>` writes, and none is left
    /// out of the command line.
    #[test]
    fn every_file_in_templates_is_offered_by_its_name() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut files: Vec<(String, String)> = std::fs::read_dir(&folder)
            .expect("templates/")
            .map(|entry| entry.expect("entry").path())
            .map(|path| {
                let name = path.file_stem().and_then(|stem| stem.to_str()).expect("a file name").to_string();
                (name, std::fs::read_to_string(&path).expect("a template"))
            })
            .collect();
        files.sort();
        let mut offered: Vec<(String, String)> =
            Template::value_variants().iter().map(|template| (template.name(), template.text().to_string())).collect();
        offered.sort();
        assert_eq!(files, offered);
    }
}
