//! HTTP: the client (`wirekit http`, `wirekit fetch`) and the server (`wirekit serve`).
//! Each half has its own folder; they share only the leaves here: `header` (one parser
//! for `Name: value` text) and `credentials` (one split for `USER:PASS`).

pub mod client;
pub mod credentials;
pub mod header;
pub mod server;
