//! The hardware panel of a VM page: name, CPU and memory (operators change them; the digest
//! the form was filled from guards against a change made meanwhile), what waits for the next
//! start with a Reboot that applies it, and growing a disk.

use leptos::prelude::*;

use crate::{
    access::{Role, Session},
    components::{error_box::ErrorBox, tasks::Tasks},
    error::AppError,
    vm_config::{CPU_TYPES, ConfigChanged, ConfigForm, VmConfigView, grow_disk, update_vm_config},
    vms::power_action,
};

/// The VM the panel acts on.
#[derive(Debug, Clone, PartialEq)]
pub struct HardwareTarget {
    /// Cluster name.
    pub cluster: String,
    /// Node (the server looks the VM up).
    pub node: String,
    /// VM id.
    pub vmid: u32,
    /// True while the VM runs (changes may then wait for a reboot).
    pub running: bool,
}

/// The form as typed: kept by the page, so that a reload of the configuration (any task
/// ending) neither loses it nor moves its digest on.
#[derive(Debug, Clone, PartialEq)]
struct Fields {
    digest: String,
    name: String,
    cores: String,
    sockets: String,
    memory_mib: String,
    balloon_mib: String,
    cpu: String,
}

impl Fields {
    fn of(config: &VmConfigView) -> Self {
        Self {
            digest: config.digest.clone(),
            name: config.name.clone(),
            cores: config.cores.to_string(),
            sockets: config.sockets.to_string(),
            memory_mib: config.memory_mib.to_string(),
            balloon_mib: config
                .balloon_mib
                .map(|b| b.to_string())
                .unwrap_or_default(),
            cpu: config.cpu.clone().unwrap_or_default(),
        }
    }

    /// The form to send; a field that is not a number says so.
    fn form(&self) -> Result<ConfigForm, AppError> {
        fn number<T: std::str::FromStr>(label: &str, text: &str) -> Result<T, AppError> {
            text.trim()
                .parse()
                .map_err(|_| AppError::InvalidInput(format!("{label}: a whole number, please.")))
        }
        Ok(ConfigForm {
            digest: self.digest.clone(),
            name: self.name.trim().to_owned(),
            cores: number("Cores per socket", &self.cores)?,
            sockets: number("Sockets", &self.sockets)?,
            memory_mib: number("Memory (MiB)", &self.memory_mib)?,
            balloon_mib: match self.balloon_mib.trim() {
                "" => None,
                text => Some(number("Balloon minimum (MiB)", text)?),
            },
            cpu: self.cpu.trim().to_owned(),
        })
    }
}

/// What the page keeps for the panel between reloads.
#[derive(Debug, Clone, Copy)]
pub struct HardwareDraft {
    /// The user's edits (`None`: the form shows the loaded configuration).
    edits: RwSignal<Option<Fields>>,
    /// The answer to the last save.
    outcome: RwSignal<Option<Result<ConfigChanged, AppError>>>,
    /// Set by the panel's own reboot or disk growth: their new digest is one the user has
    /// seen, so edits in progress take it instead of conflicting with it.
    adopt_digest: RwSignal<bool>,
}

impl HardwareDraft {
    /// Nothing edited.
    pub fn new() -> Self {
        Self {
            edits: RwSignal::new(None),
            outcome: RwSignal::new(None),
            adopt_digest: RwSignal::new(false),
        }
    }
}

impl HardwareDraft {
    /// A change made from this page (a device added, say) is about to move the digest on:
    /// edits in progress take the new one instead of conflicting with it.
    pub fn adopt_next_digest(&self) {
        self.adopt_digest.set(true);
    }
}

impl Default for HardwareDraft {
    fn default() -> Self {
        Self::new()
    }
}

/// The panel for a loaded configuration; `reload` asks the page to read it again.
#[component]
pub fn HardwarePanel(
    target: HardwareTarget,
    config: VmConfigView,
    draft: HardwareDraft,
    reload: RwSignal<u64>,
) -> impl IntoView {
    let may_act = expect_context::<Session>()
        .user
        .is_some_and(|u| u.role.allows(Role::Operator));
    let tasks = expect_context::<Tasks>();
    let loaded = Fields::of(&config);
    let HardwareDraft {
        edits,
        outcome,
        adopt_digest,
    } = draft;
    if adopt_digest.get_untracked() {
        // Untracked: this render already shows the new configuration.
        adopt_digest.set(false);
        edits.update_untracked(|e| {
            if let Some(fields) = e {
                fields.digest = config.digest.clone();
            }
        });
    }
    let field = {
        let loaded = loaded.clone();
        move |get: fn(&Fields) -> &String| {
            let loaded = loaded.clone();
            move || edits.with(|e| get(e.as_ref().unwrap_or(&loaded)).clone())
        }
    };
    let edit = {
        let loaded = loaded.clone();
        move |set: fn(&mut Fields, String)| {
            let loaded = loaded.clone();
            move |ev: leptos::ev::Event| {
                let value = event_target_value(&ev);
                edits.update(|e| set(e.get_or_insert_with(|| loaded.clone()), value));
            }
        }
    };
    let saving = RwSignal::new(false);
    let target = StoredValue::new(target);
    let save = {
        let loaded = loaded.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let fields = edits.get_untracked().unwrap_or_else(|| loaded.clone());
            let form = match fields.form() {
                Ok(form) => form,
                Err(error) => {
                    outcome.set(Some(Err(error)));
                    return;
                }
            };
            let HardwareTarget {
                cluster,
                node,
                vmid,
                ..
            } = target.get_value();
            saving.set(true);
            leptos::task::spawn_local(async move {
                let result = update_vm_config(cluster, node, vmid.to_string(), form).await;
                if result.is_ok() {
                    // The saved values come back with the reload, with the new digest.
                    edits.try_set(None);
                    reload.try_update(|n| *n += 1);
                }
                saving.try_set(false);
                outcome.try_set(Some(result));
            });
        }
    };
    let confirm_reboot = RwSignal::new(false);
    let reboot = move |_| {
        confirm_reboot.set(false);
        // "Waiting for the next start" is about to be out of date.
        outcome.set(None);
        let HardwareTarget {
            cluster,
            node,
            vmid,
            ..
        } = target.get_value();
        let id = tasks.add(format!("Reboot VM {vmid} (apply pending changes)"));
        leptos::task::spawn_local(async move {
            match power_action(cluster, node, vmid.to_string(), "reboot".into()).await {
                Ok(task) => tasks.follow_then(id, task, move || {
                    adopt_digest.try_set(true);
                    reload.try_update(|n| *n += 1);
                }),
                Err(error) => tasks.fail(id, &error),
            }
        });
    };
    let running = target.with_value(|t| t.running);
    let pending_rows = config
        .pending
        .iter()
        .map(|p| {
            let now = p.current.clone().unwrap_or_else(|| "(not set)".into());
            let next = p.pending.clone().unwrap_or_else(|| "(removed)".into());
            view! { <tr data-key=p.key.clone()><td>{p.key.clone()}</td><td>{now}</td><td>{next}</td></tr> }
        })
        .collect_view();
    let has_pending = !config.pending.is_empty();
    let cpu_now = loaded.cpu.clone();
    let cpu_options = std::iter::once(String::new())
        .chain(CPU_TYPES.iter().map(|t| (*t).to_owned()))
        .chain((!cpu_now.is_empty() && !CPU_TYPES.contains(&cpu_now.as_str())).then_some(cpu_now))
        .map(|t| {
            let label = if t.is_empty() {
                "PVE's default".to_owned()
            } else {
                t.clone()
            };
            let chosen = t.clone();
            let current = field(|f| &f.cpu);
            view! { <option value=t selected=move || current() == chosen>{label}</option> }
        })
        .collect_view();
    let disks = config
        .disks
        .iter()
        .map(|d| view! { <DiskRow key=d.key.clone() value=d.value.clone() growable=may_act && !d.cdrom target=target.get_value() reload adopt_digest /> })
        .collect_view();
    view! {
        <section class="hardware" data-testid="hardware">
            <h2>"Hardware"</h2>
            // The server checks every value and says why (the browser's own checks would only mark it).
            {view! { <form class="facts-form" data-testid="hardware-form" novalidate on:submit=save>
                <fieldset disabled=!may_act>
                    <label>"Name "<input data-testid="hw-name" prop:value=field(|f| &f.name) on:input=edit(|f, v| f.name = v) /></label>
                    <label>"Cores per socket "<input type="number" min="1" data-testid="hw-cores" prop:value=field(|f| &f.cores) on:input=edit(|f, v| f.cores = v) /></label>
                    <label>"Sockets "<input type="number" min="1" data-testid="hw-sockets" prop:value=field(|f| &f.sockets) on:input=edit(|f, v| f.sockets = v) /></label>
                    <label>"Memory (MiB) "<input type="number" min="16" data-testid="hw-memory" prop:value=field(|f| &f.memory_mib) on:input=edit(|f, v| f.memory_mib = v) /></label>
                    <label>"Balloon minimum (MiB, empty: the memory size) "<input type="number" min="0" data-testid="hw-balloon" prop:value=field(|f| &f.balloon_mib) on:input=edit(|f, v| f.balloon_mib = v) /></label>
                    <label>"CPU type "<select data-testid="hw-cpu" on:change=edit(|f, v| f.cpu = v)>{cpu_options}</select></label>
                </fieldset>
                {may_act.then(|| view! {
                    <button class="btn" type="submit" data-testid="hw-save" disabled=move || saving.get()>"Apply changes"</button>
                    " "
                    <button class="btn" type="button" on:click=move |_| { edits.set(None); outcome.set(None); }>"Discard edits"</button>
                })}
            </form> }.into_any()}
            {move || outcome.get().map(|result| match result {
                Ok(changed) => view! { <Changed changed /> }.into_any(),
                Err(error) => view! { <ErrorBox error /> }.into_any(),
            })}
            {has_pending.then(|| view! {
                <div data-testid="hw-pending">
                    <h3>"Waiting for the next start"</h3>
                    <p class="muted">"The VM runs with the current values until it is started again; a reboot from Cecyber applies them."</p>
                    <table class="list"><thead><tr><th>"Option"</th><th>"Now"</th><th>"After the next start"</th></tr></thead>
                    <tbody>{pending_rows}</tbody></table>
                    {(may_act && running).then(|| view! {
                        <button class="btn danger" data-testid="hw-reboot" on:click=move |_| confirm_reboot.set(true)>"Reboot now to apply"</button>
                        <Show when=move || confirm_reboot.get()>
                            <span class="confirm-inline" role="alertdialog" data-testid="hw-reboot-confirm">
                                {format!("Reboot VM {}? The guest is asked to reboot; the changes above apply as it starts again. ", target.with_value(|t| t.vmid))}
                                <button class="btn danger" data-testid="hw-reboot-yes" on:click=reboot>"Reboot"</button>
                                " "
                                <button class="btn" on:click=move |_| confirm_reboot.set(false)>"Cancel"</button>
                            </span>
                        </Show>
                    })}
                </div>
            }.into_any())}
            <h3>"Disks"</h3>
            <table class="list" data-testid="hw-disks"><tbody>{disks}</tbody></table>
        </section>
    }
    .into_any()
}

/// What a save did.
#[component]
pub fn Changed(changed: ConfigChanged) -> impl IntoView {
    let text = match (changed.applied.is_empty(), changed.pending.is_empty()) {
        (true, true) => "Nothing to change: the form holds the current values.".to_owned(),
        (false, true) => format!("Applied: {}.", changed.applied.join(", ")),
        (true, false) => format!(
            "Waiting for the next start: {}.",
            changed.pending.join(", ")
        ),
        (false, false) => format!(
            "Applied: {}. Waiting for the next start: {}.",
            changed.applied.join(", "),
            changed.pending.join(", ")
        ),
    };
    view! { <p class="ok" role="status" data-testid="hw-outcome">{text}</p> }
}

/// One disk, with "grow by" for operators (PVE only grows disks).
#[component]
fn DiskRow(
    key: String,
    value: String,
    growable: bool,
    target: HardwareTarget,
    reload: RwSignal<u64>,
    adopt_digest: RwSignal<bool>,
) -> impl IntoView {
    let tasks = expect_context::<Tasks>();
    let by = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<AppError>);
    // The size asked for, waiting for confirmation: a disk cannot be shrunk again.
    let confirming = RwSignal::new(None::<u64>);
    let ask = move |_| match by.get_untracked().trim().parse::<u64>() {
        Ok(gib) if gib > 0 => {
            problem.set(None);
            confirming.set(Some(gib));
        }
        _ => problem.set(Some(AppError::InvalidInput(
            "Grow by: a whole number of GiB, please.".into(),
        ))),
    };
    let disk = key.clone();
    let key_label = key.clone();
    let grow = move |_| {
        let Some(gib) = confirming.get_untracked() else {
            return;
        };
        confirming.set(None);
        let HardwareTarget {
            cluster,
            node,
            vmid,
            ..
        } = target.clone();
        let disk = disk.clone();
        let id = tasks.add(format!("Grow disk {disk} of VM {vmid} by {gib} GiB"));
        problem.set(None);
        leptos::task::spawn_local(async move {
            match grow_disk(cluster, node, vmid.to_string(), disk, gib).await {
                Ok(Some(task)) => tasks.follow_then(id, task, move || {
                    adopt_digest.try_set(true);
                    reload.try_update(|n| *n += 1);
                }),
                Ok(None) => {
                    tasks.finish_at_once(id);
                    adopt_digest.try_set(true);
                    reload.try_update(|n| *n += 1);
                }
                Err(error) => {
                    tasks.fail(id, &error);
                    problem.try_set(Some(error));
                }
            }
        });
    };
    view! {
        <tr data-disk=key.clone()>
            <td>{key.clone()}</td>
            <td data-testid="hw-disk-value">{value}</td>
            <td>{growable.then(|| view! {
                <input type="number" min="1" placeholder="GiB" aria-label=format!("Grow {key} by (GiB)") data-testid="hw-grow-by" prop:value=move || by.get() on:input=move |ev| by.set(event_target_value(&ev)) />
                " "
                <button class="btn" data-testid="hw-grow" on:click=ask>"Grow…"</button>
                {move || confirming.get().map(|gib| view! {
                    <span class="confirm-inline" role="alertdialog" data-testid="hw-grow-confirm">
                        {format!(" Grow {} by {gib} GiB? Proxmox VE cannot shrink a disk again. ", key_label.clone())}
                        <button class="btn danger" data-testid="hw-grow-yes" on:click=grow.clone()>"Grow"</button>
                        " "
                        <button class="btn" on:click=move |_| confirming.set(None)>"Cancel"</button>
                    </span>
                })}
            }.into_any())}
            {move || problem.get().map(|error| view! { <ErrorBox error /> })}</td>
        </tr>
    }
    .into_any()
}
