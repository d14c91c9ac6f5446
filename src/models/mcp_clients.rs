//! MCP clients (`mcp_client`): assistants that registered themselves (DCR) or whose
//! metadata document the app fetched (CIMD), found by their OAuth `client_id`.

use super::entities::mcp_client;
use super::status::McpClientKind;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter,
};

/// A client to store.
pub struct NewMcpClient {
    pub client_id: String,
    pub kind: McpClientKind,
    pub name: String,
    /// JSON array of redirect URIs.
    pub redirect_uris: String,
    /// The metadata as JSON.
    pub metadata: String,
    pub fetched_at: Option<DateTime<Utc>>,
}

fn active(new: NewMcpClient) -> mcp_client::ActiveModel {
    mcp_client::ActiveModel {
        client_id: Set(new.client_id),
        kind: Set(new.kind),
        name: Set(new.name),
        redirect_uris: Set(new.redirect_uris),
        metadata: Set(new.metadata),
        fetched_at: Set(new.fetched_at),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
}

/// Stores a newly registered client (its `client_id` is fresh and random).
pub async fn insert(
    db: &impl ConnectionTrait,
    new: NewMcpClient,
) -> Result<mcp_client::Model, DbErr> {
    active(new).insert(db).await
}

/// Stores a fetched metadata document, replacing the cached copy of the same `client_id`
/// (two requests fetching it at once both succeed; the later write wins).
pub async fn upsert_fetched(
    db: &impl ConnectionTrait,
    new: NewMcpClient,
) -> Result<mcp_client::Model, DbErr> {
    let client_id = new.client_id.clone();
    mcp_client::Entity::insert(active(new))
        .on_conflict(
            OnConflict::column(mcp_client::Column::ClientId)
                .update_columns([
                    mcp_client::Column::Kind,
                    mcp_client::Column::Name,
                    mcp_client::Column::RedirectUris,
                    mcp_client::Column::Metadata,
                    mcp_client::Column::FetchedAt,
                ])
                .to_owned(),
        )
        .exec(db)
        .await?;
    find_by_client_id(db, &client_id)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("mcp_client {client_id}")))
}

/// The client with OAuth id `client_id`.
pub async fn find_by_client_id(
    db: &impl ConnectionTrait,
    client_id: &str,
) -> Result<Option<mcp_client::Model>, DbErr> {
    mcp_client::Entity::find()
        .filter(mcp_client::Column::ClientId.eq(client_id))
        .one(db)
        .await
}

/// The client with row id `id`.
pub async fn find(db: &impl ConnectionTrait, id: i64) -> Result<Option<mcp_client::Model>, DbErr> {
    mcp_client::Entity::find_by_id(id).one(db).await
}

/// The clients with these row ids (in no particular order).
pub async fn find_many(
    db: &impl ConnectionTrait,
    ids: Vec<i64>,
) -> Result<Vec<mcp_client::Model>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    mcp_client::Entity::find()
        .filter(mcp_client::Column::Id.is_in(ids))
        .all(db)
        .await
}
