//! Fault injection for reliability tests: the next requests whose path contains a string fail
//! with a chosen code, and open watches can be dropped (clients must resume from their last
//! resourceVersion, as after a real API server restart or a load balancer timeout).

use std::sync::Mutex;

use super::errors::ApiError;

#[derive(Debug)]
struct Fault {
    path_contains: String,
    code: u16,
    remaining: usize,
}

/// The faults still to be served.
#[derive(Debug, Default)]
pub struct Faults(Mutex<Vec<Fault>>);

impl Faults {
    pub fn add(&self, path_contains: &str, code: u16, times: usize) {
        self.lock().push(Fault {
            path_contains: path_contains.into(),
            code,
            remaining: times,
        });
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The error to answer the request `METHOD /path` with, if a fault matches (each match uses
    /// one up).
    pub fn take(&self, path: &str) -> Option<ApiError> {
        let mut faults = self.lock();
        let fault = faults
            .iter_mut()
            .find(|f| f.remaining > 0 && path.contains(&f.path_contains))?;
        fault.remaining -= 1;
        let code = fault.code;
        faults.retain(|f| f.remaining > 0);
        Some(ApiError::Injected(code))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Fault>> {
        // A fault list is always whole; a poisoned lock still holds a valid one.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_matches_its_path_the_given_number_of_times() {
        let faults = Faults::default();
        faults.add("/configmaps", 503, 2);
        assert!(faults.take("/api/v1/namespaces/default/pods").is_none());
        let err = faults
            .take("/api/v1/namespaces/default/configmaps/x")
            .expect("first");
        assert_eq!(err.code(), 503);
        assert!(faults.take("/api/v1/configmaps").is_some());
        assert!(faults.take("/api/v1/configmaps").is_none());
    }

    #[test]
    fn a_fault_can_name_the_verb_and_be_cleared() {
        let faults = Faults::default();
        faults.add(
            "PATCH /apis/apps/v1/namespaces/a/statefulsets/w",
            500,
            usize::MAX,
        );
        assert!(
            faults
                .take("GET /apis/apps/v1/namespaces/a/statefulsets/w")
                .is_none()
        );
        assert!(
            faults
                .take("PATCH /apis/apps/v1/namespaces/a/statefulsets/w")
                .is_some()
        );
        assert!(
            faults
                .take("PATCH /apis/apps/v1/namespaces/a/statefulsets/w")
                .is_some()
        );
        faults.clear();
        assert!(
            faults
                .take("PATCH /apis/apps/v1/namespaces/a/statefulsets/w")
                .is_none()
        );
    }
}
