//! Launching untrusted packages: npm and PyPI installs into a cache, and the bubblewrap sandbox.
//! See `docs/crawler.md`.
