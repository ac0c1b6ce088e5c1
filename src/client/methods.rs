//! `PveApi` for [`HttpClient`]: each operation's path, parameters and answer type.

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use super::api::PveApi;
use super::http::HttpClient;
use crate::error::{Error, Result};
use crate::ids::{NodeName, Upid, VmId};
use crate::types::{
    ClusterResource, NodeSummary, PowerAction, QemuListEntry, QemuStatus, ResourceType,
    TaskLogLine, TaskStatus, Version,
};

/// Encoded in a path segment: everything but unreserved characters and `:`, `@`, `!`, which
/// UPIDs contain and RFC 3986 allows in segments.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}')
    .add(b'&')
    .add(b'=')
    .add(b'+')
    .add(b';');

fn seg(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

fn qemu_path(node: &NodeName, vmid: VmId) -> String {
    format!("/nodes/{}/qemu/{}", seg(node.as_str()), vmid)
}

fn task_path(upid: &Upid) -> String {
    format!(
        "/nodes/{}/tasks/{}",
        seg(upid.node().as_str()),
        seg(upid.as_str())
    )
}

#[async_trait::async_trait]
impl PveApi for HttpClient {
    async fn version(&self) -> Result<Version> {
        self.get("/version".into(), &[]).await
    }

    async fn nodes(&self) -> Result<Vec<NodeSummary>> {
        self.get("/nodes".into(), &[]).await
    }

    async fn cluster_resources(&self, kind: Option<ResourceType>) -> Result<Vec<ClusterResource>> {
        let query: Vec<(&'static str, String)> = kind
            .map(|k| ("type", k.as_str().to_owned()))
            .into_iter()
            .collect();
        self.get("/cluster/resources".into(), &query).await
    }

    async fn qemu_list(&self, node: &NodeName) -> Result<Vec<QemuListEntry>> {
        self.get(format!("/nodes/{}/qemu", seg(node.as_str())), &[])
            .await
    }

    async fn qemu_status(&self, node: &NodeName, vmid: VmId) -> Result<QemuStatus> {
        let mut data: serde_json::Value = self
            .get(format!("{}/status/current", qemu_path(node, vmid)), &[])
            .await?;
        // The VM ID is in every known PVE answer; fill it in should a version leave it out.
        if let Some(obj) = data.as_object_mut() {
            obj.entry("vmid").or_insert_with(|| vmid.get().into());
        }
        serde_json::from_value(data).map_err(|e| Error::Decode {
            message: format!("VM {vmid} status: {e}"),
        })
    }

    async fn qemu_power(&self, node: &NodeName, vmid: VmId, action: PowerAction) -> Result<Upid> {
        let path = format!("{}/status/{}", qemu_path(node, vmid), action.path_segment());
        let upid: Option<String> = self.post(path, &[]).await?;
        let upid = upid.ok_or_else(|| Error::Decode {
            message: format!("VM {vmid} {action}: PVE returned no task ID"),
        })?;
        Upid::parse(&upid).map_err(|e| Error::Decode {
            message: format!("VM {vmid} {action}: {e}"),
        })
    }

    async fn task_status(&self, upid: &Upid) -> Result<TaskStatus> {
        self.get(format!("{}/status", task_path(upid)), &[]).await
    }

    async fn task_log(&self, upid: &Upid, start: u64, limit: u64) -> Result<Vec<TaskLogLine>> {
        let query = [("start", start.to_string()), ("limit", limit.to_string())];
        self.get(format!("{}/log", task_path(upid)), &query).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_encoded() {
        let upid =
            Upid::parse("UPID:pve:000586C3:0078E111:6A4BB5C8:qmcreate:9102:root@pam!sdk:").unwrap();
        assert_eq!(
            task_path(&upid),
            "/nodes/pve/tasks/UPID:pve:000586C3:0078E111:6A4BB5C8:qmcreate:9102:root@pam!sdk:"
        );
        assert_eq!(seg("a/b?c#d%e f"), "a%2Fb%3Fc%23d%25e%20f");
        let node = NodeName::parse("pve1").unwrap();
        assert_eq!(
            qemu_path(&node, VmId::new(100).unwrap()),
            "/nodes/pve1/qemu/100"
        );
    }
}
