//! Where the Proxmox VE reference data lives: the steering repository's `shared/pve`
//! (schemas and recorded answers). It is looked up, not copied into this repository:
//! `CECYBER_PVE_REFERENCE`, else a `shared/pve` beside any parent of this crate, else
//! `/work/shared/pve`. Missing data fails the test with this explanation, never a silent pass.

use std::path::{Path, PathBuf};

/// The `shared/pve` directory.
pub fn pve_reference_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CECYBER_PVE_REFERENCE") {
        return PathBuf::from(dir);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let beside_a_parent = manifest
        .ancestors()
        .skip(1)
        .map(|dir| dir.join("shared/pve"));
    beside_a_parent
        .chain(std::iter::once(PathBuf::from("/work/shared/pve")))
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| {
            panic!("PVE reference data (shared/pve) not found; set CECYBER_PVE_REFERENCE to its directory")
        })
}
