//! The CRD controller's part: a stored CustomResourceDefinition serves its kinds and is
//! reported Established; deleting it stops serving them and deletes their objects.

use serde_json::{Value, json};

use super::{EventType, ResourceType, Store, meta_str, now, resources};

impl Store {
    /// Serves the CRD's kinds and reports it Established, as the real CRD controller would.
    pub(super) fn register_crd(&mut self, crd: &mut Value) {
        let name = meta_str(crd, "name").to_string();
        self.types
            .retain(|t| t.crd.as_ref().is_none_or(|c| c.name != name));
        let mut status = json!({
            "acceptedNames": crd["spec"]["names"].clone(),
            "storedVersions": crd["spec"]["versions"].as_array().map(|vs| vs.iter()
                .filter(|v| v["storage"].as_bool() == Some(true))
                .map(|v| v["name"].clone()).collect::<Vec<_>>()).unwrap_or_default(),
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                 "message": "no conflicts found", "lastTransitionTime": now()},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                 "message": "the initial names have been accepted", "lastTransitionTime": now()},
            ],
        });
        if let Some(existing) = crd["status"]["conditions"].as_array()
            && !existing.is_empty()
        {
            status["conditions"] = json!(existing);
        }
        crd["status"] = status;
        self.types.extend(resources::from_crd(crd));
    }

    pub(super) fn unregister_crd(&mut self, name: &str) {
        let gone: Vec<ResourceType> = self
            .types
            .iter()
            .filter(|t| t.crd.as_ref().is_some_and(|c| c.name == name))
            .cloned()
            .collect();
        if let Some(rt) = gone.first()
            && let Some(objects) = self.objects.remove(&rt.storage_key())
        {
            for (_, mut obj) in objects {
                let rv = self.next_rv();
                obj["metadata"]["resourceVersion"] = json!(rv.to_string());
                self.emit(EventType::Deleted, rt.storage_key(), obj, None);
            }
        }
        self.types
            .retain(|t| t.crd.as_ref().is_none_or(|c| c.name != name));
    }
}
