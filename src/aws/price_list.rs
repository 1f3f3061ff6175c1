//! The AWS Price List Query API as pricing reads it: one `GetProducts` of a service with
//! TERM_MATCH filters, answering the price list entries (JSON documents) as text. What they
//! say is `pricing::live`'s to read.

use aws_sdk_pricing::types::{Filter, FilterType};

/// A Price List client (see `price_list_region` for its endpoint).
#[derive(Clone)]
pub struct PriceList(aws_sdk_pricing::Client);

impl PriceList {
    pub fn new(client: aws_sdk_pricing::Client) -> PriceList {
        PriceList(client)
    }

    /// The entries of `service` that match every `(field, value)` (at most 10: the filters are
    /// meant to name one product).
    pub async fn products(&self, service: &str, filters: &[(&str, String)]) -> Result<Vec<String>, String> {
        let mut request = self.0.get_products().service_code(service).format_version("aws_v1").max_results(10);
        for (field, value) in filters {
            let filter = Filter::builder().r#type(FilterType::TermMatch).field(*field).value(value).build();
            request = request.filters(filter.map_err(|error| error.to_string())?);
        }
        let output = request.send().await.map_err(|error| {
            let error = aws_sdk_pricing::error::DisplayErrorContext(error);
            format!("GetProducts ({service}) failed: {error}")
        })?;
        Ok(output.price_list().to_vec())
    }
}
