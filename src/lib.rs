//! git-batch: git-native batch work for parallel workers.
//!
//! The library holds all the logic; `src/main.rs` only calls [`commands::main`].
//! Modules below `error` in the module map of `docs/design.md` never
//! print and never parse flags; `commands` and `ui` do that.

pub mod atomic;
pub mod beads;
pub mod claims;
pub mod commands;
pub mod edit;
pub mod error;
pub mod git;
pub mod graph;
pub mod guard;
pub mod land;
pub mod parallel;
pub mod plan;
pub mod report;
pub mod run;
pub mod sample;
pub mod scope;
pub mod store;
pub mod task;
pub mod time;
pub mod ui;
pub mod work;
