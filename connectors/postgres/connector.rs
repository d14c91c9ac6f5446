//! The `postgres` spec, its credential form, and the live credential check.

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::actions::PostgresActions;
use super::client::{PgParams, Session, Timeouts};
use super::errors::{Stage, statement_error};
use crate::{
    ActionContext, AuthScoping, ConfigKey, ConnectorDef, ConnectorError, ConnectorKind,
    ConnectorSettings, ConnectorSpec, FieldKind, FormField, HttpClient, NormalizedCredentials,
};

/// The PostgreSQL connector.
#[derive(Debug, Default)]
pub struct PostgresConnector {
    actions: PostgresActions,
}

/// `sslmode` choices. The default is `verify-full`: the password and every result cross
/// the campus network, and without verification an attacker in the path can pose as the
/// server (and ask for the password in clear text). A server with a self-signed
/// certificate fails with a message that names `require`, so opting down is one
/// informed click; `disable` is there for servers without TLS on trusted networks.
const SSL_MODES: &[(&str, &str)] = &[
    (
        "verify-full",
        "Require TLS and verify the server certificate (recommended)",
    ),
    (
        "require",
        "Require TLS, don't verify the certificate (self-signed servers)",
    ),
    ("disable", "No TLS (trusted networks only)"),
];

const fn field(
    name: &'static str,
    label: &'static str,
    help: &'static str,
    kind: FieldKind,
) -> FormField {
    FormField {
        name,
        label,
        help,
        kind,
        required: true,
        default: None,
        placeholder: None,
    }
}

#[async_trait]
impl ConnectorDef for PostgresConnector {
    const SPEC: ConnectorSpec = ConnectorSpec {
        slug: "postgres",
        name: "PostgreSQL",
        description: "Browse and query a PostgreSQL database with your own database role. \
                      Queries run read-only.",
        icon: include_str!("icon.svg"),
        kind: ConnectorKind::Manual,
        scoping: AuthScoping::UserSupplied,
        version: "1",
        oauth: None,
        form: &[
            FormField {
                placeholder: Some("db.campus.edu"),
                ..field(
                    "host",
                    "Host",
                    "Server name or IP address, without `postgres://` or a port.",
                    FieldKind::Text,
                )
            },
            FormField {
                required: false,
                default: Some("5432"),
                placeholder: Some("5432"),
                ..field("port", "Port", "", FieldKind::Number)
            },
            field("database", "Database", "", FieldKind::Text),
            field(
                "user",
                "User",
                "A role that can only read is best. Superusers are refused.",
                FieldKind::Text,
            ),
            field("password", "Password", "", FieldKind::Password),
            FormField {
                required: false,
                default: Some("verify-full"),
                ..field(
                    "sslmode",
                    "TLS",
                    "How the connection is encrypted.",
                    FieldKind::Select(SSL_MODES),
                )
            },
        ],
        config_keys: &[ConfigKey::allowed_hosts()],
    };

    type Actions = PostgresActions;

    fn actions(&self) -> &PostgresActions {
        &self.actions
    }

    /// Logs in, refuses roles that are or can become superusers, reach the server's files
    /// and programs, signal other sessions or use dblink (on `user`), and warns about roles
    /// that can change data.
    async fn test_credentials(
        &self,
        settings: &ConnectorSettings,
        _http: &HttpClient,
        fields: Map<String, Value>,
    ) -> Result<NormalizedCredentials, ConnectorError> {
        let params = PgParams::from_fields(&fields)?;
        let mut session = Session::connect(&params, settings, Stage::Connect).await?;
        let budget = session.budget().clone();
        let (tx, check) = session.begin_read_only(Timeouts::CATALOG).await?;
        if let Some(message) = check.refusal() {
            return Err(ConnectorError::invalid_field("user", message));
        }
        let fail = |e: tokio_postgres::Error| statement_error(&e, None, Timeouts::CATALOG, &budget);
        let row = tx.query_one(WRITE_PROBE_SQL, &[]).await.map_err(fail)?;
        let capabilities = [
            (0, "write to tables"),
            (1, "create schemas in this database"),
            (2, "create objects in a schema"),
            (3, "create databases"),
            (4, "create roles"),
            (5, "write to every table (pg_write_all_data)"),
        ];
        let mut found = Vec::new();
        for (index, what) in capabilities {
            if row.try_get::<_, bool>(index).map_err(fail)? {
                found.push(what);
            }
        }
        if let Err(error) = tx.rollback().await {
            tracing::debug!(error = %error, "rollback after the credential check failed");
        }
        let warnings = if found.is_empty() {
            Vec::new()
        } else {
            vec![format!(
                "The role `{}` can change data (it can {}). Queries here always run read-only, \
                 but a role that can only read is safer: ask for one with SELECT on the tables \
                 you need (or pg_read_all_data) and reconnect with it.",
                check.role,
                found.join(", ")
            )]
        };
        Ok(NormalizedCredentials {
            credentials: params.to_credentials(),
            identity: Some(params.identity()),
            warnings,
        })
    }

    async fn fetch_identity(&self, ctx: &ActionContext) -> Result<Option<String>, ConnectorError> {
        Ok(Some(
            PgParams::from_credentials(&ctx.current_credentials())?.identity(),
        ))
    }
}

/// Whether the role can change anything: write privileges on any table (or column),
/// CREATE on the database or a schema, CREATEDB, CREATEROLE or `pg_write_all_data`. (A role
/// that can use dblink is refused outright by the role check: its connections are its own,
/// outside our read-only transaction.)
const WRITE_PROBE_SQL: &str = "\
SELECT
  EXISTS (SELECT 1 FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
            AND n.nspname NOT IN ('pg_catalog', 'information_schema')
            AND n.nspname NOT LIKE 'pg\\_toast%'
            AND (pg_catalog.has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')
                 OR pg_catalog.has_any_column_privilege(c.oid, 'INSERT, UPDATE'))),
  pg_catalog.has_database_privilege(current_database(), 'CREATE'),
  EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n
          WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
            AND pg_catalog.has_schema_privilege(n.oid, 'CREATE')),
  r.rolcreatedb,
  r.rolcreaterole,
  EXISTS (SELECT 1 FROM pg_catalog.pg_roles w
          WHERE w.rolname = 'pg_write_all_data'
            AND pg_catalog.pg_has_role(current_user, w.oid, 'MEMBER'))
FROM pg_catalog.pg_roles r
WHERE r.rolname = current_user";
