// Checks the client's endpoint table (`pve::client::endpoints::ENDPOINTS`, which every request
// is built from) against PVE's published API schemas: every method, path and parameter the
// client can send must exist with the same type. PVE 9.1 must have everything; PVE 8.4 may lack
// what is marked `since`. A negative test makes sure the checker catches mistakes.
//
// Run: cargo test -p pve --features client --test schema
// The schemas are read from the steering repository's shared/pve (support/reference.rs).

#![cfg(feature = "client")]

#[path = "support/reference.rs"]
mod reference;

use std::collections::HashMap;

use serde_json::Value;

use pve::client::endpoints::{
    ENDPOINTS, Endpoint, ParamType, boolean, get, int, one_of, post, string,
};

/// One schema: path → `info` object (method → description).
struct Schema {
    name: &'static str,
    /// True for the newest schema: everything must be there.
    strict: bool,
    paths: HashMap<String, Value>,
}

fn load(file: &str, name: &'static str, strict: bool) -> Schema {
    let path = reference::pve_reference_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let tree: Value = serde_json::from_str(&text).unwrap();
    let mut paths = HashMap::new();
    fn walk(node: &Value, out: &mut HashMap<String, Value>) {
        if let Some(p) = node["path"].as_str() {
            out.insert(p.to_owned(), node["info"].clone());
        }
        for child in node["children"].as_array().into_iter().flatten() {
            walk(child, out);
        }
    }
    for root in tree.as_array().unwrap() {
        walk(root, &mut paths);
    }
    assert!(paths.len() > 300, "{file}: only {} paths", paths.len());
    Schema {
        name,
        strict,
        paths,
    }
}

fn schemas() -> [Schema; 2] {
    [
        load("pve-api-schema-9.1.json", "9.1", true),
        load("pve-api-schema-8.4.json", "8.4", false),
    ]
}

/// Everything wrong with `ep` according to `schema`.
fn problems(ep: &Endpoint, schema: &Schema) -> Vec<String> {
    let mut out = Vec::new();
    let what = format!("PVE {}: {} {}", schema.name, ep.method, ep.path);
    let may_lack = |since: Option<&str>| !schema.strict && (since.is_some() || ep.since.is_some());
    let Some(info) = schema.paths.get(ep.path) else {
        if !may_lack(None) {
            out.push(format!("{what}: no such path"));
        }
        return out;
    };
    let Some(method) = info.get(ep.method) else {
        if !may_lack(None) {
            out.push(format!("{what}: no such method"));
        }
        return out;
    };
    let empty = serde_json::Map::new();
    let props = method["parameters"]["properties"]
        .as_object()
        .unwrap_or(&empty);
    let placeholders = ep.placeholders();
    for holder in &placeholders {
        // (PVE's vzdump lists its `node` as optional, so optionality is not checked.)
        if !props.contains_key(*holder) {
            out.push(format!(
                "{what}: path placeholder {{{holder}}} is not a parameter"
            ));
        }
    }
    for param in ep.params {
        let Some(prop) = props.get(param.name) else {
            if !may_lack(param.since) {
                out.push(format!("{what}: no parameter {:?}", param.name));
            }
            continue;
        };
        let schema_type = prop["type"].as_str().unwrap_or("string");
        if schema_type != param.ty.schema_type() {
            out.push(format!(
                "{what}: parameter {:?} is a {schema_type}, the client sends a {}",
                param.name,
                param.ty.schema_type()
            ));
        }
        if let (ParamType::Enum(values), Some(allowed)) = (param.ty, prop["enum"].as_array()) {
            for v in values {
                if !allowed.iter().any(|a| a == v) && !may_lack(param.since) {
                    out.push(format!(
                        "{what}: parameter {:?} has no value {v:?} (only {allowed:?})",
                        param.name
                    ));
                }
            }
        }
    }
    // Parameters the schema requires must be in the table, or the client could never send a
    // valid request.
    for (name, prop) in props {
        let required = prop.get("optional").is_none_or(|o| o == 0);
        if required && !placeholders.contains(&name.as_str()) && ep.param(name).is_none() {
            out.push(format!(
                "{what}: required parameter {name:?} is missing from the table"
            ));
        }
    }
    out
}

#[test]
fn every_endpoint_matches_both_schemas() {
    let mut all = Vec::new();
    for schema in schemas() {
        for ep in ENDPOINTS {
            all.extend(problems(ep, &schema));
        }
    }
    assert!(
        all.is_empty(),
        "{} problems:\n{}",
        all.len(),
        all.join("\n")
    );
    assert!(ENDPOINTS.len() >= 45, "{} endpoints", ENDPOINTS.len());
}

/// Deliberately wrong entries and what the checker must say about each.
const WRONG: &[(Endpoint, &str)] = &[
    (
        post(
            "/nodes/{node}/qemu/{vmid}/clone",
            &[int("newid"), string("full")],
        ),
        "is a boolean",
    ),
    (
        post(
            "/nodes/{node}/qemu/{vmid}/clone",
            &[int("newid"), boolean("fulll")],
        ),
        "no parameter \"fulll\"",
    ),
    (
        get("/nodes/{node}/qemu/{vmid}/clone", &[]),
        "no such method",
    ),
    (get("/nodes/{node}/qemu/{vmid}/nosuch", &[]), "no such path"),
    (
        get(
            "/nodes/{node}/qemu/{vmid}/rrddata",
            &[one_of("timeframe", &["decade"])],
        ),
        "no value \"decade\"",
    ),
    (
        post("/nodes/{node}/qemu/{vmid}/migrate", &[boolean("online")]),
        "required parameter \"target\"",
    ),
    (
        get("/nodes/{node}/tasks", &[string("limit")]),
        "is a integer",
    ),
];

/// Node RRD data with `decade` (PVE 9 only), without and with `since`.
const DECADE: Endpoint = get(
    "/nodes/{node}/rrddata",
    &[one_of("timeframe", &["hour", "decade"])],
);
const DECADE_SINCE: Endpoint = get(
    "/nodes/{node}/rrddata",
    &[one_of("timeframe", &["hour", "decade"]).since("9.0")],
);
/// An endpoint PVE 8.4 lacks.
const BULK: Endpoint = get("/cluster/bulk-action", &[]);

#[test]
fn the_checker_finds_mistakes() {
    let [new, old] = schemas();
    for (ep, expected) in WRONG {
        let found = problems(ep, &new);
        assert!(
            found.iter().any(|p| p.contains(expected)),
            "{} {}: expected {expected:?}, got {found:?}",
            ep.method,
            ep.path
        );
    }
    // `since` excuses only the older schema.
    assert!(problems(&DECADE, &new).is_empty());
    assert!(!problems(&DECADE, &old).is_empty(), "8.4 has no decade");
    assert!(problems(&DECADE_SINCE, &old).is_empty());
    assert!(problems(&BULK, &new).is_empty());
    assert!(!problems(&BULK, &old).is_empty(), "8.4 has no bulk actions");
    assert!(problems(&BULK.since("9.0"), &old).is_empty());
}

#[test]
fn path_placeholders_are_filled_from_validated_ids() {
    // Every placeholder name is one the client has a validated ID type for.
    for ep in ENDPOINTS {
        for holder in ep.placeholders() {
            assert!(
                // snapname: `SnapshotName`
                matches!(
                    holder,
                    "node" | "vmid" | "upid" | "storage" | "id" | "snapname"
                ),
                "{} {}: no ID type for {{{holder}}}",
                ep.method,
                ep.path
            );
        }
    }
}
