pub mod config;
pub mod crypto;
pub mod i18n;
pub mod metrics;
pub mod pages;
pub mod urls;
