//! What part of the clusters a user may see: everything, or the VMs carrying one of a set of
//! PVE tags (the usual way to mark a tenant's or a team's VMs). A scoped user sees no node
//! figures either: a node's load tells about other tenants' VMs.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A user's scope. The default is everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Scope {
    /// `None`: every VM and node. `Some`: the VMs with at least one of these tags (sorted,
    /// lower case, no duplicates).
    tags: Option<Vec<String>>,
}

/// Whether `tag` is a tag PVE accepts (`pve-tag`: letters, digits, `_`, then also `-+.`).
fn valid_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || "_-+.".contains(c))
        && tag.len() <= 128
}

/// Why a scope was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// Not a tag PVE would accept.
    #[error("{0:?} is not a valid PVE tag (letters, digits, _ - + .)")]
    InvalidTag(String),
    /// A tag list with nothing in it.
    #[error("a scope needs at least one tag")]
    NoTags,
}

impl Scope {
    /// Every VM and node.
    pub fn everything() -> Self {
        Self { tags: None }
    }

    /// The VMs carrying at least one of `tags`. Refuses an empty list and invalid tags.
    pub fn tags<'a>(tags: impl IntoIterator<Item = &'a str>) -> Result<Self, ScopeError> {
        let mut list = Vec::new();
        for tag in tags {
            let tag = tag.trim().to_ascii_lowercase();
            if !valid_tag(&tag) {
                return Err(ScopeError::InvalidTag(tag));
            }
            list.push(tag);
        }
        if list.is_empty() {
            return Err(ScopeError::NoTags);
        }
        list.sort();
        list.dedup();
        Ok(Self { tags: Some(list) })
    }

    /// Parses what an admin types: empty (or `*`) for everything, else tags separated by
    /// commas, semicolons or spaces.
    pub fn parse(text: &str) -> Result<Self, ScopeError> {
        let text = text.trim();
        if text.is_empty() || text == "*" {
            return Ok(Self::everything());
        }
        Self::tags(
            text.split([',', ';', ' '])
                .map(str::trim)
                .filter(|t| !t.is_empty()),
        )
    }

    /// The form stored in the database: `None` for everything, else the tags joined by `;`.
    pub fn to_db(&self) -> Option<String> {
        self.tags.as_ref().map(|t| t.join(";"))
    }

    /// Reads the stored form back; a stored value that no longer parses sees nothing rather
    /// than everything.
    pub fn from_db(stored: Option<&str>) -> Self {
        match stored {
            None => Self::everything(),
            Some(text) => Self::parse(text)
                .ok()
                .filter(|s| !s.is_everything())
                .unwrap_or_else(|| Self {
                    tags: Some(Vec::new()),
                }),
        }
    }

    /// True for the unrestricted scope.
    pub fn is_everything(&self) -> bool {
        self.tags.is_none()
    }

    /// The tags of a restricted scope.
    pub fn tag_list(&self) -> &[String] {
        self.tags.as_deref().unwrap_or_default()
    }

    /// Whether a VM with these tags is in scope. Tags compare without case, as PVE's do.
    pub fn allows_vm<S: AsRef<str>>(&self, vm_tags: &[S]) -> bool {
        match &self.tags {
            None => true,
            Some(allowed) => vm_tags
                .iter()
                .any(|t| allowed.iter().any(|a| a.eq_ignore_ascii_case(t.as_ref()))),
        }
    }

    /// Whether node figures (load, memory, storages) are in scope.
    pub fn sees_nodes(&self) -> bool {
        self.is_everything()
    }

    /// A short stable key: equal scopes have equal keys (used to share encoded events).
    pub fn key(&self) -> String {
        match &self.tags {
            None => "*".into(),
            Some(tags) => format!("tags:{}", tags.join(";")),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.tags {
            None => f.write_str("all VMs"),
            Some(tags) if tags.is_empty() => f.write_str("nothing"),
            Some(tags) => write!(f, "VMs tagged {}", tags.join(", ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_text_is_everything_and_tags_are_normalised() {
        assert!(Scope::parse("  ").unwrap().is_everything());
        let scope = Scope::parse("Web, prod;web").unwrap();
        assert_eq!(scope.tag_list(), ["prod", "web"]);
        assert_eq!(scope.to_db().as_deref(), Some("prod;web"));
        assert_eq!(Scope::from_db(scope.to_db().as_deref()), scope);
        assert_eq!(scope.key(), "tags:prod;web");
        assert_eq!(scope.to_string(), "VMs tagged prod, web");
    }

    #[test]
    fn invalid_tags_are_refused() {
        assert!(Scope::parse("ok, ba/d").is_err());
        assert!(Scope::parse("-lead").is_err());
        assert!(Scope::tags([]).is_err());
    }

    #[test]
    fn a_vm_is_in_scope_when_it_carries_one_of_the_tags() {
        let scope = Scope::parse("prod").unwrap();
        assert!(scope.allows_vm(&["db", "PROD"]));
        assert!(!scope.allows_vm(&["dev"]));
        assert!(!scope.allows_vm::<&str>(&[]));
        assert!(!scope.sees_nodes());
        assert!(Scope::everything().allows_vm::<&str>(&[]));
    }

    #[test]
    fn a_garbled_stored_scope_sees_nothing() {
        let scope = Scope::from_db(Some("bad/tag"));
        assert!(!scope.is_everything());
        assert!(!scope.allows_vm(&["bad/tag"]));
    }
}
