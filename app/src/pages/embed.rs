//! `/embed/console?token=…` — one VM's console alone, for a partner portal's iframe. Needs no
//! session cookie: the signed link is the credential, checked by the server on every use.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::{components::console::Console, console::TicketSource};

/// The embedded console.
#[component]
pub fn EmbedConsolePage() -> impl IntoView {
    let token = use_query_map().with_untracked(|q| q.get("token").unwrap_or_default());
    view! {
        <main class="embed">
            <Console source=TicketSource::Embed { token } embedded=true />
        </main>
    }
}
