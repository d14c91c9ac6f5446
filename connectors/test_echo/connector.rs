//! The `test-echo` spec and its credential check.

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::actions::EchoActions;
use crate::{
    ActionContext, AuthScoping, ConfigKey, ConnectorDef, ConnectorError, ConnectorKind,
    ConnectorSettings, ConnectorSpec, FieldKind, FormField, HttpClient, NormalizedCredentials,
};

/// Identity reported when the user gave no label.
const DEFAULT_IDENTITY: &str = "echo user";

/// The `test-echo` connector.
#[derive(Debug, Default)]
pub struct EchoConnector {
    actions: EchoActions,
}

#[async_trait]
impl ConnectorDef for EchoConnector {
    const SPEC: ConnectorSpec = ConnectorSpec {
        slug: "test-echo",
        name: "Test Echo",
        description: "A fake service for tests: echoes messages, fails on demand and serves synthetic files.",
        icon: include_str!("icon.svg"),
        kind: ConnectorKind::Manual,
        scoping: AuthScoping::UserSupplied,
        version: "1",
        oauth: None,
        form: &[
            FormField {
                name: "api_key",
                label: "API key",
                help: "Any key starting with `valid-` is accepted.",
                kind: FieldKind::Password,
                required: true,
                default: None,
                placeholder: Some("valid-…"),
            },
            FormField {
                name: "label",
                label: "Label",
                help: "Shown as the connected account's name.",
                kind: FieldKind::Text,
                required: false,
                default: None,
                placeholder: None,
            },
        ],
        config_keys: &[ConfigKey::api_base_url("http://127.0.0.1:9")],
    };

    type Actions = EchoActions;

    fn actions(&self) -> &EchoActions {
        &self.actions
    }

    fn files(&self) -> Option<&dyn crate::FileSource> {
        Some(&self.actions)
    }

    async fn test_credentials(
        &self,
        _settings: &ConnectorSettings,
        _http: &HttpClient,
        fields: Map<String, Value>,
    ) -> Result<NormalizedCredentials, ConnectorError> {
        let api_key = fields
            .get("api_key")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !api_key.starts_with("valid-") {
            return Err(ConnectorError::invalid_field(
                "api_key",
                "The API key was rejected by the service",
            ));
        }
        let identity = identity_of(fields.get("label"));
        Ok(NormalizedCredentials {
            credentials: Value::Object(fields),
            identity: Some(identity),
            warnings: Vec::new(),
        })
    }

    async fn fetch_identity(&self, ctx: &ActionContext) -> Result<Option<String>, ConnectorError> {
        Ok(Some(identity_of(ctx.credentials.as_value().get("label"))))
    }
}

fn identity_of(label: Option<&Value>) -> String {
    label
        .and_then(Value::as_str)
        .filter(|l| !l.trim().is_empty())
        .unwrap_or(DEFAULT_IDENTITY)
        .to_owned()
}
