//! The `ppx` command line as a library, so end-to-end tests drive the very same code.

pub mod app;
pub mod aws_problem;
pub mod commands;
pub mod deployment;
pub mod doctor;
pub mod keys;
pub mod serve;
pub mod terminal;
