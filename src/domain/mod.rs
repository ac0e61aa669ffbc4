pub mod accounts;
pub mod activity;
pub mod notes;
pub mod privacy;
pub mod session_records;
