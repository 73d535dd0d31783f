//! A validator for the part of OpenAPI's schema language that TEI's and OpenAI's documents use: `$ref` (to schemas
//! and to responses), `type` (`null` too, as OpenAPI 3.1 writes it), `enum`, `required`, `properties`,
//! `additionalProperties`, `items`, `minItems`/`maxItems`, `minimum`, `nullable`, `oneOf` (exactly one), `anyOf` (at
//! least one) and `allOf` (every one). Any other keyword (`description`, `example`, `default`, `format`) does not
//! constrain a response. It checks TEI's document, OpenAI's (the fixtures) and this server's own
//! (`src/openapi.json`).

use serde_json::Value;

/// An OpenAPI document: TEI's (see `tests/fixtures/README.md`) or this server's.
pub struct OpenApi {
    doc: Value,
}

impl OpenApi {
    pub fn tei() -> Self {
        Self::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tei-openapi-v1.9.3.json"))
    }

    /// OpenAI's document, the part for `/embeddings` and `/models` (see `tests/fixtures/README.md`); its paths lack
    /// the `/v1` of its server URL.
    pub fn openai() -> Self {
        Self::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/openai-openapi-embeddings.json"))
    }

    /// This server's own document, as `/openapi.json` serves it.
    pub fn ours() -> Self {
        Self::read(concat!(env!("CARGO_MANIFEST_DIR"), "/src/openapi.json"))
    }

    fn read(path: &str) -> Self {
        Self { doc: serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap() }
    }

    /// Every documented route, as (method, path).
    pub fn routes(&self) -> Vec<(String, String)> {
        let paths = self.doc["paths"].as_object().unwrap();
        paths.iter().flat_map(|(p, ops)| ops.as_object().unwrap().keys().map(|m| (m.to_uppercase(), p.clone()))).collect()
    }

    /// The documented responses of `method path`, when the document has the route.
    fn responses(&self, method: &str, path: &str) -> Option<&Value> {
        self.doc["paths"].get(path)?.get(method.to_lowercase())?.get("responses")
    }

    /// Whether the document has the route.
    pub fn has(&self, method: &str, path: &str) -> bool {
        self.responses(method, path).is_some()
    }

    /// Checks a response of a documented route: against the schema of its status, or, for an error status the
    /// document does not list, against `ErrorResponse`. A documented response without content must be empty.
    pub fn check_response(&self, method: &str, path: &str, status: u16, body: &Value) -> Result<(), String> {
        let responses = self.responses(method, path).ok_or_else(|| format!("{method} {path} is not documented"))?;
        let error = serde_json::json!({"$ref": "#/components/schemas/ErrorResponse"});
        let schema = match responses.get(status.to_string()).map(|r| self.resolve(r)).transpose()? {
            Some(r) => match r.pointer("/content/application~1json/schema") {
                Some(s) => s,
                None if body.is_null() => return Ok(()),
                None => return Err(format!("{method} {path} {status} is documented without content, got {body}")),
            },
            None if status >= 400 => &error,
            None => return Err(format!("{method} {path} does not document status {status}")),
        };
        self.check(schema, body, "$")
    }

    /// What `value` stands for: the target of its `$ref`, or itself.
    fn resolve<'a>(&'a self, value: &'a Value) -> Result<&'a Value, String> {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let pointer = reference.strip_prefix('#').ok_or_else(|| format!("external $ref {reference}"))?;
                self.doc.pointer(pointer).ok_or_else(|| format!("dangling $ref {reference}"))
            }
            None => Ok(value),
        }
    }

    /// Checks `value` against `schema`; the error names where (`$.data[0].index`).
    pub fn check(&self, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
        if schema.get("$ref").is_some() {
            return self.check(self.resolve(schema)?, value, at);
        }
        if value.is_null() && schema.get("nullable") == Some(&Value::Bool(true)) {
            return Ok(());
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for s in all {
                self.check(s, value, at)?;
            }
        }
        if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
            let matching = one.iter().filter(|s| self.check(s, value, at).is_ok()).count();
            if matching != 1 {
                return Err(format!("{at}: {value} matches {matching} of the {} oneOf schemas", one.len()));
            }
        }
        if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
            if !any.iter().any(|s| self.check(s, value, at).is_ok()) {
                return Err(format!("{at}: {value} matches none of the {} anyOf schemas", any.len()));
            }
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
            if !allowed.contains(value) {
                return Err(format!("{at}: {value} is not one of {allowed:?}"));
            }
        }
        if let Some(t) = schema.get("type").and_then(Value::as_str) {
            let ok = match t {
                "object" => value.is_object(),
                "array" => value.is_array(),
                "string" => value.is_string(),
                "boolean" => value.is_boolean(),
                "integer" => value.is_u64() || value.is_i64(),
                "number" => value.is_number(),
                "null" => value.is_null(),
                other => return Err(format!("{at}: unknown type {other}")),
            };
            if !ok {
                return Err(format!("{at}: {value} is not of type {t}"));
            }
        }
        if let (Some(min), Some(v)) = (schema.get("minimum").and_then(Value::as_f64), value.as_f64()) {
            if v < min {
                return Err(format!("{at}: {v} is below the minimum {min}"));
            }
        }
        if let Some(object) = value.as_object() {
            for name in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                let name = name.as_str().unwrap();
                if !object.contains_key(name) {
                    return Err(format!("{at}: the required field `{name}` is missing"));
                }
            }
            let properties = schema.get("properties").and_then(Value::as_object);
            for (name, v) in object {
                match (properties.and_then(|p| p.get(name)), schema.get("additionalProperties")) {
                    (Some(s), _) => self.check(s, v, &format!("{at}.{name}"))?,
                    (None, Some(Value::Bool(false))) => return Err(format!("{at}: the field `{name}` is not allowed")),
                    (None, Some(s)) if s.is_object() => self.check(s, v, &format!("{at}.{name}"))?,
                    // Fields beyond the document's (this server's `models` in /info) are allowed, as OpenAPI does.
                    (None, _) => {}
                }
            }
        }
        if let Some(items) = value.as_array() {
            let bound = |k: &str| schema.get(k).and_then(Value::as_u64).map(|n| n as usize);
            if bound("minItems").is_some_and(|n| items.len() < n) || bound("maxItems").is_some_and(|n| items.len() > n) {
                return Err(format!("{at}: {} items, outside minItems/maxItems", items.len()));
            }
            if let Some(s) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    self.check(s, v, &format!("{at}[{i}]"))?;
                }
            }
        }
        Ok(())
    }
}

#[test]
fn the_validator_refuses_what_the_document_forbids() {
    let api = OpenApi::tei();
    let prediction = serde_json::json!({"$ref": "#/components/schemas/PredictResponse"});
    assert!(api.check(&prediction, &serde_json::json!([{"score": 0.5, "label": "a"}]), "$").is_ok());
    assert!(api.check(&prediction, &serde_json::json!([[{"score": 0.5, "label": "a"}]]), "$").is_ok());
    assert!(api.check(&prediction, &serde_json::json!([{"score": "0.5", "label": "a"}]), "$").is_err());
    assert!(api.check(&prediction, &serde_json::json!([{"label": "a"}]), "$").is_err());
    let error = serde_json::json!({"$ref": "#/components/schemas/ErrorResponse"});
    assert!(api.check(&error, &serde_json::json!({"error": "x", "error_type": "Validation"}), "$").is_ok());
    assert!(api.check(&error, &serde_json::json!({"error": "x", "error_type": "validation"}), "$").is_err());
    let token = serde_json::json!({"$ref": "#/components/schemas/SimpleToken"});
    assert!(api.check(&token, &serde_json::json!({"id": 2, "text": "[CLS]", "special": true, "start": null, "stop": null}), "$").is_ok());
    assert!(api.check(&token, &serde_json::json!({"id": -1, "text": "a", "special": false}), "$").is_err());
    assert!(api.check_response("GET", "/health", 200, &Value::Null).is_ok());
    assert!(api.check_response("GET", "/health", 200, &serde_json::json!({})).is_err());
    // OpenAI's: `anyOf` with `type: null`, and a status documented by a `$ref` to a response.
    let openai = OpenApi::openai();
    let error = |code: Value| serde_json::json!({"error": {"message": "m", "type": "t", "param": null, "code": code}});
    assert!(openai.check_response("POST", "/embeddings", 429, &error(Value::Null)).is_ok());
    assert!(openai.check_response("POST", "/embeddings", 429, &error(serde_json::json!("c"))).is_ok());
    assert!(openai.check_response("POST", "/embeddings", 429, &error(serde_json::json!(429))).is_err());
    let embedding = serde_json::json!({"object": "list", "model": "m", "usage": {"prompt_tokens": 1, "total_tokens": 1},
        "data": [{"object": "embedding", "index": 0, "embedding": "AACAPw=="}]});
    assert!(openai.check_response("POST", "/embeddings", 200, &embedding).is_err(), "the document has float vectors only");
}
