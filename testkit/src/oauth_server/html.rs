//! Just enough HTML reading for the provider's interaction pages: forms with their inputs,
//! and anchors' hrefs. Attribute values are entity-decoded.

pub struct Input {
    pub name: Option<String>,
    pub kind: String,
    pub value: Option<String>,
}
pub struct Form {
    pub action: Option<String>,
    pub inputs: Vec<Input>,
}
impl Form {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.inputs
            .iter()
            .find(|i| i.name.as_deref() == Some(name))
            .map(|i| i.value.as_deref().unwrap_or(""))
    }
}

/// Every `<tag ...>` opening tag (case-insensitive) with its attributes, plus its offset.
fn tags(html: &str, tag: &str) -> Vec<(usize, Vec<(String, String)>)> {
    let lower = html.to_ascii_lowercase();
    let needle = format!("<{tag}");
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = lower[from..].find(&needle) {
        let start = from + i;
        let after = start + needle.len();
        from = after;
        if !html[after..].starts_with(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/') {
            continue;
        }
        let (attrs, end) = attributes(html, after);
        out.push((start, attrs));
        from = end;
    }
    out
}

fn attributes(html: &str, mut i: usize) -> (Vec<(String, String)>, usize) {
    let b = html.as_bytes();
    let mut attrs = Vec::new();
    loop {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        if i >= b.len() || b[i] == b'>' {
            return (attrs, (i + 1).min(b.len()));
        }
        let name_start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && !b"=>/".contains(&b[i]) {
            i += 1;
        }
        let name = html[name_start..i].to_ascii_lowercase();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < b.len() && b[i] == b'=' {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                let q = b[i];
                let s = i + 1;
                i = s;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
                value = decode(&html[s..i]);
                i = (i + 1).min(b.len());
            } else {
                let s = i;
                while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                    i += 1;
                }
                value = decode(&html[s..i]);
            }
        }
        attrs.push((name, value));
    }
}

fn decode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(semi) = rest.find(';').filter(|&j| j <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let ch = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ if entity.starts_with("#x") || entity.starts_with("#X") => {
                u32::from_str_radix(&entity[2..], 16)
                    .ok()
                    .and_then(char::from_u32)
            }
            _ if entity.starts_with('#') => entity[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match ch {
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

fn get(attrs: &[(String, String)], name: &str) -> Option<String> {
    attrs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
}

pub fn forms(html: &str) -> Vec<Form> {
    let lower = html.to_ascii_lowercase();
    let inputs = tags(html, "input");
    tags(html, "form")
        .into_iter()
        .map(|(start, attrs)| {
            let end = lower[start..]
                .find("</form")
                .map_or(html.len(), |e| start + e);
            Form {
                action: get(&attrs, "action"),
                inputs: inputs
                    .iter()
                    .filter(|(at, _)| *at > start && *at < end)
                    .map(|(_, a)| Input {
                        name: get(a, "name"),
                        kind: get(a, "type")
                            .unwrap_or_else(|| "text".into())
                            .to_ascii_lowercase(),
                        value: get(a, "value"),
                    })
                    .collect(),
            }
        })
        .collect()
}

pub fn links(html: &str) -> Vec<String> {
    tags(html, "a")
        .into_iter()
        .filter_map(|(_, attrs)| get(&attrs, "href"))
        .collect()
}
