//! The catalog on disk. SQLite is the source of truth (`db`, `catalog`).
//!
//! Invariant: only this module knows SQL.

mod catalog;
pub mod db;

pub use catalog::{definition_hash, Changes, RunRow, ServerRecord, ServerView, Stats, ToolRecord, ToolRow, ToolView};
pub use db::{default_path, Db, OpenError};
