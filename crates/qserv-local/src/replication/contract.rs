//! What every request must carry and what every answer looks like, as lsst/qserv
//! `src/http/BaseModule.cc` and `src/http/Module.cc` implement it: a refused request is
//! HTTP 200 with `success: 0`, `error`, `error_ext`, `warning`; authorization is checked
//! first (`admin_auth_key` or `auth_key` in the body), then the API version.

use std::collections::HashMap;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};
use serde_json::{Value, json};

/// The API version the stand-in implements, its own constant as each Qserv server has
/// (`Q@2026.3.3-rc1:src/http/MetaModule.cc:39`), not the client's: a client speaking another
/// version is refused here as the real server refuses it.
pub const MAX_VERSION: u32 = 55;
/// The lowest minimum of the endpoints the stand-in serves (`_addDatabase` and most others,
/// `Q@2026.3.3-rc1:src/replica/contr/HttpIngestModule.cc:206`); each endpoint passes its own
/// to [`Params::check_version`].
pub const MIN_VERSION: u32 = 12;

/// A refused request: `error` and `error_ext` of the answer.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub status: StatusCode,
    pub error: String,
    pub error_ext: Value,
}

impl Refusal {
    pub fn new(error: impl Into<String>) -> Self {
        Refusal {
            status: StatusCode::OK,
            error: error.into(),
            error_ext: json!({}),
        }
    }

    pub fn with_ext(mut self, ext: Value) -> Self {
        self.error_ext = ext;
        self
    }

    pub fn not_found(path: &str) -> Self {
        Refusal {
            status: StatusCode::NOT_FOUND,
            error: format!("no such service: {path}"),
            error_ext: json!({}),
        }
    }

    /// An infrastructure failure (a worker MariaDB down): HTTP 500, worth a retry.
    pub fn internal(error: impl Into<String>) -> Self {
        Refusal {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: error.into(),
            error_ext: json!({}),
        }
    }
}

pub type Outcome = Result<Value, Refusal>;

pub fn respond(outcome: Outcome) -> Response<Full<Bytes>> {
    let (status, body) = match outcome {
        Ok(mut v) => {
            if !v.is_object() {
                v = json!({});
            }
            let m = v.as_object_mut().expect("an object");
            m.insert("success".into(), json!(1));
            m.insert("error".into(), json!(""));
            m.insert("error_ext".into(), json!({}));
            m.insert("warning".into(), json!(""));
            (StatusCode::OK, v)
        }
        Err(r) => (
            r.status,
            json!({"success": 0, "error": r.error, "error_ext": r.error_ext, "warning": ""}),
        ),
    };
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a valid response")
}

/// Request parameters: the JSON body (or the form fields of a multipart body) and the query.
#[derive(Debug, Default)]
pub struct Params {
    pub body: serde_json::Map<String, Value>,
    pub query: HashMap<String, String>,
}

impl Params {
    pub fn parse_json_body(bytes: &[u8]) -> Result<serde_json::Map<String, Value>, Refusal> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Default::default());
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(Value::Null) => Ok(Default::default()),
            _ => Err(Refusal::new(
                "invalid parameters of the request, ex: invalid format of the request body. \
                 A simple JSON object was expected",
            )),
        }
    }

    pub fn parse_query(q: Option<&str>) -> HashMap<String, String> {
        form_urlencoded::parse(q.unwrap_or("").as_bytes())
            .into_owned()
            .collect()
    }

    /// Authorization as `BaseModule::enforceAuthorization`; `true` when the admin key was given.
    pub fn authorize(&self, auth_key: &str, admin_auth_key: &str) -> Result<bool, Refusal> {
        let fail = |m: &str| {
            Refusal::new(format!(
                "failed to pass authorization requirements, ex: {m}"
            ))
        };
        if let Some(k) = self.body.get("admin_auth_key") {
            if k.as_str() != Some(admin_auth_key) {
                return Err(fail(
                    "administrator's authorization key 'admin_auth_key' in the request \
                     doesn't match the one in server configuration",
                ));
            }
            return Ok(true);
        }
        if let Some(k) = self.body.get("auth_key") {
            if k.as_str() != Some(auth_key) {
                return Err(fail(
                    "authorization key 'auth_key' in the request doesn't match the one in \
                     server configuration",
                ));
            }
            return Ok(false);
        }
        Err(fail(
            "none of the authorization keys 'auth_key' or 'admin_auth_key' was found in the \
             request. Please, provide one.",
        ))
    }

    /// `BaseModule::checkApiVersion` (`Q@2026.3.3-rc1:src/http/BaseModule.cc:57-89`): the
    /// `version` of the body, else of the query, must be in `[min, MAX_VERSION]`; a missing
    /// (or 0) version is let through (the real server only adds a warning,
    /// `BaseModule.cc:76-79`).
    pub fn check_version(&self, min: u32) -> Result<(), Refusal> {
        let ext = json!({"min_version": min, "max_version": MAX_VERSION});
        let raw = self
            .body
            .get("version")
            .cloned()
            .or_else(|| self.query.get("version").map(|s| Value::String(s.clone())));
        let Some(raw) = raw else {
            return Ok(());
        };
        let version = match &raw {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
        let Some(version) = version else {
            return Err(
                Refusal::new("The optional parameter version is not a number.").with_ext(ext),
            );
        };
        if version == 0 {
            return Ok(());
        }
        if !(u64::from(min)..=u64::from(MAX_VERSION)).contains(&version) {
            return Err(Refusal::new(format!(
                "The requested version {version} of the API is not in the range supported by \
                 the service."
            ))
            .with_ext(ext));
        }
        Ok(())
    }

    pub fn string(&self, key: &str) -> Result<String, Refusal> {
        match self.body.get(key) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(Refusal::new(format!(
                "invalid parameters of the request, ex: parameter '{key}' is not a string"
            ))),
            None => Err(missing(key)),
        }
    }

    pub fn opt_string(&self, key: &str) -> String {
        self.body
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }

    pub fn uint(&self, key: &str) -> Result<u64, Refusal> {
        match self.body.get(key) {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            Some(_) => None,
            None => return Err(missing(key)),
        }
        .ok_or_else(|| {
            Refusal::new(format!(
                "invalid parameters of the request, ex: parameter '{key}' is not an unsigned number"
            ))
        })
    }

    pub fn number(&self, key: &str) -> Result<f64, Refusal> {
        match self.body.get(key) {
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            Some(_) => None,
            None => return Err(missing(key)),
        }
        .ok_or_else(|| {
            Refusal::new(format!(
                "invalid parameters of the request, ex: parameter '{key}' is not a number"
            ))
        })
    }
}

fn missing(key: &str) -> Refusal {
    Refusal::new(format!(
        "invalid parameters of the request, ex: required parameter '{key}' is missing in the request"
    ))
}
