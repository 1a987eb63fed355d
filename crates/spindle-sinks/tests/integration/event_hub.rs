//! Event Hubs through their Kafka endpoint: settings derived from the connection string.
#![cfg(feature = "kafka")]

use spindle_sinks::EventHubOptions;
use std::collections::HashMap;

#[test]
fn event_hub_settings_derive_from_the_connection_string() {
    let cs = "Endpoint=sb://shop-ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=abc123=;EntityPath=orders";
    let options = EventHubOptions {
        connection_string: cs.into(),
        hub: None,
        partition_key_column: Some("customer_id".into()),
    }
    .kafka_options()
    .unwrap();
    assert_eq!(
        options.bootstrap_servers,
        "shop-ns.servicebus.windows.net:9093"
    );
    assert_eq!(options.topic, "orders");
    assert_eq!(options.key_column.as_deref(), Some("customer_id"));
    let config: HashMap<String, String> = options.client_config().into_iter().collect();
    assert_eq!(config["security.protocol"], "SASL_SSL");
    assert_eq!(config["sasl.mechanism"], "PLAIN");
    assert_eq!(config["sasl.username"], "$ConnectionString");
    assert_eq!(config["sasl.password"], cs);
    let other = EventHubOptions {
        connection_string: cs.into(),
        hub: Some("returns".into()),
        partition_key_column: None,
    };
    assert_eq!(other.kafka_options().unwrap().topic, "returns");
    for (bad, needle) in [
        (
            "SharedAccessKeyName=a;SharedAccessKey=b;EntityPath=h",
            "Endpoint",
        ),
        (
            "Endpoint=https://x/;SharedAccessKeyName=a;SharedAccessKey=b;EntityPath=h",
            "sb://",
        ),
        (
            "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKey=b;EntityPath=h",
            "SharedAccessKeyName",
        ),
        (
            "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=a;SharedAccessKey=b",
            "EntityPath",
        ),
        ("garbage", "KEY=VALUE"),
    ] {
        let e = EventHubOptions {
            connection_string: bad.into(),
            hub: None,
            partition_key_column: None,
        }
        .kafka_options()
        .unwrap_err()
        .to_string();
        assert!(
            e.contains(needle) && e.contains("connection_string"),
            "{bad}: {e}"
        );
    }
}
