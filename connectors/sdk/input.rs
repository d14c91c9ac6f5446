//! Turning an action's JSON parameters into its typed input — and its failures into an
//! `InvalidInput` a person can act on ("`message`: missing field") — plus the schema and
//! output helpers the `#[connector_actions]` expansion calls.

use std::borrow::Cow;

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use validator::{Validate, ValidationError, ValidationErrors, ValidationErrorsKind};

use super::action::{ActionOutput, Download, DownloadInfo};
use super::error::ConnectorError;

/// No parameters: only `{}` (or `null`) is accepted.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoInput {}

impl Validate for NoInput {
    fn validate(&self) -> Result<(), ValidationErrors> {
        Ok(())
    }
}

/// Deserializes `params` (`null` meaning `{}`) into `T`, then validates it.
pub fn parse_input<T: DeserializeOwned + Validate>(params: Value) -> Result<T, ConnectorError> {
    let params = match params {
        Value::Null => Value::Object(Map::new()),
        Value::Object(_) => params,
        // Derived structs also accept arrays (fields by position): refuse that here.
        other => {
            return Err(ConnectorError::InvalidInput {
                field: None,
                message: format!(
                    "the parameters must be a JSON object, not {}",
                    kind_of(&other)
                ),
            });
        }
    };
    let input: T = serde_path_to_error::deserialize(params).map_err(deserialize_error)?;
    input
        .validate()
        .map_err(|errors| validation_error(&errors))?;
    Ok(input)
}

/// JSON Schema of an action input (as deserialized); object schemas always carry
/// `properties` (empty for no parameters), as tool-calling clients expect.
pub fn input_schema<T: JsonSchema>() -> Value {
    let mut schema = SchemaSettings::draft2020_12()
        .for_deserialize()
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value();
    if let Some(object) = schema
        .as_object_mut()
        .filter(|o| o.get("type").is_some_and(|t| t == "object"))
    {
        object
            .entry("properties")
            .or_insert_with(|| Value::Object(Map::new()));
    }
    schema
}

/// JSON Schema of an action output (as serialized).
pub fn output_schema<T: JsonSchema>() -> Value {
    SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value()
}

/// JSON Schema of a download action's output: the file metadata.
pub fn download_schema() -> Value {
    output_schema::<DownloadInfo>()
}

/// Wraps a typed action result as JSON output.
pub fn json_output<T: Serialize>(
    result: Result<T, ConnectorError>,
) -> Result<ActionOutput, ConnectorError> {
    let value = serde_json::to_value(result?).map_err(|e| ConnectorError::Upstream {
        status: 0,
        message: format!("the result could not be encoded as JSON: {e}"),
    })?;
    Ok(ActionOutput::Json(value))
}

/// Wraps a download action result.
pub fn download_output(
    result: Result<Download, ConnectorError>,
) -> Result<ActionOutput, ConnectorError> {
    result.map(ActionOutput::Download)
}

fn deserialize_error(error: serde_path_to_error::Error<serde_json::Error>) -> ConnectorError {
    let path = error.path().to_string();
    let at = |name: &str| {
        if path == "." {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    let reason = error.into_inner().to_string();
    if let Some((name, _)) = backticked_after(&reason, "missing field `") {
        let field = at(name);
        return ConnectorError::InvalidInput {
            message: format!("`{field}`: missing field"),
            field: Some(field),
        };
    }
    if let Some((name, rest)) = backticked_after(&reason, "unknown field `") {
        // serde_path_to_error already ends the path with the unknown key.
        let field = if path == name || path.ends_with(&format!(".{name}")) {
            path.clone()
        } else {
            at(name)
        };
        return ConnectorError::InvalidInput {
            message: format!("`{field}`: unknown field{rest}"),
            field: Some(field),
        };
    }
    if path == "." {
        return ConnectorError::InvalidInput {
            field: None,
            message: format!("the parameters do not match the action's schema ({reason})"),
        };
    }
    ConnectorError::InvalidInput {
        message: format!("`{path}`: {reason}"),
        field: Some(path),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// For `reason = "<prefix>name`<rest>"`, returns `(name, rest)`.
fn backticked_after<'a>(reason: &'a str, prefix: &str) -> Option<(&'a str, &'a str)> {
    let tail = reason.strip_prefix(prefix)?;
    let end = tail.find('`')?;
    Some((&tail[..end], &tail[end + 1..]))
}

pub(crate) fn validation_error(errors: &ValidationErrors) -> ConnectorError {
    let mut flat = Vec::new();
    flatten(errors, "", &mut flat);
    flat.sort_by(|a, b| a.0.cmp(&b.0));
    let message = flat
        .iter()
        .map(|(path, error)| format!("`{path}`: {}", describe(error)))
        .collect::<Vec<_>>()
        .join("; ");
    ConnectorError::InvalidInput {
        field: flat.first().map(|(path, _)| path.clone()),
        message,
    }
}

fn flatten<'e>(
    errors: &'e ValidationErrors,
    prefix: &str,
    out: &mut Vec<(String, &'e ValidationError)>,
) {
    for (field, kind) in errors.errors() {
        let path = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => out.extend(list.iter().map(|e| (path.clone(), e))),
            ValidationErrorsKind::Struct(inner) => flatten(inner, &path, out),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    flatten(inner, &format!("{path}[{index}]"), out);
                }
            }
        }
    }
}

/// A sentence for one validation failure; never echoes the rejected value.
fn describe(error: &ValidationError) -> Cow<'static, str> {
    if let Some(message) = &error.message {
        return message.clone();
    }
    let param = |name: &str| error.params.get(name).map(ToString::to_string);
    let bounds = |noun: &str| match (param("min"), param("max"), param("equal")) {
        (_, _, Some(equal)) => format!("{noun} must be exactly {equal}"),
        (Some(min), Some(max), _) => format!("{noun} must be between {min} and {max}"),
        (Some(min), None, _) => format!("{noun} must be at least {min}"),
        (None, Some(max), _) => format!("{noun} must be at most {max}"),
        (None, None, _) => format!("{noun} is out of range"),
    };
    match error.code.as_ref() {
        "length" => Cow::Owned(bounds("length")),
        "range" => Cow::Owned(bounds("value")),
        "email" => Cow::Borrowed("must be an email address"),
        "url" => Cow::Borrowed("must be a URL"),
        "required" => Cow::Borrowed("is required"),
        "regex" => Cow::Borrowed("has an invalid format"),
        code => Cow::Owned(format!("is invalid ({code})")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize, Validate)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        #[validate(range(min = 1, max = 10))]
        count: u32,
    }

    #[derive(Debug, Deserialize, Validate)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        #[validate(length(min = 1))]
        title: String,
        #[validate(nested)]
        options: Inner,
        #[serde(default)]
        tags: Vec<String>,
    }

    fn invalid(params: Value) -> (Option<String>, String) {
        match parse_input::<Outer>(params) {
            Err(ConnectorError::InvalidInput { field, message }) => (field, message),
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn valid_nested_input_parses() {
        let outer: Outer =
            parse_input(json!({"title": "t", "options": {"count": 3}, "tags": ["a"]}))
                .expect("valid");
        assert_eq!(
            (outer.title.as_str(), outer.options.count, outer.tags.len()),
            ("t", 3, 1)
        );
    }

    #[test]
    fn nested_missing_fields_are_named_by_path() {
        let (field, message) = invalid(json!({"title": "t", "options": {}}));
        assert_eq!(field.as_deref(), Some("options.count"));
        assert_eq!(message, "`options.count`: missing field");
    }

    #[test]
    fn wrong_types_inside_lists_are_named_by_index() {
        let (field, message) =
            invalid(json!({"title": "t", "options": {"count": 1}, "tags": ["a", 2]}));
        assert_eq!(field.as_deref(), Some("tags[1]"));
        assert!(
            message.starts_with("`tags[1]`: invalid type: integer `2`"),
            "{message}"
        );
    }

    #[test]
    fn validation_failures_are_sorted_and_all_reported() {
        let (field, message) = invalid(json!({"title": "", "options": {"count": 11}}));
        assert_eq!(field.as_deref(), Some("options.count"));
        assert_eq!(
            message,
            "`options.count`: value must be between 1 and 10; `title`: length must be at least 1"
        );
    }

    #[test]
    fn non_object_params_are_rejected_without_a_field() {
        let (field, message) = invalid(json!([1, 2]));
        assert_eq!(field, None);
        assert!(message.contains("JSON object"));
    }

    #[test]
    fn no_input_accepts_null_and_empty_objects_only() {
        assert!(parse_input::<NoInput>(Value::Null).is_ok());
        assert!(parse_input::<NoInput>(json!({})).is_ok());
        assert!(matches!(
            parse_input::<NoInput>(json!({"x": 1})),
            Err(ConnectorError::InvalidInput { field: Some(f), .. }) if f == "x"
        ));
    }

    #[test]
    fn input_schemas_are_object_schemas_with_field_docs() {
        /// Parameters.
        #[derive(Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        #[expect(dead_code, reason = "only the schema is used")]
        struct Documented {
            /// The folder to list.
            folder_id: Option<String>,
        }
        let schema = input_schema::<Documented>();
        assert_eq!(schema["type"], "object");
        assert_eq!(
            schema["properties"]["folder_id"]["description"],
            "The folder to list."
        );
        assert_eq!(schema["additionalProperties"], false);
    }
}
