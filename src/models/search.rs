//! Free-text search in queries: a `LIKE` pattern that matches the text literally, compared
//! case-insensitively on SQLite and PostgreSQL alike.

use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, SimpleExpr};

/// `%text%`, lowercased, with `\`, `%` and `_` escaped so the text matches literally.
pub fn like_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '\\' | '%' | '_') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// `LOWER(col) LIKE pattern ESCAPE '\'` — case-insensitive on SQLite and PostgreSQL alike.
pub fn ilike(col: impl sea_orm::sea_query::IntoColumnRef, pattern: &str) -> SimpleExpr {
    Expr::expr(Func::lower(Expr::col(col))).like(LikeExpr::new(pattern).escape('\\'))
}
