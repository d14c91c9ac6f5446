//! The status columns as enums, stored as the same strings as before (no migration: a
//! database written by an earlier version reads unchanged). A status nobody declared is a
//! load error, not a string that no branch matches.
//!
//! Each compares equal to its stored string too (`status == "ready"`), for tests and
//! templates that read what is stored.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// Implements `as_str` and comparison with the stored string for a status enum.
macro_rules! stored_as_str {
    ($name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $name {
            /// The stored string.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }
    };
}

/// Whether a connection can be used (`connection.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// Usable.
    #[sea_orm(string_value = "active")]
    Active,
    /// The sign-in ended (refresh token revoked, credentials rejected): only the user can
    /// mend it, by reconnecting.
    #[sea_orm(string_value = "needs_reauth")]
    NeedsReauth,
    /// The last test or action failed for another reason; the next success clears it.
    #[sea_orm(string_value = "error")]
    Error,
}

stored_as_str!(ConnectionStatus {
    Active => "active",
    NeedsReauth => "needs_reauth",
    Error => "error",
});

/// Where a file of a knowledge folder is (`source_file.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum SourceFileStatus {
    /// An import is waiting for a worker.
    #[sea_orm(string_value = "queued")]
    Queued,
    /// An import worker is streaming it into storage.
    #[sea_orm(string_value = "downloading")]
    Downloading,
    /// Stored; `source_file.uploaded` is sent.
    #[sea_orm(string_value = "uploaded")]
    Uploaded,
    /// The stored object was confirmed.
    #[sea_orm(string_value = "ready")]
    Ready,
    /// It could not be stored or confirmed; `error` says why.
    #[sea_orm(string_value = "failed")]
    Failed,
}

stored_as_str!(SourceFileStatus {
    Queued => "queued",
    Downloading => "downloading",
    Uploaded => "uploaded",
    Ready => "ready",
    Failed => "failed",
});

impl SourceFileStatus {
    /// Whether the file is still on its way (the folder page keeps polling).
    pub fn is_pending(self) -> bool {
        matches!(self, Self::Queued | Self::Downloading | Self::Uploaded)
    }
}

/// Where an outbox message is (`queue_message.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Waiting for (or being handled by) a worker.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// Handled.
    #[sea_orm(string_value = "done")]
    Done,
    /// Failed too often; parked with its last error.
    #[sea_orm(string_value = "dead")]
    Dead,
}

stored_as_str!(MessageStatus {
    Pending => "pending",
    Done => "done",
    Dead => "dead",
});

/// How the app came to know an MCP client (`mcp_client.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum McpClientKind {
    /// Its `client_id` is an https URL serving its metadata (a Client ID Metadata Document),
    /// fetched and cached by the app.
    #[sea_orm(string_value = "cimd")]
    Cimd,
    /// It registered itself at `/oauth/register` (RFC 7591); its name is its own claim.
    #[sea_orm(string_value = "dcr")]
    Dcr,
}

stored_as_str!(McpClientKind {
    Cimd => "cimd",
    Dcr => "dcr",
});

/// What an MCP token is for (`mcp_token.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum McpTokenKind {
    /// Sent with every MCP request; short-lived.
    #[sea_orm(string_value = "access")]
    Access,
    /// Exchanged once for a new pair at the token endpoint.
    #[sea_orm(string_value = "refresh")]
    Refresh,
}

stored_as_str!(McpTokenKind {
    Access => "access",
    Refresh => "refresh",
});

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ActiveEnum, Iterable};

    #[test]
    fn each_status_is_stored_as_its_string_and_reads_back() {
        for status in ConnectionStatus::iter() {
            assert_eq!(status.to_value(), status.as_str());
            assert_eq!(
                ConnectionStatus::try_from_value(&status.to_value()).ok(),
                Some(status)
            );
        }
        for status in SourceFileStatus::iter() {
            assert_eq!(status.to_value(), status.as_str());
            assert_eq!(
                SourceFileStatus::try_from_value(&status.to_value()).ok(),
                Some(status)
            );
        }
        for status in MessageStatus::iter() {
            assert_eq!(status.to_value(), status.as_str());
        }
        for kind in McpClientKind::iter() {
            assert_eq!(kind.to_value(), kind.as_str());
        }
        for kind in McpTokenKind::iter() {
            assert_eq!(kind.to_value(), kind.as_str());
        }
        assert_eq!(SourceFileStatus::Ready, "ready");
        assert!(ConnectionStatus::try_from_value(&"paused".to_owned()).is_err());
    }
}

/// Where a connector call came from (`connector_audit_log.channel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A page or HTMX fragment in the browser.
    #[sea_orm(string_value = "web")]
    Web,
    /// The JSON API (`/api/v1/…`).
    #[sea_orm(string_value = "api")]
    Api,
    /// The agent tools API (`/api/v1/agent/tools/…`).
    #[sea_orm(string_value = "agent")]
    Agent,
    /// An assistant through the MCP endpoint.
    #[sea_orm(string_value = "mcp")]
    Mcp,
    /// A background job (a cloud import).
    #[sea_orm(string_value = "worker")]
    Worker,
    /// The app on its own account (a token refresh an action needed).
    #[sea_orm(string_value = "system")]
    System,
}

stored_as_str!(Channel {
    Web => "web",
    Api => "api",
    Agent => "agent",
    Mcp => "mcp",
    Worker => "worker",
    System => "system",
});
