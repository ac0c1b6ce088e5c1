//! The hardware panel's devices: adding a disk, and the VM's network devices (add, change,
//! remove). The forms load the node's bridges and storages when first opened, not with the
//! page, so the page's server render waits on nothing more.

use leptos::prelude::*;

use crate::{
    access::{Role, Session},
    components::{
        error_box::ErrorBox,
        hardware::{Changed, HardwareDraft, HardwareTarget},
    },
    error::AppError,
    vm_config::{NicLine, VmConfigView},
    vm_devices::{
        DeviceChanged, DeviceOptions, DiskForm, NicForm, add_disk, device_choices, remove_nic,
        save_nic,
    },
};

/// What every device form needs: the VM, the digest the panel was loaded with, and how to
/// have the panel reload after a change.
#[derive(Clone)]
struct Devices {
    target: HardwareTarget,
    digest: String,
    draft: HardwareDraft,
    reload: RwSignal<u64>,
    /// The node's bridges and storages, once a form asked for them.
    choices: RwSignal<Option<Result<DeviceOptions, AppError>>>,
    /// The answer to the last change.
    outcome: RwSignal<Option<Result<DeviceChanged, AppError>>>,
}

impl Devices {
    /// Loads the choices unless they are loaded or loading.
    fn load_choices(&self) {
        if self.choices.get_untracked().is_some_and(|c| c.is_ok()) {
            return;
        }
        let choices = self.choices;
        let HardwareTarget {
            cluster,
            node,
            vmid,
            ..
        } = self.target.clone();
        leptos::task::spawn_local(async move {
            let loaded = device_choices(cluster, node, vmid.to_string()).await;
            choices.try_set(Some(loaded));
        });
    }

    /// After a change of ours: the panel reloads, and edits in progress in the hardware form
    /// take the new digest (the user saw this change happen).
    fn done(&self, result: Result<DeviceChanged, AppError>) {
        if result.is_ok() {
            self.draft.adopt_next_digest();
            self.reload.try_update(|n| *n += 1);
        }
        self.outcome.try_set(Some(result));
    }
}

/// What the page keeps for the device forms across reloads of the configuration (each of
/// which renders the panel anew): the last change's answer and the node's choices.
#[derive(Debug, Clone, Copy)]
pub struct DeviceDraft {
    choices: RwSignal<Option<Result<DeviceOptions, AppError>>>,
    outcome: RwSignal<Option<Result<DeviceChanged, AppError>>>,
}

impl DeviceDraft {
    /// Nothing loaded, nothing changed.
    pub fn new() -> Self {
        Self {
            choices: RwSignal::new(None),
            outcome: RwSignal::new(None),
        }
    }
}

impl Default for DeviceDraft {
    fn default() -> Self {
        Self::new()
    }
}

/// "Add a disk" and the network devices, below the hardware panel.
#[component]
pub fn DevicePanel(
    target: HardwareTarget,
    config: VmConfigView,
    draft: HardwareDraft,
    devices: DeviceDraft,
    reload: RwSignal<u64>,
) -> impl IntoView {
    let may_act = expect_context::<Session>()
        .user
        .is_some_and(|u| u.role.allows(Role::Operator));
    let devices = Devices {
        target,
        digest: config.digest.clone(),
        draft,
        reload,
        choices: devices.choices,
        outcome: devices.outcome,
    };
    let outcome = devices.outcome;
    // `Some("")`: a new NIC; `Some("net1")`: net1 being changed.
    let editing = RwSignal::new(None::<String>);
    let rows = config
        .nics
        .iter()
        .map(|nic| view! { <NicRow nic=nic.clone() devices=devices.clone() editing may_act /> })
        .collect_view();
    let add_nic = {
        let devices = devices.clone();
        move |_| {
            devices.load_choices();
            devices.outcome.set(None);
            editing.set(Some(String::new()));
        }
    };
    let new_nic = devices.clone();
    view! {
        <section class="devices" data-testid="devices">
            {move || outcome.get().map(|result| match result {
                Ok(done) => view! { <div data-testid="device-outcome" data-key=done.key.clone()><Changed changed=done.changed /></div> }.into_any(),
                Err(error) => view! { <ErrorBox error /> }.into_any(),
            })}
            {may_act.then(|| view! { <DiskAdder devices=devices.clone() /> })}
            <h3>"Network devices"</h3>
            <table class="list" data-testid="hw-nics">
                <thead><tr><th>"Device"</th><th>"Model"</th><th>"Bridge"</th><th>"VLAN"</th><th>"Firewall"</th><th>"MAC address"</th><th>"Link"</th><th></th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
            {may_act.then(|| view! {
                <Show
                    when=move || editing.get().is_some_and(|k| k.is_empty())
                    fallback=move || view! { <button class="btn" data-testid="nic-add" on:click=add_nic.clone()>"Add network device…"</button> }
                >
                    <NicEditor nic=None devices=new_nic.clone() editing />
                </Show>
            })}
        </section>
    }
    .into_any()
}

/// One network device, with Edit and Remove for operators.
#[component]
fn NicRow(
    nic: NicLine,
    devices: Devices,
    editing: RwSignal<Option<String>>,
    may_act: bool,
) -> impl IntoView {
    let key = nic.key.clone();
    let confirming = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let is_edited = {
        let key = key.clone();
        move || editing.get().as_deref() == Some(key.as_str())
    };
    let edit = {
        let (devices, key) = (devices.clone(), key.clone());
        move |_| {
            devices.load_choices();
            devices.outcome.set(None);
            editing.set(Some(key.clone()));
        }
    };
    let remove = {
        let (devices, key) = (devices.clone(), key.clone());
        move |_| {
            confirming.set(false);
            busy.set(true);
            let HardwareTarget {
                cluster,
                node,
                vmid,
                ..
            } = devices.target.clone();
            let (digest, key, devices) = (devices.digest.clone(), key.clone(), devices.clone());
            leptos::task::spawn_local(async move {
                let result = remove_nic(cluster, node, vmid.to_string(), digest, key).await;
                busy.try_set(false);
                devices.done(result);
            });
        }
    };
    let question = format!(
        "Remove {} ({}, {}, {})? The guest loses this network device{}. ",
        nic.key,
        nic.model,
        nic.bridge.clone().unwrap_or_else(|| "no bridge".into()),
        nic.mac,
        if devices.target.running {
            "; a running VM loses it at once when hot-plug allows, else at its next start"
        } else {
            ""
        }
    );
    let editor_nic = nic.clone();
    view! {
        <tr data-nic=key.clone()>
            <td>{nic.key.clone()}</td>
            <td data-testid="nic-model">{nic.model.clone()}</td>
            <td data-testid="nic-bridge">{nic.bridge.clone().unwrap_or_else(|| "(none: NAT)".into())}</td>
            <td data-testid="nic-tag">{nic.tag.map(|t| t.to_string()).unwrap_or_default()}</td>
            <td>{if nic.firewall { "on" } else { "off" }}</td>
            <td data-testid="nic-mac"><code>{nic.mac.clone()}</code></td>
            <td data-testid="nic-link">{if nic.link_down { "disconnected" } else { "connected" }}</td>
            <td>{may_act.then(|| view! {
                <button class="btn" data-testid="nic-edit" on:click=edit>"Edit…"</button>
                " "
                <button class="btn danger" data-testid="nic-remove" disabled=move || busy.get() on:click=move |_| confirming.set(true)>"Remove…"</button>
                <Show when=move || confirming.get()>
                    <span class="confirm-inline" role="alertdialog" data-testid="nic-remove-confirm">
                        {question.clone()}
                        <button class="btn danger" data-testid="nic-remove-yes" on:click=remove.clone()>"Remove"</button>
                        " "
                        <button class="btn" on:click=move |_| confirming.set(false)>"Cancel"</button>
                    </span>
                </Show>
            })}</td>
        </tr>
        <Show when=is_edited>
            <tr><td colspan="8"><NicEditor nic=Some(editor_nic.clone()) devices=devices.clone() editing /></td></tr>
        </Show>
    }
    .into_any()
}

/// The form for a new network device (`nic` `None`) or a change of one.
#[component]
fn NicEditor(
    nic: Option<NicLine>,
    devices: Devices,
    editing: RwSignal<Option<String>>,
) -> impl IntoView {
    let key = nic.as_ref().map(|n| n.key.clone()).unwrap_or_default();
    let model = RwSignal::new(
        nic.as_ref()
            .map_or_else(|| "virtio".to_owned(), |n| n.model.clone()),
    );
    let bridge = RwSignal::new(
        nic.as_ref()
            .and_then(|n| n.bridge.clone())
            .unwrap_or_default(),
    );
    let tag = RwSignal::new(
        nic.as_ref()
            .and_then(|n| n.tag)
            .map(|t| t.to_string())
            .unwrap_or_default(),
    );
    let firewall = RwSignal::new(nic.as_ref().is_none_or(|n| n.firewall));
    let link_down = RwSignal::new(nic.as_ref().is_some_and(|n| n.link_down));
    let problem = RwSignal::new(None::<AppError>);
    let saving = RwSignal::new(false);
    let choices = devices.choices;
    let save = {
        let (devices, key) = (devices.clone(), key.clone());
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let tag = match tag.get_untracked().trim() {
                "" => None,
                text => match text.parse::<u16>() {
                    Ok(t) => Some(t),
                    Err(_) => {
                        problem.set(Some(AppError::InvalidInput(
                            "VLAN tag: a whole number from 1 to 4094, or empty.".into(),
                        )));
                        return;
                    }
                },
            };
            let form = NicForm {
                model: model.get_untracked(),
                bridge: bridge.get_untracked(),
                tag,
                firewall: firewall.get_untracked(),
                link_down: link_down.get_untracked(),
            };
            let HardwareTarget {
                cluster,
                node,
                vmid,
                ..
            } = devices.target.clone();
            let (digest, key, devices) = (devices.digest.clone(), key.clone(), devices.clone());
            problem.set(None);
            saving.set(true);
            leptos::task::spawn_local(async move {
                let result = save_nic(cluster, node, vmid.to_string(), digest, key, form).await;
                saving.try_set(false);
                match result {
                    Ok(done) => {
                        editing.try_set(None);
                        devices.done(Ok(done));
                    }
                    // The form stays as typed, with PVE's or our reason.
                    Err(error) => {
                        problem.try_set(Some(error));
                    }
                }
            });
        }
    };
    let title = if key.is_empty() {
        "New network device".to_owned()
    } else {
        format!("Change {key}")
    };
    let fields = move || {
        choices.get().map(|loaded| match loaded {
            Err(error) => view! { <ErrorBox error /> }.into_any(),
            Ok(c) => {
                if bridge.get_untracked().is_empty() {
                    bridge.set(c.bridges.first().cloned().unwrap_or_default());
                }
                let models = options_of(&c.models, model, str::to_owned);
                let bridges = options_of(&c.bridges, bridge, str::to_owned);
                view! {
                    <label>"Model "<select data-testid="nic-form-model" on:change=move |ev| model.set(event_target_value(&ev))>{models}</select></label>
                    <label>"Bridge "<select data-testid="nic-form-bridge" on:change=move |ev| bridge.set(event_target_value(&ev))>{bridges}</select></label>
                    <label>"VLAN tag (empty: none) "<input type="number" min="1" max="4094" data-testid="nic-form-tag" prop:value=move || tag.get() on:input=move |ev| tag.set(event_target_value(&ev)) /></label>
                    <label><input type="checkbox" data-testid="nic-form-firewall" prop:checked=move || firewall.get() on:change=move |ev| firewall.set(event_target_checked(&ev)) />" Firewall"</label>
                    <label><input type="checkbox" data-testid="nic-form-link-down" prop:checked=move || link_down.get() on:change=move |ev| link_down.set(event_target_checked(&ev)) />" Disconnected"</label>
                }
                .into_any()
            }
        })
    };
    view! {
        <form class="facts-form" data-testid="nic-form" novalidate on:submit=save>
            <h4>{title}</h4>
            {move || fields().unwrap_or_else(|| view! { <p class="muted">"Loading the node's bridges…"</p> }.into_any())}
            <button class="btn" type="submit" data-testid="nic-form-save" disabled=move || saving.get() || choices.with(|c| !matches!(c, Some(Ok(_))))>"Save"</button>
            " "
            <button class="btn" type="button" on:click=move |_| editing.set(None)>"Cancel"</button>
            {move || problem.get().map(|error| view! { <ErrorBox error /> })}
        </form>
    }
    .into_any()
}

/// `<option>`s for `values` with the one equal to `chosen` selected (through the property:
/// a `value` set on the select before its options exist would not stick).
fn options_of(
    values: &[String],
    chosen: RwSignal<String>,
    label: impl Fn(&str) -> String,
) -> AnyView {
    values
        .iter()
        .map(|v| {
            let (value, this, text) = (v.clone(), v.clone(), label(v));
            view! { <option value=value prop:selected=move || chosen.get() == this>{text}</option> }
        })
        .collect_view()
        .into_any()
}

/// "Add a disk": bus, storage and size; the slot is the bus's lowest free one.
#[component]
fn DiskAdder(devices: Devices) -> impl IntoView {
    let open = RwSignal::new(false);
    let bus = RwSignal::new("scsi".to_owned());
    let storage = RwSignal::new(String::new());
    let size = RwSignal::new("32".to_owned());
    let problem = RwSignal::new(None::<AppError>);
    let adding = RwSignal::new(false);
    let choices = devices.choices;
    let start = {
        let devices = devices.clone();
        move |_| {
            devices.load_choices();
            devices.outcome.set(None);
            open.set(true);
        }
    };
    let add = {
        let devices = devices.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let Ok(size_gib) = size.get_untracked().trim().parse::<u64>() else {
                problem.set(Some(AppError::InvalidInput(
                    "Size: a whole number of GiB, please.".into(),
                )));
                return;
            };
            let form = DiskForm {
                bus: bus.get_untracked(),
                storage: storage.get_untracked(),
                size_gib,
            };
            let HardwareTarget {
                cluster,
                node,
                vmid,
                ..
            } = devices.target.clone();
            let (digest, devices) = (devices.digest.clone(), devices.clone());
            problem.set(None);
            adding.set(true);
            leptos::task::spawn_local(async move {
                let result = add_disk(cluster, node, vmid.to_string(), digest, form).await;
                adding.try_set(false);
                match result {
                    Ok(done) => {
                        open.try_set(false);
                        devices.done(Ok(done));
                    }
                    Err(error) => {
                        problem.try_set(Some(error));
                    }
                }
            });
        }
    };
    let fields = move || {
        choices.get().map(|loaded| match loaded {
            Err(error) => view! { <ErrorBox error /> }.into_any(),
            Ok(c) => {
                if storage.get_untracked().is_empty() {
                    storage.set(c.storages.first().cloned().unwrap_or_default());
                }
                let buses = options_of(&c.buses, bus, |b| {
                    match b {
                        "scsi" => "SCSI",
                        "virtio" => "VirtIO block",
                        "sata" => "SATA",
                        _ => "IDE",
                    }
                    .to_owned()
                });
                let storages = options_of(&c.storages, storage, str::to_owned);
                view! {
                    <label>"Bus "<select data-testid="disk-form-bus" on:change=move |ev| bus.set(event_target_value(&ev))>{buses}</select></label>
                    <label>"Storage "<select data-testid="disk-form-storage" on:change=move |ev| storage.set(event_target_value(&ev))>{storages}</select></label>
                    <label>"Size (GiB) "<input type="number" min="1" data-testid="disk-form-size" prop:value=move || size.get() on:input=move |ev| size.set(event_target_value(&ev)) /></label>
                }
                .into_any()
            }
        })
    };
    view! {
        <Show
            when=move || open.get()
            fallback=move || view! { <button class="btn" data-testid="disk-add" on:click=start.clone()>"Add a disk…"</button> }
        >
            <form class="facts-form" data-testid="disk-form" novalidate on:submit=add.clone()>
                <h4>"New disk"</h4>
                {move || fields().unwrap_or_else(|| view! { <p class="muted">"Loading the node's storages…"</p> }.into_any())}
                <button class="btn" type="submit" data-testid="disk-form-add" disabled=move || adding.get() || choices.with(|c| !matches!(c, Some(Ok(_))))>"Add disk"</button>
                " "
                <button class="btn" type="button" on:click=move |_| open.set(false)>"Cancel"</button>
                {move || problem.get().map(|error| view! { <ErrorBox error /> })}
            </form>
        </Show>
    }
    .into_any()
}
