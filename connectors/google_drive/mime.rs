//! Google Drive MIME types: which items are folders, shortcuts, binary files or
//! Google-native files; which native files can be exported, to what, and by default; and
//! the icon hint the UI shows for a type.
//!
//! Export targets follow Google's "Export MIME types for Google Workspace documents"
//! table. Forms, Sites, My Maps, Jamboards, Vids and third-party shortcuts have no export
//! through the Drive API, so they are listed but cannot be downloaded.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ConnectorError;

/// A folder.
pub const FOLDER: &str = "application/vnd.google-apps.folder";
/// Every Google-native type starts with this.
const GOOGLE_APPS: &str = "application/vnd.google-apps.";

/// The connector config key that picks the default export formats.
pub const EXPORT_FORMAT_KEY: &str = "EXPORT_FORMAT";

/// A Google-native file that Drive can export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Native {
    /// Google Docs.
    Document,
    /// Google Sheets.
    Spreadsheet,
    /// Google Slides.
    Presentation,
    /// Google Drawings.
    Drawing,
    /// Google Apps Script project.
    Script,
}

/// What an item's MIME type says about getting its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// A folder: list it, don't download it.
    Folder,
    /// A shortcut: follow `shortcutDetails.targetId`.
    Shortcut,
    /// Uploaded content: download it as is (`alt=media`).
    Binary,
    /// A Google-native file: export it.
    Native(Native),
    /// A Google-native item without any export (the label names the product).
    NotDownloadable(&'static str),
}

impl Content {
    /// Classifies a Drive MIME type.
    pub fn of(mime_type: &str) -> Self {
        let Some(kind) = mime_type.strip_prefix(GOOGLE_APPS) else {
            return Self::Binary;
        };
        match kind {
            "folder" => Self::Folder,
            "shortcut" => Self::Shortcut,
            "document" => Self::Native(Native::Document),
            "spreadsheet" => Self::Native(Native::Spreadsheet),
            "presentation" => Self::Native(Native::Presentation),
            "drawing" => Self::Native(Native::Drawing),
            "script" => Self::Native(Native::Script),
            "form" => Self::NotDownloadable("Google Forms"),
            "site" => Self::NotDownloadable("Google Sites"),
            "map" => Self::NotDownloadable("Google My Maps"),
            "jam" => Self::NotDownloadable("Jamboard"),
            "vid" => Self::NotDownloadable("Google Vids"),
            "fusiontable" => Self::NotDownloadable("Fusion Tables"),
            "drive-sdk" => Self::NotDownloadable("third-party app"),
            _ => Self::NotDownloadable("Google Workspace"),
        }
    }

    /// Whether `download_file` can produce bytes for this type.
    pub fn is_downloadable(self) -> bool {
        matches!(self, Self::Binary | Self::Native(_))
    }
}

/// How Google-native files are exported when the caller does not pick a format
/// (connector config `EXPORT_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportMode {
    /// Editable Office formats: Docs → docx, Sheets → xlsx, Slides → pptx.
    Office,
    /// PDF for everything.
    Pdf,
}

impl ExportMode {
    /// Reads `EXPORT_FORMAT` (`office` when unset); another value is `Misconfigured`.
    pub fn from_setting(value: Option<&str>) -> Result<Self, ConnectorError> {
        match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("" | "office") => Ok(Self::Office),
            Some("pdf") => Ok(Self::Pdf),
            Some(other) => Err(ConnectorError::misconfigured(format!(
                "`{EXPORT_FORMAT_KEY}` of connector `google-drive` must be `office` or `pdf`, not `{other}`"
            ))),
        }
    }
}

/// A format Google-native files can be exported to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// Microsoft Word (Docs).
    Docx,
    /// Microsoft Excel (Sheets).
    Xlsx,
    /// Microsoft PowerPoint (Slides).
    Pptx,
    /// OpenDocument text (Docs).
    Odt,
    /// OpenDocument spreadsheet (Sheets).
    Ods,
    /// OpenDocument presentation (Slides).
    Odp,
    /// PDF (Docs, Sheets, Slides, Drawings).
    Pdf,
    /// Rich Text (Docs).
    Rtf,
    /// Plain text (Docs, Slides).
    Txt,
    /// Web page, zipped HTML (Docs, Sheets).
    Html,
    /// EPUB (Docs).
    Epub,
    /// Markdown (Docs).
    Md,
    /// Comma-separated values, first sheet only (Sheets).
    Csv,
    /// Tab-separated values, first sheet only (Sheets).
    Tsv,
    /// JPEG (Drawings; first slide of Slides).
    Jpeg,
    /// PNG (Drawings; first slide of Slides).
    Png,
    /// SVG (Drawings; first slide of Slides).
    Svg,
    /// Apps Script project as JSON (Apps Script).
    Json,
}

impl ExportFormat {
    /// The short name (`docx`, `pdf`, …), as accepted by `export_file`.
    pub fn as_str(self) -> &'static str {
        self.details().0
    }

    /// The MIME type to ask `files.export` for.
    pub fn mime_type(self) -> &'static str {
        self.details().1
    }

    /// The file extension of the exported file, without dot.
    pub fn extension(self) -> &'static str {
        self.details().2
    }

    fn details(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Docx => (
                "docx",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "docx",
            ),
            Self::Xlsx => (
                "xlsx",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "xlsx",
            ),
            Self::Pptx => (
                "pptx",
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
                "pptx",
            ),
            Self::Odt => ("odt", "application/vnd.oasis.opendocument.text", "odt"),
            Self::Ods => (
                "ods",
                "application/vnd.oasis.opendocument.spreadsheet",
                "ods",
            ),
            Self::Odp => (
                "odp",
                "application/vnd.oasis.opendocument.presentation",
                "odp",
            ),
            Self::Pdf => ("pdf", "application/pdf", "pdf"),
            Self::Rtf => ("rtf", "application/rtf", "rtf"),
            Self::Txt => ("txt", "text/plain", "txt"),
            Self::Html => ("html", "application/zip", "zip"),
            Self::Epub => ("epub", "application/epub+zip", "epub"),
            Self::Md => ("md", "text/markdown", "md"),
            Self::Csv => ("csv", "text/csv", "csv"),
            Self::Tsv => ("tsv", "text/tab-separated-values", "tsv"),
            Self::Jpeg => ("jpeg", "image/jpeg", "jpg"),
            Self::Png => ("png", "image/png", "png"),
            Self::Svg => ("svg", "image/svg+xml", "svg"),
            Self::Json => ("json", "application/vnd.google-apps.script+json", "json"),
        }
    }
}

impl Native {
    /// The product name, for messages.
    pub fn label(self) -> &'static str {
        match self {
            Self::Document => "Google Docs",
            Self::Spreadsheet => "Google Sheets",
            Self::Presentation => "Google Slides",
            Self::Drawing => "Google Drawings",
            Self::Script => "Apps Script",
        }
    }

    /// Every format Drive exports this type to, the default ones first.
    pub fn formats(self) -> &'static [ExportFormat] {
        use ExportFormat::*;
        match self {
            Self::Document => &[Docx, Pdf, Odt, Rtf, Txt, Html, Epub, Md],
            Self::Spreadsheet => &[Xlsx, Pdf, Ods, Html, Csv, Tsv],
            Self::Presentation => &[Pptx, Pdf, Odp, Txt, Jpeg, Png, Svg],
            Self::Drawing => &[Pdf, Png, Jpeg, Svg],
            Self::Script => &[Json],
        }
    }

    /// The format used when the caller does not pick one. Drawings have no Office format:
    /// PDF keeps their vectors and text, so they are PDF in both modes.
    pub fn default_format(self, mode: ExportMode) -> ExportFormat {
        match (self, mode) {
            (Self::Script, _) => ExportFormat::Json,
            (Self::Drawing, _) | (_, ExportMode::Pdf) => ExportFormat::Pdf,
            (Self::Document, ExportMode::Office) => ExportFormat::Docx,
            (Self::Spreadsheet, ExportMode::Office) => ExportFormat::Xlsx,
            (Self::Presentation, ExportMode::Office) => ExportFormat::Pptx,
        }
    }

    /// `format` if this type can be exported to it, else `Unsupported` listing the choices.
    pub fn check_format(self, format: ExportFormat) -> Result<ExportFormat, ConnectorError> {
        if self.formats().contains(&format) {
            return Ok(format);
        }
        let choices: Vec<_> = self.formats().iter().map(|f| f.as_str()).collect();
        Err(ConnectorError::Unsupported {
            message: format!(
                "{} files cannot be exported as {}; choose one of: {}",
                self.label(),
                format.as_str(),
                choices.join(", ")
            ),
        })
    }
}

/// The name of an exported file: `name` plus the format's extension, unless it already
/// ends with it.
pub fn export_name(name: &str, format: ExportFormat) -> String {
    let extension = format.extension();
    let has_it = name
        .rsplit_once('.')
        .is_some_and(|(stem, ext)| !stem.is_empty() && ext.eq_ignore_ascii_case(extension));
    if has_it {
        name.to_owned()
    } else {
        format!("{name}.{extension}")
    }
}

/// The app's file icon for Google's own types (Docs, Sheets, Slides, Drawings, Apps
/// Script, Forms…); `None` for standard MIME types, which the sdk's rules cover.
pub fn file_icon(mime_type: &str) -> Option<crate::FileIcon> {
    use crate::FileIcon;
    match Content::of(mime_type) {
        Content::Folder => Some(FileIcon::Folder),
        Content::Native(Native::Document) => Some(FileIcon::Document),
        Content::Native(Native::Spreadsheet) => Some(FileIcon::Spreadsheet),
        Content::Native(Native::Presentation) => Some(FileIcon::Presentation),
        Content::Native(Native::Drawing) => Some(FileIcon::Image),
        Content::Native(Native::Script) => Some(FileIcon::Code),
        Content::Shortcut | Content::NotDownloadable(_) => Some(FileIcon::File),
        Content::Binary => None,
    }
}

/// An icon hint for a MIME type: `folder`, `document`, `spreadsheet`, `presentation`,
/// `drawing`, `form`, `code`, `pdf`, `image`, `video`, `audio`, `archive`, `text` or `file`.
pub fn icon_for(mime_type: &str) -> &'static str {
    match Content::of(mime_type) {
        Content::Folder => return "folder",
        Content::Native(Native::Document) => return "document",
        Content::Native(Native::Spreadsheet) => return "spreadsheet",
        Content::Native(Native::Presentation) => return "presentation",
        Content::Native(Native::Drawing) => return "drawing",
        Content::Native(Native::Script) => return "code",
        Content::NotDownloadable("Google Forms") => return "form",
        Content::Shortcut | Content::NotDownloadable(_) => return "file",
        Content::Binary => {}
    }
    let mime = crate::files::ascii_lowercase(mime_type);
    let (top, sub) = mime.split_once('/').unwrap_or((&mime, ""));
    match top {
        "image" => return "image",
        "video" => return "video",
        "audio" => return "audio",
        _ => {}
    }
    if sub == "pdf" {
        "pdf"
    } else if sub.contains("wordprocessing")
        || sub == "msword"
        || sub.ends_with("opendocument.text")
    {
        "document"
    } else if sub.contains("spreadsheet") || sub == "vnd.ms-excel" || sub == "csv" {
        "spreadsheet"
    } else if sub.contains("presentation") || sub == "vnd.ms-powerpoint" {
        "presentation"
    } else if [
        "zip",
        "gzip",
        "x-tar",
        "x-7z-compressed",
        "vnd.rar",
        "x-rar-compressed",
    ]
    .contains(&sub)
    {
        "archive"
    } else if top == "text" {
        "text"
    } else {
        "file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mime_types_are_classified() {
        assert_eq!(Content::of(FOLDER), Content::Folder);
        assert_eq!(
            Content::of("application/vnd.google-apps.shortcut"),
            Content::Shortcut
        );
        assert_eq!(Content::of("application/pdf"), Content::Binary);
        assert_eq!(
            Content::of("application/vnd.google-apps.document"),
            Content::Native(Native::Document)
        );
        assert_eq!(
            Content::of("application/vnd.google-apps.form"),
            Content::NotDownloadable("Google Forms")
        );
        assert!(!Content::of("application/vnd.google-apps.site").is_downloadable());
        assert!(Content::of("application/vnd.google-apps.drawing").is_downloadable());
    }

    #[test]
    fn default_formats_follow_the_export_mode() {
        let office = ExportMode::Office;
        let pdf = ExportMode::Pdf;
        assert_eq!(Native::Document.default_format(office), ExportFormat::Docx);
        assert_eq!(
            Native::Spreadsheet.default_format(office),
            ExportFormat::Xlsx
        );
        assert_eq!(
            Native::Presentation.default_format(office),
            ExportFormat::Pptx
        );
        assert_eq!(Native::Drawing.default_format(office), ExportFormat::Pdf);
        for native in [Native::Document, Native::Spreadsheet, Native::Presentation] {
            assert_eq!(native.default_format(pdf), ExportFormat::Pdf);
            assert_eq!(native.formats()[0], native.default_format(office));
        }
        assert_eq!(Native::Script.default_format(pdf), ExportFormat::Json);
    }

    #[test]
    fn export_mode_setting_is_office_or_pdf() {
        assert_eq!(
            ExportMode::from_setting(None).ok(),
            Some(ExportMode::Office)
        );
        assert_eq!(
            ExportMode::from_setting(Some(" PDF ")).ok(),
            Some(ExportMode::Pdf)
        );
        assert!(matches!(
            ExportMode::from_setting(Some("docx")),
            Err(ConnectorError::Misconfigured { .. })
        ));
    }

    #[test]
    fn unsupported_formats_list_the_choices() {
        let error = Native::Spreadsheet
            .check_format(ExportFormat::Docx)
            .expect_err("sheets are not docx");
        assert!(
            error.to_string().contains("xlsx, pdf, ods, html, csv, tsv"),
            "{error}"
        );
        assert_eq!(
            Native::Drawing.check_format(ExportFormat::Png).ok(),
            Some(ExportFormat::Png)
        );
    }

    #[test]
    fn export_names_get_the_extension_once() {
        assert_eq!(export_name("Essay", ExportFormat::Docx), "Essay.docx");
        assert_eq!(export_name("Essay.DOCX", ExportFormat::Docx), "Essay.DOCX");
        assert_eq!(
            export_name("v1.2 notes", ExportFormat::Pdf),
            "v1.2 notes.pdf"
        );
        assert_eq!(export_name(".pdf", ExportFormat::Pdf), ".pdf.pdf");
        assert_eq!(export_name("Site", ExportFormat::Html), "Site.zip");
    }

    #[test]
    fn google_types_have_app_icons_and_standard_types_are_left_to_the_sdk() {
        use crate::FileIcon;
        assert_eq!(file_icon(FOLDER), Some(FileIcon::Folder));
        assert_eq!(
            file_icon("application/vnd.google-apps.document"),
            Some(FileIcon::Document)
        );
        assert_eq!(
            file_icon("application/vnd.google-apps.drawing"),
            Some(FileIcon::Image)
        );
        assert_eq!(
            file_icon("application/vnd.google-apps.form"),
            Some(FileIcon::File)
        );
        assert_eq!(file_icon("application/pdf"), None);
    }

    #[test]
    fn icons_follow_the_type() {
        assert_eq!(icon_for(FOLDER), "folder");
        assert_eq!(
            icon_for("application/vnd.google-apps.spreadsheet"),
            "spreadsheet"
        );
        assert_eq!(icon_for("application/pdf"), "pdf");
        assert_eq!(
            icon_for("application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
            "document"
        );
        assert_eq!(icon_for("image/png"), "image");
        assert_eq!(icon_for("IMAGE/PNG"), "image");
        assert_eq!(icon_for("Application/ZIP"), "archive");
        assert_eq!(icon_for("application/zip"), "archive");
        assert_eq!(icon_for("text/markdown"), "text");
        assert_eq!(icon_for("application/octet-stream"), "file");
    }
}
