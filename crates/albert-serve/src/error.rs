//! Errors as Text Embeddings Inference answers them: `{"error": ..., "error_type": ...}` with the status TEI gives
//! each type; on OpenAI's routes (`/v1/*`) in OpenAI's own shape, `{"error": {"message", "type", "param", "code"}}`
//! (its `ErrorResponse`, which OpenAI's clients read).

use albert::pipeline::InputError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// TEI's error types (serialized as TEI does, e.g. `"Validation"`), each with its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ErrorType {
    /// 503: the server cannot answer now.
    Unhealthy,
    /// 424: the model failed (non-finite outputs, an inference error).
    Backend,
    /// 429: more requests in flight than `--max-concurrent-requests`.
    Overloaded,
    /// 422 (413 for a body over `--payload-limit`, 404 for an unknown model or route): the request is wrong.
    Validation,
    /// 422: the tokenizer refused an input.
    Tokenizer,
    /// 400: an empty input or batch.
    Empty,
}

impl ErrorType {
    /// TEI's status for this type.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorType::Unhealthy => StatusCode::SERVICE_UNAVAILABLE,
            ErrorType::Backend => StatusCode::FAILED_DEPENDENCY,
            ErrorType::Overloaded => StatusCode::TOO_MANY_REQUESTS,
            ErrorType::Validation | ErrorType::Tokenizer => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorType::Empty => StatusCode::BAD_REQUEST,
        }
    }
}

/// A request's failure: its status, its type and a message naming the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// The HTTP status (the type's, unless a more precise one applies: 404, 413, 415).
    pub status: StatusCode,
    /// TEI's error type.
    pub error_type: ErrorType,
    /// What went wrong, for people.
    pub message: String,
}

impl ApiError {
    /// An error with its type's status.
    pub fn new(error_type: ErrorType, message: impl Into<String>) -> Self {
        Self { status: error_type.status(), error_type, message: message.into() }
    }

    /// A validation error with another status than 422 (an unknown model or route: 404; a body too large: 413).
    pub fn with_status(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, error_type: ErrorType::Validation, message: message.into() }
    }

    /// A 422 validation error.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorType::Validation, message)
    }

    /// The failure of input `index` (from 0) of a request: its type follows the input's error.
    pub fn input(index: usize, err: &InputError) -> Self {
        let error_type = match err {
            InputError::Empty | InputError::EmptyQuestion => ErrorType::Empty,
            InputError::Tokenizer(_) => ErrorType::Tokenizer,
            InputError::NonFinite { .. } => ErrorType::Backend,
            InputError::MissingMask | InputError::MaskCutOff | InputError::QuestionTooLong { .. } | InputError::NoSpan => {
                ErrorType::Validation
            }
        };
        Self::new(error_type, format!("input {index}: {err}"))
    }

    /// This error in OpenAI's dialect (the `/v1/*` routes).
    pub fn openai(self) -> OpenAiError {
        OpenAiError(self)
    }
}

/// A call of the library that failed as a whole: bad input is the request's fault (422), anything else the model's
/// (424, TEI's "backend").
impl From<albert::Error> for ApiError {
    fn from(err: albert::Error) -> Self {
        match err {
            albert::Error::Input(message) => Self::validation(message),
            albert::Error::Tokenizer(e) => Self::new(ErrorType::Tokenizer, e.to_string()),
            other => Self::new(ErrorType::Backend, other.to_string()),
        }
    }
}

#[derive(Serialize)]
struct TeiBody<'a> {
    error: &'a str,
    error_type: ErrorType,
}

/// The answer carries its error type in its extensions, for the per-route failure counts.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(TeiBody { error: &self.message, error_type: self.error_type });
        (self.status, axum::Extension(self.error_type), body).into_response()
    }
}

/// An [`ApiError`] answered in OpenAI's dialect (OpenAI's `ErrorResponse`; TEI's own `/v1/embeddings` answers a
/// flat `{"message", "code", "type"}` that OpenAI's clients do not read).
#[derive(Debug)]
pub struct OpenAiError(pub ApiError);

/// OpenAI's `ErrorResponse` of an error with HTTP status `code` and TEI type `error_type`.
struct OpenAiBody<'a> {
    message: &'a str,
    code: u16,
    error_type: ErrorType,
}

impl Serialize for OpenAiBody<'_> {
    /// `{"error": {"message", "type", "param": null, "code"}}`: `type` is OpenAI's class of the status
    /// (`invalid_request_error`, `authentication_error`, `rate_limit_error`, `server_error`), `code` TEI's error type
    /// in lower case (`validation`, `tokenizer`, `empty`, `overloaded`, `backend`, `unhealthy`).
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Error<'a> {
            message: &'a str,
            #[serde(rename = "type")]
            kind: &'static str,
            param: Option<&'static str>,
            code: String,
        }
        #[derive(Serialize)]
        struct Body<'a> {
            error: Error<'a>,
        }
        let kind = match self.code {
            401 => "authentication_error",
            429 => "rate_limit_error",
            400..=423 | 425..=499 => "invalid_request_error",
            _ => "server_error",
        };
        let code = format!("{:?}", self.error_type).to_lowercase();
        Body { error: Error { message: self.message, kind, param: None, code } }.serialize(serializer)
    }
}

impl From<ApiError> for OpenAiError {
    fn from(err: ApiError) -> Self {
        Self(err)
    }
}

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let body = Json(OpenAiBody { message: &e.message, code: e.status.as_u16(), error_type: e.error_type });
        (e.status, axum::Extension(e.error_type), body).into_response()
    }
}
