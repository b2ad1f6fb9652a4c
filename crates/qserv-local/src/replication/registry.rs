//! The registry's services (`Q@2026.3.3-rc1:src/replica/registry/RegistryHttpSvc.cc:57-106`),
//! as far as the operator and the controller use them: `GET /meta/version`, `GET /services`,
//! `DELETE /worker/:name`. Workers report to it while their pods run (the stand-in's
//! [`super::ReplicationStandIn::set_workers`]); it forgets one only when deleted
//! (`RegistryServices.cc:46-50`), never by itself.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Method, Request, Response};
use serde_json::{Map, Value, json};

use super::contract::{Outcome, Params, Refusal, respond};
use super::state::Shared;

/// The registry's minimum API version (`RegistryHttpSvcMod.cc:106,137`).
const MIN_VERSION: u32 = 52;

pub async fn handle(
    shared: Arc<Shared>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = Params::parse_query(req.uri().query());
    let body = match Limited::new(req.into_body(), 1 << 20).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return Ok(respond(Err(Refusal::new(format!("request body: {e}"))))),
    };
    let outcome = match Params::parse_json_body(&body) {
        Ok(body) => route(&shared, &method, &path, &Params { body, query }),
        Err(r) => Err(r),
    };
    Ok(respond(outcome))
}

fn route(s: &Shared, method: &Method, path: &str, p: &Params) -> Outcome {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let sub = match (method.as_str(), segs.as_slice()) {
        ("GET", ["meta", "version"]) => {
            return Ok(json!({
                "kind": "replication-registry", "id": "", "instance_id": s.instance_id,
                "version": super::MAX_VERSION,
            }));
        }
        ("GET", ["services"]) => "SERVICES",
        ("DELETE", ["worker", _]) => "DELETE-WORKER",
        _ => return Err(Refusal::not_found(path)),
    };
    // `GET /services` takes no keys (`AuthType::NONE`, `RegistryHttpSvc.cc:67-71`); the
    // others the default `REQUIRED` (`RegistryHttpSvcMod.h:82`), checked first
    // (`src/http/Module.cc:41`).
    if sub != "SERVICES" {
        p.authorize(&s.auth_key, &s.admin_auth_key)?;
    }
    instance_id(s, method, p, sub)?;
    p.check_version(MIN_VERSION)?;
    if let ["worker", name] = segs.as_slice() {
        let name = decode(name);
        let mut workers = s.workers();
        if let Some(w) = workers.iter_mut().find(|w| w.name == name) {
            w.registered = false;
        }
    }
    Ok(json!({ "services": services(s) }))
}

/// `BaseModule::enforceInstanceId` (`Q@2026.3.3-rc1:src/http/BaseModule.cc:92-100`), called
/// by `RegistryHttpSvcMod::executeImpl` (`RegistryHttpSvcMod.cc:82-85`): from the query of a
/// GET, else from the body.
fn instance_id(s: &Shared, method: &Method, p: &Params, sub: &str) -> Result<(), Refusal> {
    let sent = if *method == Method::GET {
        p.query.get("instance_id").cloned().ok_or_else(|| {
            Refusal::new(
                "invalid parameters of the request, ex: required parameter 'instance_id' is \
                 missing in the query",
            )
        })?
    } else {
        p.string("instance_id")?
    };
    if sent != s.instance_id {
        return Err(Refusal::new(format!(
            "invalid parameters of the request, ex: REGISTRY-HTTP-SVC executeImpl[sub-module='{sub}'] \
             Qserv instance identifier mismatch. Client sent '{sent}' instead of '{}'.",
            s.instance_id
        )));
    }
    Ok(())
}

/// `RegistryServices::toJson`: the workers by name, with what each reported
/// (`RegistryHttpSvcMod.cc:126-132`, security keys removed).
fn services(s: &Shared) -> Value {
    let workers: Map<String, Value> = s
        .workers()
        .iter()
        .filter(|w| w.registered)
        .map(|w| {
            let entry = json!({"replication": {
                "name": w.name, "host-name": w.host, "host-addr": "127.0.0.1",
                "host-addr-peer": "127.0.0.1", "http-loader-port": w.http_port,
            }});
            (w.name.clone(), entry)
        })
        .collect();
    json!({"workers": workers, "czars": {}, "controllers": {}})
}

fn decode(s: &str) -> String {
    form_urlencoded::parse(format!("n={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}
