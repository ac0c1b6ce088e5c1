-- A user's scope: NULL sees every VM and node; otherwise the VMs carrying one of these PVE tags
-- (joined with ';'), and no node figures.
ALTER TABLE users ADD COLUMN scope_tags TEXT;
