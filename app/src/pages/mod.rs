//! One module per page.
//!
//! # How pages load data (read this before adding a resource)
//!
//! Leptos 0.8 can deadlock or hang during server-side rendering when `Suspense`/`Transition`
//! boundaries and resources are combined loosely (leptos-rs/leptos issues 4673, 4578, 4851):
//! a resource created *inside* a boundary's children is created again each time the boundary
//! re-runs its children to look for reads it missed, and a resource read with `.get()` under a
//! boundary is tracked by the boundary's effect while its own loading state changes on another
//! worker thread — the two take the reactive graph's locks in opposite orders. Seen here: eight
//! concurrent loads of the VM page (whose history resource was created inside the status
//! `Transition` and read with `.get()`) blocked both tokio workers for good, and with them the
//! whole server. So every page follows three rules:
//!
//! 1. **Resources are created at the top of the page component**, never inside a `Suspense`,
//!    `Transition` or `Suspend` (nor in a component rendered there).
//! 2. **A resource is read only with `.await` inside `Suspend::new`**, under a `Suspense` or
//!    `Transition` of its own — never with `.get()`/`.with()` in a view.
//! 3. **Data that only the browser uses** (chart history, polling) comes from a
//!    `LocalResource` or a browser-side fetch, outside any boundary: the server neither waits
//!    for it nor tracks it.
//!
//! The server also renders pages on a runtime of their own with a time limit (see
//! `server::render`), and `server/tests/stays_up.rs` loads every page concurrently: a page that
//! breaks these rules fails it.

pub mod alerts;
pub mod console;
pub mod dashboard;
pub mod embed;
pub mod embed_links;
pub mod login;
pub mod node;
pub mod nodes;
pub mod not_found;
pub mod schedules;
pub mod tasks;
pub mod users;
pub mod vm_detail;
pub mod vm_list;
pub mod wall;
pub mod wall_links;
