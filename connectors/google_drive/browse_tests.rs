//! Tests of `browse.rs`.

use super::*;

#[test]
fn ids_are_places_or_drive_ids() {
    assert_eq!(Place::parse("root"), Place::MyDrive);
    assert_eq!(Place::parse("drive:0AFx"), Place::SharedDrive("0AFx"));
    assert_eq!(Place::parse("1aB-_c"), Place::Item("1aB-_c"));
    for ok in [
        "root",
        "shared-with-me",
        "shared-drives",
        "drive:0AFx",
        "1aB-_c",
    ] {
        assert!(is_valid_id(ok), "{ok}");
    }
    for bad in ["", "drive:", "a'b", "a/b", "a b", "drive:x'y"] {
        assert!(!is_valid_id(bad), "{bad}");
    }
    assert!(!is_valid_id(&"a".repeat(MAX_ID_LEN + 1)));
}

#[test]
fn native_files_have_no_size_or_checksum_and_their_version_as_revision() {
    let file = wire::File {
        id: "d1".into(),
        name: "Essay".into(),
        mime_type: "application/vnd.google-apps.document".into(),
        size: Some(1024),
        md5_checksum: Some("abc".into()),
        version: Some("42".into()),
        ..wire::File::default()
    };
    let entry = entry_from(file.clone(), ExportMode::Pdf);
    assert_eq!((entry.file.size, entry.file.checksum), (None, None));
    assert_eq!(entry.file.revision.as_deref(), Some("42"));
    assert_eq!(entry.file.kind, FileKind::File);
    assert!(entry.file.can_download);
    assert_eq!(
        entry.export_formats[..2],
        ["pdf".to_owned(), "docx".to_owned()]
    );
    assert_eq!(entry.icon, "document");
    let office = entry_from(file, ExportMode::Office);
    assert_eq!(office.export_formats[0], "docx");
}

#[test]
fn uploaded_files_have_a_checksum_and_their_head_revision_as_revision() {
    let file = wire::File {
        id: "b1".into(),
        name: "Scan.PDF".into(),
        mime_type: "application/pdf".into(),
        size: Some(2048),
        md5_checksum: Some("5D41402ABC4B2A76B9719D911017C592".into()),
        head_revision_id: Some("0B7rev".into()),
        version: Some("9".into()),
        ..wire::File::default()
    };
    let entry = entry_from(file.clone(), ExportMode::Office).file;
    assert_eq!(entry.size, Some(2048));
    assert_eq!(
        entry.checksum.as_ref().map(Checksum::as_str),
        Some("md5:5d41402abc4b2a76b9719d911017c592")
    );
    assert_eq!(entry.revision.as_deref(), Some("0B7rev"));
    let without_head = wire::File {
        head_revision_id: None,
        ..file
    };
    let entry = entry_from(without_head.clone(), ExportMode::Office).file;
    let with_sha256 = wire::File {
        sha256_checksum: Some(
            "2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824".into(),
        ),
        ..without_head
    };
    assert_eq!(
        entry_from(with_sha256, ExportMode::Office)
            .file
            .checksum
            .as_ref()
            .map(Checksum::as_str),
        Some("sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"),
        "SHA-256 is preferred when Drive has it"
    );
    assert_eq!(
        entry.revision.as_deref(),
        Some("9"),
        "falls back to version"
    );
}

#[test]
fn shortcuts_are_the_kind_of_their_target_and_forms_cannot_be_downloaded() {
    let shortcut = |target_mime: &str| {
        entry_from(
            wire::File {
                id: "s1".into(),
                name: "Shortcut".into(),
                mime_type: "application/vnd.google-apps.shortcut".into(),
                version: Some("3".into()),
                shortcut_details: Some(wire::ShortcutDetails {
                    target_id: Some("t9".into()),
                    target_mime_type: Some(target_mime.into()),
                }),
                ..wire::File::default()
            },
            ExportMode::Office,
        )
    };
    let to_folder = shortcut(FOLDER);
    assert_eq!(to_folder.file.kind, FileKind::Folder);
    assert_eq!(to_folder.icon, "shortcut");
    assert!(!to_folder.file.can_download);
    assert_eq!(to_folder.file.revision, None);
    assert_eq!(
        to_folder.shortcut_target.map(|t| t.id).as_deref(),
        Some("t9")
    );
    let to_pdf = shortcut("application/pdf");
    assert_eq!(to_pdf.file.kind, FileKind::File);
    assert_eq!(to_pdf.icon, "shortcut");
    assert!(to_pdf.file.can_download);
    assert_eq!(to_pdf.file.revision, None);
    let to_doc = shortcut("application/vnd.google-apps.document");
    assert_eq!(to_doc.file.kind, FileKind::File);
    assert_eq!(to_doc.export_formats[0], "docx");
    let form = entry_from(
        wire::File {
            id: "q1".into(),
            mime_type: "application/vnd.google-apps.form".into(),
            version: Some("5".into()),
            ..wire::File::default()
        },
        ExportMode::Office,
    );
    assert!(!form.file.can_download && form.export_formats.is_empty());
    assert_eq!(form.file.revision, None);
}

#[test]
fn folders_have_no_revision() {
    let folder = entry_from(
        wire::File {
            id: "f1".into(),
            name: "Notes".into(),
            mime_type: FOLDER.into(),
            version: Some("12".into()),
            ..wire::File::default()
        },
        ExportMode::Office,
    );
    assert_eq!(folder.file.kind, FileKind::Folder);
    assert_eq!(
        (folder.file.revision, folder.icon.as_str()),
        (None, "folder")
    );
}

#[test]
fn top_level_places_have_fixed_ids() {
    let ids: Vec<_> = top_level()
        .into_iter()
        .map(|e| (e.file.id, e.file.name))
        .collect();
    assert_eq!(
        ids,
        [
            ("root".to_owned(), "My Drive".to_owned()),
            ("shared-with-me".to_owned(), "Shared with me".to_owned()),
            ("shared-drives".to_owned(), "Shared drives".to_owned())
        ]
    );
    let drive = shared_drive_entry(wire::Drive {
        id: "0AFx".into(),
        name: "Biology 101".into(),
    });
    assert_eq!(drive.file.id, "drive:0AFx");
    assert_eq!(drive.file.kind, FileKind::Folder);
    assert_eq!(drive.file.parent_id.as_deref(), Some(SHARED_DRIVES));
    assert_eq!(drive.drive_id.as_deref(), Some("0AFx"));
}
