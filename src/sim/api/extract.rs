//! [`Call`]: the extractor every handler of a node's or a VM's endpoint starts with. It does
//! the steps pve-manager's `rest_handler` repeats for each call, in its order: the URI's path
//! parameters merged into the request's (a conflicting duplicate refused), the permission
//! check, the proxy to the node (`proxyto => 'node'`), then the schema check.

use axum::extract::{Extension, FromRequest, FromRequestParts, Path, Request};
use axum::response::{IntoResponse, Response};

use super::auth::Principal;
use super::params::{Params, Spec};
use super::reply::ApiError;
use crate::sim::world::SimState;

/// Path parameters that are API parameters too (merged into the request's). Other path
/// segments (`{action}` of `status/{action}`) only pick the endpoint, as PVE has one endpoint
/// per action.
const URI_PARAMS: &[&str] = &["node", "vmid", "storage", "upid", "id", "snapname"];

/// One authenticated API call: the world, who asks, the URI's path parameters and the request's
/// own parameters (query and body).
pub(crate) struct Call {
    /// The simulator.
    pub st: SimState,
    /// Who asks.
    pub who: Principal,
    /// Path parameters, in the order of the route.
    path: Vec<(String, String)>,
    /// Query and body parameters, before the merge.
    raw: Params,
}

impl FromRequest<SimState> for Call {
    type Rejection = Response;

    /// Rejects like the separate extractors it replaces, in their order: no principal, a bad
    /// path, a bad body.
    async fn from_request(req: Request, st: &SimState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let Extension(who) = Extension::<Principal>::from_request_parts(&mut parts, st)
            .await
            .map_err(IntoResponse::into_response)?;
        let Path(path) = Path::<Vec<(String, String)>>::from_request_parts(&mut parts, st)
            .await
            .map_err(IntoResponse::into_response)?;
        let raw = Params::from_request(Request::from_parts(parts, body), st)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Self {
            st: st.clone(),
            who,
            path,
            raw,
        })
    }
}

impl Call {
    /// The path parameter `name` (`""` if the route has none).
    pub(crate) fn segment(&self, name: &str) -> &str {
        self.path
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The node of `/nodes/{node}/…`.
    pub(crate) fn node(&self) -> &str {
        self.segment("node")
    }

    /// The VM ID of `…/qemu/{vmid}/…` (0 unless it is a number; checked by the schema).
    pub(crate) fn vmid(&self) -> u32 {
        self.segment("vmid").parse().unwrap_or_default()
    }

    /// The parameters as sent (query and body), for endpoints without path parameters.
    pub(crate) fn sent(&self) -> &Params {
        &self.raw
    }

    /// Step 1: the request's parameters merged with the URI's; a different value for a name
    /// the URI sets is refused.
    pub(crate) fn params(&self) -> Result<Params, ApiError> {
        let uri: Vec<(&str, &str)> = self
            .path
            .iter()
            .filter(|(k, _)| URI_PARAMS.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.raw.clone().with_uri(&uri)
    }

    /// 403 unless the caller has every one of `privs` on `path`.
    pub(crate) fn require(&self, path: &str, privs: &[&str]) -> Result<(), ApiError> {
        Ok(self.st.check(&self.who.authid, path, privs)?)
    }

    /// 403 unless the caller has every one of `privs` on the VM (`/vms/{vmid}`).
    pub(crate) fn require_vm(&self, privs: &[&str]) -> Result<(), ApiError> {
        self.require(&format!("/vms/{}", self.segment("vmid")), privs)
    }

    /// 403 unless the caller has every one of `privs` on the node (`/nodes/{node}`).
    pub(crate) fn require_node(&self, privs: &[&str]) -> Result<(), ApiError> {
        self.require(&format!("/nodes/{}", self.node()), privs)
    }

    /// pveproxy's `proxyto => 'node'`: an unknown node fails the host name lookup (500), an
    /// offline node cannot be reached (595, no body).
    pub(crate) fn proxy(&self) -> Result<(), ApiError> {
        Ok(self.st.reach(self.node())?)
    }

    /// The whole preamble of an endpoint that checks its permission first: `privs` on the
    /// ACL `path`, then the merged parameters, `specs` checked; answers the checked
    /// parameters.
    pub(crate) fn on(
        &self,
        path: &str,
        privs: &[&str],
        specs: &[Spec],
    ) -> Result<Params, ApiError> {
        self.require(path, privs)?;
        let params = self.params()?;
        params.validate(specs)?;
        Ok(params)
    }

    /// The preamble of a VM endpoint answered on the node called (no proxy): merged
    /// parameters, `privs` on the VM, `specs` checked; answers the checked parameters.
    pub(crate) fn on_vm_here(&self, privs: &[&str], specs: &[Spec]) -> Result<Params, ApiError> {
        let params = self.params()?;
        self.require_vm(privs)?;
        params.validate(specs)?;
        Ok(params)
    }

    /// The whole preamble of a VM endpoint: merged parameters, `privs` on the VM, proxy to
    /// the node, `specs` checked; answers the checked parameters.
    pub(crate) fn on_vm(&self, privs: &[&str], specs: &[Spec]) -> Result<Params, ApiError> {
        let params = self.params()?;
        self.require_vm(privs)?;
        self.proxy()?;
        params.validate(specs)?;
        Ok(params)
    }

    /// The whole preamble of a node endpoint: merged parameters, `privs` on the node (none:
    /// the endpoint checks later, per object), proxy to the node, `specs` checked; answers the
    /// checked parameters.
    pub(crate) fn on_node(&self, privs: &[&str], specs: &[Spec]) -> Result<Params, ApiError> {
        let params = self.params()?;
        if !privs.is_empty() {
            self.require_node(privs)?;
        }
        self.proxy()?;
        params.validate(specs)?;
        Ok(params)
    }
}
