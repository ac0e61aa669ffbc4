//! The identity provider: the XWMS API client, and the sandbox that stands in for it.

pub mod client;
pub mod sandbox;

pub use client::{SignedToken, XwmsClient, XwmsConfig, XwmsError};
