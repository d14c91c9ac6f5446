//! What the fake upstreams share: [`crate::drive`] (Google Drive v3) and [`crate::graph`]
//! (Microsoft Graph) differ in every path, parameter and error body, and are the same
//! underneath. This module owns that part, and none of it is specific to one API:
//! - [`content`]: a file's bytes, given or generated, their digests, and [`Blob`].
//! - [`bookkeeping`]: the bearer tokens seen (and expired), the faults queued per endpoint,
//!   the request log and the pace of content.
//! - [`reply`]: what a handler needs from a request, and the response it makes, streamed,
//!   paced, ranged and damaged as asked.
//! - [`server`]: an actix-web server on a loopback port, stopped when dropped.
//! - [`oauth`]: what the fakes' own OAuth endpoints share (redirect back, PKCE, client
//!   credentials).
//! - `connector_runs` (tests only): a registered connector pointed at a fake, with a token
//!   refresher, for the fakes' tests that run the real `google-drive` and `onedrive`
//!   connectors.
//!
//! Each fake names its own `Endpoint` and `Fault` types and plugs them into the generic
//! ones here.

pub mod bookkeeping;
#[cfg(test)]
pub mod connector_runs;
pub mod content;
pub mod oauth;
pub mod reply;
pub mod server;
#[cfg(test)]
mod tests;

pub use bookkeeping::{
    BodyFault, Bookkeeping, FakeBooks, LoggedRequest, Pace, Refused, Turned, UpstreamFault,
};
pub use content::{
    Blob, Checksum, Content, Md5, QuickXor, ensure_checksums, fingerprint, splitmix64,
    synthetic_byte, to_usize,
};
pub use reply::{Call, Reply, finish, media_reply, percent_decode, set_retry_after};
pub use server::Server;

/// Size of the chunks content is streamed in.
pub const CHUNK_SIZE: usize = 256 * 1024;
