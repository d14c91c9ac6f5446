//! Keyset paging with SeaORM cursors, for every list that pages (the admin lists): a window
//! of rows next to a key, never `OFFSET`, so a deep page costs what the first one does.
//!
//! The URL names the key of the row a page continues from: `before=K` shows the rows whose
//! key is below `K`, `after=K` those above, whichever way the list is sorted.

use crate::error::{AppError, AppResult};
use sea_orm::sea_query::IntoValueTuple;
use sea_orm::{ConnectionTrait, EntityTrait, IntoIdentity, Select};
use std::str::FromStr;

/// The order a list shows its key in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Smallest key first (names A to Z).
    Ascending,
    /// Largest key first (newest first).
    Descending,
}

impl Order {
    /// The URL parameters of the next and of the previous page.
    pub fn params(self) -> (&'static str, &'static str) {
        match self {
            Self::Ascending => ("after", "before"),
            Self::Descending => ("before", "after"),
        }
    }
}

/// Where a page starts, from the URL's `before` / `after`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keyset<K> {
    /// Show rows whose key is below this one.
    pub below: Option<K>,
    /// Show rows whose key is above this one.
    pub above: Option<K>,
}

impl<K: FromStr> Keyset<K> {
    /// Reads the URL parameters; a key that does not parse is a 400.
    pub fn parse(before: Option<&str>, after: Option<&str>) -> AppResult<Self> {
        let read = |value: Option<&str>| {
            value
                .map(|v| {
                    v.parse::<K>()
                        .map_err(|_| AppError::BadRequest("The page cursor is not valid.".into()))
                })
                .transpose()
        };
        Ok(Self {
            below: read(before)?,
            above: read(after)?,
        })
    }
}

/// One page of rows, in display order, and whether pages lie before and after it.
#[derive(Debug)]
pub struct Window<M> {
    /// The rows, in the list's order.
    pub rows: Vec<M>,
    /// Whether there is a previous page.
    pub has_prev: bool,
    /// Whether there is a next page.
    pub has_next: bool,
}

impl<M> Window<M> {
    /// No rows (a filter that can match nothing).
    pub fn empty() -> Self {
        Self {
            rows: Vec::new(),
            has_prev: false,
            has_next: false,
        }
    }
}

/// The page of `select` that `keyset` asks for, `limit` rows at most, sorted by `key`
/// (a unique column, or a tuple ending in one) in `order`.
pub async fn window<E, C, K, D>(
    db: &D,
    select: Select<E>,
    key: C,
    order: Order,
    keyset: &Keyset<K>,
    limit: u64,
) -> AppResult<Window<E::Model>>
where
    E: EntityTrait,
    E::Model: Send + Sync,
    C: IntoIdentity,
    K: IntoValueTuple + Clone,
    D: ConnectionTrait,
{
    let mut cursor = select.cursor_by(key);
    if order == Order::Descending {
        cursor.desc();
    }
    // In display order: the key a next page continues after, and the key a previous page
    // ends before.
    let (continue_after, end_before) = match order {
        Order::Ascending => (&keyset.above, &keyset.below),
        Order::Descending => (&keyset.below, &keyset.above),
    };
    if continue_after.is_none()
        && let Some(key) = end_before
    {
        let mut rows = cursor.before(key.clone()).last(limit + 1).all(db).await?;
        let more = rows.len() as u64 > limit;
        if more {
            rows.remove(0);
        }
        return Ok(Window {
            rows,
            has_prev: more,
            has_next: true,
        });
    }
    if let Some(key) = continue_after {
        cursor.after(key.clone());
    }
    let mut rows = cursor.first(limit + 1).all(db).await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    Ok(Window {
        rows,
        has_prev: continue_after.is_some(),
        has_next: more,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::entities::user;
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, QueryFilter};

    /// A migrated SQLite database with users `u01@x.edu` … `u07@x.edu` (ids 1 to 7).
    async fn seven_users(dir: &std::path::Path) -> sea_orm::DatabaseConnection {
        let url = format!("sqlite://{}/k.db?mode=rwc", dir.display());
        let db = crate::db::connect(&url).await.expect("connect");
        crate::db::migrate(&db).await.expect("migrate");
        for n in 1..=7 {
            let now = chrono::Utc::now();
            user::ActiveModel {
                email: Set(format!("u{n:02}@x.edu")),
                display_name: Set(String::new()),
                password_hash: Set("-".into()),
                is_admin: Set(false),
                is_active: Set(n != 4),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(&db)
            .await
            .expect("insert");
        }
        db
    }

    fn ids(window: &Window<user::Model>) -> Vec<i64> {
        window.rows.iter().map(|u| u.id).collect()
    }

    #[tokio::test]
    async fn windows_page_both_ways_in_either_order_without_gaps() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = seven_users(dir.path()).await;
        let all = || user::Entity::find().filter(user::Column::IsActive.eq(true));
        let page = |keyset: Keyset<i64>, order| {
            let db = db.clone();
            async move {
                window(&db, all(), user::Column::Id, order, &keyset, 2)
                    .await
                    .expect("window")
            }
        };
        let at = |before: Option<i64>, after: Option<i64>| Keyset {
            below: before,
            above: after,
        };

        // Newest first: 7 6 | 5 3 | 2 1 (4 is filtered out).
        let first = page(at(None, None), Order::Descending).await;
        assert_eq!(
            (ids(&first), first.has_prev, first.has_next),
            (vec![7, 6], false, true)
        );
        let second = page(at(Some(6), None), Order::Descending).await;
        assert_eq!(
            (ids(&second), second.has_prev, second.has_next),
            (vec![5, 3], true, true)
        );
        let last = page(at(Some(3), None), Order::Descending).await;
        assert_eq!(
            (ids(&last), last.has_prev, last.has_next),
            (vec![2, 1], true, false)
        );
        let back = page(at(None, Some(2)), Order::Descending).await;
        assert_eq!(
            (ids(&back), back.has_prev, back.has_next),
            (vec![5, 3], true, true)
        );
        let back_to_start = page(at(None, Some(5)), Order::Descending).await;
        assert_eq!(
            (ids(&back_to_start), back_to_start.has_prev),
            (vec![7, 6], false)
        );

        // Oldest first: 1 2 | 3 5 | 6 7.
        let next = page(at(None, Some(2)), Order::Ascending).await;
        assert_eq!(
            (ids(&next), next.has_prev, next.has_next),
            (vec![3, 5], true, true)
        );
        let prev = page(at(Some(3), None), Order::Ascending).await;
        assert_eq!(
            (ids(&prev), prev.has_prev, prev.has_next),
            (vec![1, 2], false, true)
        );
    }

    #[test]
    fn a_cursor_that_does_not_parse_is_a_bad_request() {
        assert!(matches!(
            Keyset::<i64>::parse(Some("garbage"), None),
            Err(AppError::BadRequest(_))
        ));
        let keyset = Keyset::<i64>::parse(None, Some("12")).expect("parses");
        assert_eq!((keyset.below, keyset.above), (None, Some(12)));
    }
}
