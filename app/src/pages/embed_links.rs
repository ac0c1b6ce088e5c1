//! `/embed-links` — admins mint, list and revoke console embed links for partner portals, and
//! make API tokens for minting them from scripts (`POST /api/v1/embed-links`).

use leptos::prelude::*;

use crate::{
    access::CreateApiToken,
    components::{error_box::ErrorBox, shown_once::shown_once},
    embed::EmbedLinkInfo,
    embed::{CreateEmbedLink, RevokeEmbedLink, list_embed_links},
    format,
};

/// The embed links page.
#[component]
pub fn EmbedLinksPage() -> impl IntoView {
    let create = ServerAction::<CreateEmbedLink>::new();
    let revoke = ServerAction::<RevokeEmbedLink>::new();
    let token = ServerAction::<CreateApiToken>::new();
    let links = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_embed_links(),
    );
    let minted = move || {
        shown_once(
            create.value().get(),
            "embed-link",
            "Embed this URL in the partner's iframe",
            |link| view! { <code>{link.url}</code> }.into_any(),
        )
    };
    let new_token = move || {
        shown_once(token.value().get(), "api-token", "API token", |secret| {
            view! { <code>{secret}</code> }.into_any()
        })
    };
    let yes_no = |name: &'static str, label: &'static str| {
        view! {
            <label class="inline">
                {label}
                <select name=name>
                    <option value="false">"no"</option>
                    <option value="true">"yes"</option>
                </select>
            </label>
        }
    };
    view! {
        <h1>"Console embed links"</h1>
        <p class="muted">
            "A partner portal shows one VM's console in an iframe with a signed link: it expires, "
            "may be single-use or view-only, works only when framed by the given origin, and can be revoked."
        </p>
        <ActionForm action=create attr:class="inline-form" attr:data-testid="new-embed-link">
            <input name="cluster" placeholder="Cluster" value="demo" required />
            <input name="node" placeholder="Node" required />
            <input name="vmid" placeholder="VM id" required />
            <input name="origin" placeholder="Partner origin, https://portal.example" required />
            <input name="ttl_secs" type="number" min="60" value="3600" aria-label="Valid for (seconds)" />
            {yes_no("single_use", "Single use")}
            {yes_no("view_only", "View only")}
            <button type="submit" class="btn primary">"Create link"</button>
        </ActionForm>
        {minted}
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match links.await {
                    Ok(list) => view! { <LinkTable list revoke /> }.into_any(),
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                }
            })}
        </Transition>
        <h2>"API tokens"</h2>
        <p class="muted">"For scripts: " <code>"POST /api/v1/embed-links"</code> " with " <code>"Authorization: Bearer <token>"</code>"."</p>
        <ActionForm action=token attr:class="inline-form">
            <input name="label" placeholder="Token name, e.g. partner-sync" required />
            <button type="submit" class="btn">"Create API token"</button>
        </ActionForm>
        {new_token}
    }
}

#[component]
fn LinkTable(list: Vec<EmbedLinkInfo>, revoke: ServerAction<RevokeEmbedLink>) -> impl IntoView {
    let rows = list
        .into_iter()
        .map(|link| {
            let id = link.id;
            let state = match (link.revoked_at, link.used_at) {
                (Some(_), _) => "revoked".to_string(),
                (None, Some(_)) if link.single_use => "used".to_string(),
                _ => format!("valid until {}", format::clock(link.expires_at)),
            };
            let flags = [link.single_use.then_some("single use"), link.view_only.then_some("view only")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ");
            view! {
                <tr data-embed-link=id>
                    <td>{format!("{} / {} / {}", link.cluster, link.node, link.vmid)}</td>
                    <td>{link.origin.clone()}</td>
                    <td>{flags}</td>
                    <td>{state}</td>
                    <td>{link.uses}</td>
                    <td>
                        {link.revoked_at.is_none().then(|| view! {
                            <button class="btn danger" on:click=move |_| { revoke.dispatch(RevokeEmbedLink { id }); }>"Revoke"</button>
                        })}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="users" data-testid="embed-links">
            <thead><tr><th>"VM"</th><th>"Origin"</th><th>"Options"</th><th>"State"</th><th>"Uses"</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
