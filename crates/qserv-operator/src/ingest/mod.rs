//! The CatalogIngest controller: partition → load (Qserv and the reference) → publish → result
//! checks, each step a Kubernetes Job running this binary (`qserv-operator job <step>`), with
//! progress and every check's outcome in status.
//!
//! - [`plan`]: the Jobs, scratch volume and results ConfigMap (pure).
//! - [`report`]: what a step reports, through the results ConfigMap.
//! - [`source`]: where the input is, before any Job runs (claim exists, local directory).
//! - [`status`]: Jobs and reports folded into status (pure).
//! - [`observe`], [`decide`] (pure), [`controller`]: the reconciler's stages.
//! - [`job`]: what the Jobs run (`qserv-operator job <step>`); [`inputs`]: the input files a
//!   step reads, checked first.

pub mod controller;
pub mod decide;
pub mod inputs;
pub mod job;
pub mod observe;
pub mod plan;
pub mod report;
pub mod source;
pub mod status;

pub use controller::{IngestOptions, run};
