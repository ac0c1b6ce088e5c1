"""proxmoxer (unchanged, from PyPI) against the simulator: password login and API token,
list nodes and VMs, start a VM and wait for its task with Tasks.blocking_status.

Run by tests/sim_clients.rs with: PVE_HOST, PVE_PORT, PVE_PASSWORD, PVE_TOKEN_NAME,
PVE_TOKEN_VALUE in the environment. Prints "OK" on success; any failure raises.
"""

import os
import sys

from proxmoxer import ProxmoxAPI
from proxmoxer.tools import Tasks


def main():
    host, port = os.environ["PVE_HOST"], int(os.environ["PVE_PORT"])
    by_password = ProxmoxAPI(host, port=port, user="root@pam",
                             password=os.environ["PVE_PASSWORD"], verify_ssl=False)
    by_token = ProxmoxAPI(host, port=port, user="root@pam",
                          token_name=os.environ["PVE_TOKEN_NAME"],
                          token_value=os.environ["PVE_TOKEN_VALUE"], verify_ssl=False)
    for api in (by_password, by_token):
        nodes = [n["node"] for n in api.nodes.get()]
        assert nodes, "no nodes"
        vms = [vm for node in nodes for vm in api.nodes(node).qemu.get()]
        assert len(vms) >= 2, f"too few VMs: {vms}"
        assert api.version.get()["release"] == "9.1"

    # start a stopped VM (password session: needs the CSRF token) and wait for the task
    for node in (n["node"] for n in by_password.nodes.get()):
        stopped = [vm for vm in by_password.nodes(node).qemu.get()
                   if vm["status"] == "stopped" and not vm.get("template")]
        if stopped:
            vmid = stopped[0]["vmid"]
            upid = by_password.nodes(node).qemu(vmid).status.start.post()
            status = Tasks.blocking_status(by_password, upid, timeout=60, polling_interval=0.1)
            assert status is not None, "task did not finish"
            assert status["status"] == "stopped" and status["exitstatus"] == "OK", status
            current = by_token.nodes(node).qemu(vmid).status.current.get()
            assert current["status"] == "running", current
            log = Tasks.decode_log(by_token.nodes(node).tasks(upid).log.get())
            assert "TASK OK" in log, log
            break
    else:
        raise AssertionError("no stopped VM found")
    print("OK")


if __name__ == "__main__":
    sys.exit(main())
