//! The Bot API client: frankenstein's typed methods on our own reqwest client.
//!
//! frankenstein's bundled reqwest client pulls in aws-lc; we implement its
//! [`AsyncTelegramApi`] trait on reqwest with rustls on ring (the provider the
//! rest of telemux uses), against any base URL (`telegram.api_url`: the real
//! API, a local Bot API server, or the test server). Errors keep Telegram's
//! `error_code`, `description` and `retry_after`, because the callers decide
//! what each one means (429: wait; "message is not modified": no-op; ...). The
//! bot token is part of every URL, so no URL ever appears in an error.

use std::{path::PathBuf, time::Duration};

use frankenstein::AsyncTelegramApi;
use serde::de::DeserializeOwned;
use thiserror::Error;

/// A failed Bot API call.
#[derive(Debug, Error, Clone)]
pub enum ApiError {
    /// Telegram answered `ok: false`.
    #[error("Telegram refused {method}: {description} (error {code})")]
    Api {
        /// Bot API method name.
        method: String,
        /// `error_code` (HTTP status).
        code: u64,
        /// `description`.
        description: String,
        /// `parameters.retry_after` in seconds (429 only).
        retry_after: Option<u64>,
    },
    /// The Bot API could not be reached (network, TLS, timeout).
    #[error("cannot reach the Telegram Bot API ({method}): {cause}")]
    Http {
        /// Bot API method name.
        method: String,
        /// What failed, without the URL (it contains the token).
        cause: String,
    },
    /// The answer was not the JSON the Bot API documents.
    #[error("unexpected answer from the Telegram Bot API ({method}): {cause}")]
    Decode {
        /// Bot API method name.
        method: String,
        /// Why it did not decode.
        cause: String,
    },
    /// A file to upload could not be read.
    #[error("cannot read {path}: {cause}")]
    File {
        /// The file.
        path: String,
        /// The I/O error.
        cause: String,
    },
}

impl ApiError {
    fn description(&self) -> &str {
        match self {
            ApiError::Api { description, .. } => description,
            _ => "",
        }
    }

    /// How long Telegram asked us to wait (HTTP 429).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::Api {
                code: 429,
                retry_after,
                ..
            } => Some(Duration::from_secs(retry_after.unwrap_or(5).max(1))),
            _ => None,
        }
    }

    /// The edit changed nothing: treat as done.
    pub fn is_not_modified(&self) -> bool {
        self.description().contains("message is not modified")
    }

    /// The message to edit is gone (deleted by the user): send a new one.
    pub fn is_message_gone(&self) -> bool {
        let d = self.description();
        d.contains("message to edit not found") || d.contains("MESSAGE_ID_INVALID")
    }

    /// The HTML did not parse: resend as plain text.
    pub fn is_unparsable(&self) -> bool {
        self.description().contains("can't parse entities")
    }

    /// The text exceeded 4096 characters after entity parsing.
    pub fn is_too_long(&self) -> bool {
        self.description().contains("message is too long")
    }

    /// Another program polls with the same token (HTTP 409).
    pub fn is_conflict(&self) -> bool {
        matches!(self, ApiError::Api { code: 409, .. })
    }

    /// A transport failure worth retrying after a pause.
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::Http { .. } => true,
            ApiError::Api { code, .. } => *code >= 500,
            _ => false,
        }
    }
}

/// A Bot API client for one bot token.
#[derive(Clone)]
pub struct BotClient {
    /// `<api_url>/bot<token>`; never logged.
    base: String,
    /// `<api_url>/file/bot<token>`, where `getFile`'s paths are downloaded; never logged.
    file_base: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for BotClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BotClient { .. }")
    }
}

impl BotClient {
    /// A client for `token` at `api_url`; `longest_poll` bounds the HTTP timeout from below.
    pub fn new(api_url: &str, token: &str, longest_poll: Duration) -> Result<BotClient, ApiError> {
        // reqwest is built without a default provider; rustls panics if none is installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(longest_poll + Duration::from_secs(20))
            .build()
            .map_err(|e| ApiError::Http {
                method: "client".into(),
                cause: e.without_url().to_string(),
            })?;
        let api_url = api_url.trim_end_matches('/');
        Ok(BotClient {
            base: format!("{api_url}/bot{token}"),
            file_base: format!("{api_url}/file/bot{token}"),
            http,
        })
    }

    /// Downloads `file_path` (as `getFile` gave it), refusing more than `max` bytes.
    pub async fn download(&self, file_path: &str, max: u64) -> Result<Vec<u8>, ApiError> {
        let method = "file download";
        let http = |e: reqwest::Error| ApiError::Http {
            method: method.to_string(),
            cause: e.without_url().to_string(),
        };
        let mut response = self
            .http
            .get(format!("{}/{file_path}", self.file_base))
            .send()
            .await
            .map_err(http)?;
        let status = response.status();
        if !status.is_success() {
            return Err(ApiError::Api {
                method: method.to_string(),
                code: u64::from(status.as_u16()),
                description: status.to_string(),
                retry_after: None,
            });
        }
        let mut out = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(http)? {
            out.extend_from_slice(&chunk);
            if out.len() as u64 > max {
                return Err(ApiError::Decode {
                    method: method.to_string(),
                    cause: format!("the file is larger than {max} bytes"),
                });
            }
        }
        Ok(out)
    }

    async fn decode<Output: DeserializeOwned>(
        method: &str,
        response: Result<reqwest::Response, reqwest::Error>,
    ) -> Result<Output, ApiError> {
        let http = |e: reqwest::Error| ApiError::Http {
            method: method.to_string(),
            cause: e.without_url().to_string(),
        };
        let response = response.map_err(http)?;
        let status = response.status();
        let body = response.bytes().await.map_err(http)?;
        let value: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| ApiError::Decode {
                method: method.to_string(),
                cause: format!("HTTP {status}, body is not JSON: {e}"),
            })?;
        if value.get("ok").and_then(|v| v.as_bool()) == Some(true) {
            return serde_json::from_value(value).map_err(|e| ApiError::Decode {
                method: method.to_string(),
                cause: e.to_string(),
            });
        }
        Err(ApiError::Api {
            method: method.to_string(),
            code: value
                .get("error_code")
                .and_then(|v| v.as_u64())
                .unwrap_or(status.as_u16() as u64),
            description: value
                .get("description")
                .and_then(|v| v.as_str())
                .unwrap_or("no description")
                .to_string(),
            retry_after: value
                .pointer("/parameters/retry_after")
                .and_then(|v| v.as_u64()),
        })
    }
}

#[async_trait::async_trait]
impl AsyncTelegramApi for BotClient {
    type Error = ApiError;

    async fn request<Params, Output>(
        &self,
        method: &str,
        params: Option<Params>,
    ) -> Result<Output, Self::Error>
    where
        Params: serde::ser::Serialize + std::fmt::Debug + std::marker::Send,
        Output: DeserializeOwned,
    {
        let mut req = self
            .http
            .post(format!("{}/{method}", self.base))
            .header("Content-Type", "application/json");
        if let Some(p) = params {
            let body = serde_json::to_vec(&p).map_err(|e| ApiError::Decode {
                method: method.to_string(),
                cause: e.to_string(),
            })?;
            req = req.body(body);
        }
        Self::decode(method, req.send().await).await
    }

    async fn request_with_form_data<Params, Output>(
        &self,
        method: &str,
        params: Params,
        files: Vec<(&str, PathBuf)>,
    ) -> Result<Output, Self::Error>
    where
        Params: serde::ser::Serialize + std::fmt::Debug + std::marker::Send,
        Output: DeserializeOwned,
    {
        let json = serde_json::to_value(&params).map_err(|e| ApiError::Decode {
            method: method.to_string(),
            cause: e.to_string(),
        })?;
        let mut form = reqwest::multipart::Form::new();
        if let serde_json::Value::Object(map) = json {
            for (k, v) in map {
                if files.iter().any(|(f, _)| *f == k) {
                    continue;
                }
                form = match v {
                    serde_json::Value::String(s) => form.text(k, s),
                    other => form.text(k, other.to_string()),
                };
            }
        }
        for (field, path) in files {
            let bytes = tokio::fs::read(&path).await.map_err(|e| ApiError::File {
                path: path.display().to_string(),
                cause: e.to_string(),
            })?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_else(|| "file".into());
            form = form.part(
                field.to_string(),
                reqwest::multipart::Part::bytes(bytes).file_name(name),
            );
        }
        let req = self
            .http
            .post(format!("{}/{method}", self.base))
            .multipart(form);
        Self::decode(method, req.send().await).await
    }
}
