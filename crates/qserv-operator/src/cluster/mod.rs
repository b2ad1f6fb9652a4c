//! The QservCluster controller, as a staged pipeline: *observe* (the stored status, the secrets,
//! the live worker StatefulSet), *decide* (pure, [`decide`]: validate the spec, *build* every
//! desired Kubernetes object ([`build`]), the workers a scale-down would remove), *apply* them
//! with server-side apply and delete what is no longer desired, then *compute status* (pure,
//! [`status`]) from what the API server reports, and its Events ([`decide`]).
//!
//! Only [`controller`] (observe, act, write status), [`apply`] and [`scale`] do I/O; [`decide`],
//! [`departed`], [`build`] and [`status`] are functions of their inputs, with no network, clock or
//! randomness, so they are tested on YAML fixtures and plain values.

pub mod apply;
pub mod build;
pub mod controller;
pub mod decide;
pub mod departed;
pub mod error;
pub mod render;
pub mod scale;
pub mod status;

pub use controller::{ControllerOptions, run};
pub use error::ReconcileError;
