//! Where servers come from: the official registry, client config files, the seed list.
//! Each source turns its input into `Target`s (see `docs/crawler.md`).
