//! The firing alerts, refreshed every few seconds, shared by the header badge and the alerts
//! page.

#[cfg(feature = "hydrate")]
use std::time::Duration;

use leptos::prelude::*;
use leptos_router::components::A;

use crate::alerts::Alert;
#[cfg(feature = "hydrate")]
use crate::alerts::active_alerts;

/// Firing alerts, through context.
#[derive(Clone, Copy)]
pub struct ActiveAlerts {
    list: RwSignal<Vec<Alert>>,
    version: RwSignal<u64>,
}

impl ActiveAlerts {
    /// Starts refreshing (in the browser) and provides the list to the page.
    pub fn provide() -> Self {
        let this = Self {
            list: RwSignal::new(Vec::new()),
            version: RwSignal::new(0),
        };
        provide_context(this);
        #[cfg(feature = "hydrate")]
        {
            this.refresh();
            let handle =
                set_interval_with_handle(move || this.refresh(), Duration::from_secs(3)).ok();
            on_cleanup(move || {
                if let Some(h) = handle {
                    h.clear();
                }
            });
        }
        this
    }

    #[cfg(feature = "hydrate")]
    fn refresh(self) {
        leptos::task::spawn_local(async move {
            if let Ok(list) = active_alerts().await
                && self.list.with_untracked(|old| *old != list)
            {
                self.list.set(list);
                self.version.update(|v| *v += 1);
            }
        });
    }

    /// The firing alerts.
    pub fn list(self) -> Vec<Alert> {
        self.list.get()
    }

    /// Changes whenever the firing set changes (for reloading the history).
    pub fn version(self) -> u64 {
        self.version.get()
    }
}

/// "⚠ 2 alerts" in the header, red when one is critical; hidden when nothing fires.
#[component]
pub fn AlertBadge() -> impl IntoView {
    let alerts = expect_context::<ActiveAlerts>();
    move || {
        let list = alerts.list();
        (!list.is_empty()).then(|| {
            let critical = list.iter().any(|a| a.level == "critical");
            let text = if list.len() == 1 { "⚠ 1 alert".to_string() } else { format!("⚠ {} alerts", list.len()) };
            view! {
                <A href="/alerts" attr:class=if critical { "alert-badge critical" } else { "alert-badge" } attr:data-testid="alert-badge">
                    {text}
                </A>
            }
        })
    }
}
