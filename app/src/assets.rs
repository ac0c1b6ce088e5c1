//! Where the browser finds the files the build puts in the site root.
//!
//! Every file under `/pkg/` carries its bundle's content hash in its path, so the server lets
//! browsers keep them for a year without asking again, and a new release can never run an old
//! bundle against new server functions. `.ci/build` names the `/vendor/` directories after the
//! versions in `frontend/package.json` (a test below keeps these paths and that file in step);
//! browsers revalidate those, as their content also depends on how they were bundled.

/// ECharts with only what our charts use (`frontend/echarts-entry.js`, bundled by
/// `.ci/vendor.mjs`), as the global `echarts` that charming expects. Only pages with charts
/// load it, when their first chart is drawn.
pub const ECHARTS_JS: &str = "/vendor/echarts-6.1.0/echarts.min.js";

/// noVNC's RFB client, bundled into one ES module by `.ci/vendor.mjs`. Only console pages
/// load it.
pub const NOVNC_RFB_JS: &str = "/vendor/novnc-1.7.0/core/rfb.js";

/// The file in the site root that names the bundle the build made (`bundle = "<hash>"`).
pub const MANIFEST: &str = "assets.toml";

/// The bundle's file names: `{pkg_dir}/cecyber.js`, `cecyber_bg.wasm`, `cecyber.css`, and the
/// `snippets/` its script imports.
pub const OUTPUT_NAME: &str = "cecyber";

/// The bundle's directory (under the site root) for the content hash the manifest names: the
/// script's relative imports then stay inside one immutable directory.
pub fn pkg_dir(hash: &str) -> String {
    format!("pkg/{hash}")
}

/// The bundle's directory when the site root has no manifest (a tree that was never built).
pub const UNBUILT_PKG_DIR: &str = "pkg";

/// The bundle's stylesheet.
pub fn stylesheet(pkg_dir: &str) -> String {
    format!("/{pkg_dir}/{OUTPUT_NAME}.css")
}

/// The pages people open before (or without) the panel: the login page and the partner's
/// embedded console. They load the lite bundle, the application built with the `lite` feature,
/// which knows only these routes and so leaves the panel's pages, charts and live stream out of
/// the download. Its routes (`AppRoutes` in the crate root) must list exactly these paths.
pub const LITE_PAGES: [&str; 2] = ["/login", "/embed/console"];

/// The lite bundle's directory (`pkg/<hash>`), given to page renders as context by the
/// server when the build made one (a debug build may not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiteBundle(pub String);

/// The bundle directory a page at `path` loads: the lite one for [`LITE_PAGES`] when there is
/// one, else the panel's.
pub fn bundle_for<'a>(path: &str, panel: &'a str, lite: Option<&'a LiteBundle>) -> &'a str {
    match lite {
        Some(LiteBundle(dir)) if LITE_PAGES.contains(&path) => dir,
        _ => panel,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The version `frontend/package.json` pins for `package`.
    fn pinned(package: &str) -> String {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../frontend/package.json"
        ))
        .expect("frontend/package.json");
        let json: serde_json::Value = serde_json::from_str(&text).expect("package.json is JSON");
        json["dependencies"][package]
            .as_str()
            .unwrap_or_else(|| panic!("{package} is not pinned in frontend/package.json"))
            .to_owned()
    }

    #[test]
    fn lite_pages_load_the_lite_bundle_when_there_is_one() {
        let lite = LiteBundle("pkg/11112222".into());
        assert_eq!(
            bundle_for("/login", "pkg/aaaa", Some(&lite)),
            "pkg/11112222"
        );
        assert_eq!(
            bundle_for("/embed/console", "pkg/aaaa", Some(&lite)),
            "pkg/11112222"
        );
        assert_eq!(bundle_for("/", "pkg/aaaa", Some(&lite)), "pkg/aaaa");
        assert_eq!(bundle_for("/login/x", "pkg/aaaa", Some(&lite)), "pkg/aaaa");
        assert_eq!(bundle_for("/login", "pkg/aaaa", None), "pkg/aaaa");
    }

    #[test]
    fn vendor_paths_name_the_pinned_versions() {
        assert!(
            ECHARTS_JS.starts_with(&format!("/vendor/echarts-{}/", pinned("echarts"))),
            "ECHARTS_JS must follow frontend/package.json"
        );
        assert!(
            NOVNC_RFB_JS.starts_with(&format!("/vendor/novnc-{}/", pinned("@novnc/novnc"))),
            "NOVNC_RFB_JS must follow frontend/package.json"
        );
    }
}
