//! HTML written in an outside service (course pages, syllabi, announcements, knowledge
//! articles) as it leaves a connector: sanitized HTML for people and documents, plain text
//! for agents — [`RichText`], one shape every connector returns.
//!
//! Anyone can paste anything into such HTML, so it is never passed on raw:
//! [`RichText::from_html`] runs it through ammonia's allow-list (no script, style, iframes,
//! forms, event handlers or `javascript:` URLs; links get `rel="noopener noreferrer"`;
//! relative links are made absolute on the service's host). The plain text is read
//! from the sanitized HTML, which html5ever serialized: tags are well formed, attribute
//! values are double-quoted, and text escapes only `&amp;`, `&lt;`, `&gt;` and `&nbsp;`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// HTML from an outside service, sanitized, with its plain text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RichText {
    /// The HTML after sanitizing: safe to store and to show in a browser.
    pub html: String,
    /// The same content as plain text (paragraphs on their own lines, list items with
    /// `- `, links followed by their address), for reading and quoting.
    pub text: String,
}

impl RichText {
    /// Sanitizes `raw` (from the service at `base`, which relative links point into).
    pub fn from_html(raw: &str, base: &url::Url) -> Self {
        let html = sanitize(raw, base);
        let text = plain_text(&html);
        Self { html, text }
    }
}

/// A standalone HTML document around sanitized `body_html`: the title as `<title>` and
/// `<h1>`, then `lead` (a reference number, say) as a paragraph when given. Used when a
/// page or an article is imported into a knowledge folder.
pub fn document(title: &str, lead: Option<&str>, body_html: &str) -> String {
    let title = escape(title);
    let lead = lead
        .map(|lead| format!("<p>{}</p>\n", escape(lead)))
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n\
         </head>\n<body>\n<h1>{title}</h1>\n{lead}{body_html}\n</body>\n</html>\n"
    )
}

/// `text` with `&`, `<`, `>` and `"` escaped, for HTML text and attribute values.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn sanitize(raw: &str, base: &url::Url) -> String {
    let mut builder = ammonia::Builder::default();
    builder
        .link_rel(Some("noopener noreferrer"))
        .url_relative(ammonia::UrlRelative::RewriteWithBase(base.clone()));
    builder.clean(raw).to_string()
}

/// Tags that stand apart as paragraphs (a blank line before and after).
const PARAGRAPHS: &[&str] = &[
    "p",
    "div",
    "ul",
    "ol",
    "dl",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "blockquote",
    "pre",
    "hr",
    "section",
    "article",
    "header",
    "footer",
    "figure",
    "address",
    "details",
];

/// Tags that start or end a line.
const LINES: &[&str] = &[
    "li",
    "br",
    "tr",
    "dt",
    "dd",
    "figcaption",
    "summary",
    "caption",
];

/// The text of sanitized HTML (see the module docs for why a small scanner suffices).
pub fn plain_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    let mut pending_href: Vec<Option<String>> = Vec::new();
    let mut in_pre = 0usize;
    while let Some(lt) = rest.find('<') {
        push_text(&mut out, &rest[..lt], in_pre > 0);
        let tag_end = tag_end(&rest[lt..]).map_or(rest.len(), |end| lt + end);
        let tag = &rest[lt + 1..tag_end.saturating_sub(1).max(lt + 1)];
        rest = &rest[tag_end..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        match (name.as_str(), closing) {
            ("a", false) => pending_href.push(attribute(tag, "href")),
            ("a", true) => {
                if let Some(Some(href)) = pending_href.pop()
                    && !out.trim_end().ends_with(href.as_str())
                {
                    out.push_str(&format!(" ({href})"));
                }
            }
            ("pre", false) => in_pre += 1,
            ("pre", true) => in_pre = in_pre.saturating_sub(1),
            _ => {}
        }
        if PARAGRAPHS.contains(&name.as_str()) {
            end_line(&mut out, true);
        } else if LINES.contains(&name.as_str()) {
            end_line(&mut out, false);
            if name == "li" && !closing {
                out.push_str("- ");
            }
        }
    }
    push_text(&mut out, rest, in_pre > 0);
    tidy(&out)
}

/// The index just past the `>` that closes the tag starting at `s[0] == '<'`, skipping
/// `>` inside double-quoted attribute values.
fn tag_end(s: &str) -> Option<usize> {
    let mut quoted = false;
    for (i, c) in s.char_indices().skip(1) {
        match c {
            '"' => quoted = !quoted,
            '>' if !quoted => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// The decoded value of attribute `name` in a serialized start tag.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag[start..].find('"')? + start;
    Some(decode(&tag[start..end]))
}

fn push_text(out: &mut String, raw: &str, preformatted: bool) {
    if raw.is_empty() {
        return;
    }
    let text = decode(raw);
    if preformatted {
        out.push_str(&text);
        return;
    }
    for (i, word) in text.split_whitespace().enumerate() {
        let starts_with_space = i == 0 && text.starts_with(char::is_whitespace);
        if (i > 0 || starts_with_space) && !out.ends_with([' ', '\n']) && !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    if text.ends_with(char::is_whitespace) && !text.trim().is_empty() {
        out.push(' ');
    }
}

/// Ends the current line, leaving a blank line after it when `blank`.
fn end_line(out: &mut String, blank: bool) {
    while out.ends_with(' ') {
        out.pop();
    }
    if out.is_empty() {
        return;
    }
    let want = if blank { "\n\n" } else { "\n" };
    while !out.ends_with(want) {
        out.push('\n');
    }
}

/// Entities html5ever's serializer writes, and the numeric forms for good measure.
fn decode(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest.find(';').filter(|&i| i <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            _ => entity
                .strip_prefix("#x")
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Trims every line's end and the whole, and keeps at most one blank line in a row.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.trim().is_empty() {
            blank_run += 1;
            if blank_run > 1 || out.is_empty() {
                continue;
            }
        } else {
            blank_run = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> url::Url {
        url::Url::parse("https://canvas.example.edu").expect("url")
    }

    #[test]
    fn scripts_handlers_frames_and_javascript_links_are_removed() {
        let raw = r#"<p onclick="steal()">Week 1 <script>alert(document.cookie)</script><b>reading</b></p>
            <iframe src="https://evil.example/x"></iframe><style>p{}</style>
            <a href="javascript:alert(1)">click</a> <img src=x onerror="alert(2)">
            <form action="https://evil.example"><input name=p></form>"#;
        let rich = RichText::from_html(raw, &base());
        for banned in [
            "<script",
            "onclick",
            "onerror",
            "<iframe",
            "<style",
            "javascript:",
            "<form",
            "<input",
            "alert(",
        ] {
            assert!(
                !rich.html.contains(banned),
                "{banned} survived: {}",
                rich.html
            );
        }
        assert!(rich.html.contains("<b>reading</b>"), "{}", rich.html);
        assert!(!rich.text.contains("alert"), "{}", rich.text);
        assert!(rich.text.starts_with("Week 1 reading"), "{}", rich.text);
    }

    #[test]
    fn relative_links_point_into_the_instance_and_do_not_leak_the_opener() {
        let rich = RichText::from_html(r#"<a href="/courses/12/files/34">Slides</a>"#, &base());
        assert!(
            rich.html
                .contains(r#"href="https://canvas.example.edu/courses/12/files/34""#),
            "{}",
            rich.html
        );
        assert!(
            rich.html.contains(r#"rel="noopener noreferrer""#),
            "{}",
            rich.html
        );
        assert_eq!(
            rich.text,
            "Slides (https://canvas.example.edu/courses/12/files/34)"
        );
    }

    #[test]
    fn plain_text_keeps_paragraphs_lists_entities_and_preformatted_text() {
        let raw = "<h2>Syllabus</h2><p>Office hours:&nbsp;Mon &amp; Wed,\n  2&ndash;4 pm</p>\
                   <ul><li>Read ch. 1</li><li>Quiz &lt;10 min&gt;</li></ul>\
                   <pre>let x = 1;\n  x + 1</pre><p>Bye</p>";
        let rich = RichText::from_html(raw, &base());
        assert_eq!(
            rich.text,
            "Syllabus\n\nOffice hours: Mon & Wed, 2–4 pm\n\n- Read ch. 1\n- Quiz <10 min>\n\n\
             let x = 1;\n  x + 1\n\nBye",
            "html was {}",
            rich.html
        );
    }

    #[test]
    fn documents_escape_the_title_and_the_lead() {
        let doc = document("Week <1> & \"more\"", Some("KB<1>"), "<p>x</p>");
        assert!(doc.starts_with("<!DOCTYPE html>"));
        assert!(doc.contains("<title>Week &lt;1&gt; &amp; &quot;more&quot;</title>"));
        assert!(doc.contains("<p>KB&lt;1&gt;</p>\n<p>x</p>"));
        assert!(!document("t", None, "<p>x</p>").contains("<p></p>"));
    }

    #[test]
    fn attribute_values_with_angle_brackets_do_not_end_the_tag() {
        let rich = RichText::from_html(
            r#"<p title="a > b">x &gt; y</p><a href="https://e.example/?q=1&amp;r=2" title="<>">q</a>"#,
            &base(),
        );
        assert_eq!(rich.text, "x > y\n\nq (https://e.example/?q=1&r=2)");
    }
}
