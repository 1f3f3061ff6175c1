//! What `pipectl output` and `pipectl status` learn of a live resource, as its kind declares it
//! (`ResourceKind::outputs`, `ResourceKind::health`), and the one CloudWatch read every kind's
//! metrics share: GetMetricData over the last minutes, where a metric with no datapoint is "no
//! data" (`None`), never zero.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::aws::{aws_error, AwsError, Clients, Warnings};
use crate::iam::deployer::Grant;

/// One labelled value a resource offers producers, consumers and scripts (`arn`, `id`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Output {
    pub label: &'static str,
    pub value: String,
}

impl Output {
    pub fn new(label: &'static str, value: impl Into<String>) -> Output {
        Output { label, value: value.into() }
    }
}

/// How a metric's datapoints over the window become one figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Statistic {
    /// The highest minute (iterator age, data freshness).
    Maximum,
    /// The total over the window (throttled writes, records).
    Sum,
    /// The lowest minute (a success ratio: one bad minute shows).
    Minimum,
}

impl Statistic {
    fn as_str(self) -> &'static str {
        match self {
            Statistic::Maximum => "Maximum",
            Statistic::Sum => "Sum",
            Statistic::Minimum => "Minimum",
        }
    }

    /// The figure of the window from its per-minute datapoints; `None` without any.
    pub fn reduce(self, values: &[f64]) -> Option<f64> {
        let mut values = values.iter().copied();
        let first = values.next()?;
        Some(values.fold(first, |acc, value| match self {
            Statistic::Maximum => acc.max(value),
            Statistic::Minimum => acc.min(value),
            Statistic::Sum => acc + value,
        }))
    }
}

/// A CloudWatch metric of one resource (`AWS/Kinesis` `GetRecords.IteratorAgeMilliseconds` of
/// stream `events`), shown under `label`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metric {
    pub label: &'static str,
    pub namespace: &'static str,
    pub name: &'static str,
    pub dimension: (&'static str, String),
    pub statistic: Statistic,
}

/// A fact `pipectl status` shows as read with the resource (its state, a group's size).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fact {
    pub label: String,
    pub value: String,
}

impl Fact {
    pub fn new(label: impl Into<String>, value: impl Into<String>) -> Fact {
        Fact { label: label.into(), value: value.into() }
    }
}

impl Metric {
    /// The metrics of one resource, which `dimension` names in `namespace`: each `(label, metric
    /// name, statistic)`.
    pub fn of(
        namespace: &'static str,
        dimension: (&'static str, &str),
        metrics: &[(&'static str, &'static str, Statistic)],
    ) -> Vec<Metric> {
        let (key, value) = dimension;
        let metric = |&(label, name, statistic): &(&'static str, &'static str, Statistic)| Metric {
            label,
            namespace,
            name,
            dimension: (key, value.to_string()),
            statistic,
        };
        metrics.iter().map(metric).collect()
    }
}

/// What `pipectl status` shows of one live resource: facts read with it (state, sizes),
/// the metrics to fetch, and what is wrong with it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Health {
    pub facts: Vec<Fact>,
    pub metrics: Vec<Metric>,
    pub problems: Vec<String>,
}

/// The figures of `metrics` over the `minutes` before `now`, in order: `None` for a metric with
/// no datapoint in the window (an emulator serves none; a new stream has none yet), never zero.
/// One GetMetricData request per 500 metrics, following its NextToken. An endpoint that does not
/// implement GetMetricData makes every figure `None`, with a warning.
pub async fn fetch_metrics(
    clients: &Clients,
    metrics: &[&Metric],
    minutes: i64,
    now: DateTime<Utc>,
    warnings: &Warnings,
) -> Result<Vec<Option<f64>>, AwsError> {
    let mut figures = Vec::with_capacity(metrics.len());
    for chunk in metrics.chunks(MAX_QUERIES) {
        match fetch_batch(clients, chunk, minutes, now).await {
            Ok(values) => figures.extend(values),
            Err(error) if clients.emulated && !error.has_code("AccessDenied") => {
                warnings.add("cloudwatch:GetMetricData");
                figures.extend(std::iter::repeat_n(None, chunk.len()));
            }
            Err(error) => return Err(error),
        }
    }
    Ok(figures)
}

/// GetMetricData takes at most 500 queries per request.
const MAX_QUERIES: usize = 500;

async fn fetch_batch(
    clients: &Clients,
    metrics: &[&Metric],
    minutes: i64,
    now: DateTime<Utc>,
) -> Result<Vec<Option<f64>>, AwsError> {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDataQuery, MetricStat};
    let queries: Vec<MetricDataQuery> = metrics
        .iter()
        .enumerate()
        .map(|(index, metric)| {
            let dimension = Dimension::builder().name(metric.dimension.0).value(&metric.dimension.1).build();
            let cloudwatch_metric = aws_sdk_cloudwatch::types::Metric::builder()
                .namespace(metric.namespace)
                .metric_name(metric.name)
                .dimensions(dimension)
                .build();
            let stat =
                MetricStat::builder().metric(cloudwatch_metric).period(60).stat(metric.statistic.as_str()).build();
            MetricDataQuery::builder().id(format!("m{index}")).metric_stat(stat).return_data(true).build()
        })
        .collect();
    let start = aws_smithy_types::DateTime::from_secs((now - chrono::Duration::minutes(minutes)).timestamp());
    let end = aws_smithy_types::DateTime::from_secs(now.timestamp());
    let mut values: Vec<Vec<f64>> = vec![Vec::new(); metrics.len()];
    let mut token = None;
    loop {
        let output = clients
            .cloudwatch
            .get_metric_data()
            .set_metric_data_queries(Some(queries.clone()))
            .start_time(start)
            .end_time(end)
            .set_next_token(token)
            .send()
            .await
            .map_err(|error| aws_error("status", "GetMetricData", error))?;
        for result in output.metric_data_results() {
            let index = result.id().and_then(|id| id.strip_prefix('m')).and_then(|index| index.parse::<usize>().ok());
            if let Some(found) = index.and_then(|index| values.get_mut(index)) {
                found.extend_from_slice(result.values());
            }
        }
        token = output.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(metrics.iter().zip(values).map(|(metric, values)| metric.statistic.reduce(&values)).collect())
}

/// What `fetch_metrics` needs: GetMetricData, which AWS cannot scope to a resource.
pub fn grants() -> Vec<Grant> {
    vec![Grant::unscoped_reads(&["cloudwatch:GetMetricData"])]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_without_datapoints_is_no_data_not_zero() {
        assert_eq!(Statistic::Maximum.reduce(&[]), None);
        assert_eq!(Statistic::Sum.reduce(&[]), None);
        assert_eq!(Statistic::Maximum.reduce(&[3.0, 9.0, 1.0]), Some(9.0));
        assert_eq!(Statistic::Minimum.reduce(&[1.0, 0.5, 1.0]), Some(0.5));
        assert_eq!(Statistic::Sum.reduce(&[3.0, 9.0, 1.0]), Some(13.0));
        assert_eq!(Statistic::Sum.reduce(&[0.0]), Some(0.0));
    }
}
