//! The built browser files: which bundle to load, serving them precompressed, and how long
//! browsers may keep what they get.
//!
//! `.ci/build` puts the bundle in a directory named after its content hash (`pkg/<hash>/`) and
//! writes that hash to the site root's manifest (`assets.toml`); a release build also puts a `.br` and a `.gz` beside every
//! file, which are sent as they are to browsers that accept them. Pages and server function
//! answers are compressed as they go out.

use std::{convert::Infallible, path::Path};

use app::assets::LiteBundle;
use axum::{
    extract::Request,
    http::{Extensions, HeaderMap, HeaderValue, StatusCode, Version, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use tower::{Service, ServiceExt, service_fn};
use tower_http::{
    compression::{CompressionLayer, DefaultPredicate, Predicate},
    services::ServeDir,
};

/// What the site root's manifest says.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    /// The bundle's content hash: its files are in `pkg/<bundle>/`.
    bundle: String,
    /// The lite bundle's (`app::assets::LITE_PAGES`), when the build made one.
    lite_bundle: Option<String>,
}

/// The bundles in a site root: the panel's directory (`pkg/<hash>`) and the lite one's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundles {
    /// Loaded by every page but the lite ones.
    pub panel: String,
    /// Loaded by the login page and the embedded console, when built.
    pub lite: Option<LiteBundle>,
}

/// The bundles of `site_root`, from its manifest. A site root that was never built still lets
/// the server run (its API, its tests), with a warning: pages then load without their scripts.
pub fn bundles(site_root: &Path) -> Bundles {
    let unbuilt = Bundles {
        panel: app::assets::UNBUILT_PKG_DIR.to_owned(),
        lite: None,
    };
    let path = site_root.join(app::assets::MANIFEST);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            tracing::warn!(
                manifest = %path.display(),
                error = %e,
                "no built browser files here (run .ci/build): pages will not load their scripts"
            );
            return unbuilt;
        }
    };
    let manifest = match toml::from_str::<Manifest>(&text) {
        Ok(manifest) => manifest,
        Err(e) => {
            tracing::error!(manifest = %path.display(), error = %e, "unreadable manifest");
            return unbuilt;
        }
    };
    let names = std::iter::once(&manifest.bundle).chain(&manifest.lite_bundle);
    if let Some(bad) = names.into_iter().find(|name| !is_hash(name)) {
        tracing::error!(manifest = %path.display(), bundle = %bad, "a bundle is not named by a hex hash");
        return unbuilt;
    }
    Bundles {
        panel: app::assets::pkg_dir(&manifest.bundle),
        lite: manifest
            .lite_bundle
            .map(|hash| LiteBundle(app::assets::pkg_dir(&hash))),
    }
}

fn is_hash(name: &str) -> bool {
    (8..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_hexdigit())
}

/// Marks a response as a file from the site root: it was compressed ahead of time or is not
/// worth compressing on every request (the debug bundle is 15 MB).
#[derive(Clone, Copy)]
struct SiteFile;

/// Files from `site_root`, the precompressed variant when the browser accepts it; whatever is
/// not a file goes to `not_found` (the application's 404 page).
pub fn site_files<S>(
    site_root: &str,
    not_found: S,
) -> impl Service<Request, Response = Response, Error = Infallible, Future: Send>
+ Clone
+ Send
+ Sync
+ use<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Future: Send,
{
    let files = ServeDir::new(site_root)
        .precompressed_br()
        .precompressed_gzip()
        .call_fallback_on_method_not_allowed(true)
        .fallback(not_found.clone());
    service_fn(move |request: Request| {
        let files = files.clone();
        async move {
            let response = match files.oneshot(request).await {
                Ok(response) => response.map(axum::body::Body::new),
                Err(e) => match e {},
            };
            let mut response = response.into_response();
            if response.status() != StatusCode::NOT_FOUND {
                response.extensions_mut().insert(SiteFile);
            }
            Ok(response)
        }
    })
}

/// Compression of what the server makes as it answers (pages, server function answers), but
/// not of the live event stream (its events must leave at once), site files (see [`SiteFile`])
/// or small answers.
pub fn compression() -> CompressionLayer<impl Predicate> {
    let not_site_files = |_: StatusCode, _: Version, _: &HeaderMap, extensions: &Extensions| {
        extensions.get::<SiteFile>().is_none()
    };
    CompressionLayer::new()
        .br(true)
        .gzip(true)
        .compress_when(DefaultPredicate::new().and(not_site_files))
}

/// A year: the longest `max-age` that caches honour.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Use it, but ask first every time (a 304 costs a few hundred bytes).
const REVALIDATE: &str = "no-cache";

/// `Cache-Control` for what the handlers left without one: files whose path names their
/// content (`/pkg/`, `/vendor/`) are kept for a year; pages and every other file are asked
/// for again each time, so an upgrade reaches the next page load.
pub async fn cache_control(request: Request, next: Next) -> Response {
    let immutable = {
        let path = request.uri().path();
        path.starts_with("/pkg/") || path.starts_with("/vendor/")
    };
    let mut response = next.run(request).await;
    if response.headers().contains_key(header::CACHE_CONTROL) {
        return response;
    }
    let is_site_file = response.extensions().get::<SiteFile>().is_some();
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let value = match (is_site_file, is_page) {
        (true, _) if immutable && response.status().is_success() => IMMUTABLE,
        (true, _) | (false, true) => REVALIDATE,
        (false, false) => return response,
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundles_are_named_by_a_hash() {
        assert!(is_hash("0123abcd0123abcd"));
        assert!(!is_hash("../cecyber"));
        assert!(!is_hash("a/b"));
        assert!(!is_hash("abc"));
        assert!(!is_hash("not-a-hash-at-all"));
    }

    #[test]
    fn the_manifest_names_the_bundle() {
        let dir = std::env::temp_dir().join(format!("cecyber-assets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let panel = |dir: &Path| bundles(dir).panel;
        assert_eq!(panel(&dir), "pkg");
        std::fs::write(dir.join("assets.toml"), "bundle = \"42aa42aa42aa42aa\"\n").unwrap();
        assert_eq!(
            bundles(&dir),
            Bundles {
                panel: "pkg/42aa42aa42aa42aa".into(),
                lite: None
            }
        );
        std::fs::write(
            dir.join("assets.toml"),
            "bundle = \"42aa42aa42aa42aa\"\nlite_bundle = \"0b0b0b0b0b0b0b0b\"\n",
        )
        .unwrap();
        assert_eq!(
            bundles(&dir).lite,
            Some(LiteBundle("pkg/0b0b0b0b0b0b0b0b".into()))
        );
        std::fs::write(dir.join("assets.toml"), "bundle = \"../../etc\"\n").unwrap();
        assert_eq!(panel(&dir), "pkg");
        std::fs::write(
            dir.join("assets.toml"),
            "bundle = \"42aa42aa42aa42aa\"\nlite_bundle = \"../x\"\n",
        )
        .unwrap();
        assert_eq!(panel(&dir), "pkg", "one bad name and neither is trusted");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
