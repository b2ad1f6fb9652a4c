//! Kubernetes Events of both controllers: decided as plain [`Note`]s by the pure stages, published
//! by the act stage. A failure to publish is logged, never a reconcile error (events are for
//! people; the status is the record).

use kube::Resource;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};

use crate::identity::MANAGER;

/// One Event to publish about the reconciled object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub warning: bool,
    pub reason: String,
    pub message: String,
}

impl Note {
    pub fn normal(reason: impl Into<String>, message: impl Into<String>) -> Note {
        Note {
            warning: false,
            reason: reason.into(),
            message: message.into(),
        }
    }

    pub fn warning(reason: impl Into<String>, message: impl Into<String>) -> Note {
        Note {
            warning: true,
            reason: reason.into(),
            message: message.into(),
        }
    }
}

/// Publishes [`Note`]s as this operator (`reportingController` = the field manager; the instance
/// is the pod, `POD_NAME`).
pub struct Publisher {
    recorder: Recorder,
    action: &'static str,
}

impl Publisher {
    /// `action`: what the controller was doing (`Reconcile`, `Ingest`).
    pub fn new(client: kube::Client, action: &'static str) -> Publisher {
        let reporter = Reporter {
            controller: MANAGER.into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Publisher {
            recorder: Recorder::new(client, reporter),
            action,
        }
    }

    /// Publishes `notes` in order about `object`.
    pub async fn publish<K: Resource<DynamicType = ()>>(&self, object: &K, notes: &[Note]) {
        self.publish_about(&object.object_ref(&()), notes).await;
    }

    /// Publishes `notes` about the object `reference` names (one that may not decode).
    pub async fn publish_about(
        &self,
        reference: &k8s_openapi::api::core::v1::ObjectReference,
        notes: &[Note],
    ) {
        for note in notes {
            let event = Event {
                type_: if note.warning {
                    EventType::Warning
                } else {
                    EventType::Normal
                },
                reason: note.reason.clone(),
                note: Some(note.message.clone()),
                action: self.action.into(),
                secondary: None,
            };
            if let Err(e) = self.recorder.publish(&event, reference).await {
                tracing::warn!(%e, reason = %note.reason, "cannot publish event");
            }
        }
    }
}
