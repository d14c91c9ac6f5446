//! `$select` (the properties each resource has), one page of a listing with its
//! `@odata.nextLink` and `$skiptoken`, and `$orderby`.

#![expect(
    clippy::result_large_err,
    reason = "handlers return the response to send as their error, once per request"
)]

use actix_web::HttpResponse;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::DEFAULT_PAGE_SIZE;
use super::errors::{error, invalid_request};
use super::routes::Call;
use super::state::{Item, Shared, State};
use crate::upstream::{fingerprint, percent_decode};

/// `driveItem` properties `$select` may name.
pub(super) const ITEM_PROPERTIES: &str = concat!(
    "id,name,size,file,folder,package,remoteItem,parentReference,lastModifiedDateTime,",
    "createdDateTime,webUrl,malware,cTag,eTag,root,fileSystemInfo,createdBy,lastModifiedBy,",
    "description,image,photo,video,audio,shared,specialFolder,searchResult,deleted,",
    "webDavUrl,sharepointIds,content,bundle,location,publication,",
    "@microsoft.graph.downloadUrl",
);
/// `user` properties `$select` may name.
pub(super) const USER_PROPERTIES: &str = concat!(
    "id,displayName,givenName,surname,mail,userPrincipalName,jobTitle,mobilePhone,",
    "officeLocation,preferredLanguage,businessPhones",
);
/// `drive` properties `$select` may name.
pub(super) const DRIVE_PROPERTIES: &str =
    "id,name,driveType,owner,quota,webUrl,createdDateTime,lastModifiedDateTime,description";

/// `$select` as a list of properties (`None`: all); `Err` is the 400 to answer.
pub(super) fn selection(
    call: &Call,
    allowed: &str,
    kind: &str,
) -> Result<Option<Vec<String>>, HttpResponse> {
    let Some(select) = call.param("$select") else {
        return Ok(None);
    };
    let keys: Vec<String> = select
        .split(',')
        .map(|k| k.trim().to_owned())
        .filter(|k| !k.is_empty())
        .collect();
    if let Some(bad) = keys
        .iter()
        .find(|k| !allowed.split(',').any(|a| a == k.as_str()))
    {
        let message = format!("Could not find a property named '{bad}' on type '{kind}'.");
        return Err(error(400, "BadRequest", &message));
    }
    Ok(Some(keys))
}

pub(super) fn select(value: Value, keys: Option<&[String]>) -> Value {
    match (keys, value) {
        (Some(keys), Value::Object(object)) => Value::Object(
            object
                .into_iter()
                .filter(|(k, _)| k.starts_with("@odata") || keys.iter().any(|s| s == k))
                .collect(),
        ),
        (_, value) => value,
    }
}

/// One page of a listing: the items and the `@odata.nextLink`, or the 400 to answer.
pub(super) fn page<T: Clone>(
    shared: &Shared,
    call: &Call,
    all: &[T],
) -> Result<(Vec<T>, Option<String>), HttpResponse> {
    let top = match call.param("$top").map(str::parse::<usize>) {
        None => DEFAULT_PAGE_SIZE,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            return Err(invalid_request(
                "Invalid value for $top: it must be a positive integer.",
            ));
        }
    };
    let print = fingerprint(&[
        &call.path,
        call.param("$select").unwrap_or_default(),
        call.param("$orderby").unwrap_or_default(),
    ]);
    let offset = match call.param("$skiptoken") {
        None => 0,
        Some(token) => skip_offset(token, print).ok_or_else(|| {
            invalid_request("The $skiptoken is invalid or does not belong to this request.")
        })?,
    };
    let items = all.iter().skip(offset).take(top).cloned().collect();
    let next = (offset + top < all.len()).then(|| {
        let kept: Vec<&str> = call
            .query
            .split('&')
            .filter(|pair| {
                let key = pair.split('=').next().unwrap_or_default();
                !key.is_empty() && percent_decode(key) != "$skiptoken"
            })
            .collect();
        let token = skip_token(offset + top, print);
        let mut query = kept.join("&");
        if !query.is_empty() {
            query.push('&');
        }
        format!("{}{}?{query}$skiptoken={token}", shared.base_url, call.path)
    });
    Ok((items, next))
}

/// A SharePoint-style `$skiptoken` (`Paged=TRUE&p_ID=…`) for the page at `offset`.
pub(super) fn skip_token(offset: usize, fingerprint: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("Paged=TRUE&p_ID={offset}&p_FP={fingerprint:016x}"))
}

pub(super) fn skip_offset(token: &str, fingerprint: u64) -> Option<usize> {
    let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    let rest = decoded.strip_prefix("Paged=TRUE&p_ID=")?;
    let (offset, print) = rest.split_once("&p_FP=")?;
    (print == format!("{fingerprint:016x}")).then(|| offset.parse().ok())?
}

pub(super) fn collection(shared: &Shared, items: Vec<Value>, next: Option<String>) -> Value {
    let mut body = json!({
        "@odata.context": format!("{}/v1.0/$metadata#Collection(driveItem)", shared.base_url),
        "value": items,
    });
    if let Some(next) = next {
        body["@odata.nextLink"] = json!(next);
    }
    body
}

/// `$orderby` applied to `items`; `Err` for a property it cannot sort by.
pub(super) fn order(state: &State, call: &Call, items: &mut [Item]) -> Result<(), HttpResponse> {
    let Some(text) = call.param("$orderby") else {
        return Ok(());
    };
    for clause in text.split(',').rev() {
        let mut words = clause.split_whitespace();
        let key = words.next().unwrap_or_default();
        let desc = match words.next() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(_) => return Err(invalid_request("Invalid $orderby expression.")),
        };
        match key {
            "name" => items.sort_by_key(|i| i.name.to_lowercase()),
            "lastModifiedDateTime" => items.sort_by_key(|i| i.modified),
            "size" => items.sort_by_key(|i| state.size(i)),
            _ => {
                let message = format!("Sorting by '{key}' is not supported.");
                return Err(invalid_request(&message));
            }
        }
        if desc {
            items.reverse();
        }
    }
    Ok(())
}
