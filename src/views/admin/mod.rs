//! `/admin/…`: the built-in admin pages (as Django admin serves the documented system): the
//! dashboard, connectors and their config, connections, the audit log, users, and the trail
//! of admin changes. Every handler takes `_admin: AdminUser`, so anyone else gets a 404 —
//! pages, HTMX fragments and POSTs alike. Every change an admin makes writes an
//! `admin_audit_log` row (`services::admin_audit`).
//!
//! Lists filter with GET query parameters (shareable URLs) and page with keyset cursors.

pub mod audit;
pub mod changes;
pub mod config;
pub mod connections;
pub mod connectors;
pub mod dashboard;
pub mod summary;
pub mod templates;
pub mod users;

use crate::error::AppResult;
use crate::models::keyset::{Order, Window};
use crate::models::users as accounts;
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use templates::Pager;

pub use dashboard::dashboard;

/// Rows per list page.
pub const PAGE_SIZE: u64 = 50;

/// A timestamp as the admin pages show it.
pub fn fmt_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// An optional timestamp, or `never`.
pub fn fmt_opt(t: Option<DateTime<Utc>>) -> String {
    t.map(fmt_time).unwrap_or_else(|| "never".into())
}

/// A trimmed query parameter, `None` when blank.
pub fn param(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

pub use crate::models::search::{ilike, like_pattern};

/// A query string (`?a=1&b=2`) of the non-empty pairs, or `""`.
pub fn query_string(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (k, v) in pairs {
        if !v.is_empty() {
            s.append_pair(k, v);
            any = true;
        }
    }
    if any {
        format!("?{}", s.finish())
    } else {
        String::new()
    }
}

/// The pager of a list window: links to the previous and the next page, each keeping the
/// list's filters (`base` is the list's path, `filters` its non-empty parameters).
pub fn pager<M, K: ToString>(
    window: &Window<M>,
    order: Order,
    key: impl Fn(&M) -> K,
    base: &str,
    filters: &[(&str, &str)],
) -> Pager {
    let (next_param, prev_param) = order.params();
    let link = |param: &str, row: &M| {
        let key = key(row).to_string();
        let mut pairs = filters.to_vec();
        pairs.push((param, &key));
        format!("{base}{}", query_string(&pairs))
    };
    Pager {
        prev: window
            .has_prev
            .then(|| window.rows.first().map(|r| link(prev_param, r)))
            .flatten(),
        next: window
            .has_next
            .then(|| window.rows.last().map(|r| link(next_param, r)))
            .flatten(),
        shown: window.rows.len(),
    }
}

/// How a "user" filter (an id or an email) resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserFilter {
    /// No filter given.
    Any,
    /// This user.
    Id(i64),
    /// Nobody has that email: the list is empty.
    Nobody,
}

/// Resolve a "user" filter: a numeric id, or an email (normalized as at login).
pub async fn user_filter(db: &DatabaseConnection, value: Option<&str>) -> AppResult<UserFilter> {
    let Some(v) = value else {
        return Ok(UserFilter::Any);
    };
    if let Ok(id) = v.parse::<i64>() {
        return Ok(UserFilter::Id(id));
    }
    Ok(match accounts::find_by_email(db, v).await? {
        Some(u) => UserFilter::Id(u.id),
        None => UserFilter::Nobody,
    })
}

/// Emails of the given user ids (one query for a page of rows).
pub async fn emails_of(
    db: &DatabaseConnection,
    ids: impl IntoIterator<Item = i64>,
) -> AppResult<HashMap<i64, String>> {
    let mut ids: Vec<i64> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = accounts::emails_of(db, ids).await?;
    Ok(rows.into_iter().collect())
}

/// Ids of the users whose email or name contains `text` (for free-text search), at most `cap`.
pub async fn users_matching(db: &DatabaseConnection, text: &str, cap: u64) -> AppResult<Vec<i64>> {
    Ok(accounts::ids_matching(db, text, cap).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards_and_lowercase() {
        assert_eq!(like_pattern("A_b%c\\"), "%a\\_b\\%c\\\\%");
    }

    #[test]
    fn query_strings_skip_empty_values_and_encode_the_rest() {
        assert_eq!(query_string(&[("a", ""), ("b", "")]), "");
        assert_eq!(
            query_string(&[("user", "a+b@x.edu"), ("q", ""), ("status", "error")]),
            "?user=a%2Bb%40x.edu&status=error"
        );
    }
}
