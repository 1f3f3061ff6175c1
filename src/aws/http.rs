//! Bounds how many AWS requests are in flight at once. A plan fans out one read per resource
//! and field; hundreds at once would trip AWS's request-rate limits (and swamp an emulator).
//! Writes are bounded further by `--parallelism`, which limits the resources apply changes at
//! once. The bound sits in the HTTP client, so every request of every service shares it.

use std::sync::Arc;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use tokio::sync::Semaphore;

/// An HTTP client that lets at most N requests through at a time.
#[derive(Debug, Clone)]
pub struct BoundedClient {
    inner: SharedHttpClient,
    permits: Arc<Semaphore>,
}

impl BoundedClient {
    pub fn new(inner: SharedHttpClient, max_in_flight: usize) -> BoundedClient {
        BoundedClient { inner, permits: Arc::new(Semaphore::new(max_in_flight.max(1))) }
    }
}

impl HttpClient for BoundedClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(BoundedConnector {
            inner: self.inner.http_connector(settings, components),
            permits: self.permits.clone(),
        })
    }
}

#[derive(Debug)]
struct BoundedConnector {
    inner: SharedHttpConnector,
    permits: Arc<Semaphore>,
}

impl HttpConnector for BoundedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.inner.clone();
        let permits = self.permits.clone();
        HttpConnectorFuture::new(async move {
            let _permit = permits.acquire_owned().await.map_err(|error| ConnectorError::other(error.into(), None))?;
            inner.call(request).await
        })
    }
}
