//! HTTP: the client (`wirekit http`, `wirekit fetch`) and the server (`wirekit serve`).
//! They share nothing but the `http` types; each half has its own folder.

pub mod client;
pub mod credentials;
pub mod header;
pub mod server;
