//! `/alerts` — firing alerts, their history, and the rules (admins edit them).

use leptos::prelude::*;

use crate::{
    access::{Role, Session},
    alerts::{Alert, AlertRule},
    alerts::{UpdateAlertRule, alert_history, alert_rules},
    components::{alert_badge::ActiveAlerts, error_box::ErrorBox},
    format,
};

/// The alerts page.
#[component]
pub fn AlertsPage() -> impl IntoView {
    let active = expect_context::<ActiveAlerts>();
    let update = ServerAction::<UpdateAlertRule>::new();
    let history = Resource::new(move || active.version(), |_| alert_history());
    let rules = Resource::new(move || update.version().get(), |_| alert_rules());
    let is_admin = expect_context::<Session>()
        .user
        .is_some_and(|u| u.role.allows(Role::Admin));
    view! {
        <h1>"Alerts"</h1>
        <h2>"Firing now"</h2>
        {move || {
            let firing = active.list();
            if firing.is_empty() {
                view! { <p class="muted" data-testid="no-alerts">"Nothing is firing."</p> }.into_any()
            } else {
                view! { <AlertTable alerts=firing testid="firing-alerts" /> }.into_any()
            }
        }}
        <h2>"Rules"</h2>
        {move || update.value().get().and_then(Result::err).map(|error| view! { <ErrorBox error /> })}
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match rules.await {
                    Ok(list) => view! { <RuleTable list update is_admin /> }.into_any(),
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                }
            })}
        </Transition>
        <h2>"History"</h2>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match history.await {
                    Ok(alerts) => view! { <AlertTable alerts testid="alert-history" /> }.into_any(),
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn AlertTable(alerts: Vec<Alert>, testid: &'static str) -> impl IntoView {
    let rows = alerts
        .into_iter()
        .map(|a| {
            let ended = a
                .ended_at
                .map(format::clock)
                .unwrap_or_else(|| "firing".into());
            view! {
                <tr class=format!("alert {}", a.level) data-target=a.target.clone()>
                    <td><span class=format!("level {}", a.level)>{a.level.clone()}</span></td>
                    <td>{a.message.clone()}</td>
                    <td>{a.cluster.clone()}</td>
                    <td>{format::clock(a.started_at)}</td>
                    <td>{ended}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="alerts" data-testid=testid>
            <thead><tr><th>"Level"</th><th>"What"</th><th>"Cluster"</th><th>"Since"</th><th>"Ended"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

#[component]
fn RuleTable(
    list: Vec<AlertRule>,
    update: ServerAction<UpdateAlertRule>,
    is_admin: bool,
) -> impl IntoView {
    let rows = list
        .into_iter()
        .map(|rule| {
            let (id, threshold, clear, for_secs, enabled) = (rule.id, rule.threshold, rule.clear, rule.for_secs, rule.enabled);
            let critical = rule.level == "critical";
            // "VM stopped unexpectedly" is an event, not a level: no percentages to edit (they
            // are sent back unchanged).
            let event = rule.kind == "vm_stopped";
            let editor = is_admin.then(move || {
                let levels = if event {
                    view! {
                        <input type="hidden" name="threshold" value=threshold />
                        <input type="hidden" name="clear" value=clear />
                    }
                    .into_any()
                } else {
                    view! {
                        <label class="inline">"above %" <input name="threshold" type="number" step="any" value=threshold /></label>
                        <label class="inline">"clear below %" <input name="clear" type="number" step="any" value=clear /></label>
                    }
                    .into_any()
                };
                view! {
                    <ActionForm action=update attr:class="inline-form rule-form">
                        <input type="hidden" name="id" value=id />
                        {levels}
                        <label class="inline">"for s" <input name="for_secs" type="number" value=for_secs /></label>
                        <select name="level" aria-label="Level">
                            <option value="warning" selected=!critical>"warning"</option>
                            <option value="critical" selected=critical>"critical"</option>
                        </select>
                        <select name="enabled" aria-label="Enabled">
                            <option value="true" selected=enabled>"on"</option>
                            <option value="false" selected=!enabled>"off"</option>
                        </select>
                        <button type="submit" class="btn">"Save"</button>
                    </ActionForm>
                }
            });
            let off = if rule.enabled { "" } else { " (off)" };
            let summary = if event {
                format!(
                    "a running VM stopped and no PVE task did it (a crash, an OOM kill, a shutdown \
                     from inside the guest), still stopped after {} s; clears when it runs again — {}{off}",
                    rule.for_secs, rule.level
                )
            } else {
                format!(
                    "above {:.0}% for {} s, clears below {:.0}% — {}{off}",
                    rule.threshold, rule.for_secs, rule.clear, rule.level
                )
            };
            view! {
                <tr data-rule=rule.kind.clone()>
                    <td>{rule.name.clone()}</td>
                    <td>{summary}</td>
                    <td>{editor}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="rules" data-testid="alert-rules">
            <tbody>{rows}</tbody>
        </table>
    }
}
