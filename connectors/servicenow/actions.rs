//! The `servicenow` actions: incidents (list mine, read, create, update, comment), knowledge
//! (search, read, and browse/download for cloud import), the service catalog, request
//! status and a user lookup. Every query goes through [`super::query`]; every record is read
//! with `sysparm_display_value=all` and only the fields its model needs.

use serde_json::{Map, Value, json};

use super::api::{Instance, Select};
use super::inputs::{
    ArticleInput, CommentInput, CreateIncidentInput, DEFAULT_LIMIT, IncidentInput,
    ListCatalogItemsInput, ListMyIncidentsInput, LookupUserInput, RecordRef, RequestInput,
    SearchKnowledgeInput, UpdateIncidentInput, require_sys_id,
};
use super::knowledge;
use super::models::{
    ArticleSummary, CatalogItem, IncidentDetail, IncidentSummary, JournalEntry, KnowledgeArticle,
    Page, RequestStatus, UserSummary,
};
use super::query::{Condition, Query, Text};
use super::wire;
use crate::{ActionContext, ConnectorError, Download, FileList, connector_actions};

/// Comments shown with an incident.
const RECENT_COMMENTS: u32 = 10;

/// The `servicenow` actions.
#[derive(Debug, Default)]
pub struct ServiceNowActions;

/// Parameters of `browse_knowledge`.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema, validator::Validate)]
#[serde(deny_unknown_fields)]
pub struct BrowseKnowledgeInput {
    /// What to open: absent for the knowledge bases, then `kb:<sys_id>` or
    /// `category:<sys_id>` from an earlier listing.
    #[serde(default)]
    #[validate(length(min = 1, max = 64))]
    pub folder_id: Option<String>,
    /// `next_page_token` of the previous page of the same listing.
    #[serde(default)]
    #[validate(length(min = 1, max = 16))]
    pub page_token: Option<String>,
}

/// Parameters of `download_article`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema, validator::Validate)]
#[serde(deny_unknown_fields)]
pub struct DownloadArticleInput {
    /// An article's `id` from `browse_knowledge` (`article:<sys_id>`), its number
    /// (`KB0010001`) or its sys_id.
    #[validate(length(min = 1, max = 64))]
    pub file_id: String,
}

#[connector_actions]
impl ServiceNowActions {
    /// List incidents you reported or are assigned to, most recently changed first: open
    /// ones by default, or those in `state`; narrow by `priority` or words in the
    /// description. Pages with `limit` and `offset` (`total` says how many match).
    #[action(tags(read))]
    async fn list_my_incidents(
        &self,
        ctx: &ActionContext,
        params: ListMyIncidentsInput,
    ) -> Result<Page<IncidentSummary>, ConnectorError> {
        let instance = Instance::new(ctx)?;
        let search = params
            .search
            .as_deref()
            .map(|s| Text::parse("search", s))
            .transpose()?;
        let mut query = Query::new()
            .and_any([
                Condition::is_me("caller_id"),
                Condition::is_me("assigned_to"),
            ])
            .and_maybe(params.state.map(|s| Condition::is("state", s.code())))
            .and_maybe(params.priority.map(|p| Condition::is("priority", p.code())));
        if params.state.is_none() && !params.include_closed {
            query = query.and(Condition::is("active", "true"));
        }
        if let Some(words) = search {
            query = query.and_any([
                Condition::like("short_description", words.clone()),
                Condition::like("description", words),
            ]);
        }
        let select = select(
            query.order_by("sys_updated_on", true),
            wire::Incident::FIELDS,
            params.limit,
            params.offset,
        );
        let rows = instance.list::<wire::Incident>("incident", &select).await?;
        let items = rows
            .items
            .iter()
            .map(|row| IncidentSummary::from_row(&instance, row))
            .collect();
        Ok(Page::new(items, rows.total, select.offset, select.limit))
    }

    /// One incident by number (`INC0012345`) or sys_id, with its description and its
    /// latest comments (and work notes, if you may read them).
    #[action(tags(read))]
    async fn get_incident(
        &self,
        ctx: &ActionContext,
        params: IncidentInput,
    ) -> Result<IncidentDetail, ConnectorError> {
        let instance = Instance::new(ctx)?;
        let row = incident(&instance, &params.incident).await?;
        detail(&instance, row).await
    }

    /// Report a new incident for yourself: a short description, optionally a description,
    /// urgency, impact and category. Returns the new incident with its number.
    #[action(tags(write))]
    async fn create_incident(
        &self,
        ctx: &ActionContext,
        params: CreateIncidentInput,
    ) -> Result<IncidentSummary, ConnectorError> {
        let instance = Instance::new(ctx)?;
        let me = me(&instance).await?;
        let mut body = Map::new();
        body.insert("caller_id".into(), json!(me.sys_id));
        body.insert(
            "short_description".into(),
            json!(params.short_description.trim()),
        );
        fields_into(
            &mut body,
            params.description,
            params.urgency,
            params.impact,
            params.category,
        )?;
        let row: wire::Incident = instance
            .create("incident", Value::Object(body), wire::Incident::FIELDS)
            .await?;
        Ok(IncidentSummary::from_row(&instance, &row))
    }

    /// Change an incident's short description, description, urgency, impact or category
    /// (nothing else); the instance's rules decide whether you may.
    #[action(tags(write))]
    async fn update_incident(
        &self,
        ctx: &ActionContext,
        params: UpdateIncidentInput,
    ) -> Result<IncidentSummary, ConnectorError> {
        let instance = Instance::new(ctx)?;
        let mut body = Map::new();
        if let Some(summary) = &params.short_description {
            body.insert("short_description".into(), json!(summary.trim()));
        }
        fields_into(
            &mut body,
            params.description,
            params.urgency,
            params.impact,
            params.category,
        )?;
        if body.is_empty() {
            return Err(ConnectorError::InvalidInput {
                field: None,
                message: "nothing to change: give at least one of short_description, description, urgency, impact, category".into(),
            });
        }
        let current = incident(&instance, &params.incident).await?;
        let row: wire::Incident = instance
            .update(
                "incident",
                &current.sys_id.value,
                Value::Object(body),
                wire::Incident::FIELDS,
            )
            .await?;
        Ok(IncidentSummary::from_row(&instance, &row))
    }

    /// Add a comment to an incident (the caller sees it), or a work note (internal; needs
    /// the `itil` role). Returns the incident with its latest comments.
    #[action(tags(write))]
    async fn add_incident_comment(
        &self,
        ctx: &ActionContext,
        params: CommentInput,
    ) -> Result<IncidentDetail, ConnectorError> {
        let instance = Instance::new(ctx)?;
        let current = incident(&instance, &params.incident).await?;
        let field = if params.work_note {
            "work_notes"
        } else {
            "comments"
        };
        let row: wire::Incident = instance
            .update(
                "incident",
                &current.sys_id.value,
                json!({ field: params.text.trim() }),
                wire::Incident::FIELDS,
            )
            .await?;
        detail(&instance, row).await
    }

    /// Search the published knowledge articles you may read for words (in title and text),
    /// optionally in one knowledge base. Open one with `get_knowledge_article`.
    #[action(tags(file_browse, read))]
    async fn search_knowledge(
        &self,
        ctx: &ActionContext,
        params: SearchKnowledgeInput,
    ) -> Result<Page<ArticleSummary>, ConnectorError> {
        let instance = Instance::new(ctx)?;
        knowledge::search(&instance, &params).await
    }

    /// One knowledge article by number (`KB0010001`) or sys_id, with its content as
    /// sanitized HTML and as plain text.
    #[action(tags(read))]
    async fn get_knowledge_article(
        &self,
        ctx: &ActionContext,
        params: ArticleInput,
    ) -> Result<KnowledgeArticle, ConnectorError> {
        let instance = Instance::new(ctx)?;
        let row = knowledge::article(&instance, "article", &params.article).await?;
        Ok(KnowledgeArticle {
            article: ArticleSummary::from_row(&instance, &row),
            body: instance.rich_text(&row.text.value),
        })
    }

    /// List the active service-catalog items you can order, by name, optionally in one
    /// category or matching words.
    #[action(tags(read))]
    async fn list_catalog_items(
        &self,
        ctx: &ActionContext,
        params: ListCatalogItemsInput,
    ) -> Result<Page<CatalogItem>, ConnectorError> {
        let instance = Instance::new(ctx)?;
        let mut query = Query::new().and(Condition::is("active", "true"));
        if let Some(category) = &params.category {
            query = query.and(Condition::is(
                "category",
                require_sys_id("category", category)?,
            ));
        }
        if let Some(words) = params.search.as_deref() {
            let words = Text::parse("search", words)?;
            query = query.and_any([
                Condition::like("name", words.clone()),
                Condition::like("short_description", words),
            ]);
        }
        let select = select(
            query.order_by("name", false),
            wire::CatalogItem::FIELDS,
            params.limit,
            params.offset,
        );
        let rows = instance
            .list::<wire::CatalogItem>("sc_cat_item", &select)
            .await?;
        let items = rows
            .items
            .iter()
            .map(|row| CatalogItem::from_row(&instance, row))
            .collect();
        Ok(Page::new(items, rows.total, select.offset, select.limit))
    }

    /// Where a request (`REQ0010001`) or requested item (`RITM0010001`) stands: its stage,
    /// state and approval, its items, and who was asked to approve.
    #[action(tags(read))]
    async fn get_request_status(
        &self,
        ctx: &ActionContext,
        params: RequestInput,
    ) -> Result<RequestStatus, ConnectorError> {
        let instance = Instance::new(ctx)?;
        super::requests::status(&instance, &params.number).await
    }

    /// Find a person by email address or user name (exactly one): name, user name, email,
    /// title and department only.
    #[action(tags(read))]
    async fn lookup_user(
        &self,
        ctx: &ActionContext,
        params: LookupUserInput,
    ) -> Result<UserSummary, ConnectorError> {
        let instance = Instance::new(ctx)?;
        let condition = match (&params.email, &params.user_name) {
            (Some(email), None) => Condition::eq("email", Text::parse("email", email)?),
            (None, Some(name)) => Condition::eq("user_name", Text::parse("user_name", name)?),
            _ => {
                return Err(ConnectorError::InvalidInput {
                    field: None,
                    message: "give exactly one of `email` and `user_name`".into(),
                });
            }
        };
        let query = Query::new()
            .and(Condition::is("active", "true"))
            .and(condition);
        let row: Option<wire::User> = instance
            .first("sys_user", query, wire::User::FIELDS)
            .await?;
        row.map(|row| UserSummary::from_row(&row))
            .ok_or_else(|| ConnectorError::NotFound {
                message: "no active ServiceNow user with that email or user name".into(),
            })
    }

    /// Browse the knowledge bases you may read like folders: without `folder_id` the
    /// bases, then `kb:<sys_id>` or `category:<sys_id>`; articles import as HTML documents.
    #[action(tags(file_browse, read))]
    async fn browse_knowledge(
        &self,
        ctx: &ActionContext,
        params: BrowseKnowledgeInput,
    ) -> Result<FileList, ConnectorError> {
        let instance = Instance::new(ctx)?;
        knowledge::browse(
            &instance,
            params.folder_id.as_deref(),
            params.page_token.as_deref(),
        )
        .await
    }

    /// Download a knowledge article as a standalone HTML document (sanitized).
    #[action(tags(file_download, read), download)]
    async fn download_article(
        &self,
        ctx: &ActionContext,
        params: DownloadArticleInput,
    ) -> Result<Download, ConnectorError> {
        let instance = Instance::new(ctx)?;
        knowledge::download(&instance, &params.file_id).await
    }
}

fn select(query: Query, fields: &'static str, limit: Option<u32>, offset: Option<u32>) -> Select {
    Select {
        query,
        fields,
        limit: limit.unwrap_or(DEFAULT_LIMIT),
        offset: offset.unwrap_or(0),
    }
}

/// Adds the optional incident fields a caller may set.
fn fields_into(
    body: &mut Map<String, Value>,
    description: Option<String>,
    urgency: Option<super::inputs::Level>,
    impact: Option<super::inputs::Level>,
    category: Option<String>,
) -> Result<(), ConnectorError> {
    if let Some(description) = description {
        body.insert("description".into(), json!(description));
    }
    if let Some(urgency) = urgency {
        body.insert("urgency".into(), json!(urgency.code()));
    }
    if let Some(impact) = impact {
        body.insert("impact".into(), json!(impact.code()));
    }
    if let Some(category) = category {
        let category = category.trim().to_ascii_lowercase();
        if !category
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ' ')
        {
            return Err(ConnectorError::invalid_field(
                "category",
                "`category`: a category value has letters, digits, spaces and `_` only",
            ));
        }
        body.insert("category".into(), json!(category));
    }
    Ok(())
}

/// The signed-in user.
async fn me(instance: &Instance<'_>) -> Result<UserSummary, ConnectorError> {
    let query = Query::new().and(Condition::is_me("sys_id"));
    let row: Option<wire::User> = instance
        .first("sys_user", query, wire::User::FIELDS)
        .await?;
    row.map(|row| UserSummary::from_row(&row))
        .ok_or_else(|| ConnectorError::AuthExpired {
            message: "ServiceNow does not know the signed-in user".into(),
        })
}

/// The identity shown on the connection.
pub async fn identity(instance: &Instance<'_>) -> Result<Option<String>, ConnectorError> {
    Ok(me(instance).await?.identity())
}

/// An incident by number or sys_id.
async fn incident(instance: &Instance<'_>, raw: &str) -> Result<wire::Incident, ConnectorError> {
    let missing = || ConnectorError::NotFound {
        message: format!("no incident `{}` that you may see", raw.trim()),
    };
    match RecordRef::parse("incident", raw, "INC0012345")? {
        RecordRef::SysId(sys_id) => instance
            .get("incident", &sys_id, wire::Incident::FIELDS)
            .await
            .map_err(|e| match e {
                ConnectorError::NotFound { .. } => missing(),
                other => other,
            }),
        RecordRef::Number(number) => {
            let query = Query::new().and(Condition::is("number", number));
            instance
                .first("incident", query, wire::Incident::FIELDS)
                .await?
                .ok_or_else(missing)
        }
    }
}

async fn detail(
    instance: &Instance<'_>,
    row: wire::Incident,
) -> Result<IncidentDetail, ConnectorError> {
    let query = Query::new()
        .and(Condition::is("element_id", row.sys_id.value.clone()))
        .and(Condition::in_constants(
            "element",
            &["comments", "work_notes"],
        ))
        .order_by("sys_created_on", true);
    let select = Select {
        query,
        fields: wire::Journal::FIELDS,
        limit: RECENT_COMMENTS,
        offset: 0,
    };
    let journal = instance
        .list::<wire::Journal>("sys_journal_field", &select)
        .await?;
    Ok(IncidentDetail {
        incident: IncidentSummary::from_row(instance, &row),
        description: row.description.shown().map(str::to_owned),
        resolved_at: row.resolved_at.time(),
        close_notes: row.close_notes.shown().map(str::to_owned),
        comments: journal.items.iter().map(JournalEntry::from_row).collect(),
    })
}

/// Cloud import's view of ServiceNow: knowledge bases, their categories and articles.
#[async_trait::async_trait]
impl crate::FileSource for ServiceNowActions {
    fn actions(&self) -> crate::FileActions {
        crate::FileActions {
            list: "browse_knowledge",
            search: Some("search_knowledge"),
            download: "download_article",
        }
    }

    async fn list(
        &self,
        ctx: &ActionContext,
        request: crate::ListRequest,
    ) -> Result<FileList, ConnectorError> {
        let input = crate::validated(BrowseKnowledgeInput {
            folder_id: request.folder,
            page_token: request.page_token,
        })?;
        self.browse_knowledge(ctx, input).await
    }

    async fn search(
        &self,
        ctx: &ActionContext,
        request: crate::SearchRequest,
    ) -> Result<FileList, ConnectorError> {
        let offset = match request.page_token.as_deref() {
            Some(token) => Some(token.parse().map_err(|_| {
                ConnectorError::invalid_field(
                    "page_token",
                    "`page_token`: not a next page token from this connector",
                )
            })?),
            None => None,
        };
        let input = crate::validated(SearchKnowledgeInput {
            query: request.query,
            knowledge_base: None,
            limit: Some(knowledge::PAGE),
            offset,
        })?;
        let instance = Instance::new(ctx)?;
        let page = knowledge::search(&instance, &input).await?;
        Ok(knowledge::as_files(page))
    }

    async fn download(
        &self,
        ctx: &ActionContext,
        file_id: &str,
    ) -> Result<Download, ConnectorError> {
        let input = crate::validated(DownloadArticleInput {
            file_id: file_id.to_owned(),
        })?;
        self.download_article(ctx, input).await
    }

    fn icon(&self, entry: &crate::FileEntry) -> crate::FileIcon {
        if entry.kind == crate::FileKind::File {
            crate::FileIcon::Document
        } else {
            crate::FileIcon::Folder
        }
    }
}
