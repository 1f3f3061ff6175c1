//! The pipeline spec: the YAML model, loading with source positions, and validation.
//!
//! Callers use `load_file`; everything it returns has passed validation, so later stages can rely
//! on names being unique, references resolving and numbers being in range.

#[cfg(test)]
mod builder;
mod cidr;
mod group;
mod load;
mod source;
mod suggest;
mod types;
mod validate;

#[cfg(test)]
pub use builder::SpecBuilder;
pub use group::Group;
pub use load::{load_bytes, load_file, Diagnostic, LoadedSpec, SpecError};
pub use types::*;
pub use validate::port_range;
