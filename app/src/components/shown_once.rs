//! A secret the server made and shows only once (a wall link, an embed link, an API token), or
//! why it could not be made.

use leptos::prelude::*;

use crate::{components::error_box::ErrorBox, error::AppError};

/// The newest result of a minting action: `intro` and the secret as `show` renders it, in a
/// box tests find by `testid`; the error box on failure; nothing before the first try.
pub fn shown_once<T>(
    result: Option<Result<T, AppError>>,
    testid: &'static str,
    intro: &'static str,
    show: impl FnOnce(T) -> AnyView,
) -> Option<AnyView> {
    result.map(|result| match result {
        Ok(secret) => view! {
            <p class="minted" data-testid=testid>{intro}" (shown only now): "{show(secret)}</p>
        }
        .into_any(),
        Err(error) => view! { <ErrorBox error /> }.into_any(),
    })
}
