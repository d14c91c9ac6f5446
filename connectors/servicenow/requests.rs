//! `get_request_status`: a request (`REQ…`) with its items, or a requested item (`RITM…`)
//! with its request, and the approvals the caller may read.

use super::api::{Instance, Select};
use super::inputs::RecordRef;
use super::models::{ApprovalStatus, Choice, Reference, RequestItemStatus, RequestStatus};
use super::query::{Condition, Query};
use super::wire;
use crate::ConnectorError;

/// Where the request or requested item `raw` stands.
pub async fn status(instance: &Instance<'_>, raw: &str) -> Result<RequestStatus, ConnectorError> {
    let RecordRef::Number(number) = RecordRef::parse("number", raw, "REQ0010001")? else {
        return Err(ConnectorError::invalid_field(
            "number",
            "`number`: give the REQ… or RITM… number",
        ));
    };
    let by_number = Query::new().and(Condition::is("number", number.clone()));
    let missing = || ConnectorError::NotFound {
        message: format!("no request `{number}` that you may see"),
    };
    let approvals_of = |sys_ids: Vec<String>| async move {
        let query = Query::new().and(Condition::in_constants(
            "sysapproval",
            &sys_ids.iter().map(String::as_str).collect::<Vec<_>>(),
        ));
        let select = Select {
            query,
            fields: wire::Approval::FIELDS,
            limit: 50,
            offset: 0,
        };
        instance
            .list::<wire::Approval>("sysapproval_approver", &select)
            .await
    };
    if number.starts_with("RITM") {
        let item: wire::RequestItem = instance
            .first("sc_req_item", by_number, wire::RequestItem::FIELDS)
            .await?
            .ok_or_else(missing)?;
        let approvals = approvals_of(vec![item.sys_id.value.clone()]).await?;
        return Ok(RequestStatus {
            number,
            kind: "requested_item".into(),
            request_number: item.request.shown().map(str::to_owned),
            stage: Choice::of(&item.stage),
            state: Choice::of(&item.state),
            approval: Choice::of(&item.approval),
            requested_for: Reference::of(&item.requested_for),
            opened_at: item.opened_at.time(),
            items: Vec::new(),
            approvals: approvals
                .items
                .iter()
                .map(ApprovalStatus::from_row)
                .collect(),
        });
    }
    let request: wire::Request = instance
        .first("sc_request", by_number, wire::Request::FIELDS)
        .await?
        .ok_or_else(missing)?;
    let items_query = Query::new()
        .and(Condition::is("request", request.sys_id.value.clone()))
        .order_by("number", false);
    let items = instance
        .list::<wire::RequestItem>(
            "sc_req_item",
            &Select {
                query: items_query,
                fields: wire::RequestItem::FIELDS,
                limit: 100,
                offset: 0,
            },
        )
        .await?;
    let mut ids = vec![request.sys_id.value.clone()];
    ids.extend(items.items.iter().map(|i| i.sys_id.value.clone()));
    let approvals = approvals_of(ids).await?;
    Ok(RequestStatus {
        number,
        kind: "request".into(),
        request_number: None,
        stage: Choice::of(&request.stage),
        state: Choice::of(&request.request_state),
        approval: Choice::of(&request.approval),
        requested_for: Reference::of(&request.requested_for),
        opened_at: request.opened_at.time(),
        items: items
            .items
            .iter()
            .map(RequestItemStatus::from_row)
            .collect(),
        approvals: approvals
            .items
            .iter()
            .map(ApprovalStatus::from_row)
            .collect(),
    })
}
