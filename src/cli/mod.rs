//! Subcommands that orchestrate several parts of the library for a person at a terminal.

pub mod demo;
pub mod ingest;
pub mod partition;
pub mod run;
