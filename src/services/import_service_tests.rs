//! Tests of `import_service.rs`.

use super::*;

#[test]
fn picks_survive_the_form_and_junk_does_not_decode() {
    let pick = Pick {
        id: "1AbC".into(),
        name: "Lecture 1 “intro”.pdf".into(),
        revision: Some("42".into()),
        size: Some(1234),
        mime_type: Some("application/pdf".into()),
    };
    assert_eq!(Pick::decode(&pick.encode()), Some(pick));
    assert_eq!(Pick::decode("not base64!"), None);
    assert_eq!(
        Pick::decode(&URL_SAFE_NO_PAD.encode(b"{\"i\":\"\",\"n\":\"x\"}")),
        None
    );
}

#[test]
fn the_same_revision_has_the_same_key_and_another_revision_does_not() {
    let a = Pick {
        id: "f".into(),
        name: "a".into(),
        revision: Some("1".into()),
        size: None,
        mime_type: None,
    };
    let renamed = Pick {
        name: "b".into(),
        ..a.clone()
    };
    let newer = Pick {
        revision: Some("2".into()),
        ..a.clone()
    };
    assert_eq!(idempotency_key(1, 2, &a), idempotency_key(1, 2, &renamed));
    assert_ne!(idempotency_key(1, 2, &a), idempotency_key(1, 2, &newer));
    assert_ne!(idempotency_key(1, 2, &a), idempotency_key(3, 2, &a));
}
