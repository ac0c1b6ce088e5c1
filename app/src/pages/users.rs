//! User management for admins: list, create, change role, delete.

use leptos::prelude::*;

use crate::{
    api::users::{CreateUser, DeleteUser, SetUserRole, list_users},
    components::error_box::ErrorBox,
    model::{Role, UserInfo},
};

/// `/users`.
#[component]
pub fn UsersPage() -> impl IntoView {
    let create = ServerAction::<CreateUser>::new();
    let delete = ServerAction::<DeleteUser>::new();
    let set_role = ServerAction::<SetUserRole>::new();
    let users = Resource::new(
        move || {
            (
                create.version().get(),
                delete.version().get(),
                set_role.version().get(),
            )
        },
        |_| list_users(),
    );
    let action_error = move || {
        [
            create.value().get(),
            delete.value().get(),
            set_role.value().get(),
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
                    Ok(list) => view! { <UserTable list delete set_role /> }.into_any(),
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                }
            })}
        </Transition>
        <h2>"New user"</h2>
        <ActionForm action=create attr:class="inline-form" attr:data-testid="new-user">
            <input name="username" placeholder="Username" required />
            <input name="password" type="password" placeholder="Password (8+ characters)" required />
            <select name="role">
                {Role::ALL.map(|r| view! { <option value=r.as_str()>{r.as_str()}</option> }).collect_view()}
            </select>
            <button type="submit" class="btn primary">"Create"</button>
        </ActionForm>
    }
}

#[component]
fn UserTable(
    list: Vec<UserInfo>,
    delete: ServerAction<DeleteUser>,
    set_role: ServerAction<SetUserRole>,
) -> impl IntoView {
    let rows = list
        .into_iter()
        .map(|u| {
            let name = u.username.clone();
            let name_for_role = u.username.clone();
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
            <thead><tr><th>"User"</th><th>"Role"</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
