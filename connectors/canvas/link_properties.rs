//! Property tests of the `Link` header reader Canvas pagination follows: no input panics it,
//! and among any mix of relations it finds exactly the `rel="next"` target.

use proptest::prelude::*;
use reqwest::header::HeaderValue;

use super::api::next_link;

/// A URL target as Canvas writes them (no `<`, `>`, `,` or `;` inside).
fn target() -> impl Strategy<Value = String> {
    "https://campus\\.instructure\\.com/api/v1/courses/[0-9]{1,6}/files\\?page=[0-9a-zA-Z%=&]{1,20}"
}

fn relation() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["current", "prev", "first", "last"])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_header_bytes_are_read_without_panicking(
        values in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 0..3),
    ) {
        let values: Vec<HeaderValue> = values
            .iter()
            .filter_map(|v| HeaderValue::from_bytes(v).ok())
            .collect();
        let _ = next_link(values.iter());
    }

    #[test]
    fn the_next_target_is_found_among_any_other_relations(
        others in proptest::collection::vec((target(), relation()), 0..4),
        next in target(),
        position in any::<prop::sample::Index>(),
        quoted in any::<bool>(),
        upper in any::<bool>(),
        split in any::<bool>(),
    ) {
        let mut parts: Vec<String> = others
            .iter()
            .map(|(url, rel)| format!("<{url}>; rel=\"{rel}\""))
            .collect();
        let rel = if upper { "NEXT" } else { "next" };
        let rel = if quoted { format!("\"{rel}\"") } else { rel.to_owned() };
        parts.insert(position.index(parts.len() + 1), format!("<{next}>; rel={rel}"));
        // One header with every link, or one header per link (both are allowed).
        let values: Vec<HeaderValue> = if split {
            parts.iter().map(|p| HeaderValue::from_str(p).expect("ascii")).collect()
        } else {
            vec![HeaderValue::from_str(&parts.join(", ")).expect("ascii")]
        };
        prop_assert_eq!(next_link(values.iter()), Some(next));
    }

    #[test]
    fn without_a_next_relation_there_is_no_next_page(
        others in proptest::collection::vec((target(), relation()), 0..5),
    ) {
        let header = others
            .iter()
            .map(|(url, rel)| format!("<{url}>; rel=\"{rel}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let value = HeaderValue::from_str(&header).expect("ascii");
        prop_assert_eq!(next_link(std::iter::once(&value)), None);
    }
}
