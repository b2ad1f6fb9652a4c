//! The QservCluster controller, as a staged pipeline: *validate* the spec (pure, in
//! `crate::api`), *build* every desired Kubernetes object (pure, [`build`]), *apply* them with
//! server-side apply and delete what is no longer desired, then *compute status* from what the
//! API server reports.
//!
//! Only the apply and status stages talk to the API server; everything under [`build`] is a
//! function of the `QservCluster` and the cluster's generated secrets, with no network, clock or
//! randomness, so it is tested on YAML fixtures.

pub mod apply;
pub mod build;
pub mod controller;
pub mod error;
pub mod scale;
pub mod status;

pub use controller::{ControllerOptions, run};
pub use error::ReconcileError;
