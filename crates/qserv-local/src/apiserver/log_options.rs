//! What a Pod log request asks, decided as kube-apiserver and the kubelet decide it (pure): its
//! `PodLogOptions`, the container it reads and the run of that container whose log it gets.
//! The answers' texts and their sources are listed in `logs.rs`.

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use super::errors::{ApiError, ApiResult, Cause};
use super::http::Req;

/// `PodLogOptions` from the query.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogOptions {
    pub container: Option<String>,
    pub follow: bool,
    pub previous: bool,
    pub since_seconds: Option<i64>,
    pub since_time: Option<Timestamp>,
    pub timestamps: bool,
    pub tail_lines: Option<i64>,
    pub limit_bytes: Option<i64>,
}

impl LogOptions {
    /// The query's options; a value that does not parse is a 400 naming the parameter.
    pub fn parse(req: &Req) -> ApiResult<LogOptions> {
        let bad = |key: &str, value: &str, what: &str| {
            ApiError::BadRequest(format!("{key}: invalid value {value:?}: {what}"))
        };
        let int = |key: &str| -> ApiResult<Option<i64>> {
            req.param(key)
                .map(|v| v.parse().map_err(|_| bad(key, v, "not an integer")))
                .transpose()
        };
        // Go's strconv.ParseBool, which the query conversion uses.
        let flag = |key: &str| -> ApiResult<bool> {
            match req.param(key) {
                None => Ok(false),
                Some("1" | "t" | "T" | "TRUE" | "true" | "True") => Ok(true),
                Some("0" | "f" | "F" | "FALSE" | "false" | "False") => Ok(false),
                Some(v) => Err(bad(key, v, "not a boolean")),
            }
        };
        match req.param("stream") {
            None | Some("All") => {}
            Some(other) => {
                return Err(ApiError::BadRequest(format!(
                    "unable to return the given log stream: {other:?}. Please enable \
                     PodLogsQuerySplitStreams feature gate in kubelet"
                )));
            }
        }
        flag("insecureSkipTLSVerifyBackend")?;
        Ok(LogOptions {
            container: req.param("container").map(String::from),
            follow: flag("follow")?,
            previous: flag("previous")?,
            since_seconds: int("sinceSeconds")?,
            since_time: req
                .param("sinceTime")
                .map(|v| {
                    v.parse()
                        .map_err(|_| bad("sinceTime", v, "not an RFC 3339 time"))
                })
                .transpose()?,
            timestamps: flag("timestamps")?,
            tail_lines: int("tailLines")?,
            limit_bytes: int("limitBytes")?,
        })
    }

    /// kube-apiserver's `ValidatePodLogOptions`.
    pub fn validate(&self, pod: &str) -> ApiResult<()> {
        let mut causes = Vec::new();
        let mut invalid = |field: &str, message: String| {
            causes.push(Cause {
                field: field.into(),
                message,
            })
        };
        if let Some(n) = self.tail_lines.filter(|n| *n < 0) {
            invalid(
                "tailLines",
                format!("{n}: must be greater than or equal to 0"),
            );
        }
        if let Some(n) = self.limit_bytes.filter(|n| *n < 1) {
            invalid("limitBytes", format!("{n}: must be greater than 0"));
        }
        match (self.since_seconds, self.since_time) {
            (Some(_), Some(_)) => invalid(
                "",
                "at most one of `sinceTime` or `sinceSeconds` may be specified".into(),
            ),
            (Some(n), None) if n < 1 => {
                invalid("sinceSeconds", format!("{n}: must be greater than 0"))
            }
            _ => {}
        }
        if causes.is_empty() {
            return Ok(());
        }
        Err(ApiError::Invalid {
            group: String::new(),
            kind: "PodLogOptions".into(),
            name: pod.into(),
            causes,
        })
    }

    /// The time before which entries are left out, if any.
    pub fn since(&self, now: Timestamp) -> Option<Timestamp> {
        self.since_time.or_else(|| {
            self.since_seconds
                .and_then(|s| now.checked_sub(SignedDuration::from_secs(s)).ok())
        })
    }
}

/// The container to read: the one named, else the pod's only one (`validateContainer`).
pub fn container_of(pod: &Value, name: &str, wanted: Option<&str>) -> ApiResult<String> {
    let names = |key: &str| -> Vec<String> {
        pod["spec"][key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str().map(String::from))
            .collect()
    };
    let containers = names("containers");
    let all: Vec<String> = names("initContainers")
        .into_iter()
        .chain(containers.iter().cloned())
        .chain(names("ephemeralContainers"))
        .collect();
    match wanted {
        Some(c) if all.iter().any(|n| n == c) => Ok(c.to_string()),
        Some(c) => Err(ApiError::BadRequest(format!(
            "container {c} is not valid for pod {name}"
        ))),
        None if containers.len() == 1 => Ok(containers[0].clone()),
        None if containers.is_empty() => Err(ApiError::BadRequest(format!(
            "a container name must be specified for pod {name}"
        ))),
        None => Err(ApiError::BadRequest(format!(
            "a container name must be specified for pod {name}, choose one of: [{}]",
            all.join(" ")
        ))),
    }
}

/// A run of a container, by the restart count it started with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    pub number: i32,
    /// It is the container's running one (a follow waits for more).
    pub running: bool,
}

/// The run whose log the kubelet serves, from the pod's status (`validateContainerLogStatus`):
/// the running one, else the one that ended; `previous`: the one before.
pub fn run_to_read(pod: &Value, name: &str, container: &str, previous: bool) -> ApiResult<Run> {
    let status = [
        "containerStatuses",
        "initContainerStatuses",
        "ephemeralContainerStatuses",
    ]
    .iter()
    .flat_map(|key| pod["status"][key].as_array().into_iter().flatten())
    .find(|s| s["name"] == container)
    .ok_or_else(|| {
        ApiError::BadRequest(format!(
            "container {container:?} in pod {name:?} is not available"
        ))
    })?;
    let restarts = status["restartCount"].as_i64().unwrap_or(0) as i32;
    let state = &status["state"];
    let ended_before = status["lastState"]["terminated"].is_object();
    let waiting = state["waiting"].is_object();
    if previous {
        if !ended_before {
            return Err(ApiError::BadRequest(format!(
                "previous terminated container {container:?} in pod {name:?} not found"
            )));
        }
        // While it waits to restart, the run that ended last is the latest one.
        let number = if waiting { restarts } else { restarts - 1 };
        return Ok(Run {
            number,
            running: false,
        });
    }
    if state["running"].is_object() {
        return Ok(Run {
            number: restarts,
            running: true,
        });
    }
    if state["terminated"].is_object() || ended_before {
        return Ok(Run {
            number: restarts,
            running: false,
        });
    }
    let reason = state["waiting"]["reason"].as_str();
    Err(ApiError::BadRequest(match reason {
        Some(reason) if waiting => {
            format!("container {container:?} in pod {name:?} is waiting to start: {reason}")
        }
        _ => format!("container {container:?} in pod {name:?} is waiting to start - no logs yet"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use serde_json::json;

    fn req(query: &str) -> Req {
        Req {
            method: hyper::Method::GET,
            path: "/api/v1/namespaces/default/pods/p/log".into(),
            query: super::super::http::parse_query(Some(query)),
            accept: String::new(),
            content_type: String::new(),
            body: Bytes::new(),
        }
    }

    fn message(e: ApiError) -> (u16, String) {
        (e.code(), e.to_string())
    }

    #[test]
    fn options_parse_and_validate_as_kube_apiserver_does() {
        let o = LogOptions::parse(&req(
            "container=load&follow=true&tailLines=5&timestamps=1&sinceTime=2026-01-01T00:00:00Z",
        ))
        .unwrap();
        assert_eq!(o.container.as_deref(), Some("load"));
        assert!(o.follow && o.timestamps && !o.previous);
        assert_eq!(o.tail_lines, Some(5));
        assert_eq!(o.since_time.unwrap().to_string(), "2026-01-01T00:00:00Z");
        assert_eq!(o.validate("p").ok(), Some(()));

        assert_eq!(
            message(LogOptions::parse(&req("tailLines=x")).unwrap_err()),
            (400, "tailLines: invalid value \"x\": not an integer".into())
        );
        assert_eq!(
            message(LogOptions::parse(&req("follow=yes")).unwrap_err()).0,
            400
        );
        assert!(
            message(LogOptions::parse(&req("stream=Stderr")).unwrap_err())
                .1
                .contains("PodLogsQuerySplitStreams")
        );

        let invalid = |q: &str| {
            message(
                LogOptions::parse(&req(q))
                    .unwrap()
                    .validate("p")
                    .unwrap_err(),
            )
        };
        assert_eq!(
            invalid("tailLines=-1"),
            (
                422,
                "PodLogOptions \"p\" is invalid: [tailLines: Invalid value: -1: must be greater \
                 than or equal to 0]"
                    .into()
            )
        );
        assert_eq!(
            invalid("limitBytes=0").1,
            "PodLogOptions \"p\" is invalid: [limitBytes: Invalid value: 0: must be greater than 0]"
        );
        assert_eq!(
            invalid("sinceSeconds=0").1,
            "PodLogOptions \"p\" is invalid: [sinceSeconds: Invalid value: 0: must be greater than 0]"
        );
        assert!(
            invalid("sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z")
                .1
                .contains("at most one of `sinceTime` or `sinceSeconds` may be specified")
        );
    }

    fn pod(containers: &[&str], statuses: Value) -> Value {
        let cs: Vec<Value> = containers.iter().map(|c| json!({"name": c})).collect();
        json!({"metadata": {"name": "p", "uid": "u"}, "spec": {"containers": cs},
               "status": {"containerStatuses": statuses}})
    }

    #[test]
    fn the_container_is_named_or_the_only_one() {
        let one = pod(&["main"], json!([]));
        assert_eq!(container_of(&one, "p", None).unwrap(), "main");
        assert_eq!(
            message(container_of(&one, "p", Some("side")).unwrap_err()),
            (400, "container side is not valid for pod p".into())
        );
        let two = pod(&["mariadb", "proxy"], json!([]));
        assert_eq!(
            message(container_of(&two, "p", None).unwrap_err()),
            (
                400,
                "a container name must be specified for pod p, choose one of: [mariadb proxy]"
                    .into()
            )
        );
        assert_eq!(container_of(&two, "p", Some("proxy")).unwrap(), "proxy");
        assert_eq!(
            container_of(&pod(&[], json!([])), "p", None)
                .unwrap_err()
                .to_string(),
            "a container name must be specified for pod p"
        );
    }

    #[test]
    fn the_run_is_the_kubelets_choice() {
        let with = |state: Value, last: Value, restarts: i64| {
            pod(
                &["main"],
                json!([{"name": "main", "restartCount": restarts, "state": state, "lastState": last}]),
            )
        };
        let running = json!({"running": {}});
        let ended = json!({"terminated": {"exitCode": 1}});
        let backoff = json!({"waiting": {"reason": "CrashLoopBackOff"}});
        let run = |p: &Value, previous| run_to_read(p, "p", "main", previous).ok();
        let refused =
            |p: &Value, previous| message(run_to_read(p, "p", "main", previous).unwrap_err());
        let live = |number| Run {
            number,
            running: true,
        };
        let number = |number| Run {
            number,
            running: false,
        };

        assert_eq!(
            run(&with(running.clone(), json!({}), 0), false),
            Some(live(0))
        );
        assert_eq!(
            refused(&with(running.clone(), json!({}), 0), true),
            (
                400,
                "previous terminated container \"main\" in pod \"p\" not found".into()
            )
        );
        // Restarted twice: the second restart runs, the first restart is the previous run.
        assert_eq!(run(&with(running, ended.clone(), 2), false), Some(live(2)));
        assert_eq!(
            run(&with(json!({"running": {}}), ended.clone(), 2), true),
            Some(number(1))
        );
        // Waiting to restart after its third run ended: that run is current and previous.
        assert_eq!(
            run(&with(backoff.clone(), ended.clone(), 2), false),
            Some(number(2))
        );
        assert_eq!(run(&with(backoff, ended.clone(), 2), true), Some(number(2)));
        assert_eq!(run(&with(ended, json!({}), 0), false), Some(number(0)));
        assert_eq!(
            refused(
                &with(
                    json!({"waiting": {"reason": "ContainerCreating"}}),
                    json!({}),
                    0
                ),
                false
            ),
            (
                400,
                "container \"main\" in pod \"p\" is waiting to start: ContainerCreating".into()
            )
        );
        assert_eq!(
            refused(&pod(&["main"], json!([])), false).1,
            "container \"main\" in pod \"p\" is not available"
        );
    }
}
