//! Schema migrations for campuscore. One migration per file, each with a `down`, so the
//! schema can go up, down and up again on SQLite and PostgreSQL alike.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_create_user;
mod m20261122_000002_create_session;
mod m20261122_000003_create_setup_token;
mod m20261122_000004_create_api_token;
mod m20261122_000005_create_connector;
mod m20261122_000006_create_connector_config;
mod m20261122_000007_create_connection;
mod m20261122_000008_create_connector_audit_log;
mod m20261122_000009_create_knowledge_folder;
mod m20261122_000010_create_source_file;
mod m20261122_000011_create_queue_message;
mod m20261122_000012_create_oauth_state;
mod m20261122_000013_add_connection_refresh_lease_owner;
mod m20261122_000014_create_admin_audit_log;
mod m20261122_000015_index_connector_audit_log;
mod m20261122_000016_create_rate_limit;
mod m20261122_000017_add_source_file_progress;
mod m20261206_000018_add_agent_access;
mod m20261206_000019_create_mcp_oauth;
mod m20261206_000020_create_app_secret;
mod m20261206_000021_rate_limit_hits;
mod m20261206_000022_connector_config_version;
mod m20261206_000023_create_user_identity;
mod m20261206_000026_create_login_throttle;
mod m20261207_000027_rate_limit_one_statement;
mod m20261208_000028_rate_limit_recent_hits;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_user::Migration),
            Box::new(m20261122_000002_create_session::Migration),
            Box::new(m20261122_000003_create_setup_token::Migration),
            Box::new(m20261122_000004_create_api_token::Migration),
            Box::new(m20261122_000005_create_connector::Migration),
            Box::new(m20261122_000006_create_connector_config::Migration),
            Box::new(m20261122_000007_create_connection::Migration),
            Box::new(m20261122_000008_create_connector_audit_log::Migration),
            Box::new(m20261122_000009_create_knowledge_folder::Migration),
            Box::new(m20261122_000010_create_source_file::Migration),
            Box::new(m20261122_000011_create_queue_message::Migration),
            Box::new(m20261122_000012_create_oauth_state::Migration),
            Box::new(m20261122_000013_add_connection_refresh_lease_owner::Migration),
            Box::new(m20261122_000014_create_admin_audit_log::Migration),
            Box::new(m20261122_000015_index_connector_audit_log::Migration),
            Box::new(m20261122_000016_create_rate_limit::Migration),
            Box::new(m20261122_000017_add_source_file_progress::Migration),
            Box::new(m20261206_000018_add_agent_access::Migration),
            Box::new(m20261206_000019_create_mcp_oauth::Migration),
            Box::new(m20261206_000020_create_app_secret::Migration),
            Box::new(m20261206_000021_rate_limit_hits::Migration),
            Box::new(m20261206_000022_connector_config_version::Migration),
            Box::new(m20261206_000023_create_user_identity::Migration),
            Box::new(m20261206_000026_create_login_throttle::Migration),
            Box::new(m20261207_000027_rate_limit_one_statement::Migration),
            Box::new(m20261208_000028_rate_limit_recent_hits::Migration),
        ]
    }
}

/// Column helpers shared by the migrations: every timestamp is stored with its time zone (UTC).
pub(crate) mod cols {
    use sea_orm_migration::prelude::*;
    use sea_orm_migration::schema;

    pub fn id<T: IntoIden>(name: T) -> ColumnDef {
        schema::big_pk_auto(name)
    }
    pub fn fk<T: IntoIden>(name: T) -> ColumnDef {
        schema::big_integer(name)
    }
    pub fn fk_null<T: IntoIden>(name: T) -> ColumnDef {
        schema::big_integer_null(name)
    }
    pub fn ts<T: IntoIden>(name: T) -> ColumnDef {
        schema::timestamp_with_time_zone(name)
    }
    pub fn ts_null<T: IntoIden>(name: T) -> ColumnDef {
        schema::timestamp_with_time_zone_null(name)
    }
}
