//! Cecyber's Leptos application: the shell, the routes, pages, components and server functions.
//!
//! One module per feature (`access`, `auth`, `users`, `vms`, `metrics`, `console`, `embed`,
//! `wall`, `alerts`, `live`): its wire types and server functions, with its server-only code
//! (database, state) beside them behind the `ssr` feature, so the browser build (`hydrate`)
//! never sees the database, the sessions or the Proxmox VE client. `state` is what every
//! server function shares; `pages` and `components` are the UI, `web` the browser-only glue.

pub mod access;
pub mod alerts;
pub mod assets;
pub mod auth;
pub mod bulk;
pub mod cloning;
pub mod components;
pub mod console;
pub mod embed;
pub mod error;
pub mod format;
pub mod live;
pub mod metrics;
pub mod migration;
pub mod nodes;
pub mod pages;
pub mod schedules;
pub mod snapshots;
#[cfg(feature = "ssr")]
pub mod state;
pub mod tasks;
pub mod users;
pub mod vm_config;
pub mod vm_devices;
pub mod vm_query;
pub mod vms;
pub mod wall;
#[cfg(feature = "hydrate")]
pub mod web;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::{
    components::{Route, Router, Routes},
    path,
};

use crate::access::Session;

/// The HTML document around the application.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let stylesheet = assets::stylesheet(&options.site_pkg_dir);
    let options = with_page_bundle(options);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                // Server-rendered only: the bundle's name carries its hash (see `assets`).
                <link rel="stylesheet" href=stylesheet />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The options with the bundle this page loads (see [`assets::LITE_PAGES`]).
fn with_page_bundle(options: LeptosOptions) -> LeptosOptions {
    #[cfg(feature = "ssr")]
    {
        let path =
            use_context::<axum::http::request::Parts>().map(|parts| parts.uri.path().to_owned());
        let lite = use_context::<assets::LiteBundle>();
        if let Some(path) = path {
            let dir = assets::bundle_for(&path, &options.site_pkg_dir, lite.as_ref());
            if dir != &*options.site_pkg_dir {
                let site_pkg_dir = dir.into();
                let mut options = options;
                options.site_pkg_dir = site_pkg_dir;
                return options;
            }
        }
    }
    options
}

/// The session of the page request: computed on the server (by the session middleware, which
/// puts it in the request's extensions) and handed to the browser with the page.
fn page_session() -> Session {
    let session = SharedValue::new(|| {
        #[cfg(feature = "ssr")]
        {
            use_context::<axum::http::request::Parts>()
                .and_then(|parts| parts.extensions.get::<Session>().cloned())
                .unwrap_or(Session {
                    user: None,
                    demo: false,
                })
        }
        #[cfg(not(feature = "ssr"))]
        {
            Session {
                user: None,
                demo: false,
            }
        }
    });
    session.into_inner()
}

/// The application: routes under a common layout, and the login page on its own.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_context(page_session());
    view! {
        <Title text="Cecyber" />
        <Router>
            <AppRoutes />
        </Router>
    }
}

/// The lite bundle's routes: only [`assets::LITE_PAGES`]. A component adds nothing to the
/// page, so these pages hydrate the same as when the whole application renders them.
#[cfg(feature = "lite")]
#[component]
fn AppRoutes() -> impl IntoView {
    use crate::pages::{embed::EmbedConsolePage, login::LoginPage, not_found::NotFound};
    view! {
        <Routes fallback=NotFound>
            <Route path=path!("/login") view=LoginPage />
            <Route path=path!("/embed/console") view=EmbedConsolePage />
        </Routes>
    }
}

/// Every route.
#[cfg(not(feature = "lite"))]
#[component]
fn AppRoutes() -> impl IntoView {
    use crate::{
        components::layout::Layout,
        pages::{
            alerts::AlertsPage, console::ConsolePage, dashboard::DashboardPage,
            embed::EmbedConsolePage, embed_links::EmbedLinksPage, login::LoginPage, node::NodePage,
            nodes::NodesPage, not_found::NotFound, schedules::SchedulesPage, tasks::TasksPage,
            users::UsersPage, vm_detail::VmDetailPage, vm_list::VmListPage, wall::WallPage,
            wall_links::WallLinksPage,
        },
    };
    use leptos_router::components::ParentRoute;
    view! {
            <Routes fallback=NotFound>
                <Route path=path!("/login") view=LoginPage />
                <Route path=path!("/wall") view=WallPage />
                <Route path=path!("/embed/console") view=EmbedConsolePage />
                <ParentRoute path=path!("") view=Layout>
                    <Route path=path!("") view=VmListPage />
                    <Route path=path!("/vms/:cluster/:node/:vmid") view=VmDetailPage />
                    <Route path=path!("/vms/:cluster/:node/:vmid/console") view=ConsolePage />
                    <Route path=path!("/users") view=UsersPage />
                    <Route path=path!("/alerts") view=AlertsPage />
                    <Route path=path!("/tasks") view=TasksPage />
                    <Route path=path!("/schedules") view=SchedulesPage />
                    <Route path=path!("/embed-links") view=EmbedLinksPage />
                    <Route path=path!("/wall-links") view=WallLinksPage />
                    <Route path=path!("/dashboard") view=DashboardPage />
                    <Route path=path!("/nodes") view=NodesPage />
                    <Route path=path!("/nodes/:cluster/:node") view=NodePage />
                </ParentRoute>
            </Routes>
    }
}
