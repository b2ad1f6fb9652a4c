//! The embedded API server of local mode, driven by the real `kube::Client`: CRUD, selectors,
//! watches (resume, 410, bookmarks, kube-runtime's watcher), server-side apply, finalizers,
//! ownerReference cascade, the status subresource and validation of our custom resources.

use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams,
    WatchEvent, WatchParams,
};
use kube::runtime::watcher;
use qserv_local::apiserver::{LocalApiServer, Options};
use qserv_operator::api::{CatalogIngest, QservCluster};
use serde_json::{Value, json};

/// Only a guard against a hang: events arrive at once, the test never waits this long.
const PATIENCE: Duration = Duration::from_secs(20);

async fn start(opts: Options) -> (LocalApiServer, kube::Client) {
    let server = LocalApiServer::start(opts).await.expect("server starts");
    let client = server.client().expect("client");
    (server, client)
}

async fn server() -> (LocalApiServer, kube::Client) {
    start(Options::default()).await
}

fn config_map(name: &str, labels: Value, data: Value) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels}, "data": data
    }))
    .expect("a ConfigMap")
}

fn qserv_cluster(name: &str, replicas: i64) -> QservCluster {
    serde_json::from_value(json!({
        "apiVersion": "qserv.in2p3.fr/v1alpha1", "kind": "QservCluster",
        "metadata": {"name": name}, "spec": {"workers": {"replicas": replicas}}
    }))
    .expect("a QservCluster")
}

fn stateful_set(name: &str) -> StatefulSet {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"serviceName": name, "replicas": 1,
                 "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "db", "image": "mariadb"}]}}}
    }))
    .expect("a StatefulSet")
}

/// The Status of an API error, or a panic naming what came instead.
fn api_status<T: std::fmt::Debug>(result: kube::Result<T>) -> kube::core::Status {
    match result {
        Err(kube::Error::Api(status)) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

async fn next<S, T>(stream: &mut S) -> T
where
    S: Stream<Item = T> + Unpin,
{
    tokio::time::timeout(PATIENCE, stream.next())
        .await
        .expect("an event before the patience runs out")
        .expect("the stream goes on")
}

/// The next watch event that is not a bookmark (those come on a timer).
async fn next_change<S, K>(stream: &mut S) -> WatchEvent<K>
where
    S: Stream<Item = kube::Result<WatchEvent<K>>> + Unpin,
{
    loop {
        match next(stream).await.expect("event") {
            WatchEvent::Bookmark(_) => continue,
            other => return other,
        }
    }
}

fn rv<K: kube::Resource>(obj: &K) -> String {
    obj.meta()
        .resource_version
        .clone()
        .expect("resourceVersion")
}

fn names(list: &[ConfigMap]) -> Vec<String> {
    list.iter()
        .map(|c| c.metadata.name.clone().unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn config_map_crud_with_selectors_and_errors() {
    let (_server, client) = server().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let pp = PostParams::default();
    let workers = json!({"app": "qserv", "tier": "worker"});
    for (name, labels) in [
        ("w0", workers.clone()),
        ("w1", workers),
        ("czar", json!({"app": "qserv", "tier": "czar"})),
        ("other", json!({"app": "else"})),
    ] {
        let created = cms
            .create(&pp, &config_map(name, labels, json!({"k": name})))
            .await
            .expect("created");
        assert!(created.metadata.uid.is_some() && created.metadata.creation_timestamp.is_some());
    }
    let list = |sel: &str| {
        let cms = cms.clone();
        let lp = ListParams::default().labels(sel);
        async move { names(&cms.list(&lp).await.expect("listed").items) }
    };
    assert_eq!(list("app=qserv,tier in (worker)").await, ["w0", "w1"]);
    assert_eq!(list("app==qserv,tier!=worker").await, ["czar"]);
    assert_eq!(list("tier notin (worker)").await, ["czar", "other"]);
    assert_eq!(list("!tier").await, ["other"]);
    assert_eq!(list("tier").await, ["czar", "w0", "w1"]);
    let by_name = cms
        .list(&ListParams::default().fields("metadata.name=czar,metadata.namespace=default"))
        .await
        .expect("listed");
    assert_eq!(names(&by_name.items), ["czar"]);

    let got = cms.get("w0").await.expect("got");
    assert_eq!(got.data.expect("data")["k"], "w0");

    let dup = api_status(
        cms.create(&pp, &config_map("w0", json!({}), json!({})))
            .await,
    );
    assert_eq!((dup.code, dup.reason.as_str()), (409, "AlreadyExists"));
    let bad_name = api_status(
        cms.create(&pp, &config_map("Bad_Name", json!({}), json!({})))
            .await,
    );
    assert_eq!((bad_name.code, bad_name.reason.as_str()), (422, "Invalid"));
    let bad_label = api_status(
        cms.create(&pp, &config_map("ok", json!({"app": "-x"}), json!({})))
            .await,
    );
    assert_eq!(
        bad_label.details.expect("details").causes[0].field,
        "metadata.labels.app"
    );
    let missing = api_status(cms.get("nope").await);
    assert_eq!((missing.code, missing.reason.as_str()), (404, "NotFound"));
    let elsewhere: Api<ConfigMap> = Api::namespaced(cms.clone().into_client(), "no-such-ns");
    let no_ns = api_status(
        elsewhere
            .create(&pp, &config_map("x", json!({}), json!({})))
            .await,
    );
    assert_eq!(no_ns.code, 404);

    let bad_selector = api_status(
        cms.list(&ListParams::default().labels("tier in worker"))
            .await,
    );
    assert_eq!(
        (bad_selector.code, bad_selector.reason.as_str()),
        (400, "BadRequest")
    );

    cms.delete("other", &DeleteParams::default())
        .await
        .expect("deleted");
    assert_eq!(api_status(cms.get("other").await).code, 404);
}

#[tokio::test]
async fn a_stale_update_is_a_409_conflict() {
    let (_server, client) = server().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let pp = PostParams::default();
    let original = cms
        .create(&pp, &config_map("c", json!({}), json!({"v": "1"})))
        .await
        .expect("created");
    let mut first = original.clone();
    first.data = Some([("v".to_string(), "2".to_string())].into());
    let updated = cms.replace("c", &pp, &first).await.expect("first update");
    assert_ne!(rv(&updated), rv(&original));
    let mut stale = original;
    stale.data = Some([("v".to_string(), "3".to_string())].into());
    let conflict = api_status(cms.replace("c", &pp, &stale).await);
    assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        cms.get("c").await.expect("got").data.expect("data")["v"],
        "2"
    );
}

#[tokio::test]
async fn stateful_set_generation_counts_spec_changes_only() {
    let (_server, client) = server().await;
    let sts: Api<StatefulSet> = Api::namespaced(client, "default");
    let created = sts
        .create(&PostParams::default(), &stateful_set("worker"))
        .await
        .expect("created");
    assert_eq!(created.metadata.generation, Some(1));
    let labelled = sts
        .patch(
            "worker",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .expect("labelled");
    assert_eq!(labelled.metadata.generation, Some(1));
    let status = sts
        .patch_status(
            "worker",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"replicas": 1, "readyReplicas": 1}})),
        )
        .await
        .expect("status");
    assert_eq!(status.metadata.generation, Some(1));
    assert_eq!(status.status.expect("status").ready_replicas, Some(1));
    let scaled = sts
        .patch(
            "worker",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .expect("scaled");
    assert_eq!(scaled.metadata.generation, Some(2));
    assert_eq!(scaled.spec.expect("spec").replicas, Some(3));
}

#[tokio::test]
async fn watch_resumes_from_a_resource_version_after_a_disconnect() {
    let (_server, client) = server().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let pp = PostParams::default();
    let a = cms
        .create(&pp, &config_map("a", json!({}), json!({"v": "1"})))
        .await
        .expect("a");
    let mut stream = cms
        .watch(&WatchParams::default(), &rv(&a))
        .await
        .expect("watch")
        .boxed();
    cms.create(&pp, &config_map("b", json!({}), json!({})))
        .await
        .expect("b");
    let last_seen = match next_change(&mut stream).await {
        WatchEvent::Added(cm) => {
            assert_eq!(cm.metadata.name.as_deref(), Some("b"));
            rv(&cm)
        }
        other => panic!("expected b added, got {other:?}"),
    };
    drop(stream);

    // While nobody watches: a changes, b goes.
    cms.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"v": "2"}})),
    )
    .await
    .expect("a patched");
    cms.delete("b", &DeleteParams::default())
        .await
        .expect("b deleted");

    let mut stream = cms
        .watch(&WatchParams::default(), &last_seen)
        .await
        .expect("watch again")
        .boxed();
    match next_change(&mut stream).await {
        WatchEvent::Modified(cm) => assert_eq!(cm.data.expect("data")["v"], "2"),
        other => panic!("expected a modified, got {other:?}"),
    }
    match next_change(&mut stream).await {
        WatchEvent::Deleted(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("b")),
        other => panic!("expected b deleted, got {other:?}"),
    }
}

#[tokio::test]
async fn a_too_old_resource_version_gets_410_gone_and_bookmarks_carry_the_latest() {
    let (_server, client) = start(Options {
        watch_history: 3,
        bookmark_interval: Duration::from_millis(50),
        ..Options::default()
    })
    .await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let first = cms
        .create(
            &PostParams::default(),
            &config_map("c", json!({}), json!({})),
        )
        .await
        .expect("created");
    let mut last = first.clone();
    for i in 0..5 {
        last = cms
            .patch(
                "c",
                &PatchParams::default(),
                &Patch::Merge(json!({"data": {"i": i.to_string()}})),
            )
            .await
            .expect("patched");
    }
    let mut stream = cms
        .watch(&WatchParams::default(), &rv(&first))
        .await
        .expect("watch")
        .boxed();
    match next_change(&mut stream).await {
        WatchEvent::Error(status) => assert_eq!(status.code, 410),
        other => panic!("expected 410 Gone, got {other:?}"),
    }

    let mut stream = cms
        .watch(
            &WatchParams {
                bookmarks: true,
                ..WatchParams::default()
            },
            &rv(&last),
        )
        .await
        .expect("watch")
        .boxed();
    match next(&mut stream).await.expect("event") {
        WatchEvent::Bookmark(b) => assert_eq!(b.metadata.resource_version, rv(&last)),
        other => panic!("expected a bookmark, got {other:?}"),
    }
}

#[tokio::test]
async fn runtime_watcher_sees_added_modified_deleted() {
    let (_server, client) = server().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let mut events = watcher(cms.clone(), watcher::Config::default().labels("app=w")).boxed();
    assert!(matches!(next(&mut events).await, Ok(watcher::Event::Init)));
    assert!(matches!(
        next(&mut events).await,
        Ok(watcher::Event::InitDone)
    ));

    cms.create(
        &PostParams::default(),
        &config_map("c", json!({"app": "w"}), json!({"v": "1"})),
    )
    .await
    .expect("created");
    match next(&mut events).await.expect("event") {
        watcher::Event::Apply(cm) => assert_eq!(cm.data.expect("data")["v"], "1"),
        other => panic!("expected apply, got {other:?}"),
    }
    cms.patch(
        "c",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"v": "2"}})),
    )
    .await
    .expect("patched");
    match next(&mut events).await.expect("event") {
        watcher::Event::Apply(cm) => assert_eq!(cm.data.expect("data")["v"], "2"),
        other => panic!("expected apply, got {other:?}"),
    }
    cms.delete("c", &DeleteParams::default())
        .await
        .expect("deleted");
    match next(&mut events).await.expect("event") {
        watcher::Event::Delete(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("c")),
        other => panic!("expected delete, got {other:?}"),
    }
}

#[tokio::test]
async fn streaming_list_watcher_gets_initial_objects_then_changes() {
    let (_server, client) = server().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    cms.create(
        &PostParams::default(),
        &config_map("old", json!({}), json!({})),
    )
    .await
    .expect("created");
    let config = watcher::Config::default().streaming_lists();
    let mut events = watcher(cms.clone(), config).boxed();
    assert!(matches!(next(&mut events).await, Ok(watcher::Event::Init)));
    match next(&mut events).await.expect("event") {
        watcher::Event::InitApply(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("old")),
        other => panic!("expected the existing object, got {other:?}"),
    }
    assert!(matches!(
        next(&mut events).await,
        Ok(watcher::Event::InitDone)
    ));
    cms.create(
        &PostParams::default(),
        &config_map("new", json!({}), json!({})),
    )
    .await
    .expect("created");
    match next(&mut events).await.expect("event") {
        watcher::Event::Apply(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("new")),
        other => panic!("expected the new object, got {other:?}"),
    }
}

fn managers(cm: &ConfigMap) -> Vec<(String, String)> {
    cm.metadata
        .managed_fields
        .iter()
        .flatten()
        .map(|m| {
            (
                m.manager.clone().unwrap_or_default(),
                m.operation.clone().unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn server_side_apply_creates_updates_and_records_field_managers() {
    let (_server, client) = server().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let apply = |manager: &str, data: Value| {
        let cms = cms.clone();
        let pp = PatchParams::apply(manager).force();
        let config = json!({"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": "applied"}, "data": data});
        async move { cms.patch("applied", &pp, &Patch::Apply(config)).await }
    };
    let created = apply("qserv-operator", json!({"a": "1", "b": "2"}))
        .await
        .expect("created by apply");
    assert_eq!(created.metadata.generation, Some(1));
    assert_eq!(
        managers(&created),
        [("qserv-operator".to_string(), "Apply".to_string())]
    );
    let fields = created.metadata.managed_fields.as_ref().expect("fields")[0]
        .fields_v1
        .clone()
        .expect("fieldsV1");
    assert_eq!(fields.0, json!({"f:data": {"f:a": {}, "f:b": {}}}));

    apply("someone-else", json!({"c": "3"}))
        .await
        .expect("second manager");
    let updated = apply("qserv-operator", json!({"a": "10"}))
        .await
        .expect("updated by apply");
    // b was only ours and is gone; c belongs to someone else and stays.
    assert_eq!(
        updated.data.clone().expect("data"),
        [("a".into(), "10".into()), ("c".into(), "3".into())].into()
    );
    assert_eq!(rv(&updated), rv(&cms.get("applied").await.expect("got")));
    // Without force, changing a field someone else owns is a conflict.
    let unforced = PatchParams::apply("someone-else");
    let grab = json!({"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": "applied"}, "data": {"a": "11"}});
    let conflict = api_status(cms.patch("applied", &unforced, &Patch::Apply(grab)).await);
    assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"));
    assert!(conflict.message.contains(".data.a"), "{}", conflict.message);

    let mut who = managers(&cms.get("applied").await.expect("got"));
    who.sort();
    assert_eq!(
        who,
        [
            ("qserv-operator".to_string(), "Apply".to_string()),
            ("someone-else".to_string(), "Apply".to_string())
        ]
    );

    // Applying the same again changes nothing: same resourceVersion, and no watch event (the
    // next one a watcher sees is a real change), as on a real API server.
    let before = cms.get("applied").await.expect("got");
    let mut watch = cms
        .watch(
            &WatchParams::default().fields("metadata.name=applied"),
            &rv(&before),
        )
        .await
        .expect("watch")
        .boxed();
    let again = apply("qserv-operator", json!({"a": "10"}))
        .await
        .expect("no-op apply");
    assert_eq!(rv(&again), rv(&before));
    let changed = apply("qserv-operator", json!({"a": "12"}))
        .await
        .expect("real change");
    assert_ne!(rv(&changed), rv(&before));
    match next_change(&mut watch).await {
        WatchEvent::Modified(cm) => {
            assert_eq!(rv(&cm), rv(&changed));
            assert_eq!(cm.data.expect("data")["a"], "12");
        }
        other => panic!("expected the real change, got {other:?}"),
    }
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() {
    let (_server, client) = server().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let mut cm = config_map("held", json!({}), json!({}));
    cm.metadata.finalizers = Some(vec!["qserv.in2p3.fr/cleanup".into()]);
    cms.create(&PostParams::default(), &cm)
        .await
        .expect("created");
    let deleted = cms
        .delete("held", &DeleteParams::default())
        .await
        .expect("delete accepted");
    let pending = deleted.left().expect("the object, still there");
    assert!(pending.metadata.deletion_timestamp.is_some());
    let still = cms.get("held").await.expect("still there");
    assert!(still.metadata.deletion_timestamp.is_some());
    let more = api_status(
        cms.patch(
            "held",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": ["qserv.in2p3.fr/cleanup", "late"]}})),
        )
        .await,
    );
    assert_eq!(more.code, 422, "no new finalizers once deletion started");

    // The way kube-runtime's finalizer helper removes its finalizer: test, then remove.
    let remove: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/metadata/finalizers", "value": ["qserv.in2p3.fr/cleanup"]},
        {"op": "remove", "path": "/metadata/finalizers/0"},
    ]))
    .expect("a JSON patch");
    cms.patch("held", &PatchParams::default(), &Patch::<()>::Json(remove))
        .await
        .expect("finalizer removed");
    assert_eq!(api_status(cms.get("held").await).code, 404);
}

#[tokio::test]
async fn a_watch_sees_objects_enter_and_leave_its_selector() {
    let (_server, client) = server().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let created = cms
        .create(
            &PostParams::default(),
            &config_map("c", json!({"app": "w"}), json!({})),
        )
        .await
        .expect("created");
    let wp = WatchParams::default().labels("app=w");
    let mut stream = cms.watch(&wp, &rv(&created)).await.expect("watch").boxed();
    let relabel = |app: &str| {
        let cms = cms.clone();
        let patch = Patch::Merge(json!({"metadata": {"labels": {"app": app}}}));
        async move { cms.patch("c", &PatchParams::default(), &patch).await }
    };
    relabel("other").await.expect("relabelled");
    assert!(matches!(
        next_change(&mut stream).await,
        WatchEvent::Deleted(_)
    ));
    relabel("w").await.expect("relabelled back");
    assert!(matches!(
        next_change(&mut stream).await,
        WatchEvent::Added(_)
    ));
}

#[tokio::test]
async fn status_written_by_server_side_apply_like_a_controller() {
    let (_server, client) = server().await;
    let qsc: Api<QservCluster> = Api::namespaced(client, "default");
    qsc.create(&PostParams::default(), &qserv_cluster("q", 2))
        .await
        .expect("created");
    // As controller-rs does: only apiVersion, kind and status, no metadata.
    let status = Patch::Apply(json!({
        "apiVersion": "qserv.in2p3.fr/v1alpha1", "kind": "QservCluster",
        "status": {"phase": "Ready", "observedGeneration": 1}
    }));
    let pp = PatchParams::apply("qserv-operator").force();
    let applied = qsc
        .patch_status("q", &pp, &status)
        .await
        .expect("status applied");
    assert_eq!(applied.metadata.generation, Some(1));
    assert_eq!(applied.status.expect("status").observed_generation, Some(1));
    let entry = applied
        .metadata
        .managed_fields
        .expect("managed fields")
        .into_iter()
        .find(|m| m.manager.as_deref() == Some("qserv-operator"))
        .expect("the operator's entry");
    assert_eq!(entry.operation.as_deref(), Some("Apply"));
    assert_eq!(entry.subresource.as_deref(), Some("status"));
}

fn owned_by(name: &str, owner: &impl kube::Resource<DynamicType = ()>) -> ConfigMap {
    let mut cm = config_map(name, json!({}), json!({}));
    cm.metadata.owner_references = Some(vec![owner.controller_owner_ref(&()).expect("owner ref")]);
    cm
}

#[tokio::test]
async fn deleting_an_owner_deletes_dependents_or_orphans_them() {
    let (_server, client) = server().await;
    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let pp = PostParams::default();
    let owner = sts
        .create(&pp, &stateful_set("owner"))
        .await
        .expect("owner");
    let child = cms
        .create(&pp, &owned_by("child", &owner))
        .await
        .expect("child");
    cms.create(&pp, &owned_by("grandchild", &child))
        .await
        .expect("grandchild");
    cms.create(&pp, &config_map("bystander", json!({}), json!({})))
        .await
        .expect("bystander");
    sts.delete("owner", &DeleteParams::background())
        .await
        .expect("owner deleted");
    let left = cms.list(&ListParams::default()).await.expect("listed");
    assert_eq!(names(&left.items), ["bystander"]);

    let owner = sts
        .create(&pp, &stateful_set("owner2"))
        .await
        .expect("owner2");
    cms.create(&pp, &owned_by("kept", &owner))
        .await
        .expect("kept");
    sts.delete("owner2", &DeleteParams::orphan())
        .await
        .expect("owner2 deleted");
    let kept = cms.get("kept").await.expect("orphan kept");
    assert!(
        kept.metadata
            .owner_references
            .unwrap_or_default()
            .is_empty()
    );

    // Written after its owner is gone (a controller's stale cache): collected at once.
    let late = owned_by("late", &owner);
    cms.create(&pp, &late).await.expect("the write succeeds");
    assert_eq!(api_status(cms.get("late").await).code, 404);
}

#[tokio::test]
async fn status_subresource_leaves_generation_alone_and_spec_changes_bump_it() {
    let (_server, client) = server().await;
    let qsc: Api<QservCluster> = Api::namespaced(client, "default");
    let created = qsc
        .create(&PostParams::default(), &qserv_cluster("q", 2))
        .await
        .expect("created");
    assert_eq!(created.metadata.generation, Some(1));
    // Schema defaults were applied by the server.
    assert_eq!(created.spec.czar.storage.size.0, "10Gi");

    let ready = json!({"status": {"phase": "Ready", "observedGeneration": 1}});
    let after_status = qsc
        .patch_status("q", &PatchParams::default(), &Patch::Merge(ready))
        .await
        .expect("status patched");
    assert_eq!(after_status.metadata.generation, Some(1));
    let status = after_status.status.clone().expect("status");
    assert_eq!(status.observed_generation, Some(1));

    // Status sent to the main resource is ignored.
    let ignored = qsc
        .patch(
            "q",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"observedGeneration": 7}})),
        )
        .await
        .expect("patched");
    assert_eq!(
        ignored.status.clone().expect("status").observed_generation,
        Some(1)
    );
    assert_eq!(ignored.metadata.generation, Some(1));

    // Custom resources take no unconditional update.
    let mut unconditional = ignored.clone();
    unconditional.metadata.resource_version = None;
    let refused = api_status(
        qsc.replace("q", &PostParams::default(), &unconditional)
            .await,
    );
    assert_eq!(refused.code, 422);

    let scaled = qsc
        .patch(
            "q",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"workers": {"replicas": 3}}})),
        )
        .await
        .expect("scaled");
    assert_eq!(scaled.metadata.generation, Some(2));
    assert_eq!(scaled.status.expect("status").observed_generation, Some(1));
}

#[tokio::test]
async fn custom_resources_violating_cel_rules_or_types_are_422() {
    let (_server, client) = server().await;
    let qsc: Api<QservCluster> = Api::namespaced(client.clone(), "default");
    let invalid = api_status(
        qsc.create(&PostParams::default(), &qserv_cluster("zero", 0))
            .await,
    );
    assert_eq!((invalid.code, invalid.reason.as_str()), (422, "Invalid"));
    assert!(
        invalid.message.contains("workers.replicas must be >= 1"),
        "{}",
        invalid.message
    );
    let causes = invalid.details.expect("details").causes;
    assert_eq!(causes[0].field, "spec.workers.replicas");

    let resource = ApiResource::erase::<QservCluster>(&());
    let dynamic: Api<DynamicObject> = Api::namespaced_with(client, "default", &resource);
    let mut obj = DynamicObject::new("typo", &resource);
    obj.data = json!({"spec": {"workers": {"replicas": "two"}}});
    let type_error = api_status(dynamic.create(&PostParams::default(), &obj).await);
    assert_eq!(type_error.code, 422);
    let causes = type_error.details.expect("details").causes;
    assert_eq!(causes[0].field, "spec.workers.replicas");
    assert!(
        causes[0].message.contains("must be of type integer"),
        "{causes:?}"
    );
    assert_eq!(api_status(qsc.get("typo").await).code, 404);
}

/// What kube-apiserver refuses before storing (each rule cited in `apiserver/schema.rs`,
/// `http.rs`, `write.rs`): an int32 field's overflow and a missing required `spec` are 422; a
/// merge patch that is not an object is a 400 Status (not a dropped connection); a body over
/// 3 MiB is a 413 Status; and none of them stored anything.
#[tokio::test]
async fn what_kube_apiserver_refuses_is_refused_with_a_status() {
    let (server, client) = server().await;
    let resource = ApiResource::erase::<QservCluster>(&());
    let dynamic: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource);
    let mut big = DynamicObject::new("big", &resource);
    big.data = json!({"spec": {"workers": {"replicas": 99_999_999_999_i64}}});
    let overflow = api_status(dynamic.create(&PostParams::default(), &big).await);
    assert_eq!((overflow.code, overflow.reason.as_str()), (422, "Invalid"));
    let causes = overflow.details.expect("details").causes;
    assert_eq!(causes[0].field, "spec.workers.replicas");
    assert!(
        causes[0]
            .message
            .contains("must be of type integer with format int32"),
        "{causes:?}"
    );

    let ingest = ApiResource::erase::<CatalogIngest>(&());
    let ingests: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &ingest);
    let no_spec = api_status(
        ingests
            .create(
                &PostParams::default(),
                &DynamicObject::new("nospec", &ingest),
            )
            .await,
    );
    assert_eq!(no_spec.code, 422);
    assert_eq!(no_spec.details.expect("details").causes[0].field, "spec");
    assert_eq!(api_status(ingests.get("nospec").await).code, 404);

    let qsc: Api<QservCluster> = Api::namespaced(client.clone(), "default");
    qsc.create(&PostParams::default(), &qserv_cluster("ok", 2))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let url = format!(
        "{}/apis/qserv.in2p3.fr/v1alpha1/namespaces/default/qservclusters/ok",
        server.url()
    );
    let status = |r: reqwest::Response| async move {
        let code = r.status().as_u16();
        let body: Value = r.json().await.expect("a JSON Status");
        assert_eq!(body["kind"], "Status", "{body}");
        assert_eq!(body["code"], code, "{body}");
        (
            code,
            body["reason"].as_str().unwrap_or_default().to_string(),
        )
    };
    for (content_type, body) in [
        ("application/merge-patch+json", "[1]"),
        ("application/merge-patch+json", "\"text\""),
        ("application/strategic-merge-patch+json", "[1]"),
    ] {
        let r = http
            .patch(&url)
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .expect("a response, not a dropped connection");
        assert_eq!(
            status(r).await,
            (400, "BadRequest".to_string()),
            "{content_type} {body}"
        );
    }
    let huge = format!(
        "{{\"metadata\": {{\"annotations\": {{\"a\": \"{}\"}}}}}}",
        "x".repeat(3 << 20)
    );
    let r = http
        .patch(&url)
        .header("Content-Type", "application/merge-patch+json")
        .body(huge)
        .send()
        .await
        .expect("a response");
    assert_eq!(status(r).await, (413, "RequestEntityTooLarge".to_string()));
    let kept = qsc.get("ok").await.unwrap();
    assert_eq!(kept.spec.workers.replicas, 2);
    assert!(kept.metadata.annotations.unwrap_or_default().is_empty());
}

/// etcd stores objects up to 1.5 MiB (its `--max-request-bytes`): bodies under the 3 MiB limit
/// whose object is bigger, or patches that grow an object past it, are refused with the 500
/// Status kube-apiserver passes on from etcd, and nothing is stored; and a request whose body
/// does not arrive within the request timeout gets 504, its connection's memory freed.
#[tokio::test]
async fn objects_over_etcds_limit_and_bodies_too_slow_are_refused() {
    let (server, client) = start(Options {
        request_timeout: std::time::Duration::from_secs(1),
        ..Options::default()
    })
    .await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let blob = |mib: f64| "x".repeat((mib * (1 << 20) as f64) as usize);
    let too_big = api_status(
        cms.create(
            &PostParams::default(),
            &config_map("big", json!({}), json!({"blob": blob(2.0)})),
        )
        .await,
    );
    assert_eq!(
        (
            too_big.code,
            too_big.message.as_str(),
            too_big.reason.as_str()
        ),
        (500, "etcdserver: request is too large", "")
    );
    assert_eq!(api_status(cms.get("big").await).code, 404);

    cms.create(
        &PostParams::default(),
        &config_map("grows", json!({}), json!({"a": blob(1.0)})),
    )
    .await
    .unwrap();
    let grown = api_status(
        cms.patch(
            "grows",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"b": blob(1.0)}})),
        )
        .await,
    );
    assert_eq!(grown.code, 500, "{grown:?}");
    let kept = cms.get("grows").await.unwrap();
    assert_eq!(
        kept.data.unwrap().keys().collect::<Vec<_>>(),
        ["a"],
        "the refused patch left the object as it was"
    );

    // Headers that promise a body which never comes.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut slow = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    slow.write_all(
        b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\n\
          Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"kind\"",
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        let mut buf = [0u8; 4096];
        loop {
            let n = slow.read(&mut buf).await.unwrap_or(0);
            answer.extend_from_slice(&buf[..n]);
            let needle: &[u8] = b"context deadline exceeded";
            if n == 0 || answer.windows(needle.len()).any(|w| w == needle) {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer to a body that never came");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 504"), "{answer}");
    assert!(
        answer.contains("request did not complete within requested timeout"),
        "{answer}"
    );
}

/// `pattern` and `format: date-time` of a CRD's schema, as kube-openapi checks them (messages of
/// `validate/string.go` and `validate/formats.go`), on a CRD stored through the server.
#[tokio::test]
async fn patterns_and_date_times_of_a_crd_schema_are_enforced() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let (_server, client) = server().await;
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
            "scope": "Namespaced",
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {
                        "slug": {"type": "string", "pattern": "^[a-z][a-z0-9-]*$"},
                        "when": {"type": "string", "format": "date-time"}
                    }}
                }}}
            }]
        }
    }))
    .unwrap();
    Api::<CustomResourceDefinition>::all(client.clone())
        .create(&PostParams::default(), &crd)
        .await
        .unwrap();
    let resource = ApiResource {
        group: "example.com".into(),
        version: "v1".into(),
        api_version: "example.com/v1".into(),
        kind: "Widget".into(),
        plural: "widgets".into(),
    };
    let widgets: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource);
    let widget = |name: &str, spec: Value| {
        let mut w = DynamicObject::new(name, &resource);
        w.data = json!({ "spec": spec });
        w
    };
    let refused = api_status(
        widgets
            .create(
                &PostParams::default(),
                &widget("bad", json!({"slug": "Not OK", "when": "yesterday"})),
            )
            .await,
    );
    assert_eq!(refused.code, 422, "{refused:?}");
    let causes = refused.details.expect("details").causes;
    let messages: Vec<&str> = causes.iter().map(|c| c.message.as_str()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("spec.slug in body should match '^[a-z][a-z0-9-]*$'")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("spec.when in body must be of type date-time: \"yesterday\"")),
        "{messages:?}"
    );
    widgets
        .create(
            &PostParams::default(),
            &widget(
                "good",
                json!({"slug": "ok-1", "when": "2026-12-06T21:00:00Z"}),
            ),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn transition_rules_see_the_old_object() {
    let (_server, client) = server().await;
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/catalogingest-macs2243.yaml"
    );
    let text = std::fs::read_to_string(path).expect("example");
    let ingest: CatalogIngest = serde_norway::from_str(&text).expect("a CatalogIngest");
    let api: Api<CatalogIngest> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &ingest)
        .await
        .expect("created");
    let name = ingest.metadata.name.as_deref().expect("name");
    let changed = api_status(
        api.patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"partitioning": {"stripes": 85}}})),
        )
        .await,
    );
    assert_eq!(changed.code, 422);
    assert!(
        changed.message.contains("partitioning is immutable"),
        "{}",
        changed.message
    );
}

#[tokio::test]
async fn kube_discovery_finds_built_ins_and_our_kinds() {
    let (_server, client) = server().await;
    let discovery = kube::Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery runs");
    let qserv = discovery
        .get("qserv.in2p3.fr")
        .expect("our group is discovered");
    let kinds: Vec<String> = qserv
        .recommended_resources()
        .into_iter()
        .map(|(r, _)| r.kind)
        .collect();
    assert_eq!(kinds, ["QservCluster", "CatalogIngest"]);
    let (sts, caps) = discovery
        .get("apps")
        .and_then(|g| {
            g.recommended_resources()
                .into_iter()
                .find(|(r, _)| r.kind == "StatefulSet")
        })
        .expect("statefulsets discovered");
    assert_eq!(sts.plural, "statefulsets");
    assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);
    assert!(caps.subresources.iter().any(|(r, _)| r.plural == "status"));
    let version = client.apiserver_version().await.expect("version");
    assert_eq!(
        (version.major.as_str(), version.minor.as_str()),
        ("1", "33")
    );
}

/// kube-runtime's `finalizer()` helper, as our controllers use it: it adds its finalizer with a
/// JSON patch (`test` null, `add`), runs cleanup once deletion is requested, then removes it.
#[tokio::test]
async fn kube_runtime_finalizer_helper_works_end_to_end() {
    use kube::runtime::controller::Action;
    use kube::runtime::finalizer::{Event as Finalizer, finalizer};
    use std::sync::Arc;

    let (_server, client) = server().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    cms.create(
        &PostParams::default(),
        &config_map("f", json!({}), json!({})),
    )
    .await
    .expect("created");
    let name = "qserv.in2p3.fr/cleanup";
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let run = |seen: Arc<std::sync::Mutex<Vec<&'static str>>>| {
        let cms = cms.clone();
        async move {
            let obj = Arc::new(cms.get("f").await.expect("current object"));
            finalizer(&cms, name, obj, |event| async move {
                let what = match event {
                    Finalizer::Apply(_) => "apply",
                    Finalizer::Cleanup(_) => "cleanup",
                };
                seen.lock().expect("lock").push(what);
                Ok::<_, std::io::Error>(Action::await_change())
            })
            .await
            .expect("finalizer step")
        }
    };
    run(seen.clone()).await; // adds the finalizer
    let held = cms.get("f").await.expect("got");
    assert_eq!(held.metadata.finalizers, Some(vec![name.to_string()]));
    run(seen.clone()).await; // reconciles
    cms.delete("f", &DeleteParams::default())
        .await
        .expect("deletion requested");
    run(seen.clone()).await; // cleans up and releases
    assert_eq!(*seen.lock().expect("lock"), ["apply", "cleanup"]);
    assert_eq!(api_status(cms.get("f").await).code, 404);
}

/// What a controller of ours does, on the real kube-runtime machinery: a `Controller` watching
/// QservClusters and the ConfigMaps they own, applying a ConfigMap and the status by
/// server-side apply. Spec changes re-trigger it; deleting the cluster takes the ConfigMap.
mod controller {
    use super::*;
    use kube::Resource;
    use kube::runtime::controller::{Action, Controller};
    use kube::runtime::wait::await_condition;
    use std::sync::Arc;

    const MANAGER: &str = "qserv-test-controller";

    async fn reconcile(qsc: Arc<QservCluster>, client: Arc<kube::Client>) -> kube::Result<Action> {
        let name = qsc.metadata.name.clone().unwrap_or_default();
        let ns = qsc.metadata.namespace.clone().unwrap_or_default();
        let owner = qsc
            .controller_owner_ref(&())
            .into_iter()
            .collect::<Vec<_>>();
        let config = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("{name}-config"), "ownerReferences": owner},
            "data": {"workers": qsc.spec.workers.replicas.to_string()},
        });
        let pp = PatchParams::apply(MANAGER).force();
        Api::<ConfigMap>::namespaced((*client).clone(), &ns)
            .patch(&format!("{name}-config"), &pp, &Patch::Apply(config))
            .await?;
        let status = json!({
            "apiVersion": "qserv.in2p3.fr/v1alpha1", "kind": "QservCluster",
            "status": {"phase": "Ready", "observedGeneration": qsc.metadata.generation},
        });
        Api::<QservCluster>::namespaced((*client).clone(), &ns)
            .patch_status(&name, &pp, &Patch::Apply(status))
            .await?;
        Ok(Action::await_change())
    }

    fn error_policy(_: Arc<QservCluster>, _: &kube::Error, _: Arc<kube::Client>) -> Action {
        Action::requeue(Duration::from_millis(100))
    }

    fn observed(generation: i64) -> impl Fn(Option<&QservCluster>) -> bool {
        move |q| {
            q.and_then(|q| q.status.as_ref())
                .and_then(|s| s.observed_generation)
                == Some(generation)
        }
    }

    async fn wait_for<K>(api: &Api<K>, name: &str, cond: impl kube::runtime::wait::Condition<K>)
    where
        K: Clone + std::fmt::Debug + Send + serde::de::DeserializeOwned + Resource + 'static,
    {
        tokio::time::timeout(PATIENCE, await_condition(api.clone(), name, cond))
            .await
            .expect("the condition is met before the patience runs out")
            .expect("watching works");
    }

    #[tokio::test]
    async fn a_kube_runtime_controller_reconciles_against_the_server() {
        let (_server, client) = server().await;
        let qsc: Api<QservCluster> = Api::namespaced(client.clone(), "default");
        let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        let controller = Controller::new(qsc.clone(), watcher::Config::default())
            .owns(cms.clone(), watcher::Config::default())
            .run(reconcile, error_policy, Arc::new(client.clone()))
            .for_each(|_| async {});
        let running = tokio::spawn(controller);

        qsc.create(&PostParams::default(), &qserv_cluster("q", 2))
            .await
            .expect("created");
        wait_for(&qsc, "q", observed(1)).await;
        let config = cms.get("q-config").await.expect("config applied");
        assert_eq!(config.data.expect("data")["workers"], "2");

        qsc.patch(
            "q",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"workers": {"replicas": 3}}})),
        )
        .await
        .expect("scaled");
        wait_for(&qsc, "q", observed(2)).await;
        let config = cms.get("q-config").await.expect("config");
        let uid = config.metadata.uid.clone().expect("uid");
        assert_eq!(config.data.expect("data")["workers"], "3");

        qsc.delete("q", &DeleteParams::default())
            .await
            .expect("deleted");
        wait_for(
            &cms,
            "q-config",
            kube::runtime::wait::conditions::is_deleted(&uid),
        )
        .await;
        assert_eq!(api_status(cms.get("q-config").await).code, 404);
        running.abort();
    }
}

#[tokio::test]
async fn injected_faults_fail_requests_and_dropped_watches_are_resumed() {
    let (server, client) = server().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    // 500, not 503: kube::Client retries 429/503/504 by itself.
    server.fail_requests("/configmaps", 500, 1);
    let failed = api_status(cms.list(&ListParams::default()).await);
    assert_eq!(
        (failed.code, failed.reason.as_str()),
        (500, "InternalError")
    );
    cms.list(&ListParams::default())
        .await
        .expect("only one request fails");

    let mut events = watcher(cms.clone(), watcher::Config::default()).boxed();
    assert!(matches!(next(&mut events).await, Ok(watcher::Event::Init)));
    assert!(matches!(
        next(&mut events).await,
        Ok(watcher::Event::InitDone)
    ));
    let pp = PostParams::default();
    cms.create(&pp, &config_map("before", json!({}), json!({})))
        .await
        .expect("created");
    match next(&mut events).await.expect("event") {
        watcher::Event::Apply(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("before")),
        other => panic!("expected before, got {other:?}"),
    }
    let mut raw = cms
        .watch(&WatchParams::default(), "0")
        .await
        .expect("watch")
        .boxed();
    match next(&mut raw).await.expect("event") {
        WatchEvent::Added(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("before")),
        other => panic!("expected before, got {other:?}"),
    }
    server.drop_watches();
    let ended = tokio::time::timeout(PATIENCE, raw.next())
        .await
        .expect("the dropped watch ends");
    assert!(ended.is_none(), "no more events: {ended:?}");
    cms.create(&pp, &config_map("after", json!({}), json!({})))
        .await
        .expect("created");
    // The watcher resumes from its last resourceVersion and misses nothing.
    match next(&mut events).await.expect("event") {
        watcher::Event::Apply(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("after")),
        other => panic!("expected after, got {other:?}"),
    }
}
