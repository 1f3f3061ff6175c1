//! Listings that page by a token: API Gateway's `position`, Redshift's `Marker`, Secrets
//! Manager's and CloudWatch Logs' `NextToken`. Each kind says how to ask for one page; this
//! collects them all.

use super::AwsError;

/// Every item of a listing: `page(token)` answers one page and the token of the next (none, or
/// empty, after the last).
pub async fn all_pages<T, F, Fut>(mut page: F) -> Result<Vec<T>, AwsError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, Option<String>), AwsError>>,
{
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let (items, next) = page(token).await?;
        found.extend(items);
        token = next.filter(|next| !next.is_empty());
        if token.is_none() {
            return Ok(found);
        }
    }
}
