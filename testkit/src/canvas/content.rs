//! Course content: wiki pages (`/courses/:id/pages` without bodies, sorted and searched;
//! `/courses/:id/pages/:url_or_id` with the body, a slug taking precedence over an id and
//! `page_id:<n>` naming an id) and modules (`/courses/:id/modules` with `include[]=items`
//! and `search_term`; `/courses/:id/modules/:id/items`).

use actix_web::http::StatusCode;
use serde_json::{Value, json};

use super::ModuleItemContent;
use super::courses::readable_course;
use super::errors::{json_response, not_found, search_term_too_short};
use super::paging::{includes, paginate};
use super::routes::{Answer, Call, Refusal};
use super::state::{Module, ModuleItem, Page, Shared, State, iso, iso_opt};

/// The lowercased `search_term`, refused when shorter than two characters.
pub(super) fn search_term(call: &Call) -> Result<Option<String>, Refusal> {
    match call.param("search_term") {
        None | Some("") => Ok(None),
        Some(term) if term.chars().count() < 2 => Err(search_term_too_short().into()),
        Some(term) => Ok(Some(term.to_lowercase())),
    }
}

/// `GET /api/v1/courses/:id/pages`: `sort` (`title`, `created_at`, `updated_at`; by id
/// without), `order`, `search_term` on the title. Entries carry no `body`.
pub(super) fn list_pages(shared: &Shared, call: &Call, user: i64, course: i64) -> Answer {
    let term = search_term(call)?;
    let state = shared.lock();
    readable_course(&state, user, course)?;
    let mut pages: Vec<&Page> = state
        .pages
        .iter()
        .filter(|p| p.course == course)
        .filter(|p| {
            term.as_ref()
                .is_none_or(|t| p.title.to_lowercase().contains(t))
        })
        .collect();
    match call.param("sort") {
        Some("title") => pages.sort_by_key(|p| (p.title.to_lowercase(), p.id)),
        Some("created_at" | "updated_at") => pages.sort_by_key(|p| (p.created_at, p.id)),
        _ => pages.sort_by_key(|p| p.id),
    }
    if call.param("order") == Some("desc") {
        pages.reverse();
    }
    let items = pages.iter().map(|p| page_json(shared, p, false)).collect();
    Ok(paginate(&shared.base_url, call, items))
}

/// `GET /api/v1/courses/:id/pages/:url_or_id`.
pub(super) fn get_page(shared: &Shared, user: i64, course: i64, key: &str) -> Answer {
    let state = shared.lock();
    readable_course(&state, user, course)?;
    let in_course = || state.pages.iter().filter(|p| p.course == course);
    let by_id = |id: &str| {
        let id = id.parse::<i64>().ok()?;
        in_course().find(|p| p.id == id)
    };
    let page = match key.strip_prefix("page_id:") {
        Some(id) => by_id(id),
        None => in_course().find(|p| p.url == key).or_else(|| by_id(key)),
    };
    let page = page.ok_or_else(not_found)?;
    Ok(json_response(
        StatusCode::OK,
        &page_json(shared, page, true),
    ))
}

/// Canvas's Page object (`body` only when showing one page).
fn page_json(shared: &Shared, page: &Page, with_body: bool) -> Value {
    let mut body = json!({
        "page_id": page.id,
        "url": page.url,
        "title": page.title,
        "created_at": iso(page.created_at),
        "updated_at": iso(page.created_at),
        "hide_from_students": false,
        "editing_roles": "teachers",
        "published": true,
        "front_page": page.front_page,
        "locked_for_user": false,
        "todo_date": null,
        "publish_at": null,
        "html_url": format!("{}/courses/{}/pages/{}", shared.base_url, page.course, page.url),
    });
    if with_body {
        body["body"] = json!(page.body);
    }
    body
}

/// `GET /api/v1/courses/:id/modules`: by position; `include[]=items` inlines the items;
/// `search_term` keeps modules whose name matches (with all their items) and, with
/// items, modules with matching items (with those items only).
pub(super) fn list_modules(shared: &Shared, call: &Call, user: i64, course: i64) -> Answer {
    let term = search_term(call)?;
    let with_items = includes(call, "items");
    let state = shared.lock();
    readable_course(&state, user, course)?;
    let student = state.is_student(user, course);
    let mut modules: Vec<&Module> = state
        .modules
        .iter()
        .filter(|m| m.course == course)
        .collect();
    modules.sort_by_key(|m| (m.position, m.id));
    let mut out = Vec::new();
    for module in modules {
        let items = items_of(&state, module.id);
        let name_matches = term
            .as_ref()
            .is_none_or(|t| module.name.to_lowercase().contains(t));
        let shown: Vec<&ModuleItem> = match &term {
            Some(t) if !name_matches => items
                .into_iter()
                .filter(|i| i.title.to_lowercase().contains(t))
                .collect(),
            _ => items,
        };
        if !name_matches && (!with_items || shown.is_empty()) {
            continue;
        }
        let mut body = module_json(shared, &state, module, student);
        if with_items {
            let items: Vec<Value> = shown.iter().map(|i| item_json(shared, &state, i)).collect();
            body["items"] = Value::Array(items);
        }
        out.push(body);
    }
    Ok(paginate(&shared.base_url, call, out))
}

/// `GET /api/v1/courses/:id/modules/:module_id/items`.
pub(super) fn list_module_items(
    shared: &Shared,
    call: &Call,
    user: i64,
    course: i64,
    module: i64,
) -> Answer {
    let state = shared.lock();
    readable_course(&state, user, course)?;
    let found = state
        .module(module)
        .filter(|m| m.course == course)
        .ok_or_else(not_found)?;
    let items = items_of(&state, found.id)
        .iter()
        .map(|i| item_json(shared, &state, i))
        .collect();
    Ok(paginate(&shared.base_url, call, items))
}

fn items_of(state: &State, module: i64) -> Vec<&ModuleItem> {
    let mut items: Vec<&ModuleItem> = state.items.iter().filter(|i| i.module == module).collect();
    items.sort_by_key(|i| (i.position, i.id));
    items
}

/// Canvas's Module object; `state` only for students (teachers get none).
fn module_json(shared: &Shared, state: &State, module: &Module, student: bool) -> Value {
    let count = state.items.iter().filter(|i| i.module == module.id).count();
    let mut body = json!({
        "id": module.id,
        "workflow_state": "active",
        "position": module.position,
        "name": module.name,
        "unlock_at": iso_opt(module.unlock_at),
        "require_sequential_progress": false,
        "requirement_type": "all",
        "prerequisite_module_ids": [],
        "items_count": count,
        "items_url": format!(
            "{}/api/v1/courses/{}/modules/{}/items",
            shared.base_url, module.course, module.id
        ),
        "publish_final_grade": false,
        "published": true,
    });
    if student {
        let locked = module.unlock_at.is_some_and(|t| t > state.now());
        body["state"] = json!(if locked { "locked" } else { "unlocked" });
        body["completed_at"] = Value::Null;
    }
    body
}

/// Canvas's ModuleItem object: `type`, `content_id`, the API `url`, `page_url` for pages,
/// `external_url` for links.
fn item_json(shared: &Shared, state: &State, item: &ModuleItem) -> Value {
    let base = &shared.base_url;
    let course = state.module(item.module).map_or(0, |m| m.course);
    let mut body = json!({
        "id": item.id,
        "module_id": item.module,
        "position": item.position,
        "title": item.title,
        "indent": item.indent,
        "type": item.content.kind(),
        "html_url": format!("{base}/courses/{course}/modules/items/{}", item.id),
        "new_tab": false,
        "published": true,
        "quiz_lti": false,
    });
    let (content_id, url) = match &item.content {
        ModuleItemContent::File(id) => (Some(*id), Some(format!("{base}/api/v1/files/{id}"))),
        ModuleItemContent::Page(slug) => {
            body["page_url"] = json!(slug);
            let id = state
                .pages
                .iter()
                .find(|p| p.course == course && p.url == *slug)
                .map(|p| p.id);
            (
                id,
                Some(format!("{base}/api/v1/courses/{course}/pages/{slug}")),
            )
        }
        ModuleItemContent::Assignment(id) => (
            Some(*id),
            Some(format!("{base}/api/v1/courses/{course}/assignments/{id}")),
        ),
        ModuleItemContent::Discussion(id) => (
            Some(*id),
            Some(format!(
                "{base}/api/v1/courses/{course}/discussion_topics/{id}"
            )),
        ),
        ModuleItemContent::ExternalUrl(link) => {
            body["external_url"] = json!(link);
            (None, None)
        }
        ModuleItemContent::SubHeader => (None, None),
    };
    if let Some(id) = content_id {
        body["content_id"] = json!(id);
    }
    if let Some(url) = url {
        body["url"] = json!(url);
    }
    body
}
