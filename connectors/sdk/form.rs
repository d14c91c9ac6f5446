//! Generic validation of a manual connector's credential form.
//!
//! The app renders any connector's form from its `&[FormField]` and validates the submitted
//! strings here; the result is the JSON object handed to `Connector::test_credentials`.
//! Invalid submissions come back as `FieldErrors` (field → message) so the form re-renders
//! with each message next to its input.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Number, Value};

use super::spec::{FieldKind, FormField};

/// Per-field error messages of a rejected form, keyed by field name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    /// Records `message` for `field` (the first message per field wins).
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.entry(field.into()).or_insert_with(|| message.into());
    }

    /// The message for `field`.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    /// Whether no field has an error.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of fields with an error.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// `(field, message)` pairs in field-name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The underlying map.
    pub fn into_map(self) -> BTreeMap<String, String> {
        self.0
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<_> = self
            .iter()
            .map(|(field, msg)| format!("`{field}`: {msg}"))
            .collect();
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for FieldErrors {}

/// Validates submitted form values against `fields`.
///
/// Text-like values are trimmed (passwords are kept as typed), empty values take the field's
/// default, required fields must be present, numbers, URLs and select values are parsed,
/// checkboxes become booleans, and keys that are not form fields are dropped. Optional
/// fields left empty are omitted from the result.
pub fn validate_form(
    fields: &[FormField],
    input: &HashMap<String, String>,
) -> Result<Map<String, Value>, FieldErrors> {
    let mut values = Map::new();
    let mut errors = FieldErrors::default();
    for field in fields {
        let raw = input
            .get(field.name)
            .map(String::as_str)
            .unwrap_or_default();
        match parse_field(field, raw) {
            Ok(Some(value)) => {
                values.insert(field.name.to_owned(), value);
            }
            Ok(None) if field.required => errors.add(field.name, "This field is required."),
            Ok(None) => {}
            Err(message) => errors.add(field.name, message),
        }
    }
    if errors.is_empty() {
        Ok(values)
    } else {
        Err(errors)
    }
}

/// Converts a JSON object of submitted values (the JSON API's manual-connection body) into
/// the string map [`validate_form`] takes: strings as-is, numbers and booleans printed,
/// `null` dropped, arrays and objects kept as JSON text (they then fail validation).
pub fn form_input_from_json(body: &Map<String, Value>) -> HashMap<String, String> {
    body.iter()
        .filter_map(|(key, value)| {
            let text = match value {
                Value::Null => return None,
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Some((key.clone(), text))
        })
        .collect()
}

/// `Ok(None)` means "no value" (empty and no default).
fn parse_field(field: &FormField, raw: &str) -> Result<Option<Value>, String> {
    let text = if field.kind.is_secret() {
        raw
    } else {
        raw.trim()
    };
    if let FieldKind::Checkbox = field.kind {
        return parse_checkbox(text, field.default).map(|checked| {
            // A required checkbox ("I agree") must be ticked.
            (checked || !field.required).then_some(Value::Bool(checked))
        });
    }
    let text = match (text.is_empty(), field.default) {
        (false, _) => text,
        (true, Some(default)) => default,
        (true, None) => return Ok(None),
    };
    match field.kind {
        FieldKind::Text | FieldKind::Password => Ok(Some(Value::String(text.to_owned()))),
        FieldKind::Number => parse_number(text).map(|n| Some(Value::Number(n))),
        FieldKind::Url => parse_url(text).map(|u| Some(Value::String(u))),
        FieldKind::Select(options) => {
            if options.iter().any(|(value, _)| *value == text) {
                Ok(Some(Value::String(text.to_owned())))
            } else {
                Err("Select one of the listed options.".to_owned())
            }
        }
        FieldKind::Checkbox => unreachable!("handled above"),
    }
}

fn parse_checkbox(text: &str, default: Option<&str>) -> Result<bool, String> {
    let text = if text.is_empty() {
        default.unwrap_or_default()
    } else {
        text
    };
    match text.to_ascii_lowercase().as_str() {
        "" | "false" | "off" | "0" | "no" => Ok(false),
        "true" | "on" | "1" | "yes" => Ok(true),
        _ => Err("Tick or untick this box.".to_owned()),
    }
}

fn parse_number(text: &str) -> Result<Number, String> {
    if let Ok(integer) = text.parse::<i64>() {
        return Ok(Number::from(integer));
    }
    text.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .ok_or_else(|| "Enter a number.".to_owned())
}

fn parse_url(text: &str) -> Result<String, String> {
    match url::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
            Ok(url.to_string())
        }
        _ => Err("Enter a full URL, such as https://example.edu.".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const fn field(name: &'static str, kind: FieldKind, required: bool) -> FormField {
        FormField {
            name,
            label: name,
            help: "",
            kind,
            required,
            default: None,
            placeholder: None,
        }
    }

    const FIELDS: &[FormField] = &[
        field("host", FieldKind::Text, true),
        field("password", FieldKind::Password, true),
        FormField {
            default: Some("5432"),
            ..field("port", FieldKind::Number, false)
        },
        field("endpoint_url", FieldKind::Url, false),
        FormField {
            default: Some("require"),
            ..field(
                "sslmode",
                FieldKind::Select(&[("require", "Require"), ("disable", "Off")]),
                false,
            )
        },
        field("read_only", FieldKind::Checkbox, false),
    ];

    fn input(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn valid_form_is_trimmed_parsed_and_defaulted() {
        let values = validate_form(
            FIELDS,
            &input(&[
                ("host", "  db.campus.edu "),
                ("password", " pass word "),
                ("read_only", "on"),
                ("unexpected", "dropped"),
            ]),
        )
        .expect("valid");
        assert_eq!(
            Value::Object(values),
            json!({
                "host": "db.campus.edu",
                "password": " pass word ",
                "port": 5432,
                "sslmode": "require",
                "read_only": true,
            })
        );
    }

    #[test]
    fn missing_required_fields_are_reported_by_name() {
        let errors = validate_form(FIELDS, &input(&[("host", "   ")])).expect_err("invalid");
        assert_eq!(errors.len(), 2);
        assert_eq!(errors.get("host"), Some("This field is required."));
        assert_eq!(errors.get("password"), Some("This field is required."));
    }

    #[test]
    fn numbers_urls_and_select_values_are_checked() {
        let errors = validate_form(
            FIELDS,
            &input(&[
                ("host", "h"),
                ("password", "p"),
                ("port", "five"),
                ("endpoint_url", "ftp://files"),
                ("sslmode", "sometimes"),
                ("read_only", "maybe"),
            ]),
        )
        .expect_err("invalid");
        assert_eq!(errors.get("port"), Some("Enter a number."));
        assert!(
            errors
                .get("endpoint_url")
                .is_some_and(|m| m.contains("URL"))
        );
        assert_eq!(
            errors.get("sslmode"),
            Some("Select one of the listed options.")
        );
        assert!(errors.get("read_only").is_some());
        assert!(errors.to_string().contains("`port`: Enter a number."));
    }

    #[test]
    fn decimal_numbers_and_https_urls_are_accepted() {
        let values = validate_form(
            FIELDS,
            &input(&[
                ("host", "h"),
                ("password", "p"),
                ("port", "1.5"),
                ("endpoint_url", "https://s3.campus.edu"),
            ]),
        )
        .expect("valid");
        assert_eq!(values["port"], json!(1.5));
        assert_eq!(values["endpoint_url"], json!("https://s3.campus.edu/"));
        assert_eq!(values["read_only"], json!(false));
    }

    #[test]
    fn required_checkbox_must_be_ticked() {
        let fields = [field("agree", FieldKind::Checkbox, true)];
        assert!(validate_form(&fields, &input(&[])).is_err());
        assert!(validate_form(&fields, &input(&[("agree", "true")])).is_ok());
    }

    #[test]
    fn json_bodies_convert_to_form_input() {
        let body = json!({"host": "h", "port": 5433, "read_only": true, "note": null});
        let converted = form_input_from_json(body.as_object().expect("object"));
        assert_eq!(
            converted,
            input(&[("host", "h"), ("port", "5433"), ("read_only", "true")])
        );
    }
}
