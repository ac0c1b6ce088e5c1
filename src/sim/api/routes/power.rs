//! `POST /nodes/{node}/qemu/{vmid}/status/{start|stop|shutdown|reboot|suspend|resume}`: the
//! endpoints' schemas and root-only options (qemu-server `API2::Qemu`); what the actions do is
//! the world's ([`power`]).

use axum::Router;
use axum::extract::Path;
use axum::http::Method;
use axum::routing::post;
use serde_json::json;

use crate::sim::api::extract::Call;
use crate::sim::api::params::{Format, NODE, Params, Spec, VMID};
use crate::sim::api::reply::{ApiError, ApiResult, ok};
use crate::sim::world::SimState;
use crate::sim::world::ha;
use crate::sim::world::power::{self, Action, Options};

pub(super) fn routes() -> Router<SimState> {
    Router::new().route(
        "/nodes/{node}/qemu/{vmid}/status/{action}",
        post(power_action),
    )
}

/// `POST …/status/{action}` (needs VM.PowerMgmt): answers the task's UPID.
async fn power_action(
    Path((node, vmid, action)): Path<(String, String, String)>,
    call: Call,
) -> ApiResult {
    let Some(action) = Action::from_segment(&action) else {
        let path = format!("/nodes/{node}/qemu/{vmid}/status/{action}");
        return Err(ApiError::not_implemented(Method::POST.as_str(), &path));
    };
    let params = call.on_vm(&["VM.PowerMgmt"], schema(action))?;
    refuse_root_only(&call.who.authid, action, &params)?;
    let (st, vmid) = (&call.st, call.vmid());
    let by_ha = {
        let world = st.world();
        world.model.vm_on(&node, vmid).is_some() && ha::takes(&world.model, vmid, action)
    };
    if by_ha {
        let upid = ha::request(st, &call.who.authid, &node, vmid, action)?;
        return ok(json!(upid));
    }
    power::precheck(
        &st.world().model,
        &node,
        vmid,
        action,
        params.flag("forceStop"),
    )?;
    let options = Options {
        todisk: params.flag("todisk"),
        skiplock: params.flag("skiplock"),
    };
    let upid = power::launch(st, &call.who.authid, &node, vmid, action, options)?;
    ok(json!(upid))
}

/// "Only root may use this option." for the first root-only option set by anyone else.
fn refuse_root_only(authid: &str, action: Action, params: &Params) -> Result<(), ApiError> {
    for opt in root_only(action) {
        let set = params.get(opt).is_some_and(|v| !v.is_empty() && v != "0");
        if set && authid != "root@pam" {
            return Err(ApiError::param(opt, "Only root may use this option."));
        }
    }
    Ok(())
}

const START: &[Spec] = &[
    NODE,
    VMID,
    Spec::string("force-cpu").optional(),
    Spec::string("machine").optional(),
    Spec::string("migratedfrom").format(Format::Node).optional(),
    Spec::string("migration_network").optional(),
    Spec::string("migration_type")
        .one_of(&["secure", "insecure"])
        .optional(),
    Spec::string("nets-host-mtu").optional(),
    Spec::boolean("skiplock").optional(),
    Spec::string("stateuri").max_len(128).optional(),
    Spec::string("targetstorage").optional(),
    Spec::integer("timeout").min(0).optional(),
    Spec::boolean("with-conntrack-state").optional(),
];
const STOP: &[Spec] = &[
    NODE,
    VMID,
    Spec::boolean("keepActive").optional(),
    Spec::string("migratedfrom").format(Format::Node).optional(),
    Spec::boolean("overrule-shutdown").optional(),
    Spec::boolean("skiplock").optional(),
    Spec::integer("timeout").min(0).optional(),
];
const SHUTDOWN: &[Spec] = &[
    NODE,
    VMID,
    Spec::boolean("forceStop").optional(),
    Spec::boolean("keepActive").optional(),
    Spec::boolean("skiplock").optional(),
    Spec::integer("timeout").min(0).optional(),
];
const REBOOT: &[Spec] = &[NODE, VMID, Spec::integer("timeout").min(0).optional()];
const SUSPEND: &[Spec] = &[
    NODE,
    VMID,
    Spec::boolean("skiplock").optional(),
    Spec::string("statestorage").optional(),
    Spec::boolean("todisk").optional(),
];
const RESUME: &[Spec] = &[
    NODE,
    VMID,
    Spec::boolean("nocheck").optional(),
    Spec::boolean("skiplock").optional(),
];

/// The endpoint's parameter schema.
fn schema(action: Action) -> &'static [Spec] {
    match action {
        Action::Start => START,
        Action::Stop => STOP,
        Action::Shutdown => SHUTDOWN,
        Action::Reboot => REBOOT,
        Action::Suspend => SUSPEND,
        Action::Resume => RESUME,
    }
}

/// Options only `root@pam` may pass.
fn root_only(action: Action) -> &'static [&'static str] {
    match action {
        Action::Start => &[
            "stateuri",
            "skiplock",
            "migratedfrom",
            "migration_type",
            "migration_network",
            "targetstorage",
            "force-cpu",
            "with-conntrack-state",
            "nets-host-mtu",
        ],
        Action::Stop => &["skiplock", "keepActive", "migratedfrom"],
        Action::Shutdown => &["skiplock", "keepActive"],
        Action::Reboot => &[],
        Action::Suspend => &["skiplock"],
        Action::Resume => &["skiplock", "nocheck"],
    }
}
