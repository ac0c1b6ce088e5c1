//! The login page.

use leptos::prelude::*;

use crate::{access::Session, auth::Login, components::layout::go_to};

/// Username and password form; a refusal says only that the pair was wrong.
#[component]
pub fn LoginPage() -> impl IntoView {
    let session = expect_context::<Session>();
    let login = ServerAction::<Login>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = login.value().get() {
            go_to("/");
        }
    });
    let error = move || {
        login.value().get().and_then(Result::err).map(|e| {
            view! { <p class="error" role="alert" data-testid="login-error">{e.to_string()}</p> }
        })
    };
    view! {
        {session.demo.then(|| view! {
            <div class="demo-banner" data-testid="demo-banner">"Demo — simulated cluster"</div>
        })}
        <main class="login">
            <h1>"Cecyber"</h1>
            <p class="muted">"Proxmox VE control panel"</p>
            <ActionForm action=login>
                <label>
                    "Username"
                    <input name="username" autocomplete="username" required autofocus />
                </label>
                <label>
                    "Password"
                    <input name="password" type="password" autocomplete="current-password" required />
                </label>
                <button type="submit" class="btn primary" disabled=move || login.pending().get()>
                    {move || if login.pending().get() { "Checking…" } else { "Log in" }}
                </button>
            </ActionForm>
            {error}
        </main>
    }
}
