//! Rate-limit hits as rows of their own. The `rate_limit` row of a user and limit keeps a
//! counter (`next_seq`, the number of hits ever recorded since the row was made) and each hit
//! is a `rate_limit_hit` row numbered by it, so a check reads and writes a few rows whatever
//! the limit, instead of rewriting a comma-separated log of every hit of the last window
//! (which grew to megabytes under a raised limit). Existing logs are carried over hit by hit,
//! so no user gains a fresh budget from the upgrade; `down` writes them back.
use crate::cols;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RateLimit {
    Table,
    Id,
    Hits,
    NextSeq,
}

#[derive(DeriveIden)]
enum RateLimitHit {
    Table,
    Id,
    RateLimitId,
    Seq,
    HitAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RateLimitHit::Table)
                    .col(cols::id(RateLimitHit::Id))
                    .col(cols::fk(RateLimitHit::RateLimitId))
                    .col(ColumnDef::new(RateLimitHit::Seq).big_integer().not_null())
                    .col(ColumnDef::new(RateLimitHit::HitAt).big_integer().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(RateLimitHit::Table, RateLimitHit::RateLimitId)
                            .to(RateLimit::Table, RateLimit::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_rate_limit_hit_seq")
                    .table(RateLimitHit::Table)
                    .col(RateLimitHit::RateLimitId)
                    .col(RateLimitHit::Seq)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(RateLimit::Table)
                    .add_column(
                        ColumnDef::new(RateLimit::NextSeq)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        carry_logs_over(manager).await?;
        manager
            .alter_table(
                Table::alter()
                    .table(RateLimit::Table)
                    .drop_column(RateLimit::Hits)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(RateLimit::Table)
                    .add_column(
                        ColumnDef::new(RateLimit::Hits)
                            .text()
                            .not_null()
                            .default(""),
                    )
                    .to_owned(),
            )
            .await?;
        write_logs_back(manager).await?;
        manager
            .alter_table(
                Table::alter()
                    .table(RateLimit::Table)
                    .drop_column(RateLimit::NextSeq)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(RateLimitHit::Table).to_owned())
            .await
    }
}

/// Each row's log (`hits`: comma-separated Unix milliseconds) becomes numbered hit rows,
/// oldest first, and `next_seq` their count.
async fn carry_logs_over(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let backend = manager.get_database_backend();
    let select = Query::select()
        .columns([RateLimit::Id, RateLimit::Hits])
        .from(RateLimit::Table)
        .to_owned();
    for row in db.query_all_raw(backend.build(&select)).await? {
        let id: i64 = row.try_get("", "id")?;
        let log: String = row.try_get("", "hits")?;
        let mut hits: Vec<i64> = log.split(',').filter_map(|t| t.parse().ok()).collect();
        hits.sort_unstable();
        for (seq, at) in (0_i64..).zip(&hits) {
            let insert = Query::insert()
                .into_table(RateLimitHit::Table)
                .columns([
                    RateLimitHit::RateLimitId,
                    RateLimitHit::Seq,
                    RateLimitHit::HitAt,
                ])
                .values_panic([id.into(), seq.into(), (*at).into()])
                .to_owned();
            db.execute_raw(backend.build(&insert)).await?;
        }
        let update = Query::update()
            .table(RateLimit::Table)
            .value(RateLimit::NextSeq, hits.len() as i64)
            .and_where(Expr::col(RateLimit::Id).eq(id))
            .to_owned();
        db.execute_raw(backend.build(&update)).await?;
    }
    Ok(())
}

/// The hit rows of each row, oldest first, back into its log.
async fn write_logs_back(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let backend = manager.get_database_backend();
    let select = Query::select()
        .columns([RateLimitHit::RateLimitId, RateLimitHit::HitAt])
        .from(RateLimitHit::Table)
        .order_by(RateLimitHit::RateLimitId, Order::Asc)
        .order_by(RateLimitHit::Seq, Order::Asc)
        .to_owned();
    let mut logs: Vec<(i64, Vec<String>)> = Vec::new();
    for row in db.query_all_raw(backend.build(&select)).await? {
        let id: i64 = row.try_get("", "rate_limit_id")?;
        let at: i64 = row.try_get("", "hit_at")?;
        match logs.last_mut() {
            Some((last, log)) if *last == id => log.push(at.to_string()),
            _ => logs.push((id, vec![at.to_string()])),
        }
    }
    for (id, log) in logs {
        let update = Query::update()
            .table(RateLimit::Table)
            .value(RateLimit::Hits, log.join(","))
            .and_where(Expr::col(RateLimit::Id).eq(id))
            .to_owned();
        db.execute_raw(backend.build(&update)).await?;
    }
    Ok(())
}
