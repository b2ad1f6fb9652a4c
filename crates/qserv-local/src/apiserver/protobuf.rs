//! Just enough of Kubernetes' protobuf encoding to accept what kubectl's typed generators send
//! for the kinds a newcomer creates by hand — `kubectl create namespace`, `create configmap`,
//! `create secret generic` — turned into the JSON the rest of the server handles. Any other
//! kind in protobuf is refused with 415 (everything else kubectl and kube::Client send is JSON).
//!
//! The envelope is the 4-byte magic `k8s\0` then a `runtime.Unknown` message: `typeMeta` (1:
//! apiVersion 1, kind 2) and `raw` (2), the object's own message. Field numbers below are those
//! of `k8s.io/api/core/v1/generated.proto` and `apimachinery/.../meta/v1/generated.proto`.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use serde_json::{Map, Value, json};

use super::errors::{ApiError, ApiResult};

const MAGIC: &[u8] = b"k8s\0";

enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// The fields of one message, in order.
fn fields(mut buf: &[u8]) -> ApiResult<Vec<(u64, Wire<'_>)>> {
    let bad = || ApiError::BadRequest("malformed protobuf body".into());
    fn varint(buf: &mut &[u8]) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = buf.split_first()?;
            *buf = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
    let mut out = Vec::new();
    while !buf.is_empty() {
        let key = varint(&mut buf).ok_or_else(bad)?;
        let wire = match key & 7 {
            0 => Wire::Varint(varint(&mut buf).ok_or_else(bad)?),
            2 => {
                let len = usize::try_from(varint(&mut buf).ok_or_else(bad)?).map_err(|_| bad())?;
                if len > buf.len() {
                    return Err(bad());
                }
                let (bytes, rest) = buf.split_at(len);
                buf = rest;
                Wire::Bytes(bytes)
            }
            1 | 5 => {
                let len = if key & 7 == 1 { 8 } else { 4 };
                buf = buf.get(len..).ok_or_else(bad)?;
                Wire::Fixed
            }
            _ => return Err(bad()),
        };
        out.push((key >> 3, wire));
    }
    Ok(out)
}

fn text(bytes: &[u8]) -> ApiResult<String> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| ApiError::BadRequest("protobuf string is not UTF-8".into()))
}

/// A `map<string, V>` entry: key 1, value 2.
fn entry(bytes: &[u8]) -> ApiResult<(String, Vec<u8>)> {
    let (mut key, mut value) = (String::new(), Vec::new());
    for (n, w) in fields(bytes)? {
        match (n, w) {
            (1, Wire::Bytes(b)) => key = text(b)?,
            (2, Wire::Bytes(b)) => value = b.to_vec(),
            _ => {}
        }
    }
    Ok((key, value))
}

fn object_meta(bytes: &[u8]) -> ApiResult<Value> {
    let mut meta = Map::new();
    let (mut labels, mut annotations) = (Map::new(), Map::new());
    let mut finalizers = Vec::new();
    for (n, w) in fields(bytes)? {
        let Wire::Bytes(b) = w else { continue };
        match n {
            1..=3 => {
                let key = ["name", "generateName", "namespace"][(n - 1) as usize];
                meta.insert(key.into(), json!(text(b)?));
            }
            11 | 12 => {
                let (k, v) = entry(b)?;
                let map = if n == 11 {
                    &mut labels
                } else {
                    &mut annotations
                };
                map.insert(k, json!(text(&v)?));
            }
            14 => finalizers.push(json!(text(b)?)),
            _ => {}
        }
    }
    for (key, value) in [("labels", labels), ("annotations", annotations)] {
        if !value.is_empty() {
            meta.insert(key.into(), Value::Object(value));
        }
    }
    if !finalizers.is_empty() {
        meta.insert("finalizers".into(), Value::Array(finalizers));
    }
    Ok(Value::Object(meta))
}

/// Decodes a protobuf request body into the JSON object it encodes.
pub fn decode(body: &[u8]) -> ApiResult<Value> {
    let unsupported = |what: &str| {
        ApiError::UnsupportedMediaType(format!("application/vnd.kubernetes.protobuf ({what})"))
    };
    let envelope = body
        .strip_prefix(MAGIC)
        .ok_or_else(|| ApiError::BadRequest("protobuf body without the k8s magic".into()))?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    for (n, w) in fields(envelope)? {
        match (n, w) {
            (1, Wire::Bytes(type_meta)) => {
                for (m, v) in fields(type_meta)? {
                    match (m, v) {
                        (1, Wire::Bytes(b)) => api_version = text(b)?,
                        (2, Wire::Bytes(b)) => kind = text(b)?,
                        _ => {}
                    }
                }
            }
            (2, Wire::Bytes(b)) => raw = b,
            _ => {}
        }
    }
    if api_version != "v1" || !matches!(kind.as_str(), "Namespace" | "ConfigMap" | "Secret") {
        return Err(unsupported(&format!("{api_version} {kind}")));
    }
    let mut obj = json!({"apiVersion": api_version, "kind": kind, "metadata": {}});
    let mut strings = BTreeMap::new();
    let mut bytes: BTreeMap<String, ByteString> = BTreeMap::new();
    let mut binary: BTreeMap<String, ByteString> = BTreeMap::new();
    let mut ns_finalizers = Vec::new();
    for (n, w) in fields(raw)? {
        match (kind.as_str(), n, w) {
            (_, 1, Wire::Bytes(b)) => obj["metadata"] = object_meta(b)?,
            ("ConfigMap", 2, Wire::Bytes(b)) | ("Secret", 4, Wire::Bytes(b)) => {
                let (k, v) = entry(b)?;
                strings.insert(k, text(&v)?);
            }
            ("ConfigMap", 3, Wire::Bytes(b)) => {
                let (k, v) = entry(b)?;
                binary.insert(k, ByteString(v));
            }
            ("Secret", 2, Wire::Bytes(b)) => {
                let (k, v) = entry(b)?;
                bytes.insert(k, ByteString(v));
            }
            ("Secret", 3, Wire::Bytes(b)) => obj["type"] = json!(text(b)?),
            ("ConfigMap", 4, Wire::Varint(v)) | ("Secret", 5, Wire::Varint(v)) => {
                obj["immutable"] = json!(v != 0)
            }
            ("Namespace", 2, Wire::Bytes(spec)) => {
                for (m, v) in fields(spec)? {
                    if let (1, Wire::Bytes(f)) = (m, v) {
                        ns_finalizers.push(text(f)?);
                    }
                }
            }
            _ => {}
        }
    }
    let field = |name: &str, value: Value| (name.to_string(), value);
    let extra = match kind.as_str() {
        "ConfigMap" => vec![
            field("data", json!(strings)),
            field("binaryData", json!(binary)),
        ],
        "Secret" => vec![
            field("stringData", json!(strings)),
            field("data", json!(bytes)),
        ],
        _ => vec![field("spec", json!({"finalizers": ns_finalizers}))],
    };
    for (key, value) in extra {
        let empty = value.as_object().is_some_and(Map::is_empty)
            || value["finalizers"].as_array().is_some_and(Vec::is_empty);
        if !empty {
            obj[key.as_str()] = value;
        }
    }
    Ok(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(fields: &[(u64, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (n, bytes) in fields {
            out.push(((n << 3) | 2) as u8);
            out.push(bytes.len() as u8);
            out.extend_from_slice(bytes);
        }
        out
    }

    fn envelope(kind: &str, raw: &[u8]) -> Vec<u8> {
        let type_meta = message(&[(1, b"v1"), (2, kind.as_bytes())]);
        let mut body = MAGIC.to_vec();
        body.extend(message(&[(1, &type_meta), (2, raw)]));
        body
    }

    #[test]
    fn a_config_map_as_kubectl_create_sends_it() {
        let meta = message(&[
            (1, b"czar"),
            (3, b"default"),
            (11, &message(&[(1, b"app"), (2, b"qserv")])),
        ]);
        let raw = message(&[(1, &meta), (2, &message(&[(1, b"role"), (2, b"czar")]))]);
        let obj = decode(&envelope("ConfigMap", &raw)).expect("decoded");
        assert_eq!(
            obj,
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "czar", "namespace": "default", "labels": {"app": "qserv"}},
                   "data": {"role": "czar"}})
        );
    }

    #[test]
    fn secrets_bytes_become_base64_and_other_kinds_are_refused() {
        let raw = message(&[
            (1, &message(&[(1, b"s")])),
            (2, &message(&[(1, b"pw"), (2, b"hi")])),
        ]);
        let obj = decode(&envelope("Secret", &raw)).expect("decoded");
        assert_eq!(obj["data"]["pw"], "aGk=");
        let err = decode(&envelope("Pod", &[])).expect_err("refused");
        assert_eq!(err.code(), 415);
        assert!(decode(b"k8s\0\x0a\x05ab").is_err(), "truncated");
    }
}
