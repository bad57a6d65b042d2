//! `catalog`: an open, offline, explainable risk catalog of MCP tools.
//!
//! The pipeline is crawl → classify → store/index → export. This crate holds the classifier
//! (`classify`), the readers for tool lists (`input`), the quality measurement (`quality`), the
//! report types printed as JSON (`report`) and the command line (`cli`).

pub mod classify;
pub mod cli;
pub mod crawl;
pub mod dates;
pub mod fuzz;
pub mod ingest;
pub mod input;
pub mod launch;
pub mod mcp;
pub mod model;
pub mod policy;
pub mod quality;
pub mod report;
pub mod scan;
pub mod sources;
pub mod store;
