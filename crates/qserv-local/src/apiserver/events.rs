//! `events.k8s.io/v1` Events share storage with core `v1` Events, as on a real server, so the
//! events a controller records through kube-runtime's `Recorder` (events.k8s.io) show up in
//! `kubectl describe` (which reads core events by `involvedObject`). Objects are stored in the
//! core form and converted field by field on the way in and out.

use serde_json::{Value, json};

/// `(events.k8s.io/v1 name, core/v1 name)` of the fields that differ; the rest are shared.
const RENAMED: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

pub fn is_events_k8s_io(group: &str, plural: &str) -> bool {
    group == "events.k8s.io" && plural == "events"
}

fn rename(obj: &Value, to_core: bool) -> Value {
    let mut obj = obj.clone();
    if let Some(fields) = obj.as_object_mut() {
        for (new, core) in RENAMED {
            let (from, to) = if to_core { (new, core) } else { (core, new) };
            if let Some(v) = fields.remove(*from) {
                fields.insert(to.to_string(), v);
            }
        }
    }
    obj
}

/// An events.k8s.io/v1 Event in the stored (core/v1) form.
pub fn to_core(obj: &Value) -> Value {
    let mut core = rename(obj, true);
    core["apiVersion"] = json!("v1");
    core["kind"] = json!("Event");
    core
}

/// A stored core/v1 Event as events.k8s.io/v1.
pub fn from_core(obj: &Value) -> Value {
    let mut event = rename(obj, false);
    event["apiVersion"] = json!("events.k8s.io/v1");
    event["kind"] = json!("Event");
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_through_the_core_form() {
        let event = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "e"}, "regarding": {"kind": "QservCluster", "name": "q"},
            "note": "workers ready", "reason": "Ready", "type": "Normal",
            "reportingController": "qserv-operator", "eventTime": "2026-01-01T00:00:00.000000Z"});
        let core = to_core(&event);
        assert_eq!(core["involvedObject"]["name"], "q");
        assert_eq!(core["message"], "workers ready");
        assert_eq!(core["reportingComponent"], "qserv-operator");
        assert_eq!(core["apiVersion"], "v1");
        assert_eq!(from_core(&core), event);
    }
}
