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
    if !is_hash(&manifest.bundle) {
        tracing::error!(manifest = %path.display(), bundle = %manifest.bundle, "the bundle is not named by a hex hash");
        return unbuilt;
    }
    // Without a usable lite bundle its pages load the panel's, which has every route.
    let lite = manifest.lite_bundle.filter(|hash| {
        let wasm = site_root
            .join(app::assets::pkg_dir(hash))
            .join(format!("{}_bg.wasm", app::assets::OUTPUT_NAME));
        let usable = is_hash(hash) && wasm.is_file();
        if !usable {
            tracing::warn!(manifest = %path.display(), lite_bundle = %hash, "the lite bundle is missing: its pages load the panel's");
        }
        usable
    });
    Bundles {
        panel: app::assets::pkg_dir(&manifest.bundle),
        lite: lite.map(|hash| LiteBundle(app::assets::pkg_dir(&hash))),
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

/// `Cache-Control` for what the handlers left without one: the bundles, whose path names their
/// content (`/pkg/<hash>/`), are kept for a year; pages and every other file are asked for
/// again each time, so an upgrade reaches the next page load. That includes `/vendor/`: its
/// paths name the npm package's version, but what is built from it (which ECharts parts,
/// esbuild's output) can change within one version.
pub async fn cache_control(request: Request, next: Next) -> Response {
    let immutable = request.uri().path().starts_with("/pkg/");
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

    /// What `cache_control` says for `path` of a site root holding a bundle, a vendor file and
    /// a favicon (anything else is a page, from the fallback).
    async fn cache_header(path: &str) -> String {
        use axum::{body::Body, response::Html};

        let dir = std::env::temp_dir().join(format!("cecyber-cache-{}", std::process::id()));
        for file in [
            "pkg/0123abcd0123abcd/cecyber.js",
            "vendor/echarts-6.1.0/echarts.min.js",
            "favicon.svg",
        ] {
            let file = dir.join(file);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, "x").unwrap();
        }
        let page = service_fn(|_: Request| async { Ok(Html("<p>page</p>").into_response()) });
        let app = axum::Router::new()
            .fallback_service(site_files(dir.to_str().unwrap(), page))
            .layer(axum::middleware::from_fn(cache_control));
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert!(response.status().is_success(), "{path}");
        response.headers()[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[tokio::test]
    async fn only_the_hashed_bundles_are_kept_for_a_year() {
        assert_eq!(
            cache_header("/pkg/0123abcd0123abcd/cecyber.js").await,
            IMMUTABLE
        );
        // Named by the npm version only: what is built from it may change within one.
        assert_eq!(
            cache_header("/vendor/echarts-6.1.0/echarts.min.js").await,
            REVALIDATE
        );
        assert_eq!(cache_header("/favicon.svg").await, REVALIDATE);
        assert_eq!(cache_header("/some/page").await, REVALIDATE);
    }

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
        assert_eq!(bundles(&dir).lite, None, "named, but not there");
        std::fs::create_dir_all(dir.join("pkg/0b0b0b0b0b0b0b0b")).unwrap();
        std::fs::write(dir.join("pkg/0b0b0b0b0b0b0b0b/cecyber_bg.wasm"), "").unwrap();
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
        assert_eq!(
            bundles(&dir),
            Bundles {
                panel: "pkg/42aa42aa42aa42aa".into(),
                lite: None
            },
            "a bad lite name leaves the panel's bundle for every page"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
