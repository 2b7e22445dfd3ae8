//! Everything that reaches the mesh from outside: the [`mesh::Mesh`] client
//! (name resolution and routing, shared by the CLI, MCP and Telegram), and the
//! front ends built on it.

pub mod mcp;
pub mod mesh;
pub mod run;
pub mod telegram;

pub use mesh::{Created, Mesh, MeshError};
pub use run::{RunOutcome, RunRequest};
