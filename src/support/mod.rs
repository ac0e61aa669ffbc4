//! The foundation every layer may use: configuration, tokens and hashes, URLs, the pages'
//! shared parts, languages, devices named from user agents, and metrics.

pub mod config;
pub mod crypto;
pub mod devices;
pub mod i18n;
pub mod metrics;
pub mod pages;
pub mod urls;
