//! `ConnectorError`: the one error type every connector returns.
//!
//! Each variant is a decision the caller can act on — reconnect (`AuthExpired`), retry later
//! (`RateLimited`), fix the request (`InvalidInput`), tell the admin (`Misconfigured`) — not
//! a description of where the failure happened. The app maps errors to HTTP responses with
//! [`ConnectorError::http_status`] and [`ConnectorError::code`], and shows
//! [`ConnectorError::user_message`] to people; `Display` is for logs.

use std::time::Duration;

/// Longest upstream-provided reason kept in a user-facing message.
const MAX_REASON_CHARS: usize = 200;

/// What went wrong while talking to a connector, phrased as what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The stored credentials no longer work (expired, revoked): the user must reconnect.
    #[error("authorization expired: {message}")]
    AuthExpired {
        /// Short reason, safe to show.
        message: String,
    },
    /// The upstream service asked us to slow down; try again after `retry_after`.
    #[error("rate limited (retry after {retry_after:?}): {message}")]
    RateLimited {
        /// How long the service asked us to wait, when it said so.
        retry_after: Option<Duration>,
        /// Short reason, safe to show.
        message: String,
    },
    /// The caller sent parameters the action cannot accept.
    #[error("invalid input: {message}")]
    InvalidInput {
        /// The offending field path (`folder.id`, `items[2].name`), when one field is to blame.
        field: Option<String>,
        /// What is wrong, naming the field.
        message: String,
    },
    /// The requested item does not exist (or is not visible to this account).
    #[error("not found: {message}")]
    NotFound {
        /// Short reason, safe to show.
        message: String,
    },
    /// The account is connected but not allowed to do this.
    #[error("permission denied: {message}")]
    PermissionDenied {
        /// Short reason, safe to show.
        message: String,
    },
    /// The upstream service failed or rejected the request in an unexpected way.
    #[error("upstream error (HTTP {status}): {message}")]
    Upstream {
        /// The upstream HTTP status (0 when there was none).
        status: u16,
        /// Short reason taken from the upstream response.
        message: String,
    },
    /// The service could not be reached (DNS, connect, TLS, timeout).
    /// The provider failed repeatedly and its circuit breaker is open: requests fail at
    /// once, without reaching it, until `retry_at` (`HH:MM`, UTC), when one probe is let
    /// through (see `sdk::breaker`).
    #[error("provider unavailable (circuit open until {retry_at} UTC)")]
    ProviderUnavailable {
        retry_after: Duration,
        retry_at: String,
    },
    #[error("transport error: {message}")]
    Transport {
        /// Short reason, without URLs or query strings.
        message: String,
    },
    /// The connector is not configured correctly (missing client id, bad base URL…): an
    /// admin must fix the connector configuration.
    #[error("connector misconfigured: {message}")]
    Misconfigured {
        /// What is missing or wrong.
        message: String,
    },
    /// The connector has no action of that name.
    #[error("unknown action `{name}`")]
    UnknownAction {
        /// The name that was asked for.
        name: String,
    },
    /// The connector cannot do this (e.g. a file type that cannot be exported).
    #[error("unsupported: {message}")]
    Unsupported {
        /// What is not supported.
        message: String,
    },
}

impl ConnectorError {
    /// Builds an [`ConnectorError::InvalidInput`] blaming one field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidInput {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// Builds a [`ConnectorError::Misconfigured`].
    pub fn misconfigured(message: impl Into<String>) -> Self {
        Self::Misconfigured {
            message: message.into(),
        }
    }

    /// A stable snake_case code for API problem bodies and audit rows.
    pub fn code(&self) -> &'static str {
        match self {
            Self::AuthExpired { .. } => "auth_expired",
            Self::RateLimited { .. } => "rate_limited",
            Self::InvalidInput { .. } => "invalid_input",
            Self::NotFound { .. } => "not_found",
            Self::PermissionDenied { .. } => "permission_denied",
            Self::Upstream { .. } => "upstream",
            Self::Transport { .. } => "transport",
            Self::ProviderUnavailable { .. } => "provider_unavailable",
            Self::Misconfigured { .. } => "misconfigured",
            Self::UnknownAction { .. } => "unknown_action",
            Self::Unsupported { .. } => "unsupported",
        }
    }

    /// Whether the same request may succeed if retried later without any change.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. }
            | Self::Transport { .. }
            | Self::ProviderUnavailable { .. } => true,
            Self::Upstream { status, .. } => *status >= 500 || *status == 0,
            _ => false,
        }
    }

    /// How long the upstream asked us to wait, for `RateLimited`.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            Self::ProviderUnavailable { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// The HTTP status the app should answer with for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::AuthExpired { .. } => 409,
            Self::RateLimited { .. } => 429,
            Self::InvalidInput { .. } => 422,
            Self::NotFound { .. } | Self::UnknownAction { .. } => 404,
            Self::PermissionDenied { .. } => 403,
            Self::Upstream { .. } => 502,
            Self::Transport { .. } => 504,
            Self::ProviderUnavailable { .. } => 503,
            Self::Misconfigured { .. } => 503,
            Self::Unsupported { .. } => 400,
        }
    }

    /// [`ConnectorError::user_message`] naming the service ("Google Drive is having
    /// trouble…") where it would say "The service".
    pub fn user_message_for(&self, service: &str) -> String {
        let message = self.user_message();
        match message.strip_prefix("The service ") {
            Some(rest) => format!("{service} {rest}"),
            None => message,
        }
    }

    /// A sentence safe to show a person: no secrets, upstream reasons cut short.
    pub fn user_message(&self) -> String {
        match self {
            Self::AuthExpired { .. } => {
                "The connection has expired or was revoked. Please reconnect it.".to_owned()
            }
            Self::RateLimited {
                retry_after: Some(wait),
                ..
            } => format!(
                "The service is receiving too many requests. Try again in {} seconds.",
                wait.as_secs().max(1)
            ),
            Self::RateLimited {
                retry_after: None, ..
            } => "The service is receiving too many requests. Try again later.".to_owned(),
            Self::InvalidInput { message, .. } => short(message),
            Self::NotFound { message } => with_reason("The item was not found", message),
            Self::PermissionDenied { message } => {
                with_reason("The connected account is not allowed to do this", message)
            }
            Self::Upstream { status, message } => with_reason(
                &format!("The service returned an error (HTTP {status})"),
                message,
            ),
            Self::Transport { .. } => {
                "The service could not be reached. Try again in a moment.".to_owned()
            }
            Self::ProviderUnavailable { retry_at, .. } => {
                format!("The service is having trouble; retrying at {retry_at} UTC.")
            }
            Self::Misconfigured { .. } => {
                "This connector is not configured correctly. Please contact an administrator."
                    .to_owned()
            }
            Self::UnknownAction { name } => {
                format!("This connector has no action `{}`.", short(name))
            }
            Self::Unsupported { message } => with_reason("This is not supported", message),
        }
    }
}

/// Cuts a reason to [`MAX_REASON_CHARS`] characters on a char boundary.
fn short(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(MAX_REASON_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

fn with_reason(lead: &str, reason: &str) -> String {
    let reason = short(reason);
    if reason.is_empty() {
        format!("{lead}.")
    } else {
        format!("{lead}: {reason}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_variant() -> Vec<ConnectorError> {
        let m = || "m".to_owned();
        vec![
            ConnectorError::AuthExpired { message: m() },
            ConnectorError::RateLimited {
                retry_after: None,
                message: m(),
            },
            ConnectorError::InvalidInput {
                field: None,
                message: m(),
            },
            ConnectorError::NotFound { message: m() },
            ConnectorError::PermissionDenied { message: m() },
            ConnectorError::Upstream {
                status: 500,
                message: m(),
            },
            ConnectorError::Transport { message: m() },
            ConnectorError::Misconfigured { message: m() },
            ConnectorError::UnknownAction { name: m() },
            ConnectorError::Unsupported { message: m() },
        ]
    }

    #[test]
    fn codes_are_stable_and_distinct() {
        let codes: Vec<_> = every_variant().iter().map(ConnectorError::code).collect();
        assert_eq!(
            codes,
            [
                "auth_expired",
                "rate_limited",
                "invalid_input",
                "not_found",
                "permission_denied",
                "upstream",
                "transport",
                "misconfigured",
                "unknown_action",
                "unsupported"
            ]
        );
    }

    #[test]
    fn http_statuses_follow_the_decision_table() {
        let statuses: Vec<_> = every_variant()
            .iter()
            .map(ConnectorError::http_status)
            .collect();
        assert_eq!(statuses, [409, 429, 422, 404, 403, 502, 504, 503, 404, 400]);
    }

    #[test]
    fn only_transient_failures_are_retryable() {
        let retryable: Vec<_> = every_variant()
            .iter()
            .map(ConnectorError::is_retryable)
            .collect();
        assert_eq!(
            retryable,
            [
                false, true, false, false, false, true, true, false, false, false
            ]
        );
        assert!(
            !ConnectorError::Upstream {
                status: 400,
                message: String::new()
            }
            .is_retryable()
        );
    }

    #[test]
    fn retry_after_is_reported_for_rate_limits_only() {
        let limited = ConnectorError::RateLimited {
            retry_after: Some(Duration::from_secs(7)),
            message: String::new(),
        };
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(7)));
        assert!(limited.user_message().contains("7 seconds"));
        assert_eq!(
            ConnectorError::Transport {
                message: String::new()
            }
            .retry_after(),
            None
        );
    }

    #[test]
    fn user_message_for_names_the_service_where_it_says_the_service() {
        let unreachable = ConnectorError::Transport {
            message: "dns error".into(),
        };
        assert_eq!(
            unreachable.user_message_for("Google Drive"),
            "Google Drive could not be reached. Try again in a moment."
        );
        let gone = ConnectorError::NotFound {
            message: "no such file".into(),
        };
        assert_eq!(gone.user_message_for("OneDrive"), gone.user_message());
    }

    #[test]
    fn user_message_cuts_long_upstream_reasons() {
        let error = ConnectorError::Upstream {
            status: 500,
            message: "x".repeat(5000),
        };
        let shown = error.user_message();
        assert!(shown.starts_with("The service returned an error (HTTP 500): xxx"));
        assert!(shown.chars().count() < 300);
    }

    #[test]
    fn user_message_hides_transport_and_config_details() {
        let error = ConnectorError::Misconfigured {
            message: "CLIENT_SECRET missing".into(),
        };
        assert!(!error.user_message().contains("CLIENT_SECRET"));
        let error = ConnectorError::Transport {
            message: "dns error for 10.0.0.1".into(),
        };
        assert!(!error.user_message().contains("10.0.0.1"));
    }
}
