//! The agent tools API: `GET /api/v1/agent/tools?format=openai|anthropic|mcp` describes the
//! caller's tools in the shape each model API takes, `POST /api/v1/agent/tools/call` runs
//! one. A session or a personal access token with the `api` scope; the user is always the
//! caller, never an argument.

use crate::auth::CurrentUser;
use crate::error::{AppError, AppResult};
use crate::models::Channel;
use crate::services::agent_calls::{self, ToolResult};
use crate::services::agent_tools::{self, Reach, Safety, Tool};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use rmcp::model::{JsonObject, ToolAnnotations};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// The model APIs whose tool format the catalog can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenAI function tools (`{"type":"function","function":{…}}`).
    OpenAi,
    /// Anthropic tools (`{"name","description","input_schema"}`).
    Anthropic,
    /// MCP `Tool` objects, with annotations and output schemas.
    Mcp,
}

#[derive(Debug, Deserialize)]
pub struct ToolsQuery {
    #[serde(default)]
    format: Option<String>,
}

/// `GET /api/v1/agent/tools`.
pub async fn tools(
    state: web::Data<AppState>,
    user: CurrentUser,
    q: web::Query<ToolsQuery>,
) -> AppResult<HttpResponse> {
    let format = match q.format.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("mcp") => Format::Mcp,
        Some("openai") => Format::OpenAi,
        Some("anthropic") => Format::Anthropic,
        Some(other) => {
            return Err(AppError::BadRequest(format!(
                "Unknown format {other:?}: use openai, anthropic or mcp."
            )));
        }
    };
    let tools = agent_tools::catalog(&state, &user, &Reach::user()).await?;
    let described: Vec<Value> = tools.iter().map(|t| describe(t, format)).collect();
    let mut body = json!({"format": format_name(format), "tools": described});
    if format != Format::Mcp {
        // These formats have no place for a result schema; it travels beside them.
        let schemas: Map<String, Value> = tools
            .iter()
            .filter_map(|t| Some((t.name.clone(), t.output_schema.clone()?)))
            .collect();
        body["output_schemas"] = Value::Object(schemas);
    }
    Ok(HttpResponse::Ok().json(body))
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::OpenAi => "openai",
        Format::Anthropic => "anthropic",
        Format::Mcp => "mcp",
    }
}

/// One tool in `format`.
fn describe(tool: &Tool, format: Format) -> Value {
    match format {
        Format::OpenAi => json!({
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description,
                "parameters": tool.input_schema,
            },
        }),
        Format::Anthropic => json!({
            "name": tool.name,
            "description": tool.description,
            "input_schema": tool.input_schema,
        }),
        Format::Mcp => serde_json::to_value(mcp_tool(tool)).unwrap_or(Value::Null),
    }
}

/// The MCP description of a tool: annotations from its safety (`read` → read-only; a write
/// tool is never destructive here, since destructive ones are not offered).
pub fn mcp_tool(tool: &Tool) -> rmcp::model::Tool {
    let object = |schema: &Value| -> JsonObject { schema.as_object().cloned().unwrap_or_default() };
    let annotations = ToolAnnotations::new()
        .read_only(tool.safety == Safety::Read)
        .destructive(false)
        .idempotent(tool.idempotent)
        .open_world(tool.open_world);
    let mut described = rmcp::model::Tool::new(
        tool.name.clone(),
        tool.description.clone(),
        Arc::new(object(&tool.input_schema)),
    )
    .with_title(tool.title.clone())
    .with_annotations(annotations);
    if let Some(schema) = &tool.output_schema {
        described = described.with_raw_output_schema(Arc::new(object(schema)));
    }
    described
}

#[derive(Debug, Deserialize)]
pub struct CallRequest {
    name: String,
    #[serde(default)]
    arguments: Value,
}

/// `POST /api/v1/agent/tools/call` `{"name","arguments"}` → the result, marked untrusted.
pub async fn call(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: web::Json<CallRequest>,
) -> AppResult<HttpResponse> {
    let CallRequest { name, arguments } = body.into_inner();
    let caller = user.caller(Channel::Agent);
    let result = agent_calls::call(
        &state,
        state.files(),
        caller,
        &Reach::user(),
        &name,
        arguments,
    )
    .await?;
    Ok(HttpResponse::Ok().json(rendered(&result)))
}

/// The JSON answer of a call: the structured content and the text a model should read.
fn rendered(result: &ToolResult) -> Value {
    json!({
        "name": result.name,
        "source": result.source,
        "untrusted": true,
        "content": result.content,
        "text": result.untrusted_text(),
    })
}
