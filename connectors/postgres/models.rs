//! What the PostgreSQL actions return. Every type's schema is part of the action catalog
//! (agents read the field docs), so each field says what it holds.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

/// Result of `list_schemas`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SchemaList {
    /// Schemas, sorted by name.
    pub schemas: Vec<SchemaInfo>,
}

/// One schema.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SchemaInfo {
    /// Schema name.
    pub name: String,
    /// Role that owns the schema.
    pub owner: String,
    /// Whether the connected role may use (look into) the schema.
    pub can_use: bool,
    /// Whether this is one of PostgreSQL's own schemas (`pg_catalog`, `information_schema`).
    pub is_system: bool,
}

/// Result of `list_tables`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TableList {
    /// Tables, views, materialized views and foreign tables, sorted by schema and name.
    pub tables: Vec<TableInfo>,
    /// Whether the list stops early because the database has more relations than one
    /// call returns; narrow it with `schema`.
    pub truncated: bool,
}

/// One table-like relation.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TableInfo {
    /// Schema name.
    pub schema: String,
    /// Table name.
    pub name: String,
    /// `table`, `partitioned_table`, `view`, `materialized_view` or `foreign_table`.
    pub kind: String,
    /// PostgreSQL's estimate of the row count (from the last `ANALYZE` or vacuum); `null`
    /// when the table was never analyzed, and for views.
    pub row_estimate: Option<i64>,
    /// Whether the connected role may `SELECT` from it.
    pub can_select: bool,
    /// The table's comment, if any.
    pub comment: Option<String>,
}

/// Result of `describe_table`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TableDescription {
    /// Schema name.
    pub schema: String,
    /// Table name.
    pub name: String,
    /// `table`, `partitioned_table`, `view`, `materialized_view` or `foreign_table`.
    pub kind: String,
    /// Estimated row count; `null` when never analyzed, and for views.
    pub row_estimate: Option<i64>,
    /// The table's comment, if any.
    pub comment: Option<String>,
    /// Columns in table order.
    pub columns: Vec<ColumnInfo>,
    /// The primary key, if the table has one.
    pub primary_key: Option<KeyInfo>,
    /// Unique constraints other than the primary key.
    pub unique_keys: Vec<KeyInfo>,
    /// Foreign keys from this table to others.
    pub foreign_keys: Vec<ForeignKeyInfo>,
}

/// One column of a table.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ColumnInfo {
    /// Column name.
    pub name: String,
    /// SQL type as PostgreSQL prints it (`integer`, `character varying(80)`, `text[]`…).
    #[serde(rename = "type")]
    pub data_type: String,
    /// Whether the column accepts NULL.
    pub nullable: bool,
    /// Default expression, if any (e.g. `nextval('t_id_seq'::regclass)`).
    pub default: Option<String>,
    /// The column's comment, if any.
    pub comment: Option<String>,
}

/// A primary key or unique constraint.
#[derive(Debug, Serialize, JsonSchema)]
pub struct KeyInfo {
    /// Constraint name.
    pub name: String,
    /// Its columns, in key order.
    pub columns: Vec<String>,
}

/// A foreign key.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ForeignKeyInfo {
    /// Constraint name.
    pub name: String,
    /// The referencing columns of this table, in key order.
    pub columns: Vec<String>,
    /// Schema of the referenced table.
    pub references_schema: String,
    /// The referenced table.
    pub references_table: String,
    /// The referenced columns, matching `columns` one to one.
    pub references_columns: Vec<String>,
    /// `no action`, `restrict`, `cascade`, `set null` or `set default`.
    pub on_update: String,
    /// `no action`, `restrict`, `cascade`, `set null` or `set default`.
    pub on_delete: String,
}

/// Result of `run_query`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct QueryResult {
    /// Result columns, in order.
    pub columns: Vec<ResultColumn>,
    /// Rows, each an array with one value per column: numbers for integer and float
    /// columns (NaN and infinities as strings), strings for everything else — `numeric`
    /// exactly as stored, JSON as its text, dates and times in ISO 8601 (`timestamptz` in
    /// UTC), `bytea` as `\x…` hex — nested arrays for arrays, `null` for NULL.
    pub rows: Vec<Vec<Value>>,
    /// Number of rows returned (after truncation).
    pub row_count: usize,
    /// Whether the query produced more than is returned here.
    pub truncated: bool,
    /// Why the result was cut: `row_limit` (more rows than `max_rows`) or `byte_limit`
    /// (more than the size limit of a result). `null` when not truncated.
    pub truncated_reason: Option<TruncatedReason>,
    /// Milliseconds the query took, from sending it to the last row read.
    pub elapsed_ms: u64,
    /// Things to know about this result, in plain sentences (truncation, values that
    /// cannot be shown).
    pub notes: Vec<String>,
}

/// A result column.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ResultColumn {
    /// Column name (or `?column?` for unnamed expressions).
    pub name: String,
    /// PostgreSQL type name (`int4`, `text`, `timestamptz`, `int4[]`…).
    #[serde(rename = "type")]
    pub data_type: String,
}

/// Why a query result was cut short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TruncatedReason {
    /// More rows than `max_rows`.
    RowLimit,
    /// More data than a result may hold.
    ByteLimit,
}
