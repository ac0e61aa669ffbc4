//! The foundation every layer may use: configuration, tokens and hashes, URLs, the pages'
//! shared parts, languages and metrics.

pub mod config;
pub mod crypto;
pub mod i18n;
pub mod metrics;
pub mod pages;
pub mod urls;
