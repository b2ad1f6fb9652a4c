//! Who the operator is to the API server: the field manager of everything it applies (objects,
//! status), the `app.kubernetes.io/managed-by` label of what it owns, and the reporting
//! controller of its Events.

/// Field manager of every server-side apply of the operator.
pub const MANAGER: &str = "qserv-operator";
