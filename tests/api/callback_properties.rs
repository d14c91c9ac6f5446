//! Property test of the OAuth callback's parameters (`code`, `state`, `error`,
//! `error_description`, as any provider or attacker may send them): whatever arrives, the
//! callback ends on `/settings` with a message (or a 400 page for a query it cannot read),
//! never a 5xx, and stores nothing. Cases are drawn from proptest strategies up front (the
//! app runs in this test's runtime, so proptest's runner cannot drive it).

use crate::helpers::spawn_app;
use campuscore::models::entities::connection;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use sea_orm::{EntityTrait, PaginatorTrait};

/// A query value: printable text, raw percent-escapes (including invalid UTF-8), or nothing.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,40}".prop_map(|s| percent_encoding::utf8_percent_encode(
            &s,
            percent_encoding::NON_ALPHANUMERIC
        )
        .to_string()),
        "(%[0-9A-Fa-f]{2}|%|[a-zA-Z0-9+=&;]){0,30}",
        "\\PC{0,20}".prop_map(|s| percent_encoding::utf8_percent_encode(
            &s,
            percent_encoding::NON_ALPHANUMERIC
        )
        .to_string()),
    ]
}

fn query() -> impl Strategy<Value = String> {
    let name = prop::sample::select(vec![
        "code",
        "state",
        "error",
        "error_description",
        "error_uri",
        "iss",
        "code[]",
    ]);
    proptest::collection::vec((name, value()), 0..6).prop_map(|pairs| {
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    })
}

#[tokio::test]
async fn any_callback_parameters_end_on_settings_with_a_message_and_store_nothing() {
    let app = spawn_app().await;
    app.logged_in_user("props@example.test").await;
    let mut runner = TestRunner::deterministic();
    let strategy = query();
    for _ in 0..48 {
        let query = strategy.new_tree(&mut runner).expect("a case").current();
        for slug in ["test-oauth", "google-drive", "no-such-connector"] {
            let res = app
                .get(&format!("/api/connectors/{slug}/callback?{query}"))
                .await;
            let status = res.status().as_u16();
            assert!(
                status == 303 || status == 400 || status == 404,
                "{slug}?{query}: {status}"
            );
            if status == 303 {
                let location = crate::helpers::location(&res);
                assert!(
                    location.starts_with("/settings"),
                    "{slug}?{query}: {location}"
                );
            }
        }
    }
    let page = app.get("/settings").await;
    assert_eq!(page.status(), 200);
    let stored = connection::Entity::find()
        .count(&app.state.db)
        .await
        .expect("count");
    assert_eq!(stored, 0, "no callback stored a connection");
}
