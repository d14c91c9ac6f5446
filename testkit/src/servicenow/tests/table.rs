//! The Table API on incidents: `sysparm_display_value` and reference shapes,
//! `sysparm_fields`, paging with `X-Total-Count` and `Link`, row ACLs, journal inputs and
//! work notes, write rules.

use reqwest::Method;
use serde_json::json;

use super::*;

#[tokio::test]
async fn display_value_all_gives_value_display_value_and_reference_links() {
    let c = campus().await;
    let token = c.token(&c.grace);
    c.now.set_impact_urgency(&c.ada_incident.0, "1", "2");
    let path = format!("/api/now/table/incident/{}", c.ada_incident.0);

    let raw = json_of(get(&c.now, &path, Some(&token)).await).await["result"].clone();
    assert_eq!(raw["number"], c.ada_incident.1.as_str());
    assert!(
        raw["number"]
            .as_str()
            .is_some_and(|n| n.starts_with("INC001000"))
    );
    assert_eq!(raw["sys_id"].as_str().map(str::len), Some(32));
    assert_eq!(raw["priority"], "2");
    assert_eq!(raw["state"], "1");
    assert_eq!(raw["active"], "true");
    let link = format!("{}/api/now/table/sys_user/{}", c.now.base_url(), c.ada);
    assert_eq!(raw["caller_id"], json!({"link": link, "value": c.ada}));
    assert_eq!(raw["comments"], "");
    assert!(
        raw["opened_at"]
            .as_str()
            .is_some_and(|d| d.len() == 19 && d.as_bytes()[10] == b' ')
    );

    let all = json_of(
        get(
            &c.now,
            &format!("{path}?sysparm_display_value=all"),
            Some(&token),
        )
        .await,
    )
    .await;
    let all = &all["result"];
    assert_eq!(all["state"], json!({"display_value": "New", "value": "1"}));
    assert_eq!(
        all["priority"],
        json!({"display_value": "2 - High", "value": "2"})
    );
    assert_eq!(
        all["impact"],
        json!({"display_value": "1 - High", "value": "1"})
    );
    assert_eq!(
        all["caller_id"],
        json!({"display_value": "Ada Lovelace", "link": link, "value": c.ada})
    );
    assert_eq!(all["assignment_group"]["display_value"], "Service Desk");
    assert_eq!(
        all["resolved_at"],
        json!({"display_value": "", "value": ""})
    );

    let url = format!("{path}?sysparm_display_value=all&sysparm_exclude_reference_link=true");
    let plain = json_of(get(&c.now, &url, Some(&token)).await).await;
    assert_eq!(
        plain["result"]["caller_id"],
        json!({"display_value": "Ada Lovelace", "value": c.ada})
    );

    let url = format!("{path}?sysparm_display_value=true");
    let shown = json_of(get(&c.now, &url, Some(&token)).await).await;
    assert_eq!(shown["result"]["state"], "New");
    assert_eq!(
        shown["result"]["caller_id"],
        json!({"display_value": "Ada Lovelace", "link": link})
    );
    let url = format!("{path}?sysparm_display_value=true&sysparm_exclude_reference_link=true");
    let shown = json_of(get(&c.now, &url, Some(&token)).await).await;
    assert_eq!(shown["result"]["caller_id"], "Ada Lovelace");
    assert_eq!(shown["result"]["assigned_to"], "Grace Hopper");
}

#[tokio::test]
async fn sysparm_fields_keeps_only_the_fields_asked_for() {
    let c = campus().await;
    let token = c.token(&c.grace);
    let params = [
        (
            "sysparm_fields",
            "number,short_description,caller_id.email,no_such_field",
        ),
        ("sysparm_query", "ORDERBYnumber"),
    ];
    let (_, body) = list(&c.now, "incident", &params, &token).await;
    let first = body["result"][0].as_object().expect("an object");
    let keys: Vec<&str> = first.keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert_eq!(first["caller_id.email"], "ada@campus.example");
    assert_eq!(first["number"], c.ada_incident.1.as_str());
}

#[tokio::test]
async fn lists_page_with_x_total_count_and_a_link_header() {
    let c = campus().await;
    for n in 0..23 {
        c.now.add_incident(&c.ada, &format!("Issue {n:02}"), "");
    }
    let token = c.token(&c.grace);
    let params = [
        (
            "sysparm_query",
            "short_descriptionSTARTSWITHIssue^ORDERBYshort_description",
        ),
        ("sysparm_limit", "10"),
    ];
    let response = client()
        .get(format!("{}/api/now/table/incident", c.now.base_url()))
        .query(&params)
        .bearer_auth(&token)
        .send()
        .await
        .expect("answers");
    assert_eq!(header(&response, "x-total-count").as_deref(), Some("23"));
    let link = header(&response, "link").expect("a Link header");
    assert!(
        link.contains("sysparm_offset=0&sysparm_limit=10>;rel=\"first\""),
        "{link}"
    );
    assert!(
        link.contains("sysparm_offset=10&sysparm_limit=10>;rel=\"next\""),
        "{link}"
    );
    assert!(
        link.contains("sysparm_offset=20&sysparm_limit=10>;rel=\"last\""),
        "{link}"
    );
    assert!(!link.contains("rel=\"prev\""), "{link}");
    assert!(
        link.contains("sysparm_query=short_descriptionSTARTSWITHIssue%5EORDERBYshort_description")
    );

    // Follow `next` to the end.
    let mut seen = column(&json_of(response).await, "short_description");
    let mut url = next_of(&link);
    while let Some(next) = url {
        let response = get(&c.now, &next, Some(&token)).await;
        let link = header(&response, "link").expect("a Link header");
        assert!(link.contains("rel=\"prev\""), "{link}");
        url = next_of(&link);
        seen.extend(column(&json_of(response).await, "short_description"));
    }
    let expected: Vec<String> = (0..23).map(|n| format!("Issue {n:02}")).collect();
    assert_eq!(seen, expected);
}

fn next_of(link: &str) -> Option<String> {
    link.split(',')
        .find(|part| part.ends_with("rel=\"next\""))
        .map(|part| {
            part.trim_start_matches('<')
                .split('>')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
}

#[tokio::test]
async fn end_users_see_only_their_own_incidents_and_agents_see_all() {
    let c = campus().await;
    let count = |body: &Value| body["result"].as_array().map_or(0, Vec::len);
    let (_, ada) = list(&c.now, "incident", &[], &c.token(&c.ada)).await;
    assert_eq!(column(&ada, "number"), vec![c.ada_incident.1.clone()]);
    let (_, alan) = list(&c.now, "incident", &[], &c.token(&c.alan)).await;
    assert_eq!(column(&alan, "number"), vec![c.alan_incident.1.clone()]);
    let (_, grace) = list(&c.now, "incident", &[], &c.token(&c.grace)).await;
    assert_eq!(count(&grace), 2);

    // Another user's incident by sys_id is 404, the same as one that does not exist.
    let path = format!("/api/now/table/incident/{}", c.alan_incident.0);
    let response = get(&c.now, &path, Some(&c.token(&c.ada))).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body = json_of(response).await;
    assert_eq!(body["error"]["message"], "No Record found");
    assert_eq!(
        body["error"]["detail"],
        "Record doesn't exist or ACL restricts the record retrieval"
    );
    let (status, _) = write(
        &c.now,
        Method::PATCH,
        &path,
        &json!({"comments": "hi"}),
        &c.token(&c.ada),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // An unknown table is 400.
    let (status, body) = list(&c.now, "no_such_table", &[], &c.token(&c.ada)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["message"], "Invalid table no_such_table");
}

#[tokio::test]
async fn comments_are_journaled_and_work_notes_need_itil() {
    let c = campus().await;
    let path = format!("/api/now/table/incident/{}", c.ada_incident.0);
    let ada = c.token(&c.ada);
    let (status, body) = write(
        &c.now,
        Method::PATCH,
        &path,
        &json!({"comments": "Still broken"}),
        &ada,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["result"]["comments"], "");
    let (status, body) = write(
        &c.now,
        Method::PATCH,
        &path,
        &json!({"work_notes": "sneaky"}),
        &ada,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["message"], "Operation Failed");
    assert_eq!(
        body["error"]["detail"],
        "ACL Exception Update Failed due to security constraints"
    );
    let (status, _) = write(&c.now, Method::PATCH, &path, &json!({"state": "7"}), &ada).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let grace = c.token(&c.grace);
    let body = json!({"work_notes": "Rebooted the AP", "state": "6", "close_notes": "Fixed"});
    let (status, result) = write(&c.now, Method::PATCH, &path, &body, &grace).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(result["result"]["state"], "6");
    assert!(
        result["result"]["resolved_at"]
            .as_str()
            .is_some_and(|d| !d.is_empty())
    );
    let journal = c.now.journal(&c.ada_incident.0);
    let elements: Vec<(&str, &str)> = journal
        .iter()
        .map(|j| (j.element.as_str(), j.created_by.as_str()))
        .collect();
    assert_eq!(elements, vec![("comments", "ada"), ("work_notes", "grace")]);

    let query = format!("element_id={}", c.ada_incident.0);
    let params = [("sysparm_query", query.as_str())];
    let (_, mine) = list(&c.now, "sys_journal_field", &params, &ada).await;
    assert_eq!(column(&mine, "value"), vec!["Still broken".to_owned()]);
    let (_, all) = list(&c.now, "sys_journal_field", &params, &grace).await;
    assert_eq!(
        column(&all, "element"),
        vec!["comments".to_owned(), "work_notes".to_owned()]
    );
    // The journal shows through the incident's display values, work notes to agents only.
    let url = format!("{path}?sysparm_display_value=true&sysparm_fields=comments,work_notes");
    let shown = json_of(get(&c.now, &url, Some(&ada)).await).await;
    assert!(
        shown["result"]["comments"]
            .as_str()
            .is_some_and(|t| t.contains("Ada Lovelace (Additional comments)\nStill broken"))
    );
    assert_eq!(shown["result"]["work_notes"], "");
    let shown = json_of(get(&c.now, &url, Some(&grace)).await).await;
    assert!(
        shown["result"]["work_notes"]
            .as_str()
            .is_some_and(|t| t.contains("Rebooted the AP"))
    );
}

#[tokio::test]
async fn creating_an_incident_applies_the_data_policy_and_business_rules() {
    let c = campus().await;
    let ada = c.token(&c.ada);
    let body = json!({"short_description": "", "description": "no title"});
    let (status, body) = write(&c.now, Method::POST, "/api/now/table/incident", &body, &ada).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["error"]["detail"],
        "Data Policy Exception: Short description is mandatory"
    );
    assert_eq!(body["status"], "failure");

    let body = json!({
        "short_description": "VPN down",
        "urgency": 1,
        "impact": "2",
        "no_such_field": "x",
        "comments": "help",
    });
    let response = client()
        .post(format!("{}/api/now/table/incident", c.now.base_url()))
        .bearer_auth(&ada)
        .json(&body)
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = header(&response, "location").expect("Location");
    let created = json_of(response).await["result"].clone();
    let sys_id = created["sys_id"].as_str().expect("a sys_id").to_owned();
    assert!(location.ends_with(&format!("/api/now/table/incident/{sys_id}")));
    assert_eq!(created["caller_id"]["value"], c.ada.as_str());
    assert_eq!(created["priority"], "2");
    assert_eq!(created["state"], "1");
    assert_eq!(c.now.journal(&sys_id)[0].value, "help");
    assert!(
        c.now
            .record("incident", &sys_id)
            .is_some_and(|r| !r.contains_key("no_such_field"))
    );
    // An end user may not open an incident for someone else.
    let body = json!({"short_description": "For Alan", "caller_id": c.alan});
    let (status, body) = write(&c.now, Method::POST, "/api/now/table/incident", &body, &ada).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["error"]["detail"],
        "ACL Exception Insert Failed due to security constraints"
    );

    c.now
        .set_business_rule_error("incident", Some("Closing incidents requires close notes"));
    let path = format!("/api/now/table/incident/{}", c.ada_incident.0);
    let (status, body) = write(
        &c.now,
        Method::PATCH,
        &path,
        &json!({"state": "7"}),
        &c.token(&c.grace),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["error"],
        json!({"message": "Operation Failed", "detail": "Closing incidents requires close notes"})
    );
    assert_eq!(
        c.now.record("incident", &c.ada_incident.0).expect("kept")["state"],
        "1"
    );
    c.now.set_business_rule_error("incident", None);
    let (status, _) = write(
        &c.now,
        Method::PATCH,
        &path,
        &json!({"state": "7"}),
        &c.token(&c.grace),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        c.now.record("incident", &c.ada_incident.0).expect("kept")["active"],
        "false"
    );
    let _ = &c.group;
}
