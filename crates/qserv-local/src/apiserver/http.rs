//! HTTP plumbing: the request as the handlers see it, response bodies, and path routing.

use std::collections::HashMap;
use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::Response;
use serde_json::Value;

use super::errors::ApiError;

pub type Body = BoxBody<Bytes, Infallible>;

/// Largest request body accepted: kube-apiserver's default `MaxRequestBodyBytes`, 3 MiB
/// (k8s.io/apiserver `pkg/server/config.go`, `NewConfig`: `int64(3 * 1024 * 1024)`); bigger
/// bodies get 413 before they are read further.
pub const MAX_BODY: usize = 3 << 20;

/// A request after its body was read: what every handler gets.
#[derive(Debug)]
pub struct Req {
    pub method: hyper::Method,
    pub path: String,
    pub query: HashMap<String, String>,
    pub accept: String,
    pub content_type: String,
    pub body: Bytes,
}

impl Req {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn flag(&self, key: &str) -> bool {
        matches!(self.param(key), Some("true" | "1"))
    }

    /// The body as JSON; apply patches may also be YAML.
    pub fn json_body(&self) -> Result<Value, ApiError> {
        if self.body.is_empty() {
            return Ok(Value::Null);
        }
        match serde_json::from_slice(&self.body) {
            Ok(v) => Ok(v),
            Err(json_err) if self.content_type.contains("yaml") => {
                serde_norway::from_slice(&self.body).map_err(|e| {
                    ApiError::BadRequest(format!("error decoding YAML: {e} (as JSON: {json_err})"))
                })
            }
            Err(e) => Err(ApiError::BadRequest(format!(
                "the body of the request was in an unknown format: {e}"
            ))),
        }
    }
}

pub fn parse_query(query: Option<&str>) -> HashMap<String, String> {
    query
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

pub fn json_response(code: u16, value: &Value) -> Response<Body> {
    json_response_typed(code, value, "application/json")
}

pub fn json_response_typed(code: u16, value: &Value, content_type: &str) -> Response<Body> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut resp = Response::new(full(body));
    *resp.status_mut() =
        hyper::StatusCode::from_u16(code).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = content_type.parse() {
        resp.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    resp
}

pub fn error_response(err: &ApiError) -> Response<Body> {
    json_response(err.code(), &err.status())
}

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Version,
    Health,
    LegacyApi,
    Groups,
    Group(String),
    GroupVersion(String, String),
    OpenApi,
    Resource(ResourcePath),
}

/// `/api/v1/namespaces/{ns}/{plural}/{name}/{sub}` and its shorter forms, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePath {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub plural: String,
    pub name: Option<String>,
    pub sub: Option<String>,
}

pub fn route(path: &str) -> Option<Route> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["version"] => Some(Route::Version),
        ["healthz" | "readyz" | "livez"] => Some(Route::Health),
        ["openapi", ..] => Some(Route::OpenApi),
        ["api"] => Some(Route::LegacyApi),
        ["api", v] => Some(Route::GroupVersion(String::new(), v.to_string())),
        ["api", v, rest @ ..] => resource_path("", v, rest),
        ["apis"] => Some(Route::Groups),
        ["apis", g] => Some(Route::Group(g.to_string())),
        ["apis", g, v] => Some(Route::GroupVersion(g.to_string(), v.to_string())),
        ["apis", g, v, rest @ ..] => resource_path(g, v, rest),
        _ => None,
    }
}

fn resource_path(group: &str, version: &str, rest: &[&str]) -> Option<Route> {
    // `namespaces/x/status` is the Namespace x's subresource, not a resource named "status".
    let namespaced = rest.len() >= 3
        && rest[0] == "namespaces"
        && !(rest.len() == 3 && matches!(rest[2], "status" | "finalize"));
    let (namespace, rest) = if namespaced {
        (Some(rest[1].to_string()), &rest[2..])
    } else {
        (None, rest)
    };
    let (plural, name, sub) = match rest {
        [p] => (p, None, None),
        [p, n] => (p, Some(n.to_string()), None),
        [p, n, s] => (p, Some(n.to_string()), Some(s.to_string())),
        _ => return None,
    };
    Some(Route::Resource(ResourcePath {
        group: group.into(),
        version: version.into(),
        namespace,
        plural: plural.to_string(),
        name,
        sub,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rp(route: Option<Route>) -> ResourcePath {
        match route {
            Some(Route::Resource(r)) => r,
            other => panic!("not a resource route: {other:?}"),
        }
    }

    #[test]
    fn routes() {
        let r = rp(route(
            "/apis/qserv.in2p3.fr/v1alpha1/namespaces/default/qservclusters/q/status",
        ));
        assert_eq!(r.group, "qserv.in2p3.fr");
        assert_eq!(r.namespace.as_deref(), Some("default"));
        assert_eq!(r.plural, "qservclusters");
        assert_eq!(r.name.as_deref(), Some("q"));
        assert_eq!(r.sub.as_deref(), Some("status"));
        let r = rp(route("/api/v1/namespaces/kube-system/status"));
        assert_eq!(
            (r.plural.as_str(), r.name.as_deref()),
            ("namespaces", Some("kube-system"))
        );
        let r = rp(route("/api/v1/pods"));
        assert_eq!((r.namespace, r.name), (None, None));
        assert_eq!(route("/apis"), Some(Route::Groups));
        assert_eq!(route("/nothing/here"), None);
    }
}
