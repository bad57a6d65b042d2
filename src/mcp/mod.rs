//! The MCP client: our own tolerant JSON-RPC client over stdio, Streamable HTTP and legacy HTTP+SSE.
//! See `docs/crawler.md` for its contract.
