//! Wiring: the server with its middleware and background jobs, and the other commands of
//! the binary.

pub mod doctor;
pub mod healthcheck;
pub mod startup;
