//! Conformance: every connector registered through `inventory` builds into a registry and
//! meets the rules the catalog, the connect pages and the agents rely on.
//!
//! Adding a connector? Add its slug to `expected_slugs` — the explicit list is what makes a
//! silently empty `inventory` (or a forgotten `inventory::submit!`) fail here.

use campuscore_connectors::{Connector, ConnectorKind, Registry, Tag};

/// Every connector this build must register, sorted.
fn expected_slugs() -> Vec<&'static str> {
    // Add new connectors here, keeping the list sorted.
    let mut slugs: Vec<&'static str> = vec!["google-drive", "onedrive", "postgres", "s3-bucket"];
    if cfg!(feature = "testing") {
        slugs.push("test-echo");
        slugs.push("test-oauth");
    }
    slugs.sort_unstable();
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
fn registry_builds_from_inventory_with_exactly_the_expected_connectors() {
    let registry = registry();
    assert_eq!(registry.slugs().collect::<Vec<_>>(), expected_slugs());
    assert_eq!(registry.len(), expected_slugs().len());
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

#[test]
fn every_connector_can_be_connected() {
    each_connector(|connector, failures| {
        let spec = connector.spec();
        match (spec.kind, &spec.oauth) {
            (ConnectorKind::OAuth2, Some(oauth)) => {
                for (what, url) in [("auth_url", oauth.auth_url), ("token_url", oauth.token_url)] {
                    if url::Url::parse(url).is_err() {
                        failures.push(format!("{}: OAuth {what} `{url}` is not a URL", spec.slug));
                    }
                }
                if let Some(revoke) = oauth.revoke_url.filter(|u| url::Url::parse(u).is_err()) {
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
                && url::Url::parse(default).is_err()
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
