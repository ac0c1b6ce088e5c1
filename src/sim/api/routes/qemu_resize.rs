//! `PUT /nodes/{node}/qemu/{vmid}/resize` (qemu-server `API2::Qemu::resize_vm`): grows a disk,
//! absolutely or by `+size`, in a `resize` task.

use std::time::Duration;

use axum::Router;
use axum::routing::put;
use serde_json::json;

use crate::sim::api::extract::Call;
use crate::sim::api::params::{NODE, Spec, VMID};
use crate::sim::api::reply::{ApiError, ApiResult, ok};
use crate::sim::world::SimState;
use crate::sim::world::model::options::parse_gib;
use crate::sim::world::tasks::{self, Outcome};

const PARAMS: &[Spec] = &[
    NODE,
    VMID,
    Spec::string("disk").one_of(&["scsi0", "scsi1", "virtio0", "sata0", "ide0"]),
    Spec::string("size"),
    Spec::string("digest").max_len(40).optional(),
    Spec::boolean("skiplock").optional(),
];

pub(super) fn routes() -> Router<SimState> {
    Router::new().route("/nodes/{node}/qemu/{vmid}/resize", put(resize))
}

/// `PUT …/resize` (VM.Config.Disk): `size` absolute (`40G`) or relative (`+1G`), never
/// shrinking; a `resize` task → UPID.
async fn resize(call: Call) -> ApiResult {
    let Call { st, who, .. } = &call;
    let params = call.on_vm(&["VM.Config.Disk"], PARAMS)?;
    let (node, vmid) = (call.node(), call.vmid());
    let size = params.get("size").unwrap_or_default().to_owned();
    let disk = params.get("disk").unwrap_or_default().to_owned();
    let (relative, amount) = match size.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, size.as_str()),
    };
    let gib = parse_gib(amount)
        .ok_or_else(|| ApiError::param("size", "value does not match the regex pattern"))?;
    let current = {
        let world = st.world();
        let vm = world.model.existing_vm(node, vmid)?;
        if disk != "scsi0" {
            return Err(ApiError::fail(format!("disk '{disk}' does not exist")));
        }
        vm.disk_gib
    };
    let new = if relative { current + gib } else { gib };
    if new < current {
        return Err(ApiError::fail("shrinking disks is not supported"));
    }
    let node2 = node.to_owned();
    let upid = tasks::spawn_locked(
        st,
        node,
        "resize",
        vmid,
        &who.authid,
        move |ctx| async move {
            tokio::time::sleep(ctx.st.scaled(Duration::from_millis(500))).await;
            ctx.log(format!("  Size of logical volume pve/vm-{vmid}-disk-0 changed from {current}.00 GiB to {new}.00 GiB."));
            ctx.log(format!(
                "  Logical volume pve/vm-{vmid}-disk-0 successfully resized."
            ));
            if let Some(mut world) = ctx.world()
                && let Some(vm) = world.model.vm_on_mut(&node2, vmid)
            {
                vm.disk_gib = new;
                vm.scsi0 = vm
                    .scsi0
                    .split(',')
                    .map(|p| {
                        if p.starts_with("size=") {
                            format!("size={new}G")
                        } else {
                            p.to_owned()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(",");
            }
            Outcome::Ok
        },
    )?;
    ok(json!(upid))
}
