//! The user's connector actions as tools for assistants: the catalog an agent sees (the tools
//! API and the MCP endpoint list the same one) and the safety rules that decide it.
//!
//! - A tool is `{slug}__{action}`, discovered at call time from the user's usable
//!   connections (never another user's; connections that need reconnecting are left out).
//!   When the user has several connections of one connector, the tool takes a `connection`
//!   argument listing them; with one, the argument may be left out.
//! - Safety comes from the action's tags: `read` (and `file_browse`, `file_download`) tools
//!   are offered; `write` tools only where an administrator allows writes for the connector,
//!   the user switched on "let assistants make changes" for the connection, and the
//!   credential (an MCP grant) was given writes; `destructive` tools never. An action with
//!   no safety tag is not offered.
//! - Two tools of the app itself: `campuscore__list_folders` and `campuscore__import_file`,
//!   which copies a file from a connection into one of the user's knowledge folders (what an
//!   assistant gets instead of a download's bytes).
//!
//! Calling a tool is `agent_calls`.

use super::connections::{self, ResolvedConnector};
use super::runtime::ConnectorRuntime;
use crate::error::AppResult;
use crate::models::ConnectionStatus;
use crate::models::entities::{connection, user};
use campuscore_connectors::{ActionDescriptor, Tag};
use serde_json::{Map, Value, json};

/// Between a connector's slug and its action in a tool name.
pub const SEPARATOR: &str = "__";
/// The "connector" part of the app's own tools.
pub const APP: &str = "campuscore";
/// The argument that picks one of several connections.
pub const CONNECTION_ARG: &str = "connection";
/// Tool names stay within what OpenAI and Anthropic accept (`^[a-zA-Z0-9_-]{1,64}$`).
pub const MAX_NAME_LEN: usize = 64;

/// What a credential lets an assistant reach, on top of the user's own rights.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reach {
    /// Whether write tools may be offered at all (an MCP grant without writes says no).
    pub writes: bool,
    /// The connections it may use; `None` is every connection of the user.
    pub connections: Option<Vec<i64>>,
}

impl Reach {
    /// Everything the user may do (a personal access token, the user's own session).
    pub fn user() -> Self {
        Self {
            writes: true,
            connections: None,
        }
    }

    fn covers(&self, connection_id: i64) -> bool {
        self.connections
            .as_ref()
            .is_none_or(|ids| ids.contains(&connection_id))
    }
}

/// Whether a tool only reads or also changes something.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Safety {
    Read,
    Write,
}

/// What an action's tags make of it for agents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Offer(Safety),
    /// `destructive`: never offered to agents.
    Never,
    /// No safety tag: not offered (the connector did not say it is safe).
    Unrated,
}

/// The agent verdict of an action, from its tags alone.
pub fn verdict(action: &ActionDescriptor) -> Verdict {
    let has = |t: Tag| action.tags.contains(&t);
    if has(Tag::Destructive) {
        Verdict::Never
    } else if has(Tag::Write) {
        Verdict::Offer(Safety::Write)
    } else if has(Tag::Read) || has(Tag::FileBrowse) || has(Tag::FileDownload) {
        Verdict::Offer(Safety::Read)
    } else {
        Verdict::Unrated
    }
}

/// Whether agents would get `action` as a write tool (the switches govern it).
pub fn is_write_tool(action: &ActionDescriptor) -> bool {
    verdict(action) == Verdict::Offer(Safety::Write)
}

/// What a tool runs.
#[derive(Clone, Debug)]
pub enum Target {
    /// A connector action, on one of these connections (ids, in the user's order).
    Action {
        slug: String,
        action: &'static str,
        downloads: bool,
        connections: Vec<Link>,
    },
    /// The user's knowledge folders.
    ListFolders,
    /// Copy a file from one of these connections into a knowledge folder.
    ImportFile { connections: Vec<Link> },
}

/// A connection a tool can use, as the catalog names it.
#[derive(Clone, Debug)]
pub struct Link {
    pub id: i64,
    /// "Google Drive (alice@campus.edu)".
    pub label: String,
    pub slug: String,
}

/// One tool as every format describes it.
#[derive(Clone, Debug)]
pub struct Tool {
    pub name: String,
    /// A short human title ("Google Drive: list files").
    pub title: String,
    pub description: String,
    /// JSON Schema of the arguments (always an object schema).
    pub input_schema: Value,
    /// JSON Schema of the structured result, when it is an object.
    pub output_schema: Option<Value>,
    pub safety: Safety,
    /// Calling it twice with the same arguments has no further effect.
    pub idempotent: bool,
    /// It reaches a service outside the app.
    pub open_world: bool,
    pub target: Target,
}

/// A connector with the user's connections of it that the credential may use.
struct Group {
    connector: ResolvedConnector,
    connections: Vec<connection::Model>,
}

/// The user's tools for a credential with `reach`, discovered now.
pub async fn catalog(
    rt: &ConnectorRuntime,
    user: &user::Model,
    reach: &Reach,
) -> AppResult<Vec<Tool>> {
    let groups = groups(rt, user, reach).await?;
    let mut tools = Vec::new();
    let mut file_links = Vec::new();
    for group in &groups {
        let links: Vec<Link> = group.connections.iter().map(|c| link(group, c)).collect();
        if group.connector.plugin.files().is_some() {
            file_links.extend(links.iter().cloned());
        }
        for action in group.connector.plugin.actions() {
            let usable: Vec<Link> = match verdict(action) {
                Verdict::Offer(Safety::Read) => links.clone(),
                Verdict::Offer(Safety::Write)
                    if reach.writes && group.connector.row.agent_writes =>
                {
                    group
                        .connections
                        .iter()
                        .zip(&links)
                        .filter(|(c, _)| c.agent_writes)
                        .map(|(_, l)| l.clone())
                        .collect()
                }
                _ => Vec::new(),
            };
            if let Some(tool) = action_tool(&group.connector, action, usable) {
                tools.push(tool);
            }
        }
    }
    tools.push(list_folders_tool());
    if !file_links.is_empty() {
        tools.push(import_file_tool(file_links));
    }
    Ok(tools)
}

/// Whether `name` is a tool at all, for anyone (an app tool, or a registered connector's
/// action), whatever this caller may use.
pub fn exists(rt: &ConnectorRuntime, name: &str) -> bool {
    let Some((slug, action)) = name.split_once(SEPARATOR) else {
        return false;
    };
    if slug == APP {
        return matches!(action, "list_folders" | "import_file");
    }
    rt.registry
        .get(slug)
        .is_some_and(|p| p.action(action).is_some())
}

/// Why the tool `name` is not in the caller's catalog, for a refusal that says why.
pub async fn why_not_offered(
    rt: &ConnectorRuntime,
    user: &user::Model,
    reach: &Reach,
    name: &str,
) -> AppResult<String> {
    let Some((slug, action)) = name.split_once(SEPARATOR) else {
        return Ok(format!("There is no tool named {name:?}."));
    };
    let Some(plugin) = rt.registry.get(slug) else {
        return Ok(format!("There is no tool named {name:?}."));
    };
    let Some(descriptor) = plugin.action(action) else {
        return Ok(format!("{} has no action {action:?}.", plugin.spec().name));
    };
    let service = plugin.spec().name;
    Ok(match verdict(descriptor) {
        Verdict::Never => {
            format!("{name} can destroy data in {service}, so it is never offered to assistants.")
        }
        Verdict::Unrated => format!("{name} is not offered to assistants."),
        Verdict::Offer(safety) => {
            let groups = groups(rt, user, reach).await?;
            match groups.iter().find(|g| g.connector.row.slug == slug) {
                None => format!(
                    "You have no usable {service} connection{}.",
                    if reach.connections.is_some() {
                        " that this assistant was given"
                    } else {
                        ""
                    }
                ),
                Some(_) if safety == Safety::Read => format!("{name} is not available."),
                Some(_) if !reach.writes => format!(
                    "{name} makes changes in {service}, and this assistant was only allowed to read."
                ),
                Some(g) if !g.connector.row.agent_writes => format!(
                    "{name} makes changes in {service}; an administrator has not allowed \
                     assistants to make changes there."
                ),
                Some(_) => format!(
                    "{name} makes changes in {service}; switch on \"Let assistants make \
                     changes\" for the connection on your settings page to allow it."
                ),
            }
        }
    })
}

/// The user's usable connections that `reach` covers, by enabled connector (catalog order).
async fn groups(rt: &ConnectorRuntime, user: &user::Model, reach: &Reach) -> AppResult<Vec<Group>> {
    let mut groups: Vec<Group> = Vec::new();
    for conn in connections::list_mine(rt, user.id).await? {
        if conn.status == ConnectionStatus::NeedsReauth || !reach.covers(conn.id) {
            continue;
        }
        if let Some(group) = groups
            .iter_mut()
            .find(|g| g.connector.row.id == conn.connector_id)
        {
            group.connections.push(conn);
            continue;
        }
        // A connector turned off or no longer built in offers nothing.
        let Ok(connector) = connections::connector_by_id(rt, conn.connector_id).await else {
            continue;
        };
        groups.push(Group {
            connector,
            connections: vec![conn],
        });
    }
    groups.sort_by(|a, b| a.connector.row.slug.cmp(&b.connector.row.slug));
    Ok(groups)
}

fn link(group: &Group, conn: &connection::Model) -> Link {
    let who = conn
        .service_identity
        .clone()
        .unwrap_or_else(|| format!("connection {}", conn.id));
    Link {
        id: conn.id,
        label: format!("{} ({who})", group.connector.row.name),
        slug: group.connector.row.slug.clone(),
    }
}

/// The tool of one action on the connections it may use (none: no tool).
fn action_tool(
    connector: &ResolvedConnector,
    action: &ActionDescriptor,
    links: Vec<Link>,
) -> Option<Tool> {
    if links.is_empty() {
        return None;
    }
    let Verdict::Offer(safety) = verdict(action) else {
        return None;
    };
    let service = &connector.row.name;
    let name = format!("{}{SEPARATOR}{}", connector.row.slug, action.name);
    let effect = match safety {
        Safety::Read => format!("Reads from {service}; changes nothing."),
        Safety::Write => format!("Makes changes in {service} as the user."),
    };
    let mut description = format!(
        "{}\n\n{effect} {}",
        action.description.trim(),
        on_which(&links)
    );
    if action.downloads {
        description.push_str(
            " Returns the file's name, type and size, not its content; to read it, import it \
             into a knowledge folder with campuscore__import_file.",
        );
    }
    let output_schema = if action.downloads {
        Some(downloaded_file_schema())
    } else {
        Some(action.output_schema.clone()).filter(is_object_schema)
    };
    Some(Tool {
        title: format!("{service}: {}", action.name.replace('_', " ")),
        input_schema: with_connection_arg(action.input_schema.clone(), &links),
        output_schema,
        safety,
        idempotent: safety == Safety::Read,
        open_world: true,
        target: Target::Action {
            slug: connector.row.slug.clone(),
            action: action.name,
            downloads: action.downloads,
            connections: links,
        },
        name,
        description,
    })
}

/// "Uses Google Drive (alice@campus.edu)." or the list a `connection` argument picks from.
fn on_which(links: &[Link]) -> String {
    match links {
        [one] => format!("Uses {}.", one.label),
        many => format!(
            "Pass `{CONNECTION_ARG}` to choose the account: {}.",
            many.iter()
                .map(|l| format!("{} = {}", l.id, l.label))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    }
}

fn is_object_schema(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("object")
}

/// The action's argument schema plus `connection`: required and listed when there are
/// several to choose from, optional (one value) otherwise.
pub fn with_connection_arg(mut schema: Value, links: &[Link]) -> Value {
    if !schema.is_object() {
        schema = json!({"type": "object"});
    }
    let ids: Vec<i64> = links.iter().map(|l| l.id).collect();
    let described = links
        .iter()
        .map(|l| format!("{} = {}", l.id, l.label))
        .collect::<Vec<_>>()
        .join("; ");
    let object = schema.as_object_mut().expect("made an object above");
    let properties = object
        .entry("properties")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(properties) = properties.as_object_mut() {
        properties.insert(
            CONNECTION_ARG.into(),
            json!({
                "type": "integer",
                "enum": ids,
                "description": format!("Which connection to use: {described}."),
            }),
        );
    }
    if links.len() > 1 {
        let required = object
            .entry("required")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Some(required) = required.as_array_mut() {
            required.push(Value::from(CONNECTION_ARG));
        }
    }
    schema
}

/// What a download tool returns instead of bytes.
fn downloaded_file_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "mime_type": {"type": "string"},
            "size": {"type": ["integer", "null"], "description": "Bytes, when known."},
            "checksum": {"type": ["string", "null"]},
            "import_with": {
                "type": "object",
                "description": "The campuscore__import_file call that copies this file into a knowledge folder (add folder_id); present when the file can be imported.",
            },
        },
        "required": ["name", "mime_type"],
    })
}

fn list_folders_tool() -> Tool {
    Tool {
        name: format!("{APP}{SEPARATOR}list_folders"),
        title: "CampusCore: list knowledge folders".into(),
        description: "Lists the user's knowledge folders (id, name, number of files), where \
                      campuscore__import_file can put files."
            .into(),
        input_schema: json!({"type": "object", "properties": {}}),
        output_schema: Some(json!({
            "type": "object",
            "properties": {
                "folders": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "integer"},
                            "name": {"type": "string"},
                        },
                        "required": ["id", "name"],
                    },
                },
            },
            "required": ["folders"],
        })),
        safety: Safety::Read,
        idempotent: true,
        open_world: false,
        target: Target::ListFolders,
    }
}

/// The name of the import tool.
pub fn import_tool_name() -> String {
    format!("{APP}{SEPARATOR}import_file")
}

fn import_file_tool(links: Vec<Link>) -> Tool {
    let mut input = json!({
        "type": "object",
        "properties": {
            "file_id": {"type": "string", "description": "The file's id, as the connection's listing or search gave it."},
            "name": {"type": "string", "description": "The file's name, as listed."},
            "folder_id": {"type": "integer", "description": "One of the user's knowledge folders (campuscore__list_folders)."},
        },
        "required": ["file_id", "name", "folder_id"],
    });
    input = with_connection_arg(input, &links);
    Tool {
        name: import_tool_name(),
        title: "CampusCore: import a file into a knowledge folder".into(),
        description: format!(
            "Copies a file from one of the user's connected services into one of their \
             knowledge folders, where it is stored and indexed; changes nothing in the \
             service. The import runs in the background. {}",
            on_which(&links)
        ),
        input_schema: input,
        output_schema: Some(json!({
            "type": "object",
            "properties": {
                "source_file_id": {"type": "integer"},
                "status": {"type": "string"},
                "already_there": {"type": "boolean"},
            },
            "required": ["source_file_id", "status", "already_there"],
        })),
        safety: Safety::Write,
        idempotent: true,
        open_world: false,
        target: Target::ImportFile { connections: links },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(id: i64) -> Link {
        Link {
            id,
            label: format!("Drive (u{id}@x.edu)"),
            slug: "google-drive".into(),
        }
    }

    #[test]
    fn one_connection_makes_the_argument_optional_and_several_required() {
        let schema =
            json!({"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]});
        let one = with_connection_arg(schema.clone(), &[link(3)]);
        assert_eq!(one["required"], json!(["q"]));
        assert_eq!(one["properties"][CONNECTION_ARG]["enum"], json!([3]));
        let two = with_connection_arg(schema, &[link(3), link(9)]);
        assert_eq!(two["required"], json!(["q", CONNECTION_ARG]));
        assert_eq!(two["properties"][CONNECTION_ARG]["enum"], json!([3, 9]));
        assert!(
            two["properties"][CONNECTION_ARG]["description"]
                .as_str()
                .is_some_and(|d| d.contains("9 = Drive (u9@x.edu)"))
        );
    }

    #[test]
    fn tags_decide_what_agents_are_offered() {
        let action = |tags: &'static [Tag]| ActionDescriptor {
            name: "a",
            description: String::new(),
            tags,
            input_schema: json!({"type": "object"}),
            output_schema: json!({"type": "object"}),
            downloads: false,
        };
        assert_eq!(verdict(&action(&[Tag::Read])), Verdict::Offer(Safety::Read));
        assert_eq!(
            verdict(&action(&[Tag::FileDownload])),
            Verdict::Offer(Safety::Read)
        );
        assert_eq!(
            verdict(&action(&[Tag::Write])),
            Verdict::Offer(Safety::Write)
        );
        assert_eq!(
            verdict(&action(&[Tag::Write, Tag::Destructive])),
            Verdict::Never
        );
        assert_eq!(verdict(&action(&[])), Verdict::Unrated);
    }

    #[test]
    fn every_registered_action_has_a_verdict_and_a_name_models_accept() {
        let registry = campuscore_connectors::Registry::from_inventory().expect("registry");
        for plugin in registry.iter() {
            for action in plugin.actions() {
                let name = format!("{}{SEPARATOR}{}", plugin.spec().slug, action.name);
                assert!(
                    name.len() <= MAX_NAME_LEN
                        && name
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
                    "{name} is not a tool name OpenAI and Anthropic accept"
                );
                assert_ne!(
                    verdict(action),
                    Verdict::Unrated,
                    "{name} has no safety tag"
                );
                let props = action.input_schema.get("properties");
                assert!(
                    props.and_then(|p| p.get(CONNECTION_ARG)).is_none(),
                    "{name} has its own `{CONNECTION_ARG}` argument"
                );
            }
        }
    }
}
