//! Encoded queries: the parser's precedence (`^OR` binds tighter than `^`, `^NQ` loosest),
//! the operators, `ORDERBY`, full-text search, `javascript:` values, invalid conditions, and
//! the injection shapes a naive client opens up.

use super::super::query::{Caller, Condition, Op, parse};
use super::*;

fn cond(field: &str, op: Op, value: &str) -> Option<Condition> {
    Some(Condition {
        field: field.to_owned(),
        op,
        value: value.to_owned(),
    })
}

#[test]
fn or_binds_tighter_than_and_and_nq_separates_queries() {
    let q =
        parse("active=true^priority=1^ORpriority=2^NQstateIN6,7^ORDERBYDESCnumber^ORDERBYstate");
    assert_eq!(
        q.alternatives,
        vec![
            vec![
                vec![cond("active", Op::Eq, "true")],
                vec![cond("priority", Op::Eq, "1"), cond("priority", Op::Eq, "2")],
            ],
            vec![vec![cond("state", Op::In, "6,7")]],
        ]
    );
    assert_eq!(
        q.order,
        vec![("number".to_owned(), true), ("state".to_owned(), false)]
    );
    let q = parse(
        "short_descriptionNOT LIKEvpn^descriptionISEMPTY^sys_updated_on>=2026-01-01 00:00:00^EQ",
    );
    assert_eq!(
        q.alternatives[0],
        vec![
            vec![cond("short_description", Op::NotLike, "vpn")],
            vec![cond("description", Op::IsEmpty, "")],
            vec![cond("sys_updated_on", Op::Ge, "2026-01-01 00:00:00")],
        ]
    );
    assert_eq!(parse("nonsense").alternatives, vec![vec![vec![None]]]);
}

#[test]
fn javascript_values_other_than_the_user_functions_stay_literal() {
    let caller = Caller {
        sys_id: "abc",
        user_name: "ada",
    };
    let text = "caller_id=javascript:gs.getUserID()\
                ^sys_created_by=javascript:gs.getUserName()\
                ^ORdescription=javascript:gs.sleep(1000)";
    let q = parse(text).resolve(|_| true, &caller);
    assert_eq!(
        q.alternatives[0],
        vec![
            vec![cond("caller_id", Op::Eq, "abc")],
            vec![
                cond("sys_created_by", Op::Eq, "ada"),
                cond("description", Op::Eq, "javascript:gs.sleep(1000)")
            ],
        ]
    );
    // An invalid field drops its condition, not the query.
    let q = parse("no_such_field=1^active=true").resolve(|f| f != "no_such_field", &caller);
    assert_eq!(
        q.alternatives[0],
        vec![vec![cond("active", Op::Eq, "true")]]
    );
}

/// The `number`s a query gives `token`, in order.
async fn numbers(now: &FakeServiceNow, query: &str, token: &str) -> Vec<String> {
    let (status, body) = list(now, "incident", &[("sysparm_query", query)], token).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    column(&body, "number")
}

/// Four incidents for an agent to query: (number, short_description, urgency, state).
async fn desk() -> (Campus, Vec<String>) {
    let c = campus().await;
    let mut numbers = vec![c.ada_incident.1.clone(), c.alan_incident.1.clone()];
    let (vpn, n) = c.now.add_incident(
        &c.ada,
        "VPN refuses login",
        "Since the upgrade of the client",
    );
    c.now.set_impact_urgency(&vpn, "1", "1");
    numbers.push(n);
    let (mail, n) = c
        .now
        .add_incident(&c.alan, "Mail quota full", "Login works, sending fails");
    c.now.set_incident_state(&mail, "6");
    numbers.push(n);
    (c, numbers)
}

#[tokio::test]
async fn operators_order_and_full_text_search_select_like_servicenow() {
    let (c, n) = desk().await;
    let t = c.token(&c.grace);
    assert_eq!(
        numbers(&c.now, "short_descriptionLIKEvpn", &t).await,
        vec![n[2].clone()]
    );
    assert_eq!(
        numbers(&c.now, "short_descriptionSTARTSWITHwi-fi", &t).await,
        vec![n[0].clone()]
    );
    assert_eq!(
        numbers(&c.now, "short_descriptionENDSWITHFULL", &t).await,
        vec![n[3].clone()]
    );
    assert_eq!(numbers(&c.now, "stateIN6,7", &t).await, vec![n[3].clone()]);
    assert_eq!(
        numbers(&c.now, "stateNOT IN6,7^ORDERBYDESCnumber", &t).await,
        vec![n[2].clone(), n[1].clone(), n[0].clone()]
    );
    assert_eq!(numbers(&c.now, "priority<=2", &t).await, vec![n[2].clone()]);
    assert_eq!(
        numbers(&c.now, "resolved_atISNOTEMPTY", &t).await,
        vec![n[3].clone()]
    );
    assert_eq!(
        numbers(&c.now, "caller_id.user_name=alan^ORDERBYnumber", &t).await,
        vec![n[1].clone(), n[3].clone()]
    );
    // AND of an OR: Ada's incidents that are urgent or about Wi-Fi.
    let query = format!("caller_id={}^urgency=1^ORshort_descriptionLIKEwi-fi", c.ada);
    assert_eq!(
        numbers(&c.now, &query, &t).await,
        vec![n[0].clone(), n[2].clone()]
    );
    // ^NQ: either query.
    assert_eq!(
        numbers(&c.now, "stateIN6^NQurgency=1", &t).await,
        vec![n[2].clone(), n[3].clone()]
    );
    // Every word, in any text field, in any case.
    assert_eq!(
        numbers(&c.now, "123TEXTQUERY321=login UPGRADE", &t).await,
        vec![n[2].clone()]
    );
    assert_eq!(
        numbers(&c.now, "123TEXTQUERY321=login", &t).await,
        vec![n[2].clone(), n[3].clone()]
    );
    // The caller's own, by script value; another script value is a literal that matches nothing.
    let mine = numbers(
        &c.now,
        "caller_id=javascript:gs.getUserID()",
        &c.token(&c.alan),
    )
    .await;
    assert_eq!(mine, vec![n[1].clone(), n[3].clone()]);
    assert!(
        numbers(&c.now, "caller_id=javascript:gs.getUser().getID()", &t)
            .await
            .is_empty()
    );
    // A condition on an unknown field is dropped: the rest decides.
    assert_eq!(
        numbers(&c.now, "no_such_field=1^urgency=1", &t).await,
        vec![n[2].clone()]
    );
    assert_eq!(numbers(&c.now, "no_such_field=1", &t).await.len(), 4);
}

#[tokio::test]
async fn a_value_pasted_into_a_query_can_widen_it_as_on_a_real_instance() {
    let (c, n) = desk().await;
    let t = c.token(&c.grace);
    // A client that builds `short_descriptionLIKE<input>` from user input…
    let naive = |input: &str| format!("short_descriptionLIKE{input}");
    assert_eq!(
        numbers(&c.now, &naive("printer"), &t).await,
        vec![n[1].clone()]
    );
    // …is widened by `^OR`: nothing escapes `^`, so the input adds its own condition.
    assert_eq!(
        numbers(&c.now, &naive("zzz^ORactive=true"), &t).await.len(),
        4
    );
    // …and by `^NQ`, which starts a query of its own (here: every incident).
    assert_eq!(
        numbers(
            &c.now,
            &format!("caller_id={}^{}", c.alan, naive("zzz^NQactive=true")),
            &t
        )
        .await
        .len(),
        4
    );
    // A LIKE value with `^` removed stays one condition.
    assert!(
        numbers(&c.now, &naive("zzzORactive=true"), &t)
            .await
            .is_empty()
    );
    // Row ACLs still hold: an end user's widened query shows only their own incidents.
    let ada = numbers(&c.now, &naive("zzz^NQactive=true"), &c.token(&c.ada)).await;
    assert_eq!(ada, vec![n[0].clone(), n[2].clone()]);
}
