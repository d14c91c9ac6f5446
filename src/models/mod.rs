//! Persistence: SeaORM entities (`entities`, mirroring the migrations) and the hand-written
//! queries on them. Every query that takes a user id scopes by it, so a foreign id reads as
//! "not found".

pub mod entities;
pub mod folders;
pub mod keyset;
pub mod names;
pub mod status;
pub mod users;

pub use entities::*;
pub use status::{ConnectionStatus, MessageStatus, SourceFileStatus};
