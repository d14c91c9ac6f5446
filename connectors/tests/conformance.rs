//! Conformance: every connector registered through `inventory` builds into a registry and
//! meets the rules the catalog, the connect pages and the agents rely on.
//!
//! The expected connectors come from the folders on disk (every `connectors/<folder>/mod.rs`
//! this build compiled, see `build.rs`), so a silently empty `inventory`, a forgotten
//! `inventory::submit!` or a folder whose slug does not match its name fails here, and no
//! hand-kept list can drift.

use std::path::{Path, PathBuf};

use campuscore_connectors::{API_BASE_URL_PLACEHOLDER, Connector, ConnectorKind, Registry, Tag};

/// Folders of `connectors/` that hold framework code, not connectors.
const NOT_CONNECTORS: &[&str] = &["sdk", "macros", "tests", "target"];

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every connector folder on disk (one with a `mod.rs`), sorted.
fn connector_folders() -> Vec<String> {
    let mut folders: Vec<String> = std::fs::read_dir(crate_dir())
        .expect("the connectors directory is readable")
        .filter_map(Result::ok)
        .filter(|entry| entry.path().join("mod.rs").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.') && !NOT_CONNECTORS.contains(&name.as_str()))
        .collect();
    folders.sort();
    folders
}

/// The folders this build compiled (each behind its own Cargo feature).
fn compiled_folders() -> Vec<&'static str> {
    env!("CAMPUSCORE_COMPILED_CONNECTORS")
        .split(',')
        .filter(|name| !name.is_empty())
        .collect()
}

/// The slug a connector folder must register: its name in kebab-case.
fn slug_of(folder: &str) -> String {
    folder.replace('_', "-")
}

/// Every connector this build must register, sorted.
fn expected_slugs() -> Vec<String> {
    let compiled = compiled_folders();
    let mut slugs: Vec<String> = connector_folders()
        .iter()
        .filter(|folder| compiled.contains(&folder.as_str()))
        .map(|folder| slug_of(folder))
        .collect();
    slugs.sort();
    slugs
}

fn registry() -> Registry {
    Registry::from_inventory()
        .unwrap_or_else(|error| panic!("the connector registry is invalid: {error}"))
}

/// Runs `check` on every connector, collecting every failure before failing.
fn each_connector(check: impl Fn(&dyn Connector, &mut Vec<String>)) {
    let mut failures = Vec::new();
    for connector in registry().iter() {
        check(connector.as_ref(), &mut failures);
    }
    assert!(
        failures.is_empty(),
        "conformance failures:\n{}",
        failures.join("\n")
    );
}

#[test]
fn registry_builds_from_inventory_with_exactly_the_connectors_on_disk() {
    let registry = registry();
    let expected = expected_slugs();
    assert!(
        !expected.is_empty(),
        "no connector folder was compiled: {:?}",
        connector_folders()
    );
    assert_eq!(registry.slugs().collect::<Vec<_>>(), expected);
    assert_eq!(registry.len(), expected.len());
}

/// The file sources' slugs (what a browse's one-statement rate-limit hit is conditioned on)
/// name every connector with a file source and no other, sorted.
#[test]
fn the_file_slugs_are_the_connectors_with_a_file_source() {
    let registry = registry();
    let with_files: Vec<&str> = registry
        .iter()
        .filter(|c| c.files().is_some())
        .map(|c| c.spec().slug)
        .collect();
    assert!(with_files.contains(&"google-drive"), "{with_files:?}");
    assert!(!with_files.contains(&"postgres"), "{with_files:?}");
    assert_eq!(registry.file_slugs(), with_files);
}

#[test]
fn every_connector_folder_is_in_the_default_or_the_testing_features() {
    // `cargo test` turns on the defaults and `testing`: a folder in neither is a connector
    // nobody builds or tests.
    let manifest = std::fs::read_to_string(crate_dir().join("Cargo.toml")).expect("readable");
    let listed = |feature: &str| -> Vec<String> {
        let line = manifest
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{feature} =")))
            .unwrap_or_else(|| panic!("Cargo.toml has no `{feature}` feature"));
        line.split('"')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    };
    let (default, testing) = (listed("default"), listed("testing"));
    let missing: Vec<String> = connector_folders()
        .into_iter()
        .filter(|f| !default.contains(f) && !testing.contains(f))
        .collect();
    assert!(
        missing.is_empty(),
        "not in `default` or `testing`: {missing:?}"
    );
}

#[test]
fn every_connector_icon_is_the_svg_file_in_its_folder() {
    each_connector(|connector, failures| {
        let spec = connector.spec();
        let file: PathBuf = crate_dir()
            .join(spec.slug.replace('-', "_"))
            .join("icon.svg");
        match std::fs::read_to_string(&file) {
            Ok(svg) if svg == spec.icon => {}
            Ok(_) => failures.push(format!(
                "{}: `icon` is not the content of {}",
                spec.slug,
                display(&file)
            )),
            Err(error) => failures.push(format!("{}: {}: {error}", spec.slug, display(&file))),
        }
    });
}

fn display(path: &Path) -> String {
    path.strip_prefix(crate_dir())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn every_connector_has_a_name_description_icon_and_version() {
    each_connector(|connector, failures| {
        let spec = connector.spec();
        for (what, value) in [
            ("name", spec.name),
            ("description", spec.description),
            ("icon", spec.icon),
            ("version", spec.version),
        ] {
            if value.trim().is_empty() {
                failures.push(format!("{}: empty {what}", spec.slug));
            }
        }
    });
}

/// Whether a declared URL is one, once `{API_BASE_URL}` (for endpoints on each
/// institution's own host) stands for an instance.
fn is_url(declared: &str) -> bool {
    let resolved = declared.replace(API_BASE_URL_PLACEHOLDER, "https://instance.example.edu");
    url::Url::parse(&resolved).is_ok()
}

#[test]
fn every_connector_can_be_connected() {
    each_connector(|connector, failures| {
        let spec = connector.spec();
        match (spec.kind, &spec.oauth) {
            (ConnectorKind::OAuth2, Some(oauth)) => {
                for (what, url) in [("auth_url", oauth.auth_url), ("token_url", oauth.token_url)] {
                    if !is_url(url) {
                        failures.push(format!("{}: OAuth {what} `{url}` is not a URL", spec.slug));
                    }
                }
                if let Some(revoke) = oauth.revoke_url.filter(|u| !is_url(u)) {
                    failures.push(format!(
                        "{}: OAuth revoke_url `{revoke}` is not a URL",
                        spec.slug
                    ));
                }
            }
            (ConnectorKind::OAuth2, None) => {
                failures.push(format!("{}: OAuth without descriptor", spec.slug))
            }
            (ConnectorKind::Manual, _) => {
                if !spec.form.iter().any(|field| field.required) {
                    failures.push(format!(
                        "{}: manual form without a required field",
                        spec.slug
                    ));
                }
            }
        }
        for field in spec.form {
            if field.label.trim().is_empty() {
                failures.push(format!(
                    "{}: form field `{}` has no label",
                    spec.slug, field.name
                ));
            }
        }
        for key in spec.config_keys {
            if let Some(default) = key.default.filter(|_| key.key.ends_with("_URL"))
                && !is_url(default)
            {
                failures.push(format!(
                    "{}: default of `{}` is not a URL",
                    spec.slug, key.key
                ));
            }
        }
    });
}

#[test]
fn every_action_is_described_tagged_and_has_schemas() {
    each_connector(|connector, failures| {
        let slug = connector.spec().slug;
        if connector.actions().is_empty() {
            failures.push(format!("{slug}: no actions"));
        }
        for action in connector.actions() {
            let at = format!("{slug}.{}", action.name);
            if action.description.trim().is_empty() {
                failures.push(format!("{at}: empty description"));
            }
            if action.tags.is_empty() {
                failures.push(format!("{at}: no tags"));
            }
            if action.input_schema.get("type") != Some(&"object".into()) {
                failures.push(format!(
                    "{at}: input schema is not an object schema: {}",
                    action.input_schema
                ));
            }
            if action
                .output_schema
                .as_object()
                .is_none_or(|schema| schema.is_empty())
            {
                failures.push(format!("{at}: empty output schema"));
            }
            if action.has_tag(Tag::Destructive) && !action.has_tag(Tag::Write) {
                failures.push(format!(
                    "{at}: destructive actions must also be tagged write"
                ));
            }
            if action.has_tag(Tag::FileDownload) && !action.downloads {
                failures.push(format!(
                    "{at}: file_download actions must be marked `download` (they stream bytes)"
                ));
            }
        }
    });
}

#[test]
fn action_descriptors_serialize_for_the_catalog() {
    each_connector(|connector, failures| {
        for action in connector.actions() {
            match serde_json::to_value(action) {
                Ok(json) if json["name"] == action.name && json["tags"].is_array() => {}
                other => failures.push(format!(
                    "{}.{}: bad JSON {other:?}",
                    connector.spec().slug,
                    action.name
                )),
            }
        }
    });
}
