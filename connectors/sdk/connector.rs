//! The `Connector` trait the app calls, and `ConnectorDef`, the smaller trait a connector
//! author implements: a const spec, an actions type (from `#[connector_actions]`) and,
//! optionally, credential checking and identity lookup. `DefinedConnector` turns one into
//! the other, computing the action descriptors once.

use std::sync::OnceLock;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::action::{ActionDescriptor, ActionOutput, ActionSet, Tag};
use super::context::ActionContext;
use super::error::ConnectorError;
use super::files::FileSource;
use super::http::HttpClient;
use super::settings::ConnectorSettings;
use super::spec::ConnectorSpec;

/// The result of checking manual credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NormalizedCredentials {
    /// The credentials to store (encrypted) for the connection.
    pub credentials: Value,
    /// Who the credentials belong to upstream (e.g. `alice@db.campus.edu`).
    pub identity: Option<String>,
    /// Things the user should know (e.g. "the account can write; read-only is advised").
    pub warnings: Vec<String>,
}

impl NormalizedCredentials {
    /// Credentials without identity or warnings.
    pub fn new(credentials: Value) -> Self {
        Self {
            credentials,
            identity: None,
            warnings: Vec::new(),
        }
    }
}

/// A connector as the app sees it: spec, actions, and the calls to run them.
#[async_trait]
pub trait Connector: Send + Sync + 'static {
    /// The static description.
    fn spec(&self) -> &ConnectorSpec;

    /// Descriptors of every action, in declaration order.
    fn actions(&self) -> &[ActionDescriptor];

    /// Whether any action carries `tag`.
    fn has_tag(&self, tag: Tag) -> bool {
        self.actions().iter().any(|action| action.has_tag(tag))
    }

    /// The descriptor of the action called `name`.
    fn action(&self, name: &str) -> Option<&ActionDescriptor> {
        self.actions().iter().find(|action| action.name == name)
    }

    /// The typed file contract, for connectors whose actions browse and download files
    /// (cloud import uses only this).
    fn files(&self) -> Option<&dyn FileSource> {
        None
    }

    /// Runs action `name` with JSON `params` (`null` meaning `{}`).
    ///
    /// Unknown names give `UnknownAction`; params that do not deserialize into the action's
    /// input or fail its validation give `InvalidInput` naming the field.
    async fn execute_action(
        &self,
        name: &str,
        ctx: &ActionContext,
        params: Value,
    ) -> Result<ActionOutput, ConnectorError>;

    /// Checks manual credentials against the live service and normalizes them.
    async fn test_credentials(
        &self,
        settings: &ConnectorSettings,
        http: &HttpClient,
        fields: Map<String, Value>,
    ) -> Result<NormalizedCredentials, ConnectorError> {
        let _ = (settings, http, fields);
        Err(ConnectorError::misconfigured(format!(
            "connector `{}` does not accept manual credentials",
            self.spec().slug
        )))
    }

    /// Who the connected upstream account is (e.g. an email address), if the service says.
    async fn fetch_identity(&self, ctx: &ActionContext) -> Result<Option<String>, ConnectorError> {
        let _ = ctx;
        Ok(None)
    }
}

/// What a connector author implements; [`DefinedConnector`] makes it a [`Connector`].
#[async_trait]
pub trait ConnectorDef: Send + Sync + 'static {
    /// The static description.
    const SPEC: ConnectorSpec;

    /// The actions type, whose inherent impl carries `#[connector_actions]`.
    type Actions: ActionSet;

    /// The actions value.
    fn actions(&self) -> &Self::Actions;

    /// See [`Connector::files`]: connectors with `file_browse` and `file_download`
    /// actions return their [`FileSource`] (usually the actions value).
    fn files(&self) -> Option<&dyn FileSource> {
        None
    }

    /// See [`Connector::test_credentials`]; the default refuses manual credentials.
    async fn test_credentials(
        &self,
        settings: &ConnectorSettings,
        http: &HttpClient,
        fields: Map<String, Value>,
    ) -> Result<NormalizedCredentials, ConnectorError> {
        let _ = (settings, http, fields);
        Err(ConnectorError::misconfigured(format!(
            "connector `{}` does not accept manual credentials",
            Self::SPEC.slug
        )))
    }

    /// See [`Connector::fetch_identity`]; the default knows no identity.
    async fn fetch_identity(&self, ctx: &ActionContext) -> Result<Option<String>, ConnectorError> {
        let _ = ctx;
        Ok(None)
    }
}

/// A [`ConnectorDef`] wrapped as a [`Connector`].
pub struct DefinedConnector<D: ConnectorDef> {
    def: D,
    descriptors: OnceLock<Vec<ActionDescriptor>>,
}

impl<D: ConnectorDef> DefinedConnector<D> {
    /// Wraps `def`.
    pub fn new(def: D) -> Self {
        Self {
            def,
            descriptors: OnceLock::new(),
        }
    }

    /// The wrapped definition.
    pub fn def(&self) -> &D {
        &self.def
    }
}

#[async_trait]
impl<D: ConnectorDef> Connector for DefinedConnector<D> {
    fn spec(&self) -> &ConnectorSpec {
        &D::SPEC
    }

    fn actions(&self) -> &[ActionDescriptor] {
        self.descriptors
            .get_or_init(<D::Actions as ActionSet>::descriptors)
    }

    fn files(&self) -> Option<&dyn FileSource> {
        self.def.files()
    }

    async fn execute_action(
        &self,
        name: &str,
        ctx: &ActionContext,
        params: Value,
    ) -> Result<ActionOutput, ConnectorError> {
        if self.action(name).is_none() {
            return Err(ConnectorError::UnknownAction {
                name: name.to_owned(),
            });
        }
        self.def.actions().invoke(ctx, name, params).await
    }

    async fn test_credentials(
        &self,
        settings: &ConnectorSettings,
        http: &HttpClient,
        fields: Map<String, Value>,
    ) -> Result<NormalizedCredentials, ConnectorError> {
        self.def.test_credentials(settings, http, fields).await
    }

    async fn fetch_identity(&self, ctx: &ActionContext) -> Result<Option<String>, ConnectorError> {
        self.def.fetch_identity(ctx).await
    }
}
