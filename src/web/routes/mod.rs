//! HTTP routes, one module per area. Each has a `configure` that `startup` mounts.

pub mod auth;
pub mod health;
pub mod home;
pub mod metrics;
pub mod notes;
pub mod profile;
pub mod sessions;
pub mod static_files;
