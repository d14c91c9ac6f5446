//! Paths the app links to, built in one place (the reverse of `urls.rs`), so a route's
//! shape is spelled once for Rust code and the data templates render. A leaf module: every
//! layer may use it.

/// Where a connector's icon is served (from the registry, see `views::icons`).
pub fn connector_icon(slug: &str) -> String {
    format!("/static/connectors/{slug}.svg")
}
