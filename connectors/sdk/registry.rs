//! The connector registry: every connector submits a `ConnectorRegistration` to
//! `inventory`, and `Registry::from_inventory` builds them once at start-up, refusing
//! anything inconsistent (duplicate or malformed slugs, duplicate or malformed action
//! names, an OAuth connector without OAuth descriptor, a manual one without form) so a bad
//! connector fails the start, not a user's request.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use super::action::Tag;
use super::connector::{Connector, ConnectorDef, DefinedConnector};
use super::spec::ConnectorKind;

/// A connector's entry in the `inventory` collection.
pub struct ConnectorRegistration {
    /// Builds the connector.
    pub factory: fn() -> Box<dyn Connector>,
}

impl ConnectorRegistration {
    /// A registration from a factory function.
    pub const fn new(factory: fn() -> Box<dyn Connector>) -> Self {
        Self { factory }
    }

    /// The registration of a [`ConnectorDef`] built with `Default`.
    pub const fn of<D: ConnectorDef + Default>() -> Self {
        Self {
            factory: build_default::<D>,
        }
    }
}

fn build_default<D: ConnectorDef + Default>() -> Box<dyn Connector> {
    Box::new(DefinedConnector::new(D::default()))
}

inventory::collect!(ConnectorRegistration);

/// Why a set of connectors cannot form a registry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// Two connectors share a slug.
    #[error("two connectors use the slug `{slug}`")]
    DuplicateSlug {
        /// The slug.
        slug: String,
    },
    /// A slug is not lowercase kebab-case.
    #[error("connector slug `{slug}` is not lowercase kebab-case (like `google-drive`)")]
    InvalidSlug {
        /// The slug.
        slug: String,
    },
    /// Two actions of one connector share a name.
    #[error("connector `{slug}` declares action `{action}` twice")]
    DuplicateAction {
        /// The connector.
        slug: String,
        /// The action name.
        action: String,
    },
    /// An action name is not snake_case.
    #[error("action `{action}` of connector `{slug}` is not snake_case")]
    InvalidActionName {
        /// The connector.
        slug: String,
        /// The action name.
        action: String,
    },
    /// An OAuth connector has no OAuth descriptor.
    #[error("OAuth connector `{slug}` has no OAuth descriptor")]
    MissingOAuth {
        /// The connector.
        slug: String,
    },
    /// A manual connector has no credential form.
    #[error("manual connector `{slug}` has an empty credential form")]
    EmptyForm {
        /// The connector.
        slug: String,
    },
    /// Another inconsistency in a connector spec.
    #[error("connector `{slug}`: {reason}")]
    InvalidSpec {
        /// The connector.
        slug: String,
        /// What is wrong.
        reason: String,
    },
}

/// The connectors this build knows, by slug.
#[derive(Default, Clone)]
pub struct Registry {
    connectors: BTreeMap<String, Arc<dyn Connector>>,
    /// The slugs of the connectors that are file sources, sorted.
    file_slugs: Vec<String>,
}

impl Registry {
    /// Builds every connector submitted to `inventory`.
    pub fn from_inventory() -> Result<Self, RegistryError> {
        Self::from_connectors(
            inventory::iter::<ConnectorRegistration>
                .into_iter()
                .map(|r| (r.factory)())
                .collect(),
        )
    }

    /// Builds a registry from the given connectors (for tests).
    pub fn from_connectors(connectors: Vec<Box<dyn Connector>>) -> Result<Self, RegistryError> {
        let mut registry = Self::default();
        for connector in connectors {
            check(connector.as_ref())?;
            let slug = connector.spec().slug.to_owned();
            if registry.connectors.contains_key(&slug) {
                return Err(RegistryError::DuplicateSlug { slug });
            }
            if connector.files().is_some() {
                registry.file_slugs.push(slug.clone());
            }
            registry.connectors.insert(slug, Arc::from(connector));
        }
        registry.file_slugs.sort();
        Ok(registry)
    }

    /// The connector with this slug.
    pub fn get(&self, slug: &str) -> Option<&Arc<dyn Connector>> {
        self.connectors.get(slug)
    }

    /// Every connector, sorted by slug.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Connector>> {
        self.connectors.values()
    }

    /// The slugs of the connectors that are file sources (`files()`), sorted.
    pub fn file_slugs(&self) -> &[String] {
        &self.file_slugs
    }

    /// Every slug, sorted.
    pub fn slugs(&self) -> impl Iterator<Item = &str> {
        self.connectors.keys().map(String::as_str)
    }

    /// Number of connectors.
    pub fn len(&self) -> usize {
        self.connectors.len()
    }

    /// Whether there is no connector.
    pub fn is_empty(&self) -> bool {
        self.connectors.is_empty()
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Registry")
            .field(&self.connectors.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Whether `slug` is lowercase kebab-case: `[a-z][a-z0-9]*(-[a-z0-9]+)*`, at most 64 chars.
pub fn is_valid_slug(slug: &str) -> bool {
    is_separated_lowercase(slug, '-')
}

/// Whether `name` is snake_case: `[a-z][a-z0-9]*(_[a-z0-9]+)*`, at most 64 chars.
pub fn is_valid_action_name(name: &str) -> bool {
    is_separated_lowercase(name, '_')
}

fn is_separated_lowercase(text: &str, separator: char) -> bool {
    text.len() <= 64
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && text.split(separator).all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

fn check(connector: &dyn Connector) -> Result<(), RegistryError> {
    let spec = connector.spec();
    let slug = || spec.slug.to_owned();
    if !is_valid_slug(spec.slug) {
        return Err(RegistryError::InvalidSlug { slug: slug() });
    }
    match spec.kind {
        ConnectorKind::OAuth2 if spec.oauth.is_none() => {
            return Err(RegistryError::MissingOAuth { slug: slug() });
        }
        ConnectorKind::Manual if spec.form.is_empty() => {
            return Err(RegistryError::EmptyForm { slug: slug() });
        }
        _ => {}
    }
    let invalid = |reason: String| RegistryError::InvalidSpec {
        slug: slug(),
        reason,
    };
    if let Some(name) = first_duplicate(spec.form.iter().map(|f| f.name)) {
        return Err(invalid(format!("form field `{name}` is declared twice")));
    }
    if let Some(key) = first_duplicate(spec.config_keys.iter().map(|k| k.key)) {
        return Err(invalid(format!("config key `{key}` is declared twice")));
    }
    let mut seen = HashSet::new();
    for action in connector.actions() {
        if !is_valid_action_name(action.name) {
            return Err(RegistryError::InvalidActionName {
                slug: slug(),
                action: action.name.to_owned(),
            });
        }
        if !seen.insert(action.name) {
            return Err(RegistryError::DuplicateAction {
                slug: slug(),
                action: action.name.to_owned(),
            });
        }
    }
    check_icon(spec.icon).map_err(invalid)?;
    check_file_source(connector).map_err(invalid)
}

/// The icon is a small, self-contained SVG: the app serves it from the registry as an image
/// on its own origin, so it must carry no script, event handler or outside reference.
fn check_icon(svg: &str) -> Result<(), String> {
    const MAX_ICON_BYTES: usize = 32 * 1024;
    let svg = svg.trim();
    if !(svg.starts_with("<svg") && svg.ends_with("</svg>")) {
        return Err("the icon is not SVG markup (`include_str!(\"icon.svg\")`)".into());
    }
    if svg.len() > MAX_ICON_BYTES {
        return Err(format!("the icon is larger than {MAX_ICON_BYTES} bytes"));
    }
    let lower = svg.to_ascii_lowercase();
    // An event handler: `on<letters>` after whitespace or `/`, then optional spaces and `=`.
    let handler = lower.match_indices("on").any(|(at, _)| {
        let after_separator = lower[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_whitespace() || c == '/');
        after_separator
            && lower[at + 2..]
                .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                .trim_start()
                .starts_with('=')
    });
    let outside = [
        "<script",
        "javascript:",
        "href=\"http",
        "href='http",
        "url(http",
        "<foreignobject",
    ];
    if handler || outside.iter().any(|bad| lower.contains(bad)) {
        return Err("the icon contains script, an event handler or an outside reference".into());
    }
    Ok(())
}

/// A connector with `file_browse` and `file_download` actions implements `FileSource`, and
/// the actions its `FileSource` stands for exist and carry those tags.
fn check_file_source(connector: &dyn Connector) -> Result<(), String> {
    let actions = connector.actions();
    let tagged = |tag| actions.iter().any(|a| a.has_tag(tag));
    let Some(files) = connector.files().map(|f| f.actions()) else {
        if tagged(Tag::FileBrowse) && tagged(Tag::FileDownload) {
            return Err(
                "actions are tagged `file_browse` and `file_download` but the connector \
                 implements no `FileSource` (`ConnectorDef::files`)"
                    .into(),
            );
        }
        return Ok(());
    };
    let find = |name: &str| actions.iter().find(|a| a.name == name);
    let browse = |role: &str, name: &str| match find(name) {
        Some(action) if action.has_tag(Tag::FileBrowse) => Ok(()),
        Some(_) => Err(format!(
            "files {role} `{name}` must be tagged `file_browse`"
        )),
        None => Err(format!("files {role} names no action `{name}`")),
    };
    browse("list", files.list)?;
    if let Some(search) = files.search {
        browse("search", search)?;
    }
    match find(files.download) {
        Some(action) if action.has_tag(Tag::FileDownload) && action.downloads => Ok(()),
        Some(_) => Err(format!(
            "files download `{}` must be a download tagged `file_download`",
            files.download
        )),
        None => Err(format!(
            "files download names no action `{}`",
            files.download
        )),
    }
}

fn first_duplicate<'a>(names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut seen = HashSet::new();
    names.into_iter().find(|name| !seen.insert(*name))
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;
