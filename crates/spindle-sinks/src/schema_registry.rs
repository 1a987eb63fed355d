//! A client of the Confluent Schema Registry REST API, which Redpanda, Karapace and
//! Apicurio's compatibility API also serve: it registers a schema under a subject (or,
//! with `auto_register=false`, only looks it up) and gives the id that each message's
//! Confluent wire-format header carries. A registry that refuses is an error naming
//! the subject, the registry's message and the subject's compatibility level.
//!
//! Credentials come from the environment, never from the command line (where `ps`
//! shows them): [`REGISTRY_AUTH_ENV`] (`user:password`, HTTP basic) or
//! [`REGISTRY_TOKEN_ENV`] (a bearer token). `https://` registries are reached over
//! TLS, verified against the system's certificates (OpenSSL's, so `SSL_CERT_FILE`
//! names a private authority's).

use crate::error::{Error, Result};
use std::time::Duration;

/// The environment variable holding `user:password` for the registry (HTTP basic).
pub const REGISTRY_AUTH_ENV: &str = "SPINDLE_SCHEMA_REGISTRY_AUTH";
/// The environment variable holding a bearer token for the registry.
pub const REGISTRY_TOKEN_ENV: &str = "SPINDLE_SCHEMA_REGISTRY_TOKEN";

/// How long one request to the registry may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The registry's media type, for requests and answers.
const MEDIA_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// A schema registry at one address.
pub struct SchemaRegistry {
    url: String,
    agent: ureq::Agent,
    authorization: Option<String>,
}

impl SchemaRegistry {
    /// The registry at `url` (`http://` or `https://`, as the Kafka options checked),
    /// with the credentials of the environment.
    ///
    /// # Errors
    /// Both credential variables set, or basic credentials without a colon.
    pub fn new(url: &str) -> Result<Self> {
        // The system's certificates, through OpenSSL (which also reads SSL_CERT_FILE
        // and SSL_CERT_DIR, for a private authority).
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::NativeTls)
            .root_certs(ureq::tls::RootCerts::PlatformVerifier)
            .build();
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(REQUEST_TIMEOUT))
            .http_status_as_error(false)
            .tls_config(tls)
            .build()
            .into();
        Ok(Self {
            url: url.trim_end_matches('/').to_string(),
            agent,
            authorization: authorization()?,
        })
    }

    /// The id of `schema` (of `schema_type`: `AVRO`, `PROTOBUF` or `JSON`) under
    /// `subject`: registered if need be when `register`, else looked up.
    ///
    /// # Errors
    /// A registry that does not answer, refuses the credentials, rejects the schema
    /// (naming the subject, its message and the compatibility level) or, when only
    /// looking up, does not have it.
    pub fn schema_id(
        &self,
        subject: &str,
        schema: &str,
        schema_type: &str,
        register: bool,
    ) -> Result<u32> {
        let mut body = serde_json::json!({ "schema": schema });
        if schema_type != "AVRO" {
            body["schemaType"] = schema_type.into();
        }
        let path = match register {
            true => format!("/subjects/{}/versions", encode(subject)),
            false => format!("/subjects/{}", encode(subject)),
        };
        let (status, answer) = self.request(&path, Some(body.to_string()))?;
        match status {
            200 => answer["id"]
                .as_u64()
                .and_then(|id| u32::try_from(id).ok())
                .ok_or_else(|| self.error(format!("answered {path} without an id: {answer}"))),
            404 if !register => Err(self.error(format!(
                "subject '{subject}' has no version of this schema ({}), and \
                 auto_register=false only looks schemas up: register it first, or drop \
                 auto_register=false",
                message(&answer)
            ))),
            409 | 422 => Err(self.error(format!(
                "subject '{subject}' rejected the schema ({}; compatibility {}): {}",
                message(&answer),
                self.compatibility(subject),
                schema
            ))),
            _ => Err(self.error(format!(
                "{path} answered HTTP {status}: {}",
                message(&answer)
            ))),
        }
    }

    /// The compatibility level of `subject` (its own, else the registry's), or
    /// `unknown`.
    fn compatibility(&self, subject: &str) -> String {
        let level = |path: &str| -> Option<String> {
            let (status, answer) = self.request(path, None).ok()?;
            let level = answer
                .get("compatibilityLevel")
                .or_else(|| answer.get("compatibility"))?;
            (status == 200).then(|| level.as_str().map(str::to_string))?
        };
        level(&format!("/config/{}?defaultToGlobal=true", encode(subject)))
            .or_else(|| level("/config"))
            .unwrap_or_else(|| "unknown".into())
    }

    /// Sends a GET (no `body`) or a POST of `body` to `path`; the status and the
    /// answer as JSON (null if it is not JSON). 401 and 403 are errors here.
    fn request(&self, path: &str, body: Option<String>) -> Result<(u16, serde_json::Value)> {
        let url = format!("{}{path}", self.url);
        let sent = match body {
            Some(body) => self
                .headed(self.agent.post(&url))
                .header("Content-Type", MEDIA_TYPE)
                .send(body),
            None => self.headed(self.agent.get(&url)).call(),
        };
        let mut response = sent.map_err(|e| self.error(format!("cannot be reached: {e}")))?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let answer = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        if status == 401 || status == 403 {
            return Err(self.error(format!(
                "refused the credentials (HTTP {status}: {}); give them in \
                 {REGISTRY_AUTH_ENV}=user:password or {REGISTRY_TOKEN_ENV}=token",
                message(&answer)
            )));
        }
        Ok((status, answer))
    }

    /// `request` accepting the registry's answers, with the credentials if any.
    fn headed<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        let request = request.header("Accept", MEDIA_TYPE);
        match &self.authorization {
            Some(a) => request.header("Authorization", a),
            None => request,
        }
    }

    fn error(&self, what: String) -> Error {
        Error::Registry(format!("schema registry {}: {what}", self.url))
    }
}

/// The `Authorization` header the environment's credentials make, if any.
fn authorization() -> Result<Option<String>> {
    let auth = std::env::var(REGISTRY_AUTH_ENV)
        .ok()
        .filter(|v| !v.is_empty());
    let token = std::env::var(REGISTRY_TOKEN_ENV)
        .ok()
        .filter(|v| !v.is_empty());
    match (auth, token) {
        (Some(_), Some(_)) => Err(Error::Invalid {
            field: "registry",
            message: format!("set {REGISTRY_AUTH_ENV} or {REGISTRY_TOKEN_ENV}, not both"),
        }),
        (Some(auth), None) if !auth.contains(':') => Err(Error::Invalid {
            field: "registry",
            message: format!("{REGISTRY_AUTH_ENV} must be user:password"),
        }),
        (Some(auth), None) => {
            use base64::Engine as _;
            let coded = base64::engine::general_purpose::STANDARD.encode(auth);
            Ok(Some(format!("Basic {coded}")))
        }
        (None, Some(token)) => Ok(Some(format!("Bearer {token}"))),
        (None, None) => Ok(None),
    }
}

/// The registry's error message in `answer`, or the answer itself.
fn message(answer: &serde_json::Value) -> String {
    match answer.get("message").and_then(|m| m.as_str()) {
        Some(m) => m.to_string(),
        None => answer.to_string(),
    }
}

/// The bytes a path segment escapes: all but RFC 3986's unreserved characters.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `text` as a URL path segment.
fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_escaped_in_paths() {
        assert_eq!(encode("orders-spindle.order_x"), "orders-spindle.order_x");
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
    }
}
