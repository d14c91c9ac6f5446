//! Registry tests over hand-made connectors.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::*;
use crate::sdk::action::{ActionDescriptor, ActionOutput, Tag};
use crate::sdk::context::ActionContext;
use crate::sdk::error::ConnectorError;
use crate::sdk::spec::{
    AuthScoping, ConfigKey, ConnectorSpec, FieldKind, FormField, OAuthDescriptor,
};

struct HandMade {
    spec: ConnectorSpec,
    actions: Vec<ActionDescriptor>,
}

#[async_trait]
impl Connector for HandMade {
    fn spec(&self) -> &ConnectorSpec {
        &self.spec
    }

    fn actions(&self) -> &[ActionDescriptor] {
        &self.actions
    }

    async fn execute_action(
        &self,
        name: &str,
        _: &ActionContext,
        _: Value,
    ) -> Result<ActionOutput, ConnectorError> {
        Err(ConnectorError::UnknownAction {
            name: name.to_owned(),
        })
    }
}

const FORM: &[FormField] = &[FormField {
    name: "api_key",
    label: "API key",
    help: "",
    kind: FieldKind::Password,
    required: true,
    default: None,
    placeholder: None,
}];

const OAUTH: OAuthDescriptor = OAuthDescriptor {
    auth_url: "https://a.example.edu/auth",
    token_url: "https://a.example.edu/token",
    revoke_url: None,
    scopes: &[],
    pkce: false,
    extra_auth_params: &[],
    client_auth: crate::ClientAuth::Basic,
    revocation: crate::Revocation::Rfc7009,
};

fn spec(slug: &'static str) -> ConnectorSpec {
    ConnectorSpec {
        slug,
        name: "Hand made",
        description: "A connector built by hand.",
        icon: "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 24 24\"><circle cx=\"12\" cy=\"12\" r=\"9\"/></svg>",
        kind: ConnectorKind::Manual,
        scoping: AuthScoping::UserSupplied,
        version: "1",
        oauth: None,
        form: FORM,
        config_keys: &[],
    }
}

fn action(name: &'static str) -> ActionDescriptor {
    ActionDescriptor {
        name,
        description: "Does a thing.".to_owned(),
        tags: &[Tag::Read],
        input_schema: json!({"type": "object"}),
        output_schema: json!({}),
        downloads: false,
    }
}

fn connector(spec: ConnectorSpec, actions: &[&'static str]) -> Box<dyn Connector> {
    Box::new(HandMade {
        spec,
        actions: actions.iter().map(|name| action(name)).collect(),
    })
}

fn build(connectors: Vec<Box<dyn Connector>>) -> Result<Registry, RegistryError> {
    Registry::from_connectors(connectors)
}

#[test]
fn registry_lists_connectors_sorted_by_slug() {
    let registry = build(vec![
        connector(spec("zeta"), &["a"]),
        connector(spec("alpha-2"), &["b"]),
    ])
    .expect("valid");
    assert_eq!(registry.len(), 2);
    assert_eq!(registry.slugs().collect::<Vec<_>>(), ["alpha-2", "zeta"]);
    let slugs: Vec<_> = registry.iter().map(|c| c.spec().slug).collect();
    assert_eq!(slugs, ["alpha-2", "zeta"]);
    assert!(
        registry
            .get("zeta")
            .is_some_and(|c| c.action("a").is_some() && c.has_tag(Tag::Read))
    );
    assert!(registry.get("missing").is_none());
}

#[test]
fn registry_refuses_duplicate_slugs() {
    let result = build(vec![
        connector(spec("echo"), &[]),
        connector(spec("echo"), &[]),
    ]);
    assert_eq!(
        result.err(),
        Some(RegistryError::DuplicateSlug {
            slug: "echo".into()
        })
    );
}

#[test]
fn registry_refuses_slugs_that_are_not_kebab_case() {
    for slug in [
        "Google-Drive",
        "google_drive",
        "-drive",
        "drive-",
        "google--drive",
        "3d",
        "",
    ] {
        let result = build(vec![connector(spec(slug), &[])]);
        assert_eq!(
            result.err(),
            Some(RegistryError::InvalidSlug { slug: slug.into() }),
            "{slug}"
        );
    }
}

#[test]
fn slug_and_action_name_rules_accept_the_documented_names() {
    for slug in ["google-drive", "onedrive", "s3-bucket", "test-echo"] {
        assert!(is_valid_slug(slug), "{slug}");
    }
    for name in [
        "list_files",
        "download_file",
        "run_query",
        "echo",
        "list_v2",
    ] {
        assert!(is_valid_action_name(name), "{name}");
    }
    for name in ["listFiles", "list-files", "_list", "list__files", "list_"] {
        assert!(!is_valid_action_name(name), "{name}");
    }
}

#[test]
fn registry_refuses_duplicate_action_names() {
    let result = build(vec![connector(spec("echo"), &["echo", "fail", "echo"])]);
    assert_eq!(
        result.err(),
        Some(RegistryError::DuplicateAction {
            slug: "echo".into(),
            action: "echo".into()
        })
    );
}

#[test]
fn registry_refuses_action_names_that_are_not_snake_case() {
    let result = build(vec![connector(spec("echo"), &["listFiles"])]);
    assert_eq!(
        result.err(),
        Some(RegistryError::InvalidActionName {
            slug: "echo".into(),
            action: "listFiles".into()
        })
    );
}

#[test]
fn registry_refuses_oauth_connectors_without_descriptor() {
    let oauth_without = ConnectorSpec {
        kind: ConnectorKind::OAuth2,
        form: &[],
        ..spec("drive")
    };
    let result = build(vec![connector(oauth_without, &[])]);
    assert_eq!(
        result.err(),
        Some(RegistryError::MissingOAuth {
            slug: "drive".into()
        })
    );
    let oauth_with = ConnectorSpec {
        kind: ConnectorKind::OAuth2,
        oauth: Some(OAUTH),
        form: &[],
        ..spec("drive")
    };
    assert!(build(vec![connector(oauth_with, &[])]).is_ok());
}

#[test]
fn registry_refuses_manual_connectors_without_form() {
    let result = build(vec![connector(
        ConnectorSpec {
            form: &[],
            ..spec("db")
        },
        &[],
    )]);
    assert_eq!(
        result.err(),
        Some(RegistryError::EmptyForm { slug: "db".into() })
    );
}

#[test]
fn registry_refuses_duplicate_config_keys_and_form_fields() {
    const KEYS: &[ConfigKey] = &[
        ConfigKey::api_base_url("https://a"),
        ConfigKey::api_base_url("https://b"),
    ];
    let result = build(vec![connector(
        ConnectorSpec {
            config_keys: KEYS,
            ..spec("db")
        },
        &[],
    )]);
    assert!(
        matches!(result, Err(RegistryError::InvalidSpec { reason, .. }) if reason.contains("API_BASE_URL"))
    );
    const TWICE: &[FormField] = &[FORM[0], FORM[0]];
    let form = TWICE;
    let result = build(vec![connector(ConnectorSpec { form, ..spec("db") }, &[])]);
    assert!(
        matches!(result, Err(RegistryError::InvalidSpec { reason, .. }) if reason.contains("api_key"))
    );
}

#[test]
fn registry_refuses_file_browsing_and_downloading_connectors_without_a_file_source() {
    let tagged = |name, tags: &'static [Tag], downloads| ActionDescriptor {
        tags,
        downloads,
        ..action(name)
    };
    let drive_like: Box<dyn Connector> = Box::new(HandMade {
        spec: spec("drive-like"),
        actions: vec![
            tagged("list_files", &[Tag::FileBrowse, Tag::Read], false),
            tagged("download_file", &[Tag::FileDownload], true),
        ],
    });
    let result = build(vec![drive_like]);
    assert!(
        matches!(&result, Err(RegistryError::InvalidSpec { reason, .. }) if reason.contains("FileSource")),
        "{:?}",
        result.err()
    );
}

#[test]
fn registry_refuses_icons_that_are_not_plain_svg() {
    let refused = [
        "beaker",
        "<svg viewBox=\"0 0 1 1\"><script>alert(1)</script></svg>",
        "<svg viewBox=\"0 0 1 1\" onload=\"alert(1)\"></svg>",
        "<svg viewBox=\"0 0 1 1\"\n\tonload = \"alert(1)\"></svg>",
        "<svg viewBox=\"0 0 1 1\"/onclick=\"alert(1)\"></svg>",
        "<svg viewBox=\"0 0 1 1\"><image href=\"https://tracker.example/p.png\"/></svg>",
        "<svg viewBox=\"0 0 1 1\"><a href=\"javascript:alert(1)\"><path d=\"M0 0\"/></a></svg>",
    ];
    for icon in refused {
        let result = build(vec![connector(ConnectorSpec { icon, ..spec("db") }, &[])]);
        assert!(
            matches!(&result, Err(RegistryError::InvalidSpec { reason, .. }) if reason.contains("icon")),
            "{icon} was accepted"
        );
    }
    let accepted =
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 1 1\"><path d=\"M0 0\"/></svg>";
    assert!(
        build(vec![connector(
            ConnectorSpec {
                icon: accepted,
                ..spec("db")
            },
            &[]
        )])
        .is_ok()
    );
}

#[test]
fn registration_of_a_definition_builds_it() {
    struct Nothing;
    impl crate::sdk::action::ActionSet for Nothing {
        fn descriptors() -> Vec<ActionDescriptor> {
            vec![action("noop")]
        }
        fn invoke<'a>(
            &'a self,
            _: &'a ActionContext,
            name: &'a str,
            _: Value,
        ) -> futures_util::future::BoxFuture<'a, Result<ActionOutput, ConnectorError>> {
            Box::pin(async move {
                Err(ConnectorError::UnknownAction {
                    name: name.to_owned(),
                })
            })
        }
    }
    #[derive(Default)]
    struct Def;
    impl ConnectorDef for Def {
        const SPEC: ConnectorSpec = ConnectorSpec {
            slug: "def",
            name: "Def",
            description: "d",
            icon: "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 24 24\"><circle cx=\"12\" cy=\"12\" r=\"9\"/></svg>",
            kind: ConnectorKind::Manual,
            scoping: AuthScoping::UserSupplied,
            version: "1",
            oauth: None,
            form: FORM,
            config_keys: &[],
        };
        type Actions = Nothing;
        fn actions(&self) -> &Nothing {
            &Nothing
        }
    }
    let built = (ConnectorRegistration::of::<Def>().factory)();
    assert_eq!(built.spec().slug, "def");
    assert_eq!(
        built.actions().iter().map(|a| a.name).collect::<Vec<_>>(),
        ["noop"]
    );
}
