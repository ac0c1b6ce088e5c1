//! Backups: vzdump archives on a storage (volid `backup:backup/vzdump-qemu-<vmid>-<stamp>.vma.zst`),
//! the `vzdump` task that writes them and the `qmrestore` task that turns one back into a VM.
//! Each archive keeps a copy of the VM's config at backup time, which restore brings back.

mod jobs;

use std::time::Duration;

use serde_json::{Value, json};

pub(crate) use jobs::{Calendar, Job, initial_jobs};

use crate::sim::util::{log_time, mix, now_secs, vzdump_stamp};
use crate::sim::world::model::{Model, Power, Vm};
use crate::sim::world::tasks::{Outcome, TaskCtx};

/// One backup archive.
#[derive(Clone, Debug)]
pub(crate) struct Archive {
    pub storage: String,
    pub vmid: u32,
    pub ctime: i64,
    /// `vma.zst`, `vma.gz`, `vma.lzo` or `vma`.
    pub format: String,
    pub size: u64,
    pub notes: Option<String>,
    pub protected: bool,
    /// The VM as it was backed up.
    pub config: Vm,
}

impl Archive {
    /// `<storage>:backup/vzdump-qemu-<vmid>-<YYYY_MM_DD-HH_MM_SS>.<format>`.
    pub(crate) fn volid(&self) -> String {
        format!(
            "{}:backup/vzdump-qemu-{}-{}.{}",
            self.storage,
            self.vmid,
            vzdump_stamp(self.ctime),
            self.format
        )
    }

    /// An entry of `GET /nodes/{node}/storage/{storage}/content`.
    pub(crate) fn content_entry(&self) -> Value {
        let mut v = json!({
            "volid": self.volid(), "content": "backup", "format": self.format,
            "subtype": "qemu", "vmid": self.vmid, "ctime": self.ctime, "size": self.size,
        });
        if let Some(notes) = &self.notes {
            v["notes"] = json!(notes);
        }
        if self.protected {
            v["protected"] = json!(1);
        }
        v
    }
}

/// Archive file extension for vzdump's `compress` option.
pub(crate) fn format_for(compress: &str) -> &'static str {
    match compress {
        "1" | "lzo" => "vma.lzo",
        "gzip" => "vma.gz",
        "zstd" => "vma.zst",
        _ => "vma",
    }
}

/// A plausible compressed size for `vm`'s disk.
fn archive_size(vm: &Vm, salt: u64) -> u64 {
    let frac = 0.12 + (mix(u64::from(vm.vmid) ^ salt) % 1000) as f64 / 1000.0 * 0.25;
    (vm.maxdisk() as f64 * frac) as u64
}

/// The archives a fresh simulator has: the backup job's VMs, saved the last three Saturdays
/// at 02:00 on the `backup` storage.
pub(crate) fn initial_archives(model: &Model, now: i64) -> Vec<Archive> {
    let day = 86_400;
    // Monday = 0; 1970-01-01 was a Thursday.
    let today = now.div_euclid(day);
    let since_sat = (today + 3 - 5).rem_euclid(7);
    let mut last_sat = (today - since_sat) * day + 7200;
    if last_sat > now {
        last_sat -= 7 * day;
    }
    let mut out = Vec::new();
    for (i, vm) in model
        .vms
        .values()
        .filter(|v| !v.template)
        .take(4)
        .enumerate()
    {
        for week in (0..3).rev() {
            let ctime = last_sat - week * 7 * day + 1 + 40 * i as i64;
            out.push(Archive {
                storage: "backup".to_owned(),
                vmid: vm.vmid,
                ctime,
                format: "vma.zst".to_owned(),
                size: archive_size(vm, ctime as u64),
                notes: Some(vm.name.clone()),
                protected: week == 2 && i == 0,
                config: vm.clone(),
            });
        }
    }
    out
}

/// What one `vzdump` run does.
#[derive(Clone, Debug)]
pub(crate) struct DumpPlan {
    pub node: String,
    pub vmids: Vec<u32>,
    pub storage: String,
    pub mode: String,
    pub compress: String,
    pub notes_template: Option<String>,
    pub protected: bool,
    /// The command line echoed in the first log line.
    pub cmdline: String,
}

/// The `vzdump` worker: backs up each VM in turn (config lock `backup`), writing an archive.
pub(crate) async fn run_vzdump(ctx: TaskCtx, plan: DumpPlan) -> Outcome {
    ctx.log(format!(
        "INFO: starting new backup job: vzdump {}",
        plan.cmdline
    ));
    let mut failed = Vec::new();
    for vmid in &plan.vmids {
        if let Err(e) = dump_one(&ctx, &plan, *vmid).await {
            ctx.log(format!("ERROR: Backup of VM {vmid} failed - {e}"));
            failed.push(*vmid);
        }
    }
    if failed.is_empty() {
        ctx.log("INFO: Backup job finished successfully");
        Outcome::Ok
    } else {
        Outcome::Error("job errors".to_owned())
    }
}

async fn dump_one(ctx: &TaskCtx, plan: &DumpPlan, vmid: u32) -> Result<(), String> {
    let vm = {
        let world = ctx.world().ok_or("simulator was reset")?;
        world
            .model
            .vm_on(&plan.node, vmid)
            .cloned()
            .ok_or_else(|| format!("unable to find VM '{vmid}'"))?
    };
    ctx.log(format!("INFO: Starting Backup of VM {vmid} (qemu)"));
    let started = now_secs();
    ctx.log(format!("INFO: Backup started at {}", log_time(started)));
    if let Some(lock) = &vm.lock {
        return Err(format!("VM is locked ({lock})"));
    }
    let _guard = ctx.st.lock_vm(vmid).await.map_err(|e| e.to_string())?;
    let _lock = ctx.hold_lock(vmid, "backup");
    ctx.log(format!("INFO: status = {}", vm.status()));
    ctx.log(format!("INFO: VM Name: {}", vm.name));
    let volume = vm.scsi0.split(',').next().unwrap_or_default().to_owned();
    ctx.log(format!(
        "INFO: include disk 'scsi0' '{volume}' {}G",
        vm.disk_gib
    ));
    ctx.log(format!("INFO: backup mode: {}", plan.mode));
    ctx.log("INFO: ionice priority: 7");
    let format = format_for(&plan.compress);
    let file = format!("vzdump-qemu-{vmid}-{}.{format}", vzdump_stamp(started));
    ctx.log(format!(
        "INFO: creating vzdump archive '/mnt/pve/{}/dump/{file}'",
        plan.storage
    ));
    let total = vm.disk_gib as f64;
    let steps = 5u32;
    let step = ctx
        .st
        .scaled(Duration::from_millis((400 + vm.disk_gib * 40).min(4000)));
    for i in 1..=steps {
        tokio::time::sleep(step).await;
        let pct = i * 100 / steps;
        let done = total * f64::from(pct) / 100.0;
        ctx.log(format!(
            "INFO: {pct:3}% ({done:.1} GiB of {total:.1} GiB) in {}s, read: 1.2 GiB/s, write: 310.4 MiB/s",
            now_secs() - started
        ));
    }
    let mut archive = Archive {
        storage: plan.storage.clone(),
        vmid,
        ctime: started,
        format: format.to_owned(),
        size: archive_size(&vm, started as u64),
        notes: None,
        protected: plan.protected,
        config: vm.clone(),
    };
    archive.notes = plan.notes_template.as_ref().map(|t| {
        t.replace("{{guestname}}", &vm.name)
            .replace("{{vmid}}", &vmid.to_string())
            .replace("{{node}}", &plan.node)
            .replace("{{cluster}}", "democluster")
    });
    let size = archive.size;
    if let Some(mut world) = ctx.world() {
        world.backups.push(archive);
    }
    ctx.log(format!(
        "INFO: archive file size: {:.2}GB",
        size as f64 / 1e9
    ));
    if plan.notes_template.is_some() {
        ctx.log("INFO: adding notes to backup");
    }
    let secs = now_secs() - started;
    ctx.log(format!(
        "INFO: Finished Backup of VM {vmid} ({:02}:{:02}:{:02})",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    ));
    ctx.log(format!("INFO: Backup finished at {}", log_time(now_secs())));
    Ok(())
}

/// The `qmrestore` worker: overwrites or creates VM `vmid` on `node` from `archive`.
pub(crate) async fn run_restore(
    ctx: TaskCtx,
    node: String,
    vmid: u32,
    archive: Archive,
    unique: bool,
) -> Outcome {
    let _guard = match ctx.st.lock_vm(vmid).await {
        Ok(g) => g,
        Err(e) => return e.into(),
    };
    if let Some(world) = ctx.world()
        && world.model.vms.get(&vmid).is_some_and(Vm::has_process)
    {
        return Outcome::Error(format!("unable to restore VM {vmid} - VM is running"));
    }
    let path = format!(
        "/mnt/pve/{}/dump/vzdump-qemu-{}-{}.{}",
        archive.storage,
        archive.vmid,
        vzdump_stamp(archive.ctime),
        archive.format
    );
    ctx.log(format!(
        "restore vma archive: zstd -q -d -c {path} | vma extract -v -r /var/tmp/vzdumptmp{vmid}.fifo - /var/tmp/vzdumptmp{vmid}"
    ));
    ctx.log("CFG: size: 612 name: qemu-server.conf");
    ctx.log(format!(
        "DEV: dev_id=1 size: {} devname: drive-scsi0",
        archive.config.maxdisk()
    ));
    ctx.log(format!("CTIME: {}", log_time(archive.ctime)));
    ctx.log(format!("new volume ID is 'local-lvm:vm-{vmid}-disk-0'"));
    let step = ctx.st.scaled(Duration::from_millis(
        (300 + archive.config.disk_gib * 30).min(3000),
    ));
    for pct in [20, 40, 60, 80, 100] {
        tokio::time::sleep(step).await;
        ctx.log(format!(
            "progress {pct}% (read {} bytes, duration {}s)",
            archive.config.maxdisk() / 100 * pct,
            pct / 20
        ));
    }
    ctx.log("rescan volumes...");
    if let Some(mut world) = ctx.world() {
        let mut vm = archive.config.clone();
        let now = now_secs();
        vm.vmid = vmid;
        vm.node = node;
        vm.power = Power::Stopped;
        vm.lock = None;
        // vzdump keeps neither snapshots nor pending changes.
        vm.snapshots.clear();
        vm.parent = None;
        vm.pending.clear();
        vm.pending_delete.clear();
        vm.runs = world
            .model
            .vms
            .get(&vmid)
            .map(|old| old.runs.clone())
            .unwrap_or_default();
        vm.scsi0 = format!(
            "local-lvm:vm-{vmid}-disk-0,iothread=1,size={}G",
            vm.disk_gib
        );
        if unique {
            vm.net0 = format!(
                "virtio={},bridge=vmbr0,firewall=1",
                crate::sim::world::model::mac_address(now as u64 ^ u64::from(vmid))
            );
        }
        world.model.vms.insert(vmid, vm);
    }
    Outcome::Ok
}
