pub mod client;
pub mod download;
pub mod fetch;
pub mod items;
pub mod print;
pub mod retry;
