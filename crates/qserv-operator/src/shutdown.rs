//! The signal that stops a controller: one boxed future type, so the controllers' `run`
//! functions are not generic and kube-runtime's machinery is compiled once, here, instead of
//! in every caller (the binary, local mode, tests).

use std::future::Future;
use std::pin::Pin;

/// Resolves when the controller should stop.
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send + Sync + 'static>>;

/// `signal` as a [`Shutdown`].
pub fn on(signal: impl Future<Output = ()> + Send + Sync + 'static) -> Shutdown {
    Box::pin(signal)
}
