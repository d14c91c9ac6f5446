//! Knowledge as a drive, for cloud import and for `search_knowledge`: the bases the user
//! may read, then their categories and published articles; an article downloads as an
//! HTML document (sanitized).
//!
//! Ids: `kb:<sys_id>`, `category:<sys_id>`, `article:<sys_id>`. Page tokens are the offset
//! of the next page of articles (categories come whole on the first page).

use bytes::Bytes;
use futures_util::StreamExt;

use super::api::{Instance, Select};
use super::inputs::{RecordRef, SearchKnowledgeInput, require_sys_id, sys_id};
use super::models::{ArticleSummary, Page};
use super::query::{Condition, Query, Text};
use super::wire;
use crate::files::Breadcrumb;
use crate::{ConnectorError, Download, FileEntry, FileKind, FileList};

/// Articles per page when browsing.
pub const PAGE: u32 = 100;
/// Categories read per folder.
const MAX_CATEGORIES: u32 = 200;
/// Categories walked up for breadcrumbs.
const MAX_DEPTH: usize = 12;

/// What a knowledge id points at.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Bases,
    Base(String),
    Category(String),
}

impl Node {
    fn parse(raw: Option<&str>) -> Result<Self, ConnectorError> {
        let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
            return Ok(Self::Bases);
        };
        let invalid = || {
            ConnectorError::invalid_field(
                "folder_id",
                "`folder_id`: expected `kb:<sys_id>` or `category:<sys_id>` from a listing",
            )
        };
        let (kind, id) = raw.split_once(':').ok_or_else(invalid)?;
        let id = sys_id(id).ok_or_else(invalid)?;
        match kind {
            "kb" => Ok(Self::Base(id)),
            "category" => Ok(Self::Category(id)),
            _ => Err(invalid()),
        }
    }
}

/// `search_knowledge`: published articles matching the words.
pub async fn search(
    instance: &Instance<'_>,
    params: &SearchKnowledgeInput,
) -> Result<Page<ArticleSummary>, ConnectorError> {
    let words = Text::parse("query", &params.query)?;
    let mut query = Query::new()
        .and(Condition::is("workflow_state", "published"))
        .and(Condition::text_search(words));
    if let Some(base) = &params.knowledge_base {
        query = query.and(Condition::is(
            "kb_knowledge_base",
            require_sys_id("knowledge_base", base)?,
        ));
    }
    let select = Select {
        query,
        fields: wire::Article::FIELDS,
        limit: params.limit.unwrap_or(super::inputs::DEFAULT_LIMIT),
        offset: params.offset.unwrap_or(0),
    };
    let rows = instance
        .list::<wire::Article>("kb_knowledge", &select)
        .await?;
    let items = rows
        .items
        .iter()
        .map(|row| ArticleSummary::from_row(instance, row))
        .collect();
    Ok(Page::new(items, rows.total, select.offset, select.limit))
}

/// One article by number, sys_id or `article:<sys_id>`.
pub async fn article(
    instance: &Instance<'_>,
    field: &str,
    raw: &str,
) -> Result<wire::Article, ConnectorError> {
    let raw = raw.trim();
    let raw = raw.strip_prefix("article:").unwrap_or(raw);
    let missing = || ConnectorError::NotFound {
        message: format!("no published knowledge article `{raw}` that you may read"),
    };
    match RecordRef::parse(field, raw, "KB0010001")? {
        RecordRef::SysId(id) => instance
            .get("kb_knowledge", &id, wire::Article::FIELDS)
            .await
            .map_err(|e| match e {
                ConnectorError::NotFound { .. } => missing(),
                other => other,
            }),
        RecordRef::Number(number) => instance
            .first(
                "kb_knowledge",
                Query::new().and(Condition::is("number", number)),
                wire::Article::FIELDS,
            )
            .await?
            .ok_or_else(missing),
    }
}

/// `browse_knowledge`.
pub async fn browse(
    instance: &Instance<'_>,
    folder_id: Option<&str>,
    page_token: Option<&str>,
) -> Result<FileList, ConnectorError> {
    let offset: u32 = match page_token {
        Some(token) => token.parse().map_err(|_| {
            ConnectorError::invalid_field(
                "page_token",
                "`page_token`: not a next page token from this connector",
            )
        })?,
        None => 0,
    };
    match Node::parse(folder_id)? {
        Node::Bases => {
            let select = Select {
                query: Query::new()
                    .and(Condition::is("active", "true"))
                    .order_by("title", false),
                fields: wire::KnowledgeBase::FIELDS,
                limit: MAX_CATEGORIES,
                offset: 0,
            };
            let bases = instance
                .list::<wire::KnowledgeBase>("kb_knowledge_base", &select)
                .await?;
            Ok(FileList {
                files: bases
                    .items
                    .iter()
                    .map(|b| {
                        folder(
                            format!("kb:{}", b.sys_id.value),
                            b.title.shown().unwrap_or("Knowledge"),
                            None,
                        )
                    })
                    .collect(),
                next_page_token: None,
                breadcrumbs: Some(Vec::new()),
            })
        }
        Node::Base(base) => {
            let categories = Query::new()
                .and(Condition::is("kb_knowledge_base", base.clone()))
                .and(Condition::is_empty("parent_id"));
            let articles = Query::new()
                .and(Condition::is("kb_knowledge_base", base.clone()))
                .and(Condition::is_empty("kb_category"));
            let crumbs = vec![base_crumb(instance, &base).await?];
            listing(
                instance,
                categories,
                articles,
                offset,
                crumbs,
                &format!("kb:{base}"),
            )
            .await
        }
        Node::Category(category) => {
            let categories = Query::new().and(Condition::is("parent_id", category.clone()));
            let articles = Query::new().and(Condition::is("kb_category", category.clone()));
            let crumbs = category_crumbs(instance, &category).await?;
            listing(
                instance,
                categories,
                articles,
                offset,
                crumbs,
                &format!("category:{category}"),
            )
            .await
        }
    }
}

/// Subcategories (first page only) and one page of published articles.
async fn listing(
    instance: &Instance<'_>,
    categories: Query,
    articles: Query,
    offset: u32,
    crumbs: Vec<Breadcrumb>,
    parent: &str,
) -> Result<FileList, ConnectorError> {
    let mut files = Vec::new();
    if offset == 0 {
        let select = Select {
            query: categories.order_by("label", false),
            fields: wire::KbCategory::FIELDS,
            limit: MAX_CATEGORIES,
            offset: 0,
        };
        let rows = instance
            .list::<wire::KbCategory>("kb_category", &select)
            .await?;
        files.extend(rows.items.iter().map(|c| {
            folder(
                format!("category:{}", c.sys_id.value),
                c.label.shown().unwrap_or("Category"),
                Some(parent),
            )
        }));
    }
    let select = Select {
        query: articles
            .and(Condition::is("workflow_state", "published"))
            .order_by("short_description", false),
        fields: wire::Article::FIELDS,
        limit: PAGE,
        offset,
    };
    let rows = instance
        .list::<wire::Article>("kb_knowledge", &select)
        .await?;
    let page = Page::new(
        rows.items
            .iter()
            .map(|row| ArticleSummary::from_row(instance, row))
            .collect(),
        rows.total,
        offset,
        PAGE,
    );
    let next = page.next_offset;
    files.extend(page.items.iter().map(article_entry));
    Ok(FileList {
        files,
        next_page_token: next.map(|n| n.to_string()),
        breadcrumbs: (offset == 0).then_some(crumbs),
    })
}

async fn base_crumb(instance: &Instance<'_>, base: &str) -> Result<Breadcrumb, ConnectorError> {
    let row: wire::KnowledgeBase = instance
        .get("kb_knowledge_base", base, wire::KnowledgeBase::FIELDS)
        .await?;
    Ok(Breadcrumb {
        id: format!("kb:{base}"),
        name: row.title.shown().unwrap_or("Knowledge").to_owned(),
    })
}

/// The base, then each category from the top down to `category`.
async fn category_crumbs(
    instance: &Instance<'_>,
    category: &str,
) -> Result<Vec<Breadcrumb>, ConnectorError> {
    let mut chain = Vec::new();
    let mut current = category.to_owned();
    let mut base = None;
    for _ in 0..MAX_DEPTH {
        let row: wire::KbCategory = instance
            .get("kb_category", &current, wire::KbCategory::FIELDS)
            .await?;
        chain.push(Breadcrumb {
            id: format!("category:{current}"),
            name: row.label.shown().unwrap_or("Category").to_owned(),
        });
        base = row.kb_knowledge_base.value().map(str::to_owned);
        match row.parent_id.value() {
            Some(parent) => current = parent.to_owned(),
            None => break,
        }
    }
    let mut crumbs = Vec::new();
    if let Some(base) = base {
        crumbs.push(base_crumb(instance, &base).await?);
    }
    crumbs.extend(chain.into_iter().rev());
    Ok(crumbs)
}

/// Search results as files.
pub fn as_files(page: Page<ArticleSummary>) -> FileList {
    FileList {
        files: page.items.iter().map(article_entry).collect(),
        next_page_token: page.next_offset.map(|n| n.to_string()),
        breadcrumbs: None,
    }
}

/// `download_article`.
pub async fn download(instance: &Instance<'_>, raw: &str) -> Result<Download, ConnectorError> {
    let row = article(instance, "file_id", raw).await?;
    let summary = ArticleSummary::from_row(instance, &row);
    let body = instance.rich_text(&row.text.value);
    let document = crate::sdk::html::document(&summary.title, Some(&summary.number), &body.html);
    let bytes = Bytes::from(document.into_bytes());
    let size = bytes.len() as u64;
    let stream = futures_util::stream::once(async move { Ok(bytes) }).boxed();
    let entry = article_entry(&summary);
    Ok(Download::new(entry.name, entry.mime_type, stream).with_size(size))
}

fn folder(id: String, name: &str, parent: Option<&str>) -> FileEntry {
    FileEntry {
        id,
        name: name.to_owned(),
        kind: FileKind::Folder,
        mime_type: "inode/directory".to_owned(),
        size: None,
        modified_time: None,
        checksum: None,
        revision: None,
        web_link: None,
        parent_id: parent.map(str::to_owned),
        can_download: false,
    }
}

fn article_entry(article: &ArticleSummary) -> FileEntry {
    let title = if article.title.trim().is_empty() {
        article.number.clone()
    } else {
        article.title.replace(['/', '\\'], "-")
    };
    FileEntry {
        id: format!("article:{}", article.sys_id),
        name: format!("{title}.html"),
        kind: FileKind::File,
        mime_type: "text/html".to_owned(),
        size: None,
        modified_time: article.updated_at,
        checksum: None,
        revision: article.updated_at.map(|t| t.to_rfc3339()),
        web_link: article.web_link.clone(),
        parent_id: article
            .category
            .as_ref()
            .map(|c| format!("category:{}", c.sys_id))
            .or_else(|| {
                article
                    .knowledge_base
                    .as_ref()
                    .map(|b| format!("kb:{}", b.sys_id))
            }),
        can_download: true,
    }
}
