//! All integration tests, compiled into one binary (faster to build and run
//! than one binary per file). Each module covers one area against real git
//! repositories in temp dirs.

mod common;

mod approvals;
mod beads;
mod beads_fidelity;
mod branch_prefix;
mod cache;
mod claims;
mod cli;
mod commits;
mod concurrency;
mod config;
mod contract;
mod deps;
mod gates;
mod git_runner;
mod guard;
mod html;
mod kill_loops;
mod land;
mod land_cleanup;
mod land_preflight;
mod land_then;
mod layers;
mod live;
mod locks;
mod merge;
mod metrics;
mod newcomer;
mod output;
mod overnight;
mod ownership;
mod plan;
mod point;
mod progress;
mod quickstart;
mod receipts;
mod review;
mod run;
mod run_flow;
mod run_limits;
mod run_parallel;
mod run_resume;
mod run_sparse;
mod run_stops;
mod scopes;
mod split;
mod stack;
mod tasks;
mod trust;
mod worktrees;
