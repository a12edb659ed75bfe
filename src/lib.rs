//! git-batch: git-native batch work for parallel workers.
//!
//! The library holds all the logic; `src/main.rs` only calls [`cli::main`].
//! Domain modules (`task`, `store`, `graph`, `ops`, `beads`, `git`) never
//! print and never parse flags; `commands` and `ui` do that.

pub mod beads;
pub mod claims;
pub mod cli;
pub mod commands;
pub mod demo;
pub mod error;
pub mod git;
pub mod graph;
pub mod guard;
pub mod land;
pub mod ops;
pub mod plan;
pub mod run;
pub mod scope;
pub mod store;
pub mod task;
pub mod ui;
pub mod work;
