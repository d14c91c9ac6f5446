//! Tests of `files.rs`: ids.

use super::*;

#[test]
fn ids_round_trip_and_bare_numbers_are_files() {
    for node in [
        Node::Courses,
        Node::Course(101),
        Node::Folder(7),
        Node::Pages(101),
        Node::Page {
            course: 101,
            page: 55,
        },
        Node::File(2001),
    ] {
        assert_eq!(Node::parse("f", &node.to_id()).ok(), Some(node));
    }
    assert_eq!(Node::parse("f", "2001").ok(), Some(Node::File(2001)));
    assert_eq!(Node::parse("f", "").ok(), Some(Node::Courses));
}

#[test]
fn ids_that_are_not_ours_are_refused_naming_the_field() {
    for raw in [
        "course:",
        "course:0",
        "course:-1",
        "course:1/../2",
        "folder:1?x",
        "page:1",
        "page:1:x",
        "drive:1",
        "file:+1",
        "course: 1",
        "99999999999999999999999",
    ] {
        let error = Node::parse("folder_id", raw).expect_err(raw);
        assert!(
            matches!(&error, ConnectorError::InvalidInput { field: Some(f), .. } if f == "folder_id"),
            "{raw}: {error:?}"
        );
    }
}
