//! Discovery documents: `/version`, `/api`, `/apis`, `/apis/<group>`, and the resource lists of
//! each group version. When the client asks for it (kubectl does), `/api` and `/apis` answer in
//! the aggregated form (`apidiscovery.k8s.io/v2` `APIGroupDiscoveryList`), which carries every
//! resource at once; clients that do not ask (kube's `Discovery`) get the legacy documents.

use serde_json::{Value, json};

use super::resources::ResourceType;

pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": "v1.33.0-qserv-local",
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "n/a",
        "compiler": "rustc",
        "platform": "linux/amd64",
    })
}

pub fn legacy_api(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

/// Group name → its versions, in registration order.
fn groups(types: &[ResourceType]) -> Vec<(String, Vec<String>)> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for t in types.iter().filter(|t| !t.group.is_empty()) {
        match groups.iter_mut().find(|(g, _)| *g == t.group) {
            Some((_, versions)) if !versions.contains(&t.version) => {
                versions.push(t.version.clone())
            }
            Some(_) => {}
            None => groups.push((t.group.clone(), vec![t.version.clone()])),
        }
    }
    groups
}

fn group_doc(group: &str, versions: &[String]) -> Value {
    let gv = |v: &String| json!({"groupVersion": format!("{group}/{v}"), "version": v});
    json!({
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": versions.iter().map(gv).collect::<Vec<_>>(),
        "preferredVersion": versions.first().map(gv),
    })
}

pub fn group_list(types: &[ResourceType]) -> Value {
    let groups: Vec<Value> = groups(types)
        .iter()
        .map(|(g, vs)| {
            let mut doc = group_doc(g, vs);
            if let Some(o) = doc.as_object_mut() {
                o.remove("kind");
                o.remove("apiVersion");
            }
            doc
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub fn group(types: &[ResourceType], group: &str) -> Option<Value> {
    groups(types)
        .into_iter()
        .find(|(g, _)| g == group)
        .map(|(g, vs)| group_doc(&g, &vs))
}

/// The `APIResourceList` of one group version, or None when nothing is served there.
pub fn resource_list(types: &[ResourceType], group: &str, version: &str) -> Option<Value> {
    let matching: Vec<&ResourceType> = types
        .iter()
        .filter(|t| t.group == group && t.version == version)
        .collect();
    if matching.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for t in matching {
        let mut r = json!({
            "name": t.plural,
            "singularName": t.singular,
            "namespaced": t.namespaced,
            "kind": t.kind,
            "verbs": ResourceType::verbs(),
        });
        if !t.short_names.is_empty() {
            r["shortNames"] = json!(t.short_names);
        }
        if !t.categories.is_empty() {
            r["categories"] = json!(t.categories);
        }
        resources.push(r);
        for (sub, verbs) in t.subresources() {
            resources.push(json!({
                "name": format!("{}/{sub}", t.plural),
                "singularName": "",
                "namespaced": t.namespaced,
                "kind": t.kind,
                "verbs": verbs,
            }));
        }
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
}

/// The media type of aggregated discovery; clients recognize the form by it.
pub const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

pub fn wants_aggregated(accept: &str) -> bool {
    accept.split(',').any(|media| {
        let params: Vec<&str> = media.split(';').map(str::trim).collect();
        params.contains(&"g=apidiscovery.k8s.io")
            && params.contains(&"v=v2")
            && params.contains(&"as=APIGroupDiscoveryList")
    })
}

/// `APIGroupDiscoveryList` of the core group (`legacy == true`, for `/api`) or of all named
/// groups (`/apis`).
pub fn aggregated(types: &[ResourceType], legacy: bool) -> Value {
    let mut items = Vec::new();
    let groups = if legacy {
        vec![(String::new(), vec!["v1".to_string()])]
    } else {
        groups(types)
    };
    for (group, versions) in groups {
        let versions: Vec<Value> = versions
            .iter()
            .map(|v| {
                let resources: Vec<Value> = types
                    .iter()
                    .filter(|t| t.group == group && &t.version == v)
                    .map(aggregated_resource)
                    .collect();
                json!({"version": v, "resources": resources, "freshness": "Current"})
            })
            .collect();
        let mut metadata = json!({"creationTimestamp": null});
        if !group.is_empty() {
            metadata["name"] = json!(group);
        }
        items.push(json!({"metadata": metadata, "versions": versions}));
    }
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    })
}

fn aggregated_resource(t: &ResourceType) -> Value {
    let kind = json!({"group": t.group, "version": t.version, "kind": t.kind});
    let mut r = json!({
        "resource": t.plural,
        "responseKind": kind,
        "scope": if t.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": t.singular,
        "verbs": ResourceType::verbs(),
    });
    if !t.short_names.is_empty() {
        r["shortNames"] = json!(t.short_names);
    }
    if !t.categories.is_empty() {
        r["categories"] = json!(t.categories);
    }
    let subresources: Vec<Value> = t
        .subresources()
        .into_iter()
        .map(|(sub, verbs)| json!({"subresource": sub, "responseKind": kind, "verbs": verbs}))
        .collect();
    if !subresources.is_empty() {
        r["subresources"] = json!(subresources);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiserver::resources::builtins;

    #[test]
    fn core_and_apps_are_discoverable() {
        let types = builtins();
        let core = resource_list(&types, "", "v1").expect("core v1");
        let names: Vec<&str> = core["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .filter_map(|r| r["name"].as_str())
            .collect();
        assert!(names.contains(&"configmaps") && names.contains(&"pods/status"));
        // kubectl and RBAC name a Pod's log `pods/log`, with the one verb `get`.
        let log = core["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "pods/log")
            .expect("pods/log is discoverable");
        assert_eq!(
            (log["kind"].as_str(), &log["verbs"]),
            (Some("Pod"), &json!(["get"]))
        );
        let list = group_list(&types);
        assert_eq!(list["groups"][0]["name"], "apps");
        assert_eq!(
            group(&types, "batch").expect("batch")["preferredVersion"]["groupVersion"],
            "batch/v1"
        );
        assert!(resource_list(&types, "nope", "v1").is_none());
    }

    #[test]
    fn aggregated_form_when_asked() {
        let kubectl = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert!(wants_aggregated(kubectl));
        assert!(!wants_aggregated("application/json"));
        let types = builtins();
        let core = aggregated(&types, true);
        assert_eq!(core["items"].as_array().map(Vec::len), Some(1));
        let pods = &core["items"][0]["versions"][0]["resources"][1];
        assert_eq!(pods["resource"], "pods");
        let subs: Vec<&str> = pods["subresources"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["subresource"].as_str())
            .collect();
        assert_eq!(subs, ["log", "status"]);
        let named = aggregated(&types, false);
        assert_eq!(named["items"][0]["metadata"]["name"], "apps");
        assert_eq!(
            named["items"][0]["versions"][0]["resources"][0]["shortNames"][0],
            "sts"
        );
    }
}
