//! PostgreSQL failures → `ConnectorError`, phrased for the person who must act on them.
//!
//! PostgreSQL's own message is kept where it helps (syntax errors, unknown columns,
//! permission denied, read-only violations) — it names only what the user typed or what
//! their role may see. Nothing here ever holds the password: errors are built from
//! [`PgParams`]' public fields and the server's error fields, never from a DSN.

use std::error::Error as _;

use tokio_postgres::error::{DbError, ErrorPosition, SqlState};

use super::client::{PgParams, SslMode, Timeouts, WireBudget};
use crate::ConnectorError;

/// When a failure happens: while checking a form (fix a field) or in an action on stored
/// credentials (reconnect, retry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// `test_credentials`.
    Connect,
    /// An action.
    Action,
}

/// A failure to log in.
pub(crate) fn connect_error(
    error: &tokio_postgres::Error,
    params: &PgParams,
    stage: Stage,
) -> ConnectorError {
    let on = |field: &str, message: String| match stage {
        Stage::Connect => ConnectorError::invalid_field(field, message),
        Stage::Action => ConnectorError::AuthExpired { message },
    };
    if let Some(db) = error.as_db_error() {
        let code = db.code();
        if *code == SqlState::INVALID_PASSWORD {
            return on(
                "password",
                format!(
                    "PostgreSQL rejected the password for user `{}`",
                    params.user
                ),
            );
        }
        if *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION {
            return on(
                "user",
                format!("PostgreSQL refused the login: {}", db.message()),
            );
        }
        if *code == SqlState::INVALID_CATALOG_NAME {
            let message = format!("database `{}` does not exist", params.database);
            return match stage {
                Stage::Connect => ConnectorError::invalid_field("database", message),
                Stage::Action => ConnectorError::NotFound { message },
            };
        }
        if *code == SqlState::TOO_MANY_CONNECTIONS {
            return ConnectorError::RateLimited {
                retry_after: None,
                message: db.message().to_owned(),
            };
        }
        return ConnectorError::Upstream {
            status: 0,
            message: format!("PostgreSQL refused the connection: {}", db.message()),
        };
    }
    if let Some(tls) = rustls_error(error) {
        let message = match params.sslmode {
            SslMode::VerifyFull => format!(
                "the server's TLS certificate could not be verified for {} ({tls}); if it uses a \
                 self-signed certificate, choose `require`",
                params.host
            ),
            _ => format!("the TLS handshake with {} failed ({tls})", params.host),
        };
        return match stage {
            Stage::Connect => ConnectorError::invalid_field("sslmode", message),
            Stage::Action => ConnectorError::Transport { message },
        };
    }
    if error.to_string().contains("server does not support TLS") {
        let message = format!(
            "{} does not accept TLS connections; choose `disable` only on a network you trust",
            params.host
        );
        return match stage {
            Stage::Connect => ConnectorError::invalid_field("sslmode", message),
            Stage::Action => ConnectorError::Transport { message },
        };
    }
    let message = format!(
        "{} port {} did not answer like a PostgreSQL server ({})",
        params.host,
        params.port,
        short_cause(error)
    );
    match stage {
        Stage::Connect => ConnectorError::invalid_field("host", message),
        Stage::Action => ConnectorError::Transport { message },
    }
}

/// A failure while running a statement. `sql` is the user's statement (errors then blame
/// the `sql` parameter), `None` for the connector's own catalog queries.
pub(crate) fn statement_error(
    error: &tokio_postgres::Error,
    sql: Option<&str>,
    timeouts: Timeouts,
    budget: &WireBudget,
) -> ConnectorError {
    if budget.tripped() {
        return ConnectorError::invalid_field(
            "sql",
            "the result holds a value too large to return; select fewer or smaller columns \
             (for example `left(col, 1000)`)",
        );
    }
    let Some(db) = error.as_db_error() else {
        // tokio-postgres reads rows only: `COPY … TO STDOUT` answers with a copy stream.
        if sql.is_some() && error.to_string().contains("unexpected message") {
            return ConnectorError::invalid_field(
                "sql",
                "this kind of statement cannot run here (COPY is not supported); use SELECT",
            );
        }
        return ConnectorError::Transport {
            message: format!(
                "the connection to PostgreSQL failed: {}",
                short_cause(error)
            ),
        };
    };
    let code = db.code();
    let user_sql = |message: String| match sql {
        Some(_) => ConnectorError::invalid_field("sql", message),
        None => ConnectorError::Upstream { status: 0, message },
    };
    if *code == SqlState::QUERY_CANCELED {
        if db.message().contains("statement timeout") {
            return user_sql(format!(
                "the query took longer than {} s and was cancelled",
                timeouts.statement.as_secs().max(1)
            ));
        }
        return user_sql(format!("the query was cancelled: {}", db.message()));
    }
    if *code == SqlState::LOCK_NOT_AVAILABLE {
        return user_sql(format!(
            "the query waited more than {} s for a lock held by another session and was \
             cancelled; try again later",
            timeouts.lock.as_secs().max(1)
        ));
    }
    // 25006 (a write), 25001 (`SET TRANSACTION READ WRITE` after the snapshot), 2D000
    // (COMMIT inside a procedure): the read-only transaction held.
    if *code == SqlState::READ_ONLY_SQL_TRANSACTION
        || *code == SqlState::ACTIVE_SQL_TRANSACTION
        || *code == SqlState::INVALID_TRANSACTION_TERMINATION
    {
        return user_sql(format!("this connection is read-only: {}", db.message()));
    }
    if *code == SqlState::INSUFFICIENT_PRIVILEGE {
        return ConnectorError::PermissionDenied {
            message: db.message().to_owned(),
        };
    }
    if *code == SqlState::SYNTAX_ERROR && db.message().contains("cannot insert multiple commands") {
        return user_sql(
            "only one SQL statement can run at a time; remove the others (and any `;` between \
             them)"
                .to_owned(),
        );
    }
    if *code == SqlState::TOO_MANY_CONNECTIONS {
        return ConnectorError::RateLimited {
            retry_after: None,
            message: db.message().to_owned(),
        };
    }
    let class = &code.code()[..2];
    let users_fault = matches!(
        class,
        "0A" | "21" | "22" | "23" | "2B" | "2F" | "38" | "39" | "3F" | "42" | "44" | "P0"
    );
    if users_fault {
        return user_sql(describe(db, sql));
    }
    ConnectorError::Upstream {
        status: 0,
        message: format!("PostgreSQL error {}: {}", code.code(), db.message()),
    }
}

/// PostgreSQL's message, where in the statement it points, and its hint.
fn describe(db: &DbError, sql: Option<&str>) -> String {
    let mut text = db.message().to_owned();
    if let (Some(ErrorPosition::Original(position)), Some(sql)) = (db.position(), sql) {
        let (line, column) = line_and_column(sql, *position);
        text.push_str(&format!(" (line {line}, column {column})"));
    }
    if let Some(hint) = db.hint() {
        text.push_str(". Hint: ");
        text.push_str(hint);
    }
    text
}

/// Line and column (1-based) of PostgreSQL's 1-based character `position` in `sql`.
fn line_and_column(sql: &str, position: u32) -> (usize, usize) {
    let before = usize::try_from(position.saturating_sub(1)).unwrap_or(usize::MAX);
    let (mut line, mut column) = (1, 1);
    for c in sql.chars().take(before) {
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line, column)
}

/// The rustls error behind a failed handshake, if that is what failed.
fn rustls_error(error: &tokio_postgres::Error) -> Option<String> {
    let mut cause = error.source();
    while let Some(current) = cause {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        if let Some(io) = current.downcast_ref::<std::io::Error>()
            && let Some(tls) = io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>())
        {
            return Some(tls.to_string());
        }
        cause = current.source();
    }
    None
}

/// The innermost cause, which says what actually happened ("connection reset by peer").
fn short_cause(error: &tokio_postgres::Error) -> String {
    let mut last: &dyn std::error::Error = error;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_become_lines_and_columns() {
        assert_eq!(line_and_column("SELECT 1 FORM t", 10), (1, 10));
        assert_eq!(line_and_column("SELECT 1\nFORM t", 10), (2, 1));
        assert_eq!(line_and_column("SELECT 'é'\n  x", 14), (2, 3));
        assert_eq!(line_and_column("", 0), (1, 1));
    }
}
