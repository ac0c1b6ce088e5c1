//! `/access/users`, `/access/roles`, `/access/acl`, `/access/permissions`: read-only views of
//! the simulator's users, PVE 9's built-in roles, the ACL and effective privileges
//! (pve-access-control `API2::User`, `API2::Role`, `API2::ACL`, `API2::AccessControl`).

use std::collections::BTreeSet;

use axum::Router;
use axum::routing::get;
use serde_json::{Map, Value, json};

use crate::sim::api::extract::Call;
use crate::sim::api::params::{Params, Spec};
use crate::sim::api::reply::{ApiError, ApiResult, ok};
use crate::sim::world::SimState;
use crate::sim::world::access::{BUILTIN_ROLES, role_privileges};

const USERS: &[Spec] = &[
    Spec::boolean("enabled").optional(),
    Spec::boolean("full").optional(),
];
const PERMISSIONS: &[Spec] = &[
    Spec::string("path").optional(),
    Spec::string("userid").optional(),
];

/// The paths `/access/permissions` reports without `path` (PVE: every ACL path plus these).
const DEFAULT_PATHS: &[&str] = &[
    "/",
    "/access",
    "/access/groups",
    "/nodes",
    "/pools",
    "/sdn",
    "/storage",
    "/vms",
    "/mapping",
];

pub(super) fn routes() -> Router<SimState> {
    Router::new()
        .route("/access/users", get(users))
        .route("/access/roles", get(roles))
        .route("/access/acl", get(acl))
        .route("/access/permissions", get(permissions))
}

/// `GET /access/users`: users the caller may see (User.Modify or Sys.Audit on
/// `/access/groups`), always including the caller.
async fn users(call: Call) -> ApiResult {
    let Call { st, who, .. } = &call;
    let params = call.sent();
    params.validate(USERS)?;
    let all = st.can(&who.authid, "/access/groups", "Sys.Audit")
        || st.can(&who.authid, "/access/groups", "User.Modify");
    let me = who.authid.split('!').next().unwrap_or_default();
    let full = params.flag("full");
    let want_enabled = params.get("enabled").map(|v| v == "1");
    let auth = st.auth();
    let list: Vec<Value> = auth
        .users()
        .into_iter()
        .filter(|(id, _)| all || *id == me)
        .filter(|(_, enabled)| want_enabled.is_none_or(|w| w == *enabled))
        .map(|(id, enabled)| {
            let realm = id.rsplit('@').next().unwrap_or("pve");
            let mut v = json!({
                "userid": id, "enable": u8::from(enabled), "expire": 0, "realm-type": realm,
            });
            if id == "root@pam" {
                v["email"] = json!("root@democluster.example");
            } else {
                v["comment"] = json!("read-only user of the simulator");
            }
            if full {
                let tokens: Vec<Value> = auth
                    .tokens()
                    .into_iter()
                    .filter(|(t, _)| t.split('!').next() == Some(id))
                    .map(|(t, privsep)| {
                        json!({"tokenid": t.split('!').nth(1), "privsep": u8::from(privsep), "expire": 0})
                    })
                    .collect();
                v["tokens"] = json!(tokens);
                v["groups"] = json!("");
            }
            v
        })
        .collect();
    ok(Value::Array(list))
}

/// `GET /access/roles`: the built-in roles (all `special`).
async fn roles(params: Params) -> ApiResult {
    params.validate(&[])?;
    let list: Vec<Value> = BUILTIN_ROLES
        .iter()
        .map(|role| json!({"roleid": role, "privs": role_privileges(role).join(","), "special": 1}))
        .collect();
    ok(Value::Array(list))
}

/// `GET /access/acl`: entries on paths where the caller has Permissions.Modify.
async fn acl(call: Call) -> ApiResult {
    let Call { st, who, .. } = &call;
    let params = call.sent();
    params.validate(&[])?;
    let list: Vec<Value> = st
        .auth()
        .acl()
        .iter()
        .filter(|e| st.can(&who.authid, &e.path, "Permissions.Modify"))
        .map(|e| {
            let kind = if e.ugid.contains('!') {
                "token"
            } else {
                "user"
            };
            json!({
                "path": e.path, "ugid": e.ugid, "type": kind, "roleid": e.role,
                "propagate": u8::from(e.propagate),
            })
        })
        .collect();
    ok(Value::Array(list))
}

/// `GET /access/permissions[?path=&userid=]`: `{path: {privilege: 1}}` for the caller, or
/// for another user with Sys.Audit on `/access`.
async fn permissions(call: Call) -> ApiResult {
    let Call { st, who, .. } = &call;
    let params = call.sent();
    params.validate(PERMISSIONS)?;
    let target = params.get("userid").unwrap_or(&who.authid).to_owned();
    let own = target == who.authid || target.split('!').next() == Some(who.authid.as_str());
    if !own {
        st.check(&who.authid, "/access", &["Sys.Audit"])?;
    }
    let auth = st.auth();
    let known = auth
        .users()
        .iter()
        .any(|(u, _)| target.split('!').next() == Some(*u));
    if !known {
        return Err(ApiError::fail(format!("no such user '{target}'")));
    }
    let paths: BTreeSet<String> = match params.get("path") {
        Some(p) => [p.to_owned()].into(),
        None => DEFAULT_PATHS
            .iter()
            .map(|p| (*p).to_owned())
            .chain(auth.acl().iter().map(|e| e.path.clone()))
            .collect(),
    };
    let mut out = Map::new();
    for path in paths {
        let privs = auth.privileges(&target, &path);
        if privs.is_empty() {
            continue;
        }
        let m: Map<String, Value> = privs
            .into_iter()
            .map(|p| (p.to_owned(), json!(1)))
            .collect();
        out.insert(path, Value::Object(m));
    }
    ok(Value::Object(out))
}
