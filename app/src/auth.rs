//! Login, logout and "who am I".

use leptos::prelude::*;

use crate::{access::Session, error::AppError};
#[cfg(feature = "ssr")]
use crate::{
    access::{self, sessions},
    state::{app_state, request_parts},
    users::ssr as users,
};

/// Logs in and sets the session cookie. A refusal never says which part was wrong and comes
/// only after a delay, against guessing.
#[server(prefix = "/api", endpoint = "login")]
pub async fn login(username: String, password: String) -> Result<(), AppError> {
    use axum::http::{HeaderValue, header::SET_COOKIE};

    let state = app_state()?;
    let parts = request_parts()?;
    let user = if username.len() > 64 || password.len() > 1024 {
        None
    } else {
        users::check_login(&state.db, username.trim(), &password).await?
    };
    let Some(user) = user else {
        tracing::warn!(username = %username.chars().take(64).collect::<String>(), "failed login");
        tokio::time::sleep(state.sessions.login_failure_delay).await;
        return Err(AppError::BadCredentials);
    };
    let token = sessions::create(&state.db, user.id, state.sessions.ttl).await?;
    let cookie = sessions::cookie(&state.sessions, &parts, Some(&token));
    let response = expect_context::<leptos_axum::ResponseOptions>();
    response.insert_header(
        SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|_| AppError::Internal)?,
    );
    tracing::info!(user = %user.username, "login");
    redirect_plain_form(&parts, "/");
    Ok(())
}

/// Ends the session and clears the cookie.
#[server(prefix = "/api", endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use axum::http::{HeaderValue, header::SET_COOKIE};

    let state = app_state()?;
    let parts = request_parts()?;
    if let Some(token) = sessions::token_from_headers(&parts.headers) {
        sessions::delete(&state.db, &token).await?;
    }
    let cookie = sessions::cookie(&state.sessions, &parts, None);
    let response = expect_context::<leptos_axum::ResponseOptions>();
    response.insert_header(
        SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|_| AppError::Internal)?,
    );
    redirect_plain_form(&parts, "/login");
    Ok(())
}

/// Redirects a form posted without JavaScript. The hydrated app instead reloads the page
/// itself, so that the next page is rendered with the new session.
#[cfg(feature = "ssr")]
fn redirect_plain_form(parts: &axum::http::request::Parts, to: &str) {
    let accepts_html = parts
        .headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if accepts_html {
        leptos_axum::redirect(to);
    }
}

/// The logged-in user (if any) and whether this is demo mode.
#[server(prefix = "/api", endpoint = "session")]
pub async fn current_session() -> Result<Session, AppError> {
    let state = app_state()?;
    Ok(Session {
        user: access::current_user().await?,
        demo: state.demo,
    })
}
