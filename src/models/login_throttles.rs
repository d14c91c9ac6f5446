//! Failed sign-ins per throttled subject (`login_throttle`), counted by single statements so
//! processes sharing the database never lose a failure to a race.

use super::entities::login_throttle;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{CaseStatement, Expr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, ExprTrait, QueryFilter,
};

/// The subject's row, if it has one.
pub async fn find(
    db: &impl ConnectionTrait,
    subject_hash: &str,
) -> Result<Option<login_throttle::Model>, DbErr> {
    login_throttle::Entity::find()
        .filter(login_throttle::Column::SubjectHash.eq(subject_hash))
        .one(db)
        .await
}

/// Counts one failure at `now`: the count starts again at 1 when the window that began at
/// `window_started_at` ended before `fresh_after`. Returns the row after the update.
pub async fn count_failure(
    db: &impl ConnectionTrait,
    subject_hash: &str,
    now: DateTime<Utc>,
    fresh_after: DateTime<Utc>,
) -> Result<login_throttle::Model, DbErr> {
    let new_row = login_throttle::ActiveModel {
        subject_hash: Set(subject_hash.to_owned()),
        failures: Set(0),
        window_started_at: Set(now),
        locked_until: Set(None),
        ..Default::default()
    };
    login_throttle::Entity::insert(new_row)
        .on_conflict_do_nothing_on([login_throttle::Column::SubjectHash])
        .exec_without_returning(db)
        .await?;
    let stale = || login_throttle::Column::WindowStartedAt.lte(fresh_after);
    let failures = CaseStatement::new()
        .case(stale(), Expr::val(1))
        .finally(Expr::col(login_throttle::Column::Failures).add(1));
    let started = CaseStatement::new()
        .case(stale(), Expr::val(now))
        .finally(Expr::col(login_throttle::Column::WindowStartedAt));
    let rows = login_throttle::Entity::update_many()
        .col_expr(login_throttle::Column::Failures, failures.into())
        .col_expr(login_throttle::Column::WindowStartedAt, started.into())
        .filter(login_throttle::Column::SubjectHash.eq(subject_hash))
        .exec_with_returning(db)
        .await?;
    rows.into_iter()
        .next()
        .ok_or_else(|| DbErr::RecordNotFound("login_throttle row vanished".into()))
}

/// Locks the subject until `until` and starts its count again.
pub async fn lock(
    db: &impl ConnectionTrait,
    subject_hash: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<(), DbErr> {
    login_throttle::Entity::update_many()
        .col_expr(login_throttle::Column::LockedUntil, Expr::value(until))
        .col_expr(login_throttle::Column::Failures, Expr::value(0))
        .col_expr(login_throttle::Column::WindowStartedAt, Expr::value(now))
        .filter(login_throttle::Column::SubjectHash.eq(subject_hash))
        .exec(db)
        .await?;
    Ok(())
}

/// Forgets the subject's failures (after a successful sign-in).
pub async fn clear(db: &impl ConnectionTrait, subject_hash: &str) -> Result<(), DbErr> {
    login_throttle::Entity::delete_many()
        .filter(login_throttle::Column::SubjectHash.eq(subject_hash))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes rows that say nothing any more: no lock after `now` and a window that began
/// before `fresh_after`.
pub async fn delete_stale(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    fresh_after: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let res = login_throttle::Entity::delete_many()
        .filter(login_throttle::Column::WindowStartedAt.lte(fresh_after))
        .filter(
            login_throttle::Column::LockedUntil
                .is_null()
                .or(login_throttle::Column::LockedUntil.lte(now)),
        )
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}
