//! `PUT /nodes/{node}/qemu/{vmid}/resize` (qemu-server `API2::Qemu::resize_vm`): grows a disk,
//! absolutely or by `+size`, in a `resize` task.

use std::sync::LazyLock;
use std::time::Duration;

use axum::Router;
use axum::routing::put;
use serde_json::json;

use crate::sim::api::extract::Call;
use crate::sim::api::params::{NODE, Spec, VMID};
use crate::sim::api::reply::{ApiError, ApiResult, ok};
use crate::sim::world::SimState;
use crate::sim::world::model::devices::{disk_keys, drive_gib, drive_parts, is_cdrom, with_size};
use crate::sim::world::model::options::parse_gib;
use crate::sim::world::tasks::{self, Outcome};

fn params() -> Vec<Spec> {
    static DISKS: LazyLock<Vec<&'static str>> = LazyLock::new(|| disk_keys().collect());
    vec![
        NODE,
        VMID,
        Spec::string("disk").one_of(DISKS.as_slice()),
        Spec::string("size"),
        Spec::string("digest").max_len(40).optional(),
        Spec::boolean("skiplock").optional(),
    ]
}

pub(super) fn routes() -> Router<SimState> {
    Router::new().route("/nodes/{node}/qemu/{vmid}/resize", put(resize))
}

/// `PUT …/resize` (VM.Config.Disk): `size` absolute (`40G`) or relative (`+1G`), never
/// shrinking; a `resize` task → UPID.
async fn resize(call: Call) -> ApiResult {
    let Call { st, who, .. } = &call;
    let params = call.on_vm(&["VM.Config.Disk"], &params())?;
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
        let drive = vm.extra.get(&disk).filter(|_| disk != "scsi0");
        match drive {
            _ if disk == "scsi0" => vm.disk_gib,
            Some(value) if is_cdrom(value) => {
                return Err(ApiError::fail("you can't resize a cdrom"));
            }
            Some(value) => drive_gib(value).unwrap_or(1),
            None => return Err(ApiError::fail(format!("disk '{disk}' does not exist"))),
        }
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
            let volume = ctx
                .world()
                .and_then(|w| {
                    let vm = w.model.vm_on(&node2, vmid)?;
                    let value = if disk == "scsi0" {
                        &vm.scsi0
                    } else {
                        vm.extra.get(&disk)?
                    };
                    Some(drive_parts(value).0.to_owned())
                })
                .unwrap_or_default();
            let lv = volume.split(':').nth(1).unwrap_or_default();
            ctx.log(format!(
                "  Size of logical volume pve/{lv} changed from {current}.00 GiB to {new}.00 GiB."
            ));
            ctx.log(format!("  Logical volume pve/{lv} successfully resized."));
            if let Some(mut world) = ctx.world()
                && let Some(vm) = world.model.vm_on_mut(&node2, vmid)
            {
                if disk != "scsi0" {
                    if let Some(value) = vm.extra.get_mut(&disk) {
                        *value = with_size(value, new);
                    }
                    return Outcome::Ok;
                }
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
