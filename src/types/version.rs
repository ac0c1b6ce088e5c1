//! `GET /version`: the PVE release a node runs.

use serde::{Deserialize, Serialize};

use super::de;

/// The answer of `GET /version`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Version {
    /// Full pve-manager version, e.g. `9.1.1`.
    #[serde(deserialize_with = "de::string_lenient")]
    pub version: String,
    /// Point release `x.y`, e.g. `9.1` (empty if PVE did not send it).
    #[serde(default, deserialize_with = "de::string_lenient")]
    pub release: String,
    /// Short git revision of pve-manager (empty if PVE did not send it).
    #[serde(default, deserialize_with = "de::string_lenient")]
    pub repoid: String,
    /// Default console viewer (`applet`, `vv`, `html5`, `xtermjs`), if configured.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub console: Option<String>,
}

impl Version {
    /// Major and minor release numbers, from `release` or else `version`.
    pub fn major_minor(&self) -> Option<(u32, u32)> {
        let text = if self.release.is_empty() {
            &self.version
        } else {
            &self.release
        };
        let mut parts = text.split(['.', '-']);
        let major = parts.next()?.trim().parse().ok()?;
        let minor = parts.next()?.trim().parse().ok()?;
        Some((major, minor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_minor() {
        let v: Version =
            serde_json::from_str(r#"{"version":"9.1.1","release":"9.1","repoid":"42db4a6c"}"#)
                .unwrap();
        assert_eq!(v.major_minor(), Some((9, 1)));
        let v: Version = serde_json::from_str(r#"{"version":"8.4.1"}"#).unwrap();
        assert_eq!(v.major_minor(), Some((8, 4)));
        assert_eq!(v.console, None);
    }
}
