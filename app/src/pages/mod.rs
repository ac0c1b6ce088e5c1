//! One module per page.

pub mod alerts;
pub mod console;
pub mod dashboard;
pub mod embed;
pub mod embed_links;
pub mod login;
pub mod node;
pub mod not_found;
pub mod users;
pub mod vm_detail;
pub mod vm_list;
pub mod wall;
pub mod wall_links;
