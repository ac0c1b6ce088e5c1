//! Who is asking, and what they may do: the one access layer of every transport.
//!
//! The wire types (roles, the current user, scopes) are shared with the browser. On the server
//! (`ssr`), [`checks`] answers "may this request do this" for server functions, pages, REST,
//! the live stream and the console WebSocket alike, always with an [`AppError`] that knows its
//! HTTP status; credentials (session cookies, API tokens) and the one origin check live here
//! too. Link credentials (wall and embed tokens) are checked by their own features.
//!
//! [`AppError`]: crate::error::AppError

mod scope;

pub use scope::{Scope, ScopeError};

#[cfg(feature = "ssr")]
pub mod api_tokens;
#[cfg(feature = "ssr")]
mod checks;
#[cfg(feature = "ssr")]
pub mod origin;
#[cfg(feature = "ssr")]
pub mod sessions;

#[cfg(feature = "ssr")]
pub use checks::*;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// A Cecyber role. Each role includes the rights of the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read only.
    Viewer,
    /// Power actions and console.
    Operator,
    /// Everything, including users.
    Admin,
}

impl Role {
    /// All roles, least privileged first.
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    /// Whether this role includes the rights of `required`.
    pub fn allows(self, required: Role) -> bool {
        self >= required
    }

    /// Name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role {other:?} (viewer, operator or admin)"
            )),
        }
    }
}

/// The logged-in user, as the browser may know it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrentUser {
    /// Login name.
    pub username: String,
    /// Role that decides what the user may do.
    pub role: Role,
    /// Which VMs (and whether node figures) the user may see.
    pub scope: Scope,
}

/// Facts about the running instance the layout shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The logged-in user, if any.
    pub user: Option<CurrentUser>,
    /// True when Cecyber runs against its built-in simulated cluster.
    pub demo: bool,
}

/// Makes an API token for the calling admin (for `/api/v1/…` with `Authorization: Bearer`);
/// returns it — the only time it is shown.
#[server(prefix = "/api", endpoint = "api_tokens_create")]
pub async fn create_api_token(label: String) -> Result<String, AppError> {
    let admin = require(Role::Admin).await?;
    let token = api_tokens::create(&crate::state::app_state()?.db, &admin.username, &label).await?;
    tracing::info!(by = %admin.username, label = %label.trim(), "API token created");
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_include_lower_roles() {
        assert!(Role::Admin.allows(Role::Operator));
        assert!(Role::Operator.allows(Role::Viewer));
        assert!(!Role::Viewer.allows(Role::Operator));
        assert!(!Role::Operator.allows(Role::Admin));
    }

    #[test]
    fn role_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
    }
}
