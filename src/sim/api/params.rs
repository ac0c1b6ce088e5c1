//! Request parameters the way PVE sees them: query string and body (form or JSON) merged with the
//! URI's path parameters, then checked against the endpoint's schema with PVE's own error texts
//! (pve-common `PVE::JSONSchema::check_prop`).

use std::collections::BTreeMap;

use axum::extract::{FromRequest, Request};
use axum::http::header;
use percent_encoding::percent_decode_str;
use serde_json::Value;

use super::reply::ApiError;
use crate::sim::world::migrate::{StorageMap, split_list};
use crate::sim::world::model::is_node_name;

/// pveproxy refuses bodies above 512 KiB.
const MAX_BODY: usize = 512 * 1024;

/// A schema format with its own check.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Format {
    /// `pve-node`: a host name label.
    Node,
    /// `pve-vmid`: 3 to 9 digits, no leading zero.
    Vmid,
    /// `pve-configid`: a letter, then letters, digits, `-` or `_` (snapshot names).
    ConfigId,
    /// `pve-poolid`: up to three `/`-separated levels of letters, digits, `-` and `_`, none
    /// starting with `-`.
    PoolId,
    /// `storage-pair-list`: each entry a `SOURCE:TARGET` pair, a lone target or `1`
    /// (`verify_storagepair` per entry; the whole map is the endpoint's to parse).
    StoragePairList,
}

/// A parameter's JSON-schema type.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    Str,
    Int,
    Bool,
}

/// One parameter of an endpoint's schema.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Spec {
    name: &'static str,
    kind: Kind,
    optional: bool,
    format: Option<Format>,
    min: Option<i64>,
    max: Option<i64>,
    max_len: Option<usize>,
    one_of: Option<&'static [&'static str]>,
}

impl Spec {
    const fn new(name: &'static str, kind: Kind) -> Self {
        Self {
            name,
            kind,
            optional: false,
            format: None,
            min: None,
            max: None,
            max_len: None,
            one_of: None,
        }
    }
    /// A required string.
    pub(crate) const fn string(name: &'static str) -> Self {
        Self::new(name, Kind::Str)
    }
    /// A required integer.
    pub(crate) const fn integer(name: &'static str) -> Self {
        Self::new(name, Kind::Int)
    }
    /// A required boolean (`0`/`1` in forms, `true`/`false` in JSON bodies).
    pub(crate) const fn boolean(name: &'static str) -> Self {
        Self::new(name, Kind::Bool)
    }
    /// Makes the parameter optional.
    pub(crate) const fn optional(mut self) -> Self {
        self.optional = true;
        self
    }
    /// Adds a format check.
    pub(crate) const fn format(mut self, f: Format) -> Self {
        self.format = Some(f);
        self
    }
    /// Adds `minimum`.
    pub(crate) const fn min(mut self, v: i64) -> Self {
        self.min = Some(v);
        self
    }
    /// Adds `maxLength`.
    pub(crate) const fn max_len(mut self, v: usize) -> Self {
        self.max_len = Some(v);
        self
    }
    /// Adds an `enum`.
    pub(crate) const fn one_of(mut self, values: &'static [&'static str]) -> Self {
        self.one_of = Some(values);
        self
    }
}

/// `node` (standard option `pve-node`).
pub(crate) const NODE: Spec = Spec::string("node").format(Format::Node);
/// `snapname` (standard option `pve-snapshot-name`).
pub(crate) const SNAPNAME: Spec = Spec::string("snapname")
    .format(Format::ConfigId)
    .max_len(40);
/// `vmid` (standard option `pve-vmid`).
pub(crate) const VMID: Spec = {
    let mut s = Spec::integer("vmid").format(Format::Vmid).min(100);
    s.max = Some(999_999_999);
    s
};

/// `pve-poolid` (pve-access-control's `verify_poolid`; nested pools since PVE 8.1): up to
/// three `/`-separated levels, each of letters, digits, `.`, `-` and `_`.
fn is_pool_id(value: &str) -> bool {
    value.split('/').count() <= 3
        && value.split('/').all(|level| {
            !level.is_empty()
                && level
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        })
}

/// All parameters of one request, by name.
#[derive(Clone, Debug, Default)]
pub(crate) struct Params(BTreeMap<String, String>);

impl Params {
    /// Adds the URI's path parameters; a different value for the same name in the query or
    /// body is refused like PVE's `rest_handler` does.
    pub(crate) fn with_uri(mut self, uri: &[(&str, &str)]) -> Result<Self, ApiError> {
        for (name, value) in uri {
            if let Some(old) = self.0.get(*name)
                && old != value
            {
                return Err(ApiError::param(
                    name,
                    "duplicate parameter (already defined in URI) with conflicting values!",
                ));
            }
            self.0.insert((*name).to_owned(), (*value).to_owned());
        }
        Ok(self)
    }

    /// Checks every parameter against `specs` (`additionalProperties: 0`).
    pub(crate) fn validate(&self, specs: &[Spec]) -> Result<(), ApiError> {
        let mut errors = BTreeMap::new();
        for spec in specs {
            match self.0.get(spec.name) {
                None if !spec.optional => {
                    errors.insert(
                        spec.name.to_owned(),
                        "property is missing and it is not optional".to_owned(),
                    );
                }
                None => {}
                Some(v) => {
                    if let Err(e) = check(spec, v) {
                        errors.insert(spec.name.to_owned(), e);
                    }
                }
            }
        }
        for name in self.0.keys() {
            if !specs.iter().any(|s| s.name == name) {
                errors.insert(
                    name.clone(),
                    "property is not defined in schema and the schema does not allow additional properties"
                        .to_owned(),
                );
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::params(errors))
        }
    }

    /// Parameters from (name, value) pairs (for checks of merged settings).
    pub(crate) fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        )
    }

    /// Every (name, value), sorted by name.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The raw value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// An integer parameter (after [`Params::validate`]).
    pub(crate) fn int(&self, name: &str) -> Option<i64> {
        self.get(name)
            .and_then(|v| v.trim_start_matches('+').parse().ok())
    }

    /// A boolean parameter (after [`Params::validate`]); absent is false.
    pub(crate) fn flag(&self, name: &str) -> bool {
        self.get(name) == Some("1")
    }
}

/// One value against one spec, in the order of pve-common's `check_prop`.
fn check(spec: &Spec, value: &str) -> Result<(), String> {
    match spec.kind {
        Kind::Int if !is_integer(value) => {
            return Err(format!("type check ('integer') failed - got '{value}'"));
        }
        Kind::Bool if value != "0" && value != "1" => {
            return Err(format!("type check ('boolean') failed - got '{value}'"));
        }
        _ => {}
    }
    match spec.format {
        Some(Format::Node) if !is_node_name(value) => {
            return Err("invalid format - value does not look like a valid node name\n".to_owned());
        }
        Some(Format::Vmid) if !is_vmid(value) => {
            return Err("invalid format - value does not look like a valid VM ID\n".to_owned());
        }
        Some(Format::ConfigId) if !is_config_id(value) => {
            return Err(format!(
                "invalid format - invalid configuration ID '{value}'\n"
            ));
        }
        Some(Format::PoolId) if value.split('/').count() > 3 => {
            return Err(format!(
                "invalid format - pool name '{value}' nested too deeply (max levels = 3)\n"
            ));
        }
        Some(Format::PoolId) if !is_pool_id(value) => {
            return Err(format!(
                "invalid format - pool name '{value}' contains illegal characters\n"
            ));
        }
        Some(Format::StoragePairList) => {
            // `check_format` of a `-list` format stops at the first bad entry.
            for entry in split_list(value) {
                StorageMap::check_entry(entry).map_err(|e| format!("invalid format - {e}"))?;
            }
        }
        _ => {}
    }
    if let Some(max) = spec.max_len
        && value.chars().count() > max
    {
        return Err(format!("value may only be {max} characters long"));
    }
    if let Ok(n) = value.trim_start_matches('+').parse::<i64>() {
        if let Some(max) = spec.max.filter(|m| n > *m) {
            return Err(format!("value must have a maximum value of {max}"));
        }
        if let Some(min) = spec.min.filter(|m| n < *m) {
            return Err(format!("value must have a minimum value of {min}"));
        }
    }
    if let Some(values) = spec.one_of
        && !values.contains(&value)
    {
        return Err(format!(
            "value '{value}' does not have a value in the enumeration '{}'",
            values.join(", ")
        ));
    }
    Ok(())
}

fn is_integer(v: &str) -> bool {
    let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// `pve-configid`: `^[a-z][a-z0-9_-]+$`, case-insensitive.
fn is_config_id(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphabetic()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_'))
}

/// `pve-vmid`: `^[1-9][0-9]{2,8}$`.
fn is_vmid(v: &str) -> bool {
    let b = v.as_bytes();
    (3..=9).contains(&b.len()) && b[0] != b'0' && b.iter().all(u8::is_ascii_digit)
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let mut map = BTreeMap::new();
        if let Some(q) = req.uri().query() {
            decode_urlencoded(q, &mut map);
        }
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let body = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|_| ApiError::new(413, "request too large\n"))?;
        if body.is_empty() {
            return Ok(Params(map));
        }
        if is_json {
            let v: Value = serde_json::from_slice(&body)
                .map_err(|e| ApiError::new(400, format!("unable to parse JSON body - {e}\n")))?;
            let Value::Object(obj) = v else {
                return Err(ApiError::new(400, "JSON body must be an object\n"));
            };
            for (k, v) in obj {
                let text = match v {
                    Value::String(s) => s,
                    Value::Bool(b) => if b { "1" } else { "0" }.to_owned(),
                    Value::Null => continue,
                    other => other.to_string(),
                };
                map.insert(k, text);
            }
        } else {
            decode_urlencoded(&String::from_utf8_lossy(&body), &mut map);
        }
        Ok(Params(map))
    }
}

/// `application/x-www-form-urlencoded` (also `;`-separated, like pveproxy accepts).
fn decode_urlencoded(data: &str, into: &mut BTreeMap<String, String>) {
    for pair in data.split(['&', ';']).filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let dec = |s: &str| {
            percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        into.insert(dec(k), dec(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    fn error_of(p: &Params, specs: &[Spec], name: &str) -> String {
        p.validate(specs).unwrap_err().errors[name].clone()
    }

    #[test]
    fn pool_ids_are_up_to_three_levels_of_plain_names() {
        for good in [
            "prod",
            "_x",
            "a-b_c",
            "-a",
            "v1.2",
            "dept/team",
            "a/b/c",
            "9",
        ] {
            assert!(is_pool_id(good), "{good}");
        }
        for bad in ["", "a b", "a/b/c/d", "a//b", "a/", "pé"] {
            assert!(!is_pool_id(bad), "{bad}");
        }
    }

    #[test]
    fn vmid_messages_match_pve() {
        let specs = [NODE, VMID];
        let p = params(&[("node", "pve1"), ("vmid", "abc")]);
        assert_eq!(
            error_of(&p, &specs, "vmid"),
            "type check ('integer') failed - got 'abc'"
        );
        let p = params(&[("node", "pve1"), ("vmid", "99")]);
        assert_eq!(
            error_of(&p, &specs, "vmid"),
            "invalid format - value does not look like a valid VM ID\n"
        );
        assert!(
            params(&[("node", "pve1"), ("vmid", "100")])
                .validate(&specs)
                .is_ok()
        );
    }

    #[test]
    fn unknown_and_missing() {
        let p = params(&[("node", "pve1"), ("bogus", "1")]);
        let e = p.validate(&[NODE, VMID]).unwrap_err();
        assert_eq!(
            e.errors["vmid"],
            "property is missing and it is not optional"
        );
        assert!(e.errors["bogus"].starts_with("property is not defined in schema"));
        assert_eq!(e.message, "Parameter verification failed.\n");
    }

    #[test]
    fn enum_and_bool() {
        let spec = [Spec::string("type").one_of(&["vm", "node"]).optional()];
        let e = error_of(&params(&[("type", "pool")]), &spec, "type");
        assert_eq!(
            e,
            "value 'pool' does not have a value in the enumeration 'vm, node'"
        );
        let spec = [Spec::boolean("full").optional()];
        assert!(params(&[("full", "1")]).validate(&spec).is_ok());
        assert!(params(&[("full", "true")]).validate(&spec).is_err());
    }

    #[test]
    fn storage_pair_lists_are_checked_entry_by_entry() {
        let spec = [Spec::string("targetstorage")
            .format(Format::StoragePairList)
            .optional()];
        for good in ["1", "fast", "local-lvm:fast, a1:b2;c.d", "", "x1:y1,x1:y2"] {
            assert!(
                params(&[("targetstorage", good)]).validate(&spec).is_ok(),
                "{good}"
            );
        }
        assert_eq!(
            error_of(
                &params(&[("targetstorage", "a:b:c")]),
                &spec,
                "targetstorage"
            ),
            "invalid format - entry 'a:b:c' contains invalid ID - storage ID 'a:b:c' contains illegal characters\n\n\n"
        );
        assert_eq!(
            error_of(
                &params(&[("targetstorage", "ok1,x:fast")]),
                &spec,
                "targetstorage"
            ),
            "invalid format - entry 'x:fast' contains invalid ID - storage ID 'x' cannot be shorter than 2 characters\n\n\n"
        );
    }

    #[test]
    fn form_decoding() {
        let mut m = BTreeMap::new();
        decode_urlencoded("username=root%40pam&password=a+b%26c;realm=pam", &mut m);
        assert_eq!(m["username"], "root@pam");
        assert_eq!(m["password"], "a b&c");
        assert_eq!(m["realm"], "pam");
    }

    #[test]
    fn uri_conflict() {
        let p = params(&[("node", "pve2")]);
        assert!(p.clone().with_uri(&[("node", "pve2")]).is_ok());
        assert_eq!(p.with_uri(&[("node", "pve1")]).unwrap_err().status, 400);
    }
}
