//! QEMU mode: every running VM of the model is a real tiny QEMU VM (TCG, 64 MB, a boot sector
//! printing the VM's name), so consoles show a real VNC server.
//!
//! A reconciler compares the model with the QEMU processes every [`RECONCILE`]: it starts QEMU
//! for a VM that runs (again: a new `started_at` means a new process), kills it for a VM that
//! stopped, migrated away or vanished, and pauses/continues it with the VM (`qmpause`,
//! `qmresume`). That keeps every path that changes a VM's power state (power actions, migrate,
//! restore, reset) out of this module.
//!
//! Per VM, as PVE starts it (only what the simulation needs): `-machine q35,accel=tcg -m 64
//! -nodefaults -vga std -display none -vnc 127.0.0.1:N,password=on -qmp unix:…`, the boot
//! image as a raw IDE disk. The VNC port is what QMP `query-vnc` reports (QEMU takes the first
//! free display from [`FIRST_DISPLAY`]). Consoles set the VNC password over QMP with
//! `set_password` and `expire_password +30`, as `qm vncproxy` does, and relay to that port.
//!
//! Clean-up: QEMU gets SIGKILL when the simulator stops ([`QemuVms::shutdown`], or the handle's
//! drop), when its process handle is dropped (`kill_on_drop`), and — through
//! `PR_SET_PDEATHSIG` — when the thread that started it ends (e.g. the simulator's process
//! dies), so no QEMU outlives the simulator.

mod boot;
mod qmp;

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::json;
use tokio::process::{Child, Command};
use tokio::sync::{Mutex as AsyncMutex, watch};

use crate::sim::world::SimState;
use crate::sim::world::model::Power;
use qmp::Qmp;

/// The QEMU binary looked up on `PATH`.
pub const QEMU_BINARY: &str = "qemu-system-x86_64";
/// How often the reconciler compares the model with the processes.
const RECONCILE: Duration = Duration::from_millis(200);
/// At most this many QEMU processes at once (about 40 MB each); further running VMs keep the
/// built-in console.
pub(crate) const MAX_VMS: usize = 32;
/// First VNC display tried (port 5900 + N); far from PVE's own 5900–5999.
const FIRST_DISPLAY: u16 = 200;
/// How long a console waits for a fresh QEMU's QMP socket and VNC port.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// `PR_SET_PDEATHSIG` and `SIGKILL` of Linux.
const PR_SET_PDEATHSIG: i32 = 1;
const SIGKILL: u64 = 9;

// The one foreign function of the simulator: QEMU processes must die with it.
#[allow(unsafe_code)]
unsafe extern "C" {
    /// Linux `prctl(2)` from the C library.
    fn prctl(option: i32, ...) -> i32;
}

/// The QEMU processes of one simulator.
pub(crate) struct QemuVms {
    binary: PathBuf,
    /// Boot images, QMP sockets and QEMU's logs; removed on shutdown.
    dir: PathBuf,
    procs: Mutex<HashMap<u32, Arc<Instance>>>,
    stop: watch::Sender<bool>,
}

/// One QEMU process, for one run of a VM.
pub(crate) struct Instance {
    /// The VM's `started_at` when this process was started.
    pub boot: i64,
    pid: Option<u32>,
    child: Mutex<Option<Child>>,
    /// The VNC port once QMP answered, or why QEMU did not come up.
    ready: watch::Receiver<Option<Result<u16, String>>>,
    qmp: AsyncMutex<Option<Qmp>>,
    paused: Mutex<bool>,
}

/// True if `qemu-system-x86_64` can be run.
pub fn qemu_available() -> bool {
    std::process::Command::new(QEMU_BINARY)
        .arg("-version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl QemuVms {
    /// Checks for QEMU and makes the working directory; fails with a message naming the
    /// install step when QEMU is missing.
    pub(crate) fn new() -> io::Result<Self> {
        if !qemu_available() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "QEMU mode needs {QEMU_BINARY} on PATH (install it with `need_qemu` from \
                     .ci/lib.sh: qemu-system-x86 from bookworm-backports)"
                ),
            ));
        }
        let dir = std::env::temp_dir().join(format!(
            "pve-sim-qemu-{}-{}",
            std::process::id(),
            crate::sim::util::random_password(8)
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            binary: PathBuf::from(QEMU_BINARY),
            dir,
            procs: Mutex::new(HashMap::new()),
            stop: watch::channel(false).0,
        })
    }

    /// Runs the reconciler until [`QemuVms::shutdown`] (call from inside the runtime).
    pub(crate) fn spawn_reconciler(self: &Arc<Self>, st: SimState) {
        let this = self.clone();
        let mut stop = self.stop.subscribe();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(RECONCILE);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => this.reconcile(&st),
                    _ = stop.changed() => break,
                }
            }
        });
    }

    /// One comparison of the model with the processes.
    fn reconcile(self: &Arc<Self>, st: &SimState) {
        if *self.stop.borrow() {
            return;
        }
        // (vmid, started_at, paused, name) of every VM that should have a QEMU process.
        let wanted: Vec<(u32, i64, bool, String)> = {
            let world = st.world();
            world
                .model
                .vms
                .values()
                .filter(|vm| vm.has_process())
                .take(MAX_VMS)
                .map(|vm| {
                    let paused = vm.power == Power::Paused;
                    (vm.vmid, vm.started_at, paused, vm.name.clone())
                })
                .collect()
        };
        let mut procs = lock(&self.procs);
        let keep: HashMap<u32, i64> = wanted.iter().map(|(id, boot, ..)| (*id, *boot)).collect();
        procs.retain(|vmid, inst| {
            let current = keep.get(vmid) == Some(&inst.boot);
            if !current {
                tracing::debug!(vmid, pid = ?inst.pid, "stopping QEMU");
                inst.kill_in_background();
            }
            current
        });
        for (vmid, boot, paused, name) in wanted {
            if let Some(inst) = procs.get(&vmid) {
                inst.follow_pause(paused);
                continue;
            }
            match self.start_vm(vmid, boot, &name) {
                Ok(inst) => {
                    inst.follow_pause(paused);
                    procs.insert(vmid, inst);
                }
                Err(e) => {
                    tracing::warn!(vmid, error = %e, "QEMU did not start");
                }
            }
        }
    }

    /// Starts QEMU for VM `vmid` and, in the background, connects QMP and learns its VNC port.
    fn start_vm(&self, vmid: u32, boot: i64, name: &str) -> io::Result<Arc<Instance>> {
        let image = self.dir.join(format!("{vmid}.img"));
        let message =
            format!("Cecyber QEMU VM {vmid}: {name}\r\nBooted from a 512-byte sector.\r\n");
        std::fs::write(&image, boot::boot_image(&message))?;
        let qmp_path = self.dir.join(format!("{vmid}.qmp"));
        let _ = std::fs::remove_file(&qmp_path);
        let log = std::fs::File::create(self.dir.join(format!("{vmid}.log")))?;
        let mut cmd = Command::new(&self.binary);
        cmd.arg("-name")
            .arg(name.replace(',', ",,"))
            .args(["-machine", "q35,accel=tcg", "-m", "64", "-nodefaults"])
            .args(["-vga", "std", "-display", "none"])
            .arg("-vnc")
            .arg(format!(
                "127.0.0.1:{FIRST_DISPLAY},to={},password=on",
                FIRST_DISPLAY + 2000
            ))
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", qmp_path.display()))
            .arg("-drive")
            .arg(format!(
                "file={},format=raw,if=ide",
                image.display().to_string().replace(',', ",,")
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        // SAFETY: the closure runs in the child between fork and exec and only makes the
        // async-signal-safe prctl system call.
        #[allow(unsafe_code)]
        unsafe {
            cmd.pre_exec(|| {
                if prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn()?;
        let pid = child.id();
        tracing::debug!(vmid, ?pid, "QEMU started");
        let (ready_tx, ready) = watch::channel(None);
        let inst = Arc::new(Instance {
            boot,
            pid,
            child: Mutex::new(Some(child)),
            ready,
            qmp: AsyncMutex::new(None),
            paused: Mutex::new(false),
        });
        let setup = inst.clone();
        tokio::spawn(async move {
            let result = setup.connect(&qmp_path).await;
            if let Err(e) = &result {
                tracing::warn!(vmid, error = %e, "QEMU's QMP did not answer");
            }
            let _ = ready_tx.send(Some(result.map_err(|e| e.to_string())));
        });
        Ok(inst)
    }

    /// The process of VM `vmid`'s run that started at `boot`.
    pub(crate) fn instance(&self, vmid: u32, boot: i64) -> Option<Arc<Instance>> {
        lock(&self.procs)
            .get(&vmid)
            .filter(|i| i.boot == boot)
            .cloned()
    }

    /// Like [`QemuVms::instance`], waiting up to a second for the reconciler to start it;
    /// `None` for a VM beyond [`MAX_VMS`] (it keeps the built-in console).
    pub(crate) async fn wait_instance(&self, vmid: u32, boot: i64) -> Option<Arc<Instance>> {
        for _ in 0..20 {
            if let Some(i) = self.instance(vmid, boot) {
                return Some(i);
            }
            tokio::time::sleep(RECONCILE / 4).await;
        }
        None
    }

    /// (VM ID, PID) of every QEMU process.
    pub(crate) fn pids(&self) -> Vec<(u32, u32)> {
        let mut v: Vec<_> = lock(&self.procs)
            .iter()
            .filter_map(|(id, i)| i.pid.map(|p| (*id, p)))
            .collect();
        v.sort_unstable();
        v
    }

    /// Stops the reconciler and kills every QEMU process without waiting (for `Drop`).
    pub(crate) fn kill_all_now(&self) {
        let _ = self.stop.send(true);
        for (_, inst) in lock(&self.procs).drain() {
            if let Some(child) = lock(&inst.child).as_mut() {
                let _ = child.start_kill();
            }
        }
    }

    /// Stops the reconciler, kills every QEMU process, waits for them and removes the working
    /// directory.
    pub(crate) async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let all: Vec<_> = lock(&self.procs).drain().map(|(_, i)| i).collect();
        for inst in all {
            let child = lock(&inst.child).take();
            if let Some(mut child) = child {
                let _ = child.kill().await;
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for QemuVms {
    fn drop(&mut self) {
        self.kill_all_now();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Instance {
    async fn connect(&self, qmp_path: &Path) -> io::Result<u16> {
        let mut qmp = Qmp::connect(qmp_path, READY_TIMEOUT).await?;
        let vnc = qmp.execute("query-vnc", serde_json::Value::Null).await?;
        let port = vnc["service"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::other(format!("no VNC port in {vnc}")))?;
        *self.qmp.lock().await = Some(qmp);
        Ok(port)
    }

    /// Waits until QMP answered; the VNC port on 127.0.0.1.
    pub(crate) async fn vnc_port(&self) -> Result<u16, String> {
        let mut ready = self.ready.clone();
        let wait = ready.wait_for(Option::is_some);
        match tokio::time::timeout(READY_TIMEOUT, wait).await {
            Ok(Ok(r)) => r.clone().unwrap_or_else(|| Err("QEMU not ready".into())),
            Ok(Err(_)) => Err("QEMU setup ended".into()),
            Err(_) => Err("QEMU did not come up in time".into()),
        }
    }

    /// `qm vncproxy`'s QMP calls: `set_password` for VNC, then `expire_password +30`.
    pub(crate) async fn set_vnc_password(&self, password: &str) -> Result<(), String> {
        self.vnc_port().await?;
        let mut guard = self.qmp.lock().await;
        let qmp = guard.as_mut().ok_or("no QMP session")?;
        let set = json!({ "protocol": "vnc", "password": password });
        qmp.execute("set_password", set)
            .await
            .map_err(|e| e.to_string())?;
        let expire = json!({ "protocol": "vnc", "time": "+30" });
        qmp.execute("expire_password", expire)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Pauses (QMP `stop`) or continues (`cont`) QEMU when the VM's state says so.
    fn follow_pause(self: &Arc<Self>, paused: bool) {
        {
            let mut p = lock(&self.paused);
            if *p == paused {
                return;
            }
            *p = paused;
        }
        let this = self.clone();
        tokio::spawn(async move {
            if this.vnc_port().await.is_err() {
                return;
            }
            let command = if paused { "stop" } else { "cont" };
            let mut guard = this.qmp.lock().await;
            if let Some(qmp) = guard.as_mut()
                && let Err(e) = qmp.execute(command, serde_json::Value::Null).await
            {
                tracing::debug!(error = %e, command, "QMP");
            }
        });
    }

    /// SIGKILL now; the process is reaped in the background.
    fn kill_in_background(&self) {
        if let Some(mut child) = lock(&self.child).take() {
            let _ = child.start_kill();
            tokio::spawn(async move {
                let _ = child.wait().await;
            });
        }
    }
}
