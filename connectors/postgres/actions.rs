//! The PostgreSQL actions. Each one opens its own connection with the stored credentials,
//! works inside the read-only transaction (`Session::begin_checked`) and rolls back.

use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use tokio_postgres::Transaction;
use validator::Validate;

use super::client::{PgParams, Session, Timeouts, WireBudget};
use super::errors::{Stage, statement_error};
use super::models::{
    ColumnInfo, ForeignKeyInfo, KeyInfo, QueryResult, SchemaInfo, SchemaList, TableDescription,
    TableInfo, TableList,
};
use super::query::{QueryLimits, run_query};
use crate::{ActionContext, ConnectorError, connector_actions};

/// Rows `run_query` returns unless told otherwise.
pub(crate) const DEFAULT_MAX_ROWS: u32 = 1000;
/// Most rows `run_query` may return.
pub(crate) const MAX_ROWS: u32 = 10_000;
/// Most bytes of rendered values `run_query` returns.
pub(crate) const MAX_RESULT_BYTES: usize = 5 << 20;
/// `statement_timeout` of `run_query` unless told otherwise.
pub(crate) const DEFAULT_TIMEOUT_SECONDS: u32 = 30;
/// Longest `statement_timeout` a caller may ask for.
pub(crate) const MAX_TIMEOUT_SECONDS: u32 = 60;
/// Most relations `list_tables` returns.
const MAX_TABLES: usize = 1000;

/// The PostgreSQL actions.
#[derive(Debug, Default)]
pub struct PostgresActions;

/// Parameters of `list_schemas`.
#[derive(Debug, Default, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ListSchemasInput {
    /// Also list PostgreSQL's own schemas, `pg_catalog` and `information_schema`
    /// (default false).
    #[serde(default)]
    pub include_system: bool,
}

/// Parameters of `list_tables`.
#[derive(Debug, Default, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ListTablesInput {
    /// Only this schema (its name as stored, without quotes); every non-system schema
    /// when omitted.
    #[validate(length(min = 1, max = 200))]
    pub schema: Option<String>,
}

/// Parameters of `describe_table`.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct DescribeTableInput {
    /// Schema of the table (default `public`).
    #[serde(default = "public")]
    #[validate(length(min = 1, max = 200))]
    pub schema: String,
    /// Table, view or materialized view name, as stored (case-sensitive, without quotes).
    #[validate(length(min = 1, max = 200))]
    pub table: String,
}

fn public() -> String {
    "public".to_owned()
}

/// Parameters of `run_query`.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct RunQueryInput {
    /// Exactly one SQL statement (`SELECT`, `WITH`, `VALUES`, `TABLE`, `EXPLAIN`, `SHOW`…),
    /// without `$1` parameters; a trailing `;` is fine.
    #[validate(length(min = 1, max = 100000))]
    pub sql: String,
    /// Most rows to return, 1 to 10,000 (default 1,000).
    #[validate(range(min = 1, max = MAX_ROWS))]
    pub max_rows: Option<u32>,
    /// Seconds the statement may run before PostgreSQL cancels it, 1 to 60 (default 30).
    #[validate(range(min = 1, max = MAX_TIMEOUT_SECONDS))]
    pub timeout_seconds: Option<u32>,
}

#[connector_actions]
impl PostgresActions {
    /// List the schemas of the connected database, with their owners and whether this
    /// connection may use them.
    #[action(tags(read))]
    async fn list_schemas(
        &self,
        ctx: &ActionContext,
        params: ListSchemasInput,
    ) -> Result<SchemaList, ConnectorError> {
        let mut session = open(ctx).await?;
        let budget = session.budget().clone();
        let tx = session.begin_checked(Timeouts::CATALOG).await?;
        let fail = catalog_error(&budget);
        let rows = tx
            .query(LIST_SCHEMAS_SQL, &[&params.include_system])
            .await
            .map_err(&fail)?;
        let schemas = rows
            .iter()
            .map(|row| {
                Ok(SchemaInfo {
                    name: row.try_get(0)?,
                    owner: row.try_get(1)?,
                    can_use: row.try_get(2)?,
                    is_system: row.try_get(3)?,
                })
            })
            .collect::<Result<Vec<_>, tokio_postgres::Error>>()
            .map_err(&fail)?;
        finish(tx).await;
        Ok(SchemaList { schemas })
    }

    /// List tables, views, materialized views and foreign tables (one schema, or every
    /// non-system schema), with PostgreSQL's row-count estimates and whether this
    /// connection may read them.
    #[action(tags(read))]
    async fn list_tables(
        &self,
        ctx: &ActionContext,
        params: ListTablesInput,
    ) -> Result<TableList, ConnectorError> {
        let mut session = open(ctx).await?;
        let budget = session.budget().clone();
        let tx = session.begin_checked(Timeouts::CATALOG).await?;
        let fail = catalog_error(&budget);
        let limit = i64::try_from(MAX_TABLES + 1).unwrap_or(i64::MAX);
        let rows = tx
            .query(LIST_TABLES_SQL, &[&params.schema, &limit])
            .await
            .map_err(&fail)?;
        let mut tables = rows
            .iter()
            .map(|row| {
                let kind: String = row.try_get(2)?;
                Ok(TableInfo {
                    schema: row.try_get(0)?,
                    name: row.try_get(1)?,
                    kind: relkind_name(&kind),
                    row_estimate: row.try_get(3)?,
                    can_select: row.try_get(4)?,
                    comment: row.try_get(5)?,
                })
            })
            .collect::<Result<Vec<_>, tokio_postgres::Error>>()
            .map_err(&fail)?;
        finish(tx).await;
        let truncated = tables.len() > MAX_TABLES;
        tables.truncate(MAX_TABLES);
        Ok(TableList { tables, truncated })
    }

    /// Describe one table or view: its columns (name, type, nullability, default), its
    /// primary key, unique keys and foreign keys, and its estimated row count.
    #[action(tags(read))]
    async fn describe_table(
        &self,
        ctx: &ActionContext,
        params: DescribeTableInput,
    ) -> Result<TableDescription, ConnectorError> {
        let mut session = open(ctx).await?;
        let budget = session.budget().clone();
        let tx = session.begin_checked(Timeouts::CATALOG).await?;
        let description = describe(&tx, &params, &budget).await;
        finish(tx).await;
        description
    }

    /// Run one read-only SQL statement and return its rows. The statement runs in a
    /// read-only transaction that is always rolled back, so anything that would change
    /// data fails. At most `max_rows` rows (default 1,000) and 5 MiB come back, with
    /// `truncated` set when there was more; the statement is cancelled after
    /// `timeout_seconds` (default 30).
    #[action(tags(read))]
    async fn run_query(
        &self,
        ctx: &ActionContext,
        params: RunQueryInput,
    ) -> Result<QueryResult, ConnectorError> {
        if params.sql.trim().trim_end_matches(';').trim().is_empty() {
            return Err(ConnectorError::invalid_field(
                "sql",
                "enter an SQL statement",
            ));
        }
        let limits = QueryLimits {
            max_rows: usize::try_from(params.max_rows.unwrap_or(DEFAULT_MAX_ROWS))
                .unwrap_or(usize::MAX),
            max_bytes: MAX_RESULT_BYTES,
            timeout: Duration::from_secs(u64::from(
                params
                    .timeout_seconds
                    .unwrap_or(DEFAULT_TIMEOUT_SECONDS)
                    .min(MAX_TIMEOUT_SECONDS),
            )),
        };
        let mut session = open(ctx).await?;
        run_query(&mut session, &params.sql, limits).await
    }
}

/// Connects with the action's stored credentials.
async fn open(ctx: &ActionContext) -> Result<Session, ConnectorError> {
    let params = PgParams::from_credentials(&ctx.current_credentials())?;
    Session::connect(&params, &ctx.settings, Stage::Action).await
}

fn catalog_error(budget: &WireBudget) -> impl Fn(tokio_postgres::Error) -> ConnectorError + '_ {
    move |e| statement_error(&e, None, Timeouts::CATALOG, budget)
}

/// Rolls back; a failure only means the session (dropped next) ends the transaction.
async fn finish(tx: Transaction<'_>) {
    if let Err(error) = tx.rollback().await {
        tracing::debug!(error = %error, "rollback after a catalog query failed");
    }
}

fn relkind_name(relkind: &str) -> String {
    match relkind {
        "r" => "table",
        "p" => "partitioned_table",
        "v" => "view",
        "m" => "materialized_view",
        "f" => "foreign_table",
        other => other,
    }
    .to_owned()
}

fn fk_action_name(code: &str) -> String {
    match code {
        "a" => "no action",
        "r" => "restrict",
        "c" => "cascade",
        "n" => "set null",
        "d" => "set default",
        other => other,
    }
    .to_owned()
}

async fn describe(
    tx: &Transaction<'_>,
    params: &DescribeTableInput,
    budget: &WireBudget,
) -> Result<TableDescription, ConnectorError> {
    let fail = catalog_error(budget);
    let Some(table) = tx
        .query_opt(FIND_TABLE_SQL, &[&params.schema, &params.table])
        .await
        .map_err(&fail)?
    else {
        return Err(ConnectorError::NotFound {
            message: format!(
                "there is no table or view `{}`.`{}` (names are case-sensitive)",
                params.schema, params.table
            ),
        });
    };
    let oid: u32 = table.try_get(0).map_err(&fail)?;
    let kind: String = table.try_get(1).map_err(&fail)?;
    let columns = tx
        .query(COLUMNS_SQL, &[&oid])
        .await
        .map_err(&fail)?
        .iter()
        .map(|row| {
            Ok(ColumnInfo {
                name: row.try_get(0)?,
                data_type: row.try_get(1)?,
                nullable: row.try_get(2)?,
                default: row.try_get(3)?,
                comment: row.try_get(4)?,
            })
        })
        .collect::<Result<Vec<_>, tokio_postgres::Error>>()
        .map_err(&fail)?;
    let mut primary_key = None;
    let mut unique_keys = Vec::new();
    let mut foreign_keys = Vec::new();
    for row in tx.query(CONSTRAINTS_SQL, &[&oid]).await.map_err(&fail)? {
        let name: String = row.try_get(0).map_err(&fail)?;
        let kind: String = row.try_get(1).map_err(&fail)?;
        let columns: Vec<String> = row.try_get(2).map_err(&fail)?;
        match kind.as_str() {
            "p" => primary_key = Some(KeyInfo { name, columns }),
            "u" => unique_keys.push(KeyInfo { name, columns }),
            _ => {
                let on_update: String = row.try_get(6).map_err(&fail)?;
                let on_delete: String = row.try_get(7).map_err(&fail)?;
                foreign_keys.push(ForeignKeyInfo {
                    name,
                    columns,
                    references_schema: row.try_get(3).map_err(&fail)?,
                    references_table: row.try_get(4).map_err(&fail)?,
                    references_columns: row.try_get(5).map_err(&fail)?,
                    on_update: fk_action_name(&on_update),
                    on_delete: fk_action_name(&on_delete),
                });
            }
        }
    }
    Ok(TableDescription {
        schema: params.schema.clone(),
        name: params.table.clone(),
        kind: relkind_name(&kind),
        row_estimate: table.try_get(2).map_err(&fail)?,
        comment: table.try_get(3).map_err(&fail)?,
        columns,
        primary_key,
        unique_keys,
        foreign_keys,
    })
}

const LIST_SCHEMAS_SQL: &str = "\
SELECT n.nspname::text,
       pg_catalog.pg_get_userbyid(n.nspowner)::text,
       pg_catalog.has_schema_privilege(n.oid, 'USAGE'),
       n.nspname IN ('pg_catalog', 'information_schema')
FROM pg_catalog.pg_namespace n
WHERE (n.nspname NOT LIKE 'pg\\_%' OR n.nspname = 'pg_catalog')
  AND ($1::bool OR n.nspname NOT IN ('pg_catalog', 'information_schema'))
ORDER BY 1";

/// `reltuples` is -1 until the first ANALYZE (PostgreSQL 14+): no estimate yet.
const LIST_TABLES_SQL: &str = "\
SELECT n.nspname::text,
       c.relname::text,
       c.relkind::text,
       CASE WHEN c.relkind IN ('r', 'm', 'f', 'p') AND c.reltuples >= 0
            THEN c.reltuples::bigint END,
       pg_catalog.has_table_privilege(c.oid, 'SELECT'),
       pg_catalog.obj_description(c.oid, 'pg_class')
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND NOT c.relispartition
  AND CASE WHEN $1::text IS NULL
           THEN n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
           ELSE n.nspname = $1::text END
ORDER BY 1, 2
LIMIT $2";

const FIND_TABLE_SQL: &str = "\
SELECT c.oid,
       c.relkind::text,
       CASE WHEN c.relkind IN ('r', 'm', 'f', 'p') AND c.reltuples >= 0
            THEN c.reltuples::bigint END,
       pg_catalog.obj_description(c.oid, 'pg_class')
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1::text AND c.relname = $2::text
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f')";

const COLUMNS_SQL: &str = "\
SELECT a.attname::text,
       pg_catalog.format_type(a.atttypid, a.atttypmod),
       NOT a.attnotnull,
       pg_catalog.pg_get_expr(d.adbin, d.adrelid),
       pg_catalog.col_description(a.attrelid, a.attnum)
FROM pg_catalog.pg_attribute a
LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum";

const CONSTRAINTS_SQL: &str = "\
SELECT c.conname::text,
       c.contype::text,
       ARRAY(SELECT a.attname::text
             FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
             ORDER BY k.ord),
       rn.nspname::text,
       r.relname::text,
       ARRAY(SELECT a.attname::text
             FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum
             ORDER BY k.ord),
       c.confupdtype::text,
       c.confdeltype::text
FROM pg_catalog.pg_constraint c
LEFT JOIN pg_catalog.pg_class r ON r.oid = c.confrelid
LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = r.relnamespace
WHERE c.conrelid = $1 AND c.contype IN ('p', 'u', 'f')
ORDER BY c.contype, c.conname";
