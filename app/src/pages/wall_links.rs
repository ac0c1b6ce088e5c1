//! `/wall-links` — admins mint and revoke links for wall displays.

use leptos::prelude::*;

use crate::{
    components::{error_box::ErrorBox, shown_once::shown_once},
    format,
    wall::WallLinkInfo,
    wall::{CreateWallLink, RevokeWallLink, list_wall_links},
};

/// The wall links page.
#[component]
pub fn WallLinksPage() -> impl IntoView {
    let create = ServerAction::<CreateWallLink>::new();
    let revoke = ServerAction::<RevokeWallLink>::new();
    let links = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_wall_links(),
    );
    let minted = move || {
        shown_once(
            create.value().get(),
            "wall-link",
            "Open this on the wall display",
            |link| {
                view! { <a href=link.url.clone() target="_blank">{link.url.clone()}</a> }.into_any()
            },
        )
    };
    view! {
        <h1>"Wall displays"</h1>
        <p class="muted">"A wall link shows the live metrics wall without a login. It is read-only and can be revoked at any time."</p>
        <ActionForm action=create attr:class="inline-form">
            <input name="label" placeholder="Name, e.g. Ops room TV" required />
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
    }
}

#[component]
fn LinkTable(list: Vec<WallLinkInfo>, revoke: ServerAction<RevokeWallLink>) -> impl IntoView {
    let rows = list
        .into_iter()
        .map(|link| {
            let id = link.id;
            let state = match link.revoked_at {
                Some(t) => format!("revoked {}", format::clock(t)),
                None => "active".into(),
            };
            view! {
                <tr data-wall-link=link.label.clone()>
                    <td>{link.label.clone()}</td>
                    <td>{link.created_by.clone()}</td>
                    <td>{format::clock(link.created_at)}</td>
                    <td>{state}</td>
                    <td>
                        {link.revoked_at.is_none().then(|| view! {
                            <button class="btn danger" on:click=move |_| { revoke.dispatch(RevokeWallLink { id }); }>"Revoke"</button>
                        })}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="users">
            <thead><tr><th>"Name"</th><th>"By"</th><th>"Created"</th><th>"State"</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
