//! The catalog on disk. SQLite is the source of truth (`db`, `catalog`); the tantivy search
//! index (`index`) is derived from it.
//!
//! Invariant: only this module knows SQL and tantivy.

mod catalog;
mod crawl;
pub mod db;
pub mod index;

pub use catalog::{
    definition_hash, Changes, ListingRecord, RunRow, ServerRecord, ServerTools, ServerView, Stats, ToolRecord, ToolRow,
    ToolView,
};
pub use crawl::Unlisted;
pub use db::{default_path, Db, OpenError};
pub use index::{index_dir, Hit, IndexError, IndexRow, SearchIndex, SearchQuery};
mod policy;
pub use policy::{PolicyServerRow, PolicyToolRow};
