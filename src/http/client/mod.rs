//! The HTTP client: `wirekit http` (one exchange, printed or saved) and `wirekit fetch`
//! (many URLs at once). One flat module per concern, as xh has them; leaves first:
//!
//! - [`errors`]: the sentences for failed requests, statuses and files (the leaf);
//! - [`retry`]: the one retry mechanism (backoff, jitter, Retry-After);
//! - [`builder`]: [`ClientOptions`] and the pooled client built from them;
//! - [`items`] and [`request`]: request items (`key=value`, `Name:value`...) and the
//!   request they make; [`to_curl`]: the same request as a curl command line;
//! - [`print`] and [`exchange`]: sending one request and printing the exchange;
//! - [`download`]: saving a body to a file (`-d`, `-o`, `-c`);
//! - [`fetch`]: many URLs, bounded and pooled.

pub mod builder;
pub mod download;
pub mod errors;
pub mod exchange;
pub mod fetch;
pub mod items;
pub mod print;
pub mod request;
pub mod retry;
pub mod to_curl;

pub use builder::{
    Auth, ClientOptions, HttpVersion, Proxy, ProxyScheme, Verify, build_client, default_client,
};
pub use request::{RequestOptions, USER_AGENT_VALUE, normalize_url, prepare};
pub use retry::RetryPolicy;
