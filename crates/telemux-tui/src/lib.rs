//! telemux's terminal front ends: the live dashboard (`telemux tui`) and
//! `telemux attach`, a remote session in the local terminal.
//!
//! Both read the mesh only through `telemux-client` and the bus's stream
//! readers: pushed updates, never polling. The terminal itself is owned by
//! [`term::TermGuard`], which always gives it back as it was.

pub mod attach;
pub mod dashboard;
pub mod error;
pub mod term;

pub use error::TuiError;
