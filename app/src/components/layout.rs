//! The frame around every page after login: header, demo banner, navigation, task panel.

use leptos::prelude::*;
use leptos_router::components::{A, Outlet};

use crate::{
    access::{Role, Session},
    auth::Logout,
    components::{
        alert_badge::{ActiveAlerts, AlertBadge},
        bulk::{BulkProgress, BulkRuns},
        power::{ConfirmDialog, provide_confirmation},
        tasks::{TaskPanel, Tasks},
    },
};

/// Page frame with the header and the task panel.
#[component]
pub fn Layout() -> impl IntoView {
    let session = expect_context::<Session>();
    provide_context(Tasks::new());
    BulkRuns::provide();
    provide_confirmation();
    ActiveAlerts::provide();
    let logout = ServerAction::<Logout>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = logout.value().get() {
            go_to("/login");
        }
    });
    let (username, role) = session
        .user
        .as_ref()
        .map(|u| (u.username.clone(), u.role))
        .unwrap_or_else(|| (String::new(), Role::Viewer));
    // Node figures are for unscoped users only (the server refuses the others).
    let sees_nodes = session.user.as_ref().is_some_and(|u| u.scope.sees_nodes());
    view! {
        {session.demo.then(|| view! {
            <div class="demo-banner" data-testid="demo-banner">
                "Demo — simulated cluster. Nothing here touches a real Proxmox VE."
            </div>
        })}
        <header class="topbar">
            <A href="/" attr:class="brand">"Cecyber"</A>
            <nav>
                <A href="/">"Virtual machines"</A>
                <A href="/dashboard">"Dashboard"</A>
                {sees_nodes.then(|| view! { <A href="/nodes">"Nodes"</A> })}
                <A href="/tasks">"Tasks"</A>
                <A href="/schedules">"Schedules"</A>
                <A href="/alerts">"Alerts"</A>
                <AlertBadge />
                {role.allows(Role::Admin).then(|| view! { <A href="/users">"Users"</A> <A href="/wall-links">"Wall"</A> <A href="/embed-links">"Embed links"</A> })}
            </nav>
            <div class="whoami">
                <span data-testid="current-user">{username}</span>
                <span class="role">{role.as_str()}</span>
                <ActionForm action=logout>
                    <button type="submit" class="link">"Log out"</button>
                </ActionForm>
            </div>
        </header>
        <main>
            <Outlet />
        </main>
        <ConfirmDialog />
        <div class="dock">
            <BulkProgress />
            <TaskPanel />
        </div>
    }
}

/// Full page load of `path`, so the next page starts with a fresh server-rendered session.
pub fn go_to(path: &str) {
    #[cfg(feature = "hydrate")]
    {
        if let Some(window) = web_sys::window() {
            let _ = window.location().set_href(path);
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}
