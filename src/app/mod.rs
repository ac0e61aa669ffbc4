pub mod doctor;
pub mod healthcheck;
pub mod startup;
