//! PVE-shaped answers: `{"data": …}` (plus `total`) on success; on failure
//! `{"data":null,"message":"…"}` (plus `errors` for 400), or an empty body for 401 and proxy
//! errors, always with `Connection: close` like pveproxy.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper::ext::ReasonPhrase;
use serde_json::{Map, Value, json};

use crate::sim::world::Error;

/// What every API handler returns.
pub(crate) type ApiResult = Result<Response, ApiError>;

/// The `Content-Type` pveproxy sends with JSON.
pub(crate) const JSON_CONTENT_TYPE: &str = "application/json;charset=UTF-8";

/// `{"data": data}` with status 200.
pub(crate) fn ok(data: Value) -> ApiResult {
    Ok(json_response(StatusCode::OK, &json!({ "data": data })))
}

/// `{"data": data, "total": total}` with status 200 (PVE omits `total` when it is 0).
pub(crate) fn ok_with_total(data: Value, total: usize) -> ApiResult {
    let mut body = Map::new();
    body.insert("data".into(), data);
    if total > 0 {
        body.insert("total".into(), total.into());
    }
    Ok(json_response(StatusCode::OK, &Value::Object(body)))
}

/// Serialises `body` with PVE's content type.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{\"data\":null}".to_vec());
    let mut res = (status, bytes).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(JSON_CONTENT_TYPE),
    );
    res
}

/// An answer whose JSON body is already serialised (`{"data": …}`), with status 200.
pub(crate) fn json_bytes(body: Vec<u8>) -> Response {
    let mut res = (StatusCode::OK, body).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(JSON_CONTENT_TYPE),
    );
    res
}

/// A failed API call, as PVE reports it.
#[derive(Clone, Debug)]
pub(crate) struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The message; PVE keeps the trailing newline of `die "…\n"`.
    pub message: String,
    /// Per-parameter messages (400 only).
    pub errors: BTreeMap<String, String>,
    /// False for answers without a body (401, errors of the proxy to another node).
    pub with_body: bool,
}

impl ApiError {
    /// An error with a JSON body; `status` must be a valid HTTP status code.
    pub(crate) fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            message: message.into(),
            errors: BTreeMap::new(),
            with_body: true,
        }
    }

    /// 500 with `message`, newline-terminated like PVE's `die "…\n"`.
    pub(crate) fn fail(message: impl Into<String>) -> Self {
        Self::new(500, with_newline(message.into()))
    }

    /// 400 "Parameter verification failed." with one parameter error.
    pub(crate) fn param(name: &str, message: impl Into<String>) -> Self {
        let mut errors = BTreeMap::new();
        errors.insert(name.to_owned(), message.into());
        Self::params(errors)
    }

    /// 400 "Parameter verification failed." with the given parameter errors.
    pub(crate) fn params(errors: BTreeMap<String, String>) -> Self {
        Self {
            errors,
            ..Self::new(400, "Parameter verification failed.\n")
        }
    }

    /// 403 "Permission check failed (<path>, <privileges>)".
    pub(crate) fn forbidden(path: &str, privs: &str) -> Self {
        Self::new(403, format!("Permission check failed ({path}, {privs})\n"))
    }

    /// 403 "Permission check failed (<what>)" for checks that name no privilege.
    pub(crate) fn forbidden_because(what: &str) -> Self {
        Self::new(403, format!("Permission check failed ({what})\n"))
    }

    /// 501 for an unknown path or method; PVE's text has no trailing newline.
    pub(crate) fn not_implemented(method: &str, rel_path: &str) -> Self {
        Self::new(501, format!("Method '{method} {rel_path}' not implemented"))
    }

    /// 401 with an empty body; `reason` is what pveproxy puts in the status line.
    pub(crate) fn unauthorized(reason: &str) -> Self {
        Self {
            with_body: false,
            ..Self::new(401, reason)
        }
    }

    /// An error of pveproxy's proxy to another node (e.g. 595 "No route to host"): no body.
    pub(crate) fn proxy(status: u16, reason: &str) -> Self {
        Self {
            with_body: false,
            ..Self::new(status, reason)
        }
    }
}

/// Each refusal of the world as PVE answers it.
impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Failed(message) => Self::fail(message),
            Error::Forbidden { path, privilege } => Self::forbidden(&path, &privilege),
            Error::UnknownNode(_) => Self::fail(e.to_string()),
            Error::NodeUnreachable => Self::proxy(595, &e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = if self.with_body {
            let mut body = Map::new();
            body.insert("data".into(), Value::Null);
            body.insert("message".into(), Value::String(self.message.clone()));
            if !self.errors.is_empty() {
                body.insert("errors".into(), json!(self.errors));
            }
            json_response(self.status, &Value::Object(body))
        } else {
            self.status.into_response()
        };
        // pveproxy ends keep-alive after any error answer.
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        // pveproxy's status line carries the message's first line as reason phrase; the
        // header repeats it for clients that cannot read reason phrases.
        let reason = first_line(&self.message);
        if let Ok(v) = HeaderValue::from_str(reason) {
            res.headers_mut().insert("x-pve-sim-reason", v);
        }
        if let Ok(phrase) = ReasonPhrase::try_from(reason.to_owned()) {
            res.extensions_mut().insert(phrase);
        }
        res
    }
}

/// The text pveproxy would put after the status code: the message's first line.
pub(crate) fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or("")
}

fn with_newline(mut s: String) -> String {
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}
