//! Reading PVE answers: `{"data": …}` on success, and PVE's error bodies mapped to [`Error`].

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// The success envelope.
#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
}

/// The parts of an error body we use: `{"data":null,"message":"…","errors":{…}}`.
#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    message: Option<serde_json::Value>,
    #[serde(default)]
    errors: Option<BTreeMap<String, serde_json::Value>>,
}

/// Decodes the `data` of a successful answer; `what` (e.g. `GET /nodes`) goes into the error.
pub(crate) fn decode_data<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice::<Envelope<T>>(body)
        .map(|e| e.data)
        .map_err(|e| Error::Decode {
            message: format!("{what}: {e}"),
        })
}

/// The error for a non-success HTTP status and its body.
pub(crate) fn error_from_response(status: u16, body: &[u8]) -> Error {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let message = match parsed.message {
        Some(serde_json::Value::String(s)) => s,
        Some(serde_json::Value::Null) | None => plain_text(body),
        Some(other) => other.to_string(),
    };
    let errors = parsed
        .errors
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => (k, s.trim().to_owned()),
            other => (k, other.to_string()),
        })
        .collect();
    Error::from_status(status, &message, errors)
}

/// A short non-JSON body (e.g. from a reverse proxy) as a message; empty for JSON or binary.
fn plain_text(body: &[u8]) -> String {
    let Ok(text) = std::str::from_utf8(body) else {
        return String::new();
    };
    let text = text.trim();
    if text.starts_with('{') || text.starts_with('<') {
        return String::new();
    }
    text.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_error_bodies() {
        // From TestACMEDNSCloudflare.json and TestResourceAffinityPlacement.json.
        let e = error_from_response(
            400,
            br#"{"errors":{"name":"ACME account config file 'sdk-staging' does not exist."},"data":null,"message":"Parameter verification failed.\n"}"#,
        );
        match e {
            Error::InvalidParameters { message, errors } => {
                assert_eq!(message, "Parameter verification failed.");
                assert_eq!(
                    errors["name"],
                    "ACME account config file 'sdk-staging' does not exist."
                );
            }
            other => panic!("{other:?}"),
        }
        let e = error_from_response(
            500,
            br#"{"data":null,"message":"create ha rule failed: 400 Rule 'sdk-itest-placement' is invalid.\nresources: rule defines more resources than available nodes\n"}"#,
        );
        assert!(matches!(e, Error::Upstream { status: 500, .. }), "{e:?}");
        assert!(matches!(
            error_from_response(401, b""),
            Error::Unauthorized { .. }
        ));
        assert!(matches!(
            error_from_response(502, b"<html>Bad Gateway</html>"),
            Error::Upstream { status: 502, .. }
        ));
    }

    #[test]
    fn decode_reports_what() {
        let e = decode_data::<Vec<u32>>(br#"{"data":{"x":1}}"#, "GET /nodes").unwrap_err();
        assert!(e.to_string().contains("GET /nodes"), "{e}");
        assert_eq!(
            decode_data::<Vec<u32>>(br#"{"data":[1,2]}"#, "x").unwrap(),
            [1, 2]
        );
    }
}
