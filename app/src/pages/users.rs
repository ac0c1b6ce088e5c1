//! User management for admins: list, create, change role and scope, delete.

use leptos::prelude::*;

use crate::{
    access::Role,
    components::error_box::ErrorBox,
    users::UserInfo,
    users::{CreateUser, DeleteUser, SetUserRole, SetUserScope, list_users},
};

/// What the scope fields ask for.
const SCOPE_HINT: &str = "Scope (PVE tags, empty = all VMs)";

/// `/users`.
#[component]
pub fn UsersPage() -> impl IntoView {
    let create = ServerAction::<CreateUser>::new();
    let delete = ServerAction::<DeleteUser>::new();
    let set_role = ServerAction::<SetUserRole>::new();
    let set_scope = ServerAction::<SetUserScope>::new();
    // The list reloads after a scope was saved, not after a refusal: the text the admin typed
    // stays in its field to be corrected.
    let scopes_saved = RwSignal::new(0u64);
    Effect::new(move |_| {
        if matches!(set_scope.value().get(), Some(Ok(()))) {
            scopes_saved.update(|n| *n += 1);
        }
    });
    let users = Resource::new(
        move || {
            (
                create.version().get(),
                delete.version().get(),
                set_role.version().get(),
                scopes_saved.get(),
            )
        },
        |_| list_users(),
    );
    let action_error = move || {
        [
            create.value().get(),
            delete.value().get(),
            set_role.value().get(),
            set_scope.value().get(),
        ]
        .into_iter()
        .flatten()
        .find_map(Result::err)
        .map(|error| view! { <ErrorBox error /> })
    };
    view! {
        <h1>"Users"</h1>
        {action_error}
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match users.await {
                    Ok(list) => view! { <UserTable list delete set_role set_scope /> }.into_any(),
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                }
            })}
        </Transition>
        <p class="muted">
            "A scope limits a user to the VMs carrying at least one of its PVE tags; a scoped user sees no node figures. One admin always keeps an unrestricted scope."
        </p>
        <h2>"New user"</h2>
        <ActionForm action=create attr:class="inline-form" attr:data-testid="new-user">
            <input name="username" placeholder="Username" required />
            <input name="password" type="password" placeholder="Password (8+ characters)" required />
            <select name="role">
                {Role::ALL.map(|r| view! { <option value=r.as_str()>{r.as_str()}</option> }).collect_view()}
            </select>
            <input name="scope" placeholder=SCOPE_HINT aria-label=SCOPE_HINT size="32" />
            <button type="submit" class="btn primary">"Create"</button>
        </ActionForm>
    }
}

#[component]
fn UserTable(
    list: Vec<UserInfo>,
    delete: ServerAction<DeleteUser>,
    set_role: ServerAction<SetUserRole>,
    set_scope: ServerAction<SetUserScope>,
) -> impl IntoView {
    let rows = list
        .into_iter()
        .map(|u| {
            let name = u.username.clone();
            let name_for_role = u.username.clone();
            let name_for_scope = u.username.clone();
            let typed_scope = u.scope.tag_list().join(", ");
            view! {
                <tr data-user=u.username.clone()>
                    <td>{u.username.clone()}</td>
                    <td>
                        <select
                            aria-label="Role"
                            on:change=move |ev| {
                                set_role.dispatch(SetUserRole { username: name_for_role.clone(), role: event_target_value(&ev) });
                            }
                        >
                            {Role::ALL.map(|r| view! { <option value=r.as_str() selected=r == u.role>{r.as_str()}</option> }).collect_view()}
                        </select>
                    </td>
                    <td>
                        <span class="scope" data-testid="user-scope">{u.scope.to_string()}</span>
                        <ActionForm action=set_scope attr:class="inline-form">
                            <input type="hidden" name="username" value=name_for_scope />
                            <input name="scope" value=typed_scope placeholder=SCOPE_HINT aria-label="Scope" size="24" />
                            <button type="submit" class="btn">"Set scope"</button>
                        </ActionForm>
                    </td>
                    <td>
                        <button class="btn danger" on:click=move |_| {
                            delete.dispatch(DeleteUser { username: name.clone() });
                        }>"Delete"</button>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="users" data-testid="user-table">
            <thead><tr><th>"User"</th><th>"Role"</th><th>"Scope"</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
