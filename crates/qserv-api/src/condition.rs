//! Status conditions shared by both kinds (`Ready`, `Progressing`, `Degraded`, ...).
//!
//! Conditions follow the Kubernetes API conventions (`metav1.Condition`): a CamelCase reason, a
//! human message, the generation they were computed for, and a `lastTransitionTime` that moves
//! only when `status` flips — so `kubectl wait --for=condition=Ready` and dashboards see real
//! transitions, not every reconcile.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

pub const READY: &str = "Ready";
pub const PROGRESSING: &str = "Progressing";
pub const DEGRADED: &str = "Degraded";

/// The desired state of one condition, before it is merged into a status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionUpdate {
    pub type_: String,
    pub status: bool,
    pub reason: String,
    pub message: String,
}

impl ConditionUpdate {
    pub fn new(type_: &str, status: bool, reason: &str, message: impl Into<String>) -> Self {
        ConditionUpdate {
            type_: type_.to_string(),
            status,
            reason: reason.to_string(),
            message: message.into(),
        }
    }
}

fn status_str(status: bool) -> &'static str {
    if status { "True" } else { "False" }
}

/// Sets `update` in `conditions`, keeping `lastTransitionTime` when the status did not change.
/// Returns true when anything visible changed.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    update: ConditionUpdate,
    observed_generation: Option<i64>,
    now: Timestamp,
) -> bool {
    let status = status_str(update.status).to_string();
    match conditions.iter_mut().find(|c| c.type_ == update.type_) {
        Some(existing) => {
            let changed = existing.status != status
                || existing.reason != update.reason
                || existing.message != update.message
                || existing.observed_generation != observed_generation;
            if existing.status != status {
                existing.last_transition_time = Time(now);
            }
            existing.status = status;
            existing.reason = update.reason;
            existing.message = update.message;
            existing.observed_generation = observed_generation;
            changed
        }
        None => {
            conditions.push(Condition {
                type_: update.type_,
                status,
                reason: update.reason,
                message: update.message,
                observed_generation,
                last_transition_time: Time(now),
            });
            true
        }
    }
}

/// The condition of `type_`, if present.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// True when the condition `type_` is present with status `True`.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    find(conditions, type_).is_some_and(|c| c.status == "True")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    #[test]
    fn transition_time_moves_only_when_status_flips() {
        let mut conds = Vec::new();
        assert!(set_condition(
            &mut conds,
            ConditionUpdate::new(READY, false, "Creating", "0/3 workers ready"),
            Some(1),
            t(0)
        ));
        // Same status, new message: visible change, same transition time.
        assert!(set_condition(
            &mut conds,
            ConditionUpdate::new(READY, false, "Creating", "2/3 workers ready"),
            Some(1),
            t(10)
        ));
        assert_eq!(conds[0].last_transition_time, Time(t(0)));
        assert_eq!(conds[0].message, "2/3 workers ready");
        // Identical update: nothing changes.
        assert!(!set_condition(
            &mut conds,
            ConditionUpdate::new(READY, false, "Creating", "2/3 workers ready"),
            Some(1),
            t(20)
        ));
        // Flip to True: transition time moves, generation recorded.
        assert!(set_condition(
            &mut conds,
            ConditionUpdate::new(READY, true, "AllComponentsReady", "all components ready"),
            Some(2),
            t(30)
        ));
        let ready = find(&conds, READY).unwrap();
        assert_eq!(ready.status, "True");
        assert_eq!(ready.reason, "AllComponentsReady");
        assert_eq!(ready.observed_generation, Some(2));
        assert_eq!(ready.last_transition_time, Time(t(30)));
        assert!(is_true(&conds, READY));
        assert!(!is_true(&conds, DEGRADED));
    }

    #[test]
    fn conditions_of_different_types_are_independent() {
        let mut conds = Vec::new();
        set_condition(
            &mut conds,
            ConditionUpdate::new(READY, true, "Ok", "ok"),
            Some(1),
            t(0),
        );
        set_condition(
            &mut conds,
            ConditionUpdate::new(DEGRADED, true, "WorkerDown", "w1"),
            Some(1),
            t(5),
        );
        assert_eq!(conds.len(), 2);
        assert_eq!(
            find(&conds, READY).unwrap().last_transition_time,
            Time(t(0))
        );
        assert_eq!(find(&conds, DEGRADED).unwrap().reason, "WorkerDown");
    }
}
