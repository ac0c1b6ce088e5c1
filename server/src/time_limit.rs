//! A time limit for server functions and the REST API: a call that has not answered within it
//! is answered with 504 and a typed error, and logged. Streams (`/api/live`) and consoles
//! (`/api/console/ws`) live as long as their viewer and are not limited; page renders have
//! their own limit in [`crate::render`].

use std::time::Duration;

use app::error::AppError;
use axum::{
    extract::{Request, State},
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

/// Paths under `/api/` that are long-lived on purpose.
fn long_lived(path: &str) -> bool {
    matches!(path, "/api/live" | "/api/console/ws")
}

/// Middleware: at most `limit` for each call under `/api/`.
pub async fn api_time_limit(
    State(limit): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    if !path.starts_with("/api/") || long_lived(&path) {
        return next.run(request).await;
    }
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::error!(%path, limit_secs = limit.as_secs(), "call timed out");
            timed_out(limit)
        }
    }
}

/// 504 with the error as server functions encode theirs, so the browser shows its message.
fn timed_out(limit: Duration) -> Response {
    let error = AppError::TimedOut(format!(
        "no answer within {} s; Proxmox VE or Cecyber's database may be overloaded. Try again.",
        limit.as_secs()
    ));
    let body = serde_json::to_string(&error).unwrap_or_default();
    (
        StatusCode::GATEWAY_TIMEOUT,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::{Router, body::Body, middleware::from_fn_with_state, routing::get};
    use tower::ServiceExt;

    fn app() -> Router {
        Router::new()
            .route("/api/slow", get(std::future::pending::<&'static str>))
            .route("/api/fast", get(|| async { "fast" }))
            .route(
                "/api/live",
                get(|| async {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    "stream"
                }),
            )
            .layer(from_fn_with_state(
                Duration::from_millis(100),
                api_time_limit,
            ))
    }

    async fn get_path(path: &str) -> (StatusCode, String) {
        let response = app()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn a_call_past_the_limit_is_answered_504_with_a_typed_error() {
        let (status, body) = get_path("/api/slow").await;
        assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
        let error: AppError = serde_json::from_str(&body).unwrap();
        assert!(matches!(error, AppError::TimedOut(_)), "{error:?}");
        assert_eq!(get_path("/api/fast").await, (StatusCode::OK, "fast".into()));
    }

    #[tokio::test]
    async fn streams_are_not_limited() {
        assert_eq!(
            get_path("/api/live").await,
            (StatusCode::OK, "stream".into())
        );
    }
}
