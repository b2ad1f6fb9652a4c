//! In-memory storage: objects as JSON, one global resourceVersion counter (like etcd's revision),
//! a bounded history of events for watches to resume from, and the side effects the real API
//! server's controllers would have: CRD registration, finalizers, ownerReference cascade and
//! namespace deletion.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::errors::{ApiError, ApiResult};
use super::events;
use super::resources::{self, ResourceType};

mod crds;
mod gc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, as sent to watchers.
#[derive(Debug)]
pub struct Event {
    pub rv: u64,
    pub kind: EventType,
    /// `(group, plural)` of the changed object.
    pub storage: (String, String),
    pub object: Value,
    /// For MODIFIED: the object before, so a watch can tell it entered or left its selector.
    pub previous: Option<Value>,
}

type Objects = BTreeMap<(String, String), Value>;

/// Events to replay, then the live ones.
pub type Subscription = (Vec<Arc<Event>>, mpsc::UnboundedReceiver<Arc<Event>>);

/// What `DeleteOptions.propagationPolicy` asks for. Foreground is treated as Background: the
/// owner goes first and dependents follow in the same step (documented in the module).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Cascade,
    Orphan,
}

pub struct Store {
    pub types: Vec<ResourceType>,
    objects: HashMap<(String, String), Objects>,
    rv: u64,
    history: VecDeque<Arc<Event>>,
    history_limit: usize,
    /// Highest resourceVersion whose event is no longer in `history`.
    compacted: u64,
    watchers: Vec<mpsc::UnboundedSender<Arc<Event>>>,
}

pub fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

pub fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj["metadata"][field].as_str().unwrap_or_default()
}

fn not_found(rt: &ResourceType, name: &str) -> ApiError {
    ApiError::NotFound {
        group: rt.group.clone(),
        kind: rt.plural.clone(),
        name: name.into(),
    }
}

impl Store {
    pub fn new(history_limit: usize) -> Self {
        let mut store = Store {
            types: resources::builtins(),
            objects: HashMap::new(),
            rv: 0,
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
            compacted: 0,
            watchers: Vec::new(),
        };
        let ns = store
            .find("", "v1", "namespaces")
            .expect("namespaces is a built-in");
        for name in ["default", "kube-system", "kube-public"] {
            let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name},
                             "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
            store
                .create(&ns, obj)
                .expect("fresh store has no namespaces");
        }
        store
    }

    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<ResourceType> {
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
            .cloned()
    }

    pub fn get(&self, rt: &ResourceType, ns: &str, name: &str) -> ApiResult<Value> {
        self.objects
            .get(&rt.storage_key())
            .and_then(|m| m.get(&(ns.to_string(), name.to_string())))
            .map(|o| with_api_version(o, rt))
            .ok_or_else(|| not_found(rt, name))
    }

    /// Objects of one type, in one namespace or all (`ns == None`), ordered by namespace and name.
    pub fn list(&self, rt: &ResourceType, ns: Option<&str>) -> Vec<Value> {
        self.objects
            .get(&rt.storage_key())
            .map(|m| {
                m.iter()
                    .filter(|((o_ns, _), _)| ns.is_none_or(|n| n == o_ns))
                    .map(|(_, o)| with_api_version(o, rt))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    fn emit(
        &mut self,
        kind: EventType,
        storage: (String, String),
        object: Value,
        previous: Option<Value>,
    ) {
        let event = Arc::new(Event {
            rv: self.rv,
            kind,
            storage,
            object,
            previous,
        });
        self.history.push_back(event.clone());
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.compacted = old.rv;
            }
        }
        self.watchers.retain(|w| w.send(event.clone()).is_ok());
    }

    /// Events after `since` plus a channel of the ones to come, taken atomically so none is lost.
    pub fn subscribe(&mut self, since: u64) -> ApiResult<Subscription> {
        if since < self.compacted {
            return Err(ApiError::Gone {
                requested: since,
                oldest: self.compacted + 1,
            });
        }
        let replay = self
            .history
            .iter()
            .filter(|e| e.rv > since)
            .cloned()
            .collect();
        let (tx, rx) = mpsc::unbounded_channel();
        self.watchers.push(tx);
        Ok((replay, rx))
    }

    /// Ends every watch stream (fault injection).
    pub fn drop_watchers(&mut self) {
        self.watchers.clear();
    }

    /// Stores a new object; the caller has filled `metadata.name` and validated it.
    pub fn create(&mut self, rt: &ResourceType, obj: Value) -> ApiResult<Value> {
        let mut obj = stored_form(rt, obj);
        check_size(&obj)?;
        let ns = if rt.namespaced {
            meta_str(&obj, "namespace").to_string()
        } else {
            String::new()
        };
        let name = meta_str(&obj, "name").to_string();
        if rt.namespaced && self.get_namespace(&ns).is_none() {
            return Err(ApiError::NotFound {
                group: String::new(),
                kind: "namespaces".into(),
                name: ns,
            });
        }
        let key = (ns.clone(), name.clone());
        if self
            .objects
            .get(&rt.storage_key())
            .is_some_and(|m| m.contains_key(&key))
        {
            return Err(ApiError::AlreadyExists {
                group: rt.group.clone(),
                kind: rt.plural.clone(),
                name,
            });
        }
        let rv = self.next_rv();
        let meta = obj["metadata"]
            .as_object_mut()
            .ok_or_else(|| ApiError::BadRequest("metadata must be an object".into()))?;
        meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        meta.insert("resourceVersion".into(), json!(rv.to_string()));
        meta.insert("creationTimestamp".into(), json!(now()));
        meta.insert("generation".into(), json!(1));
        meta.remove("deletionTimestamp");
        if rt.namespaced {
            meta.insert("namespace".into(), json!(ns));
        } else {
            meta.remove("namespace");
        }
        if is_crd(rt) {
            self.register_crd(&mut obj);
        }
        if rt.group == "batch" && rt.kind == "Job" {
            super::jobs::generate_selector(&mut obj);
        }
        self.objects
            .entry(rt.storage_key())
            .or_default()
            .insert(key, obj.clone());
        self.emit(EventType::Added, rt.storage_key(), obj.clone(), None);
        self.collect_if_orphaned(rt, &obj);
        Ok(with_api_version(&obj, rt))
    }

    /// Stores a changed object (the caller checked resourceVersion and prepared metadata). An
    /// object being deleted whose last finalizer was just removed goes away instead.
    pub fn replace(&mut self, rt: &ResourceType, obj: Value) -> ApiResult<Value> {
        let mut obj = stored_form(rt, obj);
        check_size(&obj)?;
        let ns = meta_str(&obj, "namespace").to_string();
        let name = meta_str(&obj, "name").to_string();
        if !obj["metadata"]["deletionTimestamp"].is_null() && finalizers(&obj).is_empty() {
            return self.remove(rt, &ns, &name, Propagation::Cascade);
        }
        // As the real API server: a write that changes nothing (managedFields timestamps aside)
        // keeps the resourceVersion and sends no watch event. Without this every reconcile's
        // applies would wake the controllers watching the objects, forever.
        if let Some(stored) = self
            .objects
            .get(&rt.storage_key())
            .and_then(|o| o.get(&(ns.clone(), name.clone())))
            && same_content(stored, &obj)
        {
            return Ok(with_api_version(stored, rt));
        }
        let rv = self.next_rv();
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        if is_crd(rt) {
            self.register_crd(&mut obj);
        }
        let previous = self
            .objects
            .entry(rt.storage_key())
            .or_default()
            .insert((ns, name), obj.clone());
        self.emit(EventType::Modified, rt.storage_key(), obj.clone(), previous);
        self.collect_if_orphaned(rt, &obj);
        Ok(with_api_version(&obj, rt))
    }

    /// DELETE: with finalizers the object only gets a deletionTimestamp; without, it goes away
    /// together with its dependents (or they lose their ownerReference, for Orphan).
    pub fn delete(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        propagation: Propagation,
    ) -> ApiResult<Value> {
        let obj = self.get(rt, ns, name)?;
        if finalizers(&obj).is_empty() {
            return self.remove(rt, ns, name, propagation);
        }
        if !obj["metadata"]["deletionTimestamp"].is_null() {
            return Ok(obj);
        }
        let mut obj = obj;
        obj["metadata"]["deletionTimestamp"] = json!(now());
        obj["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        self.replace(rt, obj)
    }

    fn remove(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        propagation: Propagation,
    ) -> ApiResult<Value> {
        let mut obj = self
            .objects
            .get_mut(&rt.storage_key())
            .and_then(|m| m.remove(&(ns.to_string(), name.to_string())))
            .ok_or_else(|| not_found(rt, name))?;
        // Like etcd, a deletion is a revision of its own; watchers see the object at that version.
        let rv = self.next_rv();
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        self.emit(EventType::Deleted, rt.storage_key(), obj.clone(), None);
        let uid = meta_str(&obj, "uid").to_string();
        if is_crd(rt) {
            self.unregister_crd(name);
        }
        if rt.group.is_empty() && rt.plural == "namespaces" {
            self.delete_namespace_contents(name);
        }
        self.cascade(&uid, propagation);
        Ok(with_api_version(&obj, rt))
    }

    fn all_objects(&self) -> impl Iterator<Item = (&(String, String), &Value)> {
        self.objects
            .iter()
            .flat_map(|(storage, m)| m.values().map(move |o| (storage, o)))
    }

    fn storage_type(&self, storage: &(String, String)) -> Option<ResourceType> {
        self.types
            .iter()
            .find(|t| &t.storage_key() == storage)
            .cloned()
    }

    fn get_namespace(&self, name: &str) -> Option<&Value> {
        self.objects
            .get(&(String::new(), "namespaces".to_string()))
            .and_then(|m| m.get(&(String::new(), name.to_string())))
    }
}

/// The largest object etcd stores: its default `--max-request-bytes`, 1.5 MiB (etcd
/// `server/embed/config.go` `DefaultMaxRequestBytes = 1.5 * 1024 * 1024`; "System limits" in
/// etcd's docs). The real limit applies to etcd's request (key and protobuf-encoded object, or
/// JSON for custom resources); this one to the object's JSON, which for built-in kinds is a
/// little larger than their protobuf form.
pub const MAX_OBJECT_BYTES: usize = 3 << 19;

fn check_size(obj: &Value) -> ApiResult<()> {
    let mut counter = ByteCounter(0);
    // Counting the serialized bytes without keeping them.
    let _ = serde_json::to_writer(&mut counter, obj);
    if counter.0 > MAX_OBJECT_BYTES {
        return Err(ApiError::ObjectTooLarge);
    }
    Ok(())
}

struct ByteCounter(usize);

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn stored_form(rt: &ResourceType, obj: Value) -> Value {
    if events::is_events_k8s_io(&rt.group, &rt.plural) {
        events::to_core(&obj)
    } else {
        obj
    }
}

/// Equal but for the resourceVersion and the times of managedFields entries.
fn same_content(stored: &Value, new: &Value) -> bool {
    let normal = |obj: &Value| {
        let mut obj = obj.clone();
        if let Some(meta) = obj["metadata"].as_object_mut() {
            meta.remove("resourceVersion");
            if let Some(fields) = meta.get_mut("managedFields").and_then(Value::as_array_mut) {
                for entry in fields.iter_mut().filter_map(Value::as_object_mut) {
                    entry.remove("time");
                }
            }
        }
        obj
    };
    normal(stored) == normal(new)
}

pub fn finalizers(obj: &Value) -> Vec<Value> {
    obj["metadata"]["finalizers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn is_crd(rt: &ResourceType) -> bool {
    rt.group == "apiextensions.k8s.io" && rt.plural == "customresourcedefinitions"
}

/// Objects are stored once per group/resource; reading through a version shows that version.
pub fn with_api_version(obj: &Value, rt: &ResourceType) -> Value {
    if events::is_events_k8s_io(&rt.group, &rt.plural) {
        return events::from_core(obj);
    }
    let mut obj = obj.clone();
    obj["apiVersion"] = json!(rt.api_version());
    obj["kind"] = json!(rt.kind);
    obj
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cm(ns: &str, name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": name, "namespace": ns}})
    }

    fn types(store: &Store) -> (ResourceType, ResourceType, ResourceType) {
        let find = |g: &str, p: &str| store.find(g, "v1", p).expect("built-in");
        (
            find("", "configmaps"),
            find("", "namespaces"),
            find("apiextensions.k8s.io", "customresourcedefinitions"),
        )
    }

    #[test]
    fn deleting_a_namespace_deletes_what_is_in_it() {
        let mut store = Store::new(100);
        let (cms, nss, _) = types(&store);
        store
            .create(&nss, json!({"metadata": {"name": "q"}}))
            .expect("namespace");
        store.create(&cms, cm("q", "a")).expect("in q");
        store.create(&cms, cm("default", "b")).expect("in default");
        store
            .delete(&nss, "", "q", Propagation::Cascade)
            .expect("namespace deleted");
        let left: Vec<String> = store
            .list(&cms, None)
            .iter()
            .map(|o| meta_str(o, "name").to_string())
            .collect();
        assert_eq!(left, ["b"]);
        assert!(matches!(
            store.create(&cms, cm("q", "c")),
            Err(ApiError::NotFound { .. })
        ));
    }

    #[test]
    fn a_crd_serves_its_kind_until_deleted_with_its_objects() {
        let mut store = Store::new(100);
        let (_, _, crds) = types(&store);
        let crd = serde_json::to_value(&qserv_operator::api::crds()[0].1).expect("crd json");
        let stored = store.create(&crds, crd).expect("crd stored");
        assert_eq!(stored["status"]["conditions"][1]["type"], "Established");
        let qsc = store
            .find("qserv.in2p3.fr", "v1alpha1", "qservclusters")
            .expect("served");
        store
            .create(
                &qsc,
                json!({"metadata": {"name": "q", "namespace": "default"}, "spec": {}}),
            )
            .expect("a QservCluster");
        store
            .delete(
                &crds,
                "",
                "qservclusters.qserv.in2p3.fr",
                Propagation::Cascade,
            )
            .expect("crd deleted");
        assert!(
            store
                .find("qserv.in2p3.fr", "v1alpha1", "qservclusters")
                .is_none()
        );
        assert!(store.list(&qsc, None).is_empty());
    }

    #[test]
    fn history_is_bounded_and_older_versions_are_gone() {
        let mut store = Store::new(2);
        let (cms, _, _) = types(&store);
        let start = store.resource_version();
        for name in ["a", "b", "c"] {
            store.create(&cms, cm("default", name)).expect("created");
        }
        assert!(matches!(store.subscribe(start), Err(ApiError::Gone { .. })));
        let (replay, _rx) = store.subscribe(start + 1).expect("still in history");
        let names: Vec<&str> = replay.iter().map(|e| meta_str(&e.object, "name")).collect();
        assert_eq!(names, ["b", "c"]);
    }
}
