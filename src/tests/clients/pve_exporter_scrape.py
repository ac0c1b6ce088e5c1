"""prometheus-pve-exporter (unchanged, from PyPI) against the simulator: one scrape with every
collector on (cluster and node), as its /pve endpoint does, then checks pve_up and, for every
guest (VMs and containers), pve_cpu_usage_ratio and pve_memory_usage_bytes.

Run by tests/sim_clients.rs with: PVE_HOST, PVE_PORT, PVE_TOKEN_NAME, PVE_TOKEN_VALUE.
Prints "OK" on success; any failure raises.
"""

import os
import sys

from prometheus_client.parser import text_string_to_metric_families
from proxmoxer import ProxmoxAPI
from pve_exporter.collector import CollectorsOptions, collect_pve


def main():
    host, port = os.environ["PVE_HOST"], int(os.environ["PVE_PORT"])
    config = {
        "user": "root@pam",
        "token_name": os.environ["PVE_TOKEN_NAME"],
        "token_value": os.environ["PVE_TOKEN_VALUE"],
        "verify_ssl": False,
        "port": port,
    }
    options = CollectorsOptions(status=True, version=True, subscription=True, node=True,
                                cluster=True, resources=True, backup_info=True, config=True,
                                replication=True, qdevice=True)
    text = collect_pve(config, host, cluster=True, node=True, options=options).decode()

    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples.setdefault(s.name, {})[s.labels.get("id", "")] = s.value

    api = ProxmoxAPI(host, **config)
    vm_ids = [f"{r['type']}/{r['vmid']}" for r in api.cluster.resources.get(type="vm")]
    assert any(v.startswith("qemu/") for v in vm_ids), "no VMs"
    assert any(v.startswith("lxc/") for v in vm_ids), "no containers"
    up = samples.get("pve_up", {})
    for vm in vm_ids:
        assert vm in up, f"pve_up lacks {vm}"
        assert vm in samples.get("pve_cpu_usage_ratio", {}), f"cpu of {vm} missing"
        assert vm in samples.get("pve_memory_usage_bytes", {}), f"memory of {vm} missing"
    assert up.get("node/pve1") == 1.0, up
    assert "pve_not_backed_up_total" in samples, sorted(samples)
    assert "pve_onboot_status" in samples, sorted(samples)
    assert "pve_subscription_status" in samples, sorted(samples)
    print("OK")


if __name__ == "__main__":
    sys.exit(main())
