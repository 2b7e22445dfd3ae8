//! The front ends that reach the mesh from outside, built on the
//! `telemux-client` crate (name resolution, routing, the record view): the
//! MCP server ([`mcp`]) and the Telegram bot ([`telegram`]).

pub mod mcp;
pub mod telegram;
