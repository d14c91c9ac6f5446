//! Property tests of the encoded-query builder: whatever a user types, a value accepted as
//! [`Text`] stays one literal — it can never add a condition (`^`), an alternative (`^OR`),
//! a new query (`^NQ`) or a script (`javascript:`) to the query sent to the instance.

use proptest::prelude::*;

use super::query::{Condition, MAX_TEXT, Query, Text};

/// Text a user might type, weighted towards ServiceNow's operators and tricky characters.
fn typed() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,60}",
        "[ a-zA-Z0-9^=!@:;,.\\-\\n\\r\\t\u{0}\u{7f}\u{85}]{0,60}",
        "(\\s*)(javascript|JavaScript|JAVASCRIPT)(:)[a-z().]{0,20}",
        "[a-z ]{0,10}(\\^OR|\\^NQ|\\^)[a-z_]{1,10}(=|!=|LIKE)[a-z0-9]{0,10}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn accepted_text_is_one_literal_and_everything_else_is_refused_by_field(raw in typed()) {
        match Text::parse("query", &raw) {
            Ok(text) => {
                let value = text.as_str();
                prop_assert!(!value.is_empty());
                prop_assert_eq!(value, raw.trim());
                prop_assert!(value.chars().count() <= MAX_TEXT);
                prop_assert!(!value.contains('^'));
                prop_assert!(!value.chars().any(char::is_control));
                prop_assert!(!value.to_ascii_lowercase().starts_with("javascript:"));
            }
            Err(error) => {
                let shown = error.to_string();
                prop_assert!(shown.contains("query"), "{}", shown);
            }
        }
    }

    #[test]
    fn a_query_of_typed_values_has_exactly_the_conditions_the_connector_wrote(
        values in proptest::collection::vec(typed(), 1..5),
        descending in any::<bool>(),
    ) {
        let texts: Vec<Text> = values
            .iter()
            .filter_map(|raw| Text::parse("query", raw).ok())
            .collect();
        let mut query = Query::new().and(Condition::is_me("caller_id"));
        for text in &texts {
            query = query.and_any([
                Condition::like("short_description", text.clone()),
                Condition::like("description", text.clone()),
            ]);
        }
        let encoded = query.order_by("sys_updated_on", descending).encode();
        // One `^` before each group after the first, one `^OR` inside each text group, one
        // before the order: none from the values.
        let separators = encoded.matches('^').count();
        prop_assert_eq!(separators, 2 * texts.len() + 1, "{}", encoded);
        prop_assert_eq!(encoded.matches("^OR").count(), texts.len() + usize::from(encoded.contains("^ORDERBY")));
        // The only script is the connector's own `caller_id=javascript:gs.getUserID()`.
        prop_assert!(
            !encoded.to_ascii_lowercase().contains("likejavascript:"),
            "{}",
            encoded
        );
    }
}
