//! Shows an error from a server function, with a way back to the login page when needed.

use leptos::prelude::*;

use crate::error::AppError;

/// An error message box.
#[component]
pub fn ErrorBox(error: AppError) -> impl IntoView {
    let login_link = error
        .needs_login()
        .then(|| view! { <a href="/login">"Log in"</a> });
    view! {
        <div class="error" role="alert">
            <span>{error.to_string()}</span>
            {login_link}
        </div>
    }
}
