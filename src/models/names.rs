//! Validated names people type, parsed once where they enter (parse, don't validate): a
//! value of these types is known good everywhere it travels.

use std::fmt;

/// The longest folder name, in characters.
const MAX_FOLDER_NAME_CHARS: usize = 200;
/// The longest email address (RFC 5321's path limit).
const MAX_EMAIL_BYTES: usize = 254;

/// A knowledge folder's name: trimmed, 1 to 200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderName(String);

impl FolderName {
    /// Parses what a user typed; the error is the message to show them.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        if name.is_empty() {
            return Err("Give the folder a name.".into());
        }
        if name.chars().count() > MAX_FOLDER_NAME_CHARS {
            return Err(format!(
                "Folder names can be at most {MAX_FOLDER_NAME_CHARS} characters long."
            ));
        }
        if name.chars().any(char::is_control) {
            return Err("Folder names cannot contain control characters.".into());
        }
        Ok(Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FolderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An account's email address: trimmed, lowercased, valid, at most 254 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Parses what a user typed; the error is the message to show them.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let email = raw.trim().to_lowercase();
        if email.len() > MAX_EMAIL_BYTES || !validator::ValidateEmail::validate_email(&email) {
            return Err("Enter a valid email address.".into());
        }
        Ok(Self(email))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_are_trimmed_and_bounded_and_free_of_control_characters() {
        assert_eq!(
            FolderName::parse("  BIO 101  ").map(|n| n.as_str().to_owned()),
            Ok("BIO 101".to_owned())
        );
        assert!(FolderName::parse("   ").is_err());
        assert!(FolderName::parse(&"é".repeat(200)).is_ok());
        assert!(FolderName::parse(&"é".repeat(201)).is_err());
        assert!(FolderName::parse("Notes\u{0}").is_err());
        assert!(FolderName::parse("Week\n2").is_err());
    }

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(
            Email::parse(" Ada@Campus.EDU ").map(|e| e.to_string()),
            Ok("ada@campus.edu".to_owned())
        );
        for bad in ["", "ada", "ada@", "@campus.edu", "a b@campus.edu"] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
        let long = format!("{}@campus.edu", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
    }
}
