//! What a product changes: users and their XWMS links, the activity log, the server's
//! records of sessions, privacy, and notes (the worked example of docs/extending.md).

pub mod accounts;
pub mod activity;
pub mod notes;
pub mod privacy;
pub mod session_records;
