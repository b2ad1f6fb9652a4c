//! A watch of our custom resources that one bad object cannot stop. kube-runtime's typed
//! watcher decodes a whole list page at once, so a single stored object that does not fit the
//! Rust type (written before a CRD change, or by an API server that did not validate it) fails
//! every list, and the controller then reconciles nothing at all. Here the resource is listed
//! and watched untyped and each object is decoded on its own: one that does not decode is
//! reported (a Warning Event `Undecodable` on it, a log line naming it and why, the metric
//! `qserv_operator_undecodable_objects_total{controller}`) and left out, and every other object
//! keeps being reconciled. When the object is fixed, its next change brings it back.
//!
//! Limits: an object that decoded before and then stops decoding keeps its last good version in
//! the controller's cache until it is fixed, or until the next relist after its deletion.

use futures::{Stream, StreamExt};

use crate::events::{Note, Publisher};
use kube::api::{ApiResource, DynamicObject};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;

/// The objects of `K` that decode, as a controller trigger, with the store it fills.
pub fn objects<K>(
    api: Api<DynamicObject>,
    config: watcher::Config,
    controller: &'static str,
    events: std::sync::Arc<Publisher>,
) -> (
    reflector::Store<K>,
    impl Stream<Item = Result<K, watcher::Error>> + Send + 'static,
)
where
    K: Resource<DynamicType = ()>
        + DeserializeOwned
        + Clone
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let resource = ApiResource::erase::<K>(&());
    let typed = watcher(api, config).filter_map(move |event| {
        let report = |obj: &DynamicObject, error: String| {
            let reference = obj.object_ref(&resource);
            let events = events.clone();
            let note = Note::warning(
                "Undecodable",
                format!("skipped by the {controller} controller: {error}"),
            );
            tokio::spawn(async move { events.publish_about(&reference, &[note]).await });
        };
        std::future::ready(match event {
            Ok(event) => decode_event::<K>(event, controller, report).map(Ok),
            Err(e) => Some(Err(e)),
        })
    });
    (reader, reflector(writer, typed).applied_objects())
}

/// The untyped Api of `K`'s resource, namespaced or across namespaces.
pub fn dynamic_api<K: Resource<DynamicType = ()>>(
    client: kube::Client,
    namespace: Option<&str>,
) -> Api<DynamicObject> {
    let resource = ApiResource::erase::<K>(&());
    match namespace {
        Some(ns) => Api::namespaced_with(client, ns, &resource),
        None => Api::all_with(client, &resource),
    }
}

/// The event with its object decoded; `report` is told of an object that does not decode.
fn decode_event<K>(
    event: watcher::Event<DynamicObject>,
    controller: &'static str,
    report: impl Fn(&DynamicObject, String),
) -> Option<watcher::Event<K>>
where
    K: Resource<DynamicType = ()> + DeserializeOwned,
{
    use watcher::Event;
    let reported = |o: DynamicObject| match decode(&o, controller) {
        Ok(k) => Some(k),
        Err(error) => {
            report(&o, error);
            None
        }
    };
    match event {
        Event::Apply(o) => reported(o).map(Event::Apply),
        Event::InitApply(o) => reported(o).map(Event::InitApply),
        Event::Delete(o) => deleted(o).map(Event::Delete),
        Event::Init => Some(Event::Init),
        Event::InitDone => Some(Event::InitDone),
    }
}

/// `obj` as `K`, or why it does not decode (logged and counted).
pub fn decode<K: DeserializeOwned>(
    obj: &DynamicObject,
    controller: &'static str,
) -> Result<K, String> {
    let name = format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any());
    let decoded = serde_json::to_value(obj).and_then(serde_json::from_value);
    decoded.map_err(|e| {
        tracing::warn!(controller, object = %name, error = %e, "skipping an object that does not decode");
        crate::metrics::global().undecodable(controller);
        e.to_string()
    })
}

/// A deleted object as `K`, to take it out of the cache; one that does not decode was never
/// in it.
fn deleted<K: DeserializeOwned>(obj: DynamicObject) -> Option<K> {
    serde_json::from_value(serde_json::to_value(&obj).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::QservCluster;

    fn dynamic(spec: serde_json::Value) -> DynamicObject {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "qserv.in2p3.fr/v1alpha1", "kind": "QservCluster",
            "metadata": {"name": "q", "namespace": "ns"}, "spec": spec
        }))
        .unwrap()
    }

    #[test]
    fn a_good_object_decodes_and_a_bad_one_is_counted_and_skipped() {
        let good = dynamic(serde_json::json!({"workers": {"replicas": 2}}));
        let c: QservCluster = decode(&good, "test-decode").unwrap();
        assert_eq!(c.spec.workers.replicas, 2);
        let before = crate::metrics::global().undecodable_count("test-decode");
        let bad = dynamic(serde_json::json!({"workers": {"replicas": 99_999_999_999_i64}}));
        let error = decode::<QservCluster>(&bad, "test-decode").unwrap_err();
        assert!(
            error.contains("invalid value: integer `99999999999`"),
            "{error}"
        );
        assert_eq!(
            crate::metrics::global().undecodable_count("test-decode"),
            before + 1
        );
        // The events follow: a bad Apply is dropped, Init/InitDone pass.
        let bad = dynamic(serde_json::json!({"workers": {"replicas": "two"}}));
        let reports = std::cell::RefCell::new(Vec::new());
        let report = |o: &DynamicObject, e: String| reports.borrow_mut().push((o.name_any(), e));
        let event = decode_event::<QservCluster>(watcher::Event::Apply(bad), "test-decode", report);
        assert!(event.is_none());
        assert_eq!(reports.borrow().len(), 1);
        assert_eq!(reports.borrow()[0].0, "q");
        let init = decode_event::<QservCluster>(watcher::Event::Init, "test-decode", |_, _| {});
        assert!(matches!(init, Some(watcher::Event::Init)));
    }
}
