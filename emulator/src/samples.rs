//! Sample events for the common sources (SPEC EMU-4), written for this project: `lambda-emulator
//! events` lists them, `lambda-emulator event NAME` prints one, `lambda-emulator invoke NAME` sends
//! one to a running emulator. They are the JSON files under `emulator/events/`, compiled in.
//!
//! [`kind_of`] names the source of any event by its shape, for the access line and the inspector.

use serde_json::Value;

/// One built-in sample event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// What `lambda-emulator event` takes.
    pub name: &'static str,
    /// One line for `lambda-emulator events`.
    pub description: &'static str,
    /// The event, pretty-printed JSON.
    pub json: &'static str,
}

macro_rules! sample {
    ($name:literal, $description:literal) => {
        Sample {
            name: $name,
            description: $description,
            json: include_str!(concat!("../events/", $name, ".json")),
        }
    };
}

/// Every sample, in the order `lambda-emulator events` lists them.
pub const SAMPLES: [Sample; 11] = [
    sample!("sqs", "SQS: a batch of two messages (JSON bodies)"),
    sample!("sns", "SNS: one notification with a message attribute"),
    sample!("s3", "S3: ObjectCreated:Put of one object"),
    sample!(
        "eventbridge",
        "EventBridge: a custom \"Order Placed\" event"
    ),
    sample!("dynamodb", "DynamoDB Streams: an INSERT and a MODIFY"),
    sample!("kinesis", "Kinesis Data Streams: one record (base64 data)"),
    sample!(
        "apigw-rest",
        "API Gateway REST API (payload 1.0): GET /?lang=en"
    ),
    sample!(
        "apigw-http",
        "API Gateway HTTP API (payload 2.0): GET /?lang=en with cookies"
    ),
    sample!(
        "function-url",
        "Lambda Function URL: GET /?lang=en with cookies"
    ),
    sample!("alb", "Application Load Balancer: GET /?lang=en"),
    sample!(
        "lattice",
        "VPC Lattice (event structure 2.0): GET /?lang=en"
    ),
];

/// The sample called `name` (case-insensitive; `v1`, `v2`, `rest`, `http-api`, `url` and
/// `vpc-lattice` are accepted too).
pub fn find(name: &str) -> Option<Sample> {
    let name = name.trim().to_ascii_lowercase();
    let name = match name.as_str() {
        "v1" | "rest" | "rest-api" => "apigw-rest",
        "v2" | "http-api" => "apigw-http",
        "url" => "function-url",
        "vpc-lattice" => "lattice",
        other => other,
    };
    SAMPLES.into_iter().find(|sample| sample.name == name)
}

/// The `lambda-emulator events` listing: one sample a line, name and description.
pub fn listing() -> String {
    let width = SAMPLES
        .iter()
        .map(|sample| sample.name.len())
        .max()
        .unwrap_or(0);
    SAMPLES
        .iter()
        .map(|sample| format!("{:width$}  {}\n", sample.name, sample.description))
        .collect()
}

/// Which source an event comes from, by its shape: `sqs`, `sns`, `s3`, `dynamodb`, `kinesis`
/// (by the first record's event source), `eventbridge`, `v1`, `v2`, `function-url`, `alb`,
/// `lattice`, else `event`.
pub fn kind_of(event: &Value) -> &'static str {
    let record_source = event
        .get("Records")
        .and_then(|records| records.get(0))
        .and_then(|record| {
            record
                .get("eventSource")
                .or_else(|| record.get("EventSource"))
        })
        .and_then(Value::as_str);
    if let Some(source) = record_source {
        return match source {
            "aws:sqs" => "sqs",
            "aws:sns" => "sns",
            "aws:s3" => "s3",
            "aws:dynamodb" => "dynamodb",
            "aws:kinesis" => "kinesis",
            _ => "event",
        };
    }
    let context = event.get("requestContext");
    let has = |key: &str| event.get(key).is_some();
    if has("detail-type") && has("source") {
        "eventbridge"
    } else if context.is_some_and(|context| context.get("elb").is_some()) {
        "alb"
    } else if context.is_some_and(|context| context.get("serviceNetworkArn").is_some())
        || (has("raw_path") && has("method"))
    {
        "lattice"
    } else if has("rawPath") {
        let domain = context
            .and_then(|context| context.get("domainName"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        if domain.contains(".lambda-url.") {
            "function-url"
        } else {
            "v2"
        }
    } else if has("httpMethod") {
        "v1"
    } else {
        "event"
    }
}

/// The method and path (with the query) of an HTTP event, `None` for any other event.
pub fn http_target(event: &Value) -> Option<(String, String)> {
    let text = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_owned);
    match kind_of(event) {
        "v2" | "function-url" => {
            let method = text(event.pointer("/requestContext/http/method"))?;
            let path = text(event.get("rawPath"))?;
            let query = text(event.get("rawQueryString")).unwrap_or_default();
            let target = if query.is_empty() {
                path
            } else {
                format!("{path}?{query}")
            };
            Some((method, target))
        }
        "v1" | "alb" => Some((text(event.get("httpMethod"))?, text(event.get("path"))?)),
        "lattice" => Some((
            text(event.get("method"))?,
            text(event.get("path")).or_else(|| text(event.get("raw_path")))?,
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emu4_every_sample_is_json_of_its_kind() {
        let expected = [
            ("sqs", "sqs"),
            ("sns", "sns"),
            ("s3", "s3"),
            ("eventbridge", "eventbridge"),
            ("dynamodb", "dynamodb"),
            ("kinesis", "kinesis"),
            ("apigw-rest", "v1"),
            ("apigw-http", "v2"),
            ("function-url", "function-url"),
            ("alb", "alb"),
            ("lattice", "lattice"),
        ];
        assert_eq!(SAMPLES.len(), expected.len());
        for (sample, (name, kind)) in SAMPLES.iter().zip(expected) {
            assert_eq!(sample.name, name);
            let event: Value =
                serde_json::from_str(sample.json).unwrap_or_else(|err| panic!("{name}: {err}"));
            assert_eq!(kind_of(&event), kind, "{name}");
            let is_http = ["v1", "v2", "function-url", "alb", "lattice"].contains(&kind);
            assert_eq!(http_target(&event).is_some(), is_http, "{name}");
        }
    }

    #[test]
    fn emu4_samples_are_found_by_name_and_alias() {
        assert_eq!(find("SQS").map(|sample| sample.name), Some("sqs"));
        assert_eq!(find("v1").map(|sample| sample.name), Some("apigw-rest"));
        assert_eq!(find("v2").map(|sample| sample.name), Some("apigw-http"));
        assert_eq!(find("nope"), None);
        let listing = listing();
        assert_eq!(listing.lines().count(), SAMPLES.len());
        assert!(listing.contains("kinesis "), "{listing}");
    }

    #[test]
    fn http_targets() {
        let v2: Value = serde_json::from_str(find("function-url").unwrap().json).unwrap();
        assert_eq!(
            http_target(&v2),
            Some(("GET".to_owned(), "/?lang=en".to_owned()))
        );
        let lattice: Value = serde_json::from_str(find("lattice").unwrap().json).unwrap();
        assert_eq!(
            http_target(&lattice),
            Some(("GET".to_owned(), "/?lang=en".to_owned()))
        );
        assert_eq!(kind_of(&serde_json::json!({"anything": 1})), "event");
        assert_eq!(kind_of(&serde_json::json!(42)), "event");
    }
}
