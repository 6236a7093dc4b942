//! A real ingestion server for tests: speaks the Application Insights track protocol on
//! 127.0.0.1 (HTTP/1.1, gzip or plain JSON array; 200, 206, 400 bodies as the real service),
//! validates every envelope and records what it accepted. It can be told to fail: answer a
//! status (500, 503, 429 with `Retry-After`, 400), answer 206 for chosen items, drop the
//! connection, or stall past the client's timeout.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// How the server answers the next track calls.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// Validate; 200 when all items are valid, 206 (per-item 400) when some are not, 400 when
    /// none is.
    Accept,
    /// Answer this status to every call (nothing recorded).
    Status(u16),
    /// Refuse every item with this status and message, as the service refuses a wrong key
    /// (400, `"Invalid instrumentation key"`).
    Refuse(u16, String),
    /// 429 with `Retry-After: secs`.
    RetryAfter(u64),
    /// 206: the items at these indexes get this per-item status; the others are recorded.
    Partial(Vec<usize>, u16),
    /// Close the connection without answering.
    Drop,
    /// Wait this long before answering (then accept).
    Stall(Duration),
    /// Microsoft Entra ID: 401 unless `Authorization: Bearer <token>` names one of these
    /// tokens; then validate as `Accept`.
    Bearer(Vec<String>),
}

#[derive(Debug, Default)]
struct State {
    call_times: Vec<Instant>,
    accepted: Vec<Value>,
    rejected: Vec<(Value, String)>,
    calls: usize,
    gzip_calls: usize,
    paths: Vec<String>,
    /// The `Authorization` headers of accepted calls (`Mode::Bearer`).
    bearers: Vec<String>,
}

/// The running server.
#[derive(Clone)]
pub struct Ingest {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    mode: Arc<Mutex<Mode>>,
}

impl Ingest {
    /// Starts on 127.0.0.1, port 0, on the current Tokio runtime.
    pub async fn start() -> Ingest {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ingest = Ingest {
            addr: listener.local_addr().unwrap(),
            state: Arc::default(),
            mode: Arc::new(Mutex::new(Mode::Accept)),
        };
        let server = ingest.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let server = server.clone();
                tokio::spawn(async move { server.connection(stream).await });
            }
        });
        ingest
    }

    /// `InstrumentationKey=...;IngestionEndpoint=http://127.0.0.1:PORT`
    /// The environment of an app child configured by the settings file `file` and sending here.
    pub fn app_env(&self, file: impl std::fmt::Display) -> Vec<(String, String)> {
        vec![
            ("OPENCENSUS_SETTINGS".into(), file.to_string()),
            (
                "APPLICATIONINSIGHTS_CONNECTION_STRING".into(),
                self.connection_string(),
            ),
        ]
    }

    pub fn connection_string(&self) -> String {
        format!(
            "InstrumentationKey={IKEY};IngestionEndpoint=http://{}",
            self.addr
        )
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn accepted(&self) -> Vec<Value> {
        self.state.lock().unwrap().accepted.clone()
    }

    pub fn rejected(&self) -> Vec<(Value, String)> {
        self.state.lock().unwrap().rejected.clone()
    }

    pub fn calls(&self) -> usize {
        self.state.lock().unwrap().calls
    }

    /// When each track call arrived.
    /// Track calls received so far (answered or not: a stalled call counts as soon as its
    /// body arrived).
    pub fn received(&self) -> usize {
        self.state.lock().unwrap().call_times.len()
    }

    pub fn call_times(&self) -> Vec<Instant> {
        self.state.lock().unwrap().call_times.clone()
    }

    /// Request envelopes accepted, by their id (span id); more than one means a duplicate.
    pub fn request_ids(&self) -> std::collections::HashMap<String, usize> {
        let mut ids = std::collections::HashMap::new();
        for e in self.accepted() {
            if e["name"] == "Microsoft.ApplicationInsights.Request" {
                let id = e["data"]["baseData"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                *ids.entry(id).or_insert(0) += 1;
            }
        }
        ids
    }

    pub fn bearers(&self) -> Vec<String> {
        self.state.lock().unwrap().bearers.clone()
    }

    pub fn gzip_calls(&self) -> usize {
        self.state.lock().unwrap().gzip_calls
    }

    pub fn paths(&self) -> Vec<String> {
        self.state.lock().unwrap().paths.clone()
    }

    /// Waits (bounded) until `pred` holds for the accepted envelopes.
    pub async fn wait_for(&self, what: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let accepted = self.accepted();
            if pred(&accepted) {
                return accepted;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; accepted: {accepted:#?}; rejected: {:#?}",
                self.rejected()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn connection(&self, stream: TcpStream) {
        let mut reader = BufReader::new(stream);
        loop {
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).await.unwrap_or(0) == 0 {
                return;
            }
            let mut length = 0usize;
            let mut gzip = false;
            let mut authorization = None;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
                    if k == "content-length" {
                        length = v.parse().unwrap_or(0);
                    } else if k == "content-encoding" && v.eq_ignore_ascii_case("gzip") {
                        gzip = true;
                    } else if k == "authorization" {
                        authorization = Some(v.to_string());
                    }
                }
            }
            let mut body = vec![0u8; length];
            if reader.read_exact(&mut body).await.is_err() {
                return;
            }
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_string();
            self.state.lock().unwrap().call_times.push(Instant::now());
            let mode = self.mode.lock().unwrap().clone();
            let (status, extra, body) = match mode {
                Mode::Drop => {
                    self.state.lock().unwrap().calls += 1;
                    return;
                }
                Mode::Stall(d) => {
                    tokio::time::sleep(d).await;
                    self.track(&path, gzip, &body, None)
                }
                Mode::Status(code) => {
                    self.state.lock().unwrap().calls += 1;
                    (
                        code,
                        String::new(),
                        json!({"itemsReceived": 0, "itemsAccepted": 0, "errors": []}),
                    )
                }
                Mode::Refuse(code, message) => {
                    self.state.lock().unwrap().calls += 1;
                    (
                        code,
                        String::new(),
                        json!({"itemsReceived": 1, "itemsAccepted": 0, "errors": [{"index": 0, "statusCode": code, "message": message}]}),
                    )
                }
                Mode::RetryAfter(secs) => {
                    self.state.lock().unwrap().calls += 1;
                    (
                        429,
                        format!("Retry-After: {secs}\r\n"),
                        json!({"itemsReceived": 0, "itemsAccepted": 0, "errors": []}),
                    )
                }
                Mode::Partial(indexes, code) => {
                    self.track(&path, gzip, &body, Some((indexes, code)))
                }
                Mode::Accept => self.track(&path, gzip, &body, None),
                Mode::Bearer(tokens) => {
                    let ok = authorization
                        .as_deref()
                        .and_then(|a| a.strip_prefix("Bearer "))
                        .is_some_and(|t| tokens.iter().any(|want| want == t));
                    if ok {
                        self.state
                            .lock()
                            .unwrap()
                            .bearers
                            .push(authorization.clone().unwrap_or_default());
                        self.track(&path, gzip, &body, None)
                    } else {
                        self.state.lock().unwrap().calls += 1;
                        (
                            401,
                            String::new(),
                            json!({"itemsReceived": 0, "itemsAccepted": 0, "errors": [{"index": 0, "statusCode": 401, "message": "Unauthorized"}]}),
                        )
                    }
                }
            };
            let body = body.to_string();
            let response = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{extra}\r\n{body}",
                body.len()
            );
            let stream = reader.get_mut();
            if stream.write_all(response.as_bytes()).await.is_err() {
                return;
            }
        }
    }

    fn track(
        &self,
        path: &str,
        gzip: bool,
        body: &[u8],
        fail: Option<(Vec<usize>, u16)>,
    ) -> (u16, String, Value) {
        let mut state = self.state.lock().unwrap();
        state.calls += 1;
        state.paths.push(path.to_string());
        if path != "/v2/track" && path != "/v2.1/track" {
            return (404, String::new(), json!({"error": "not found"}));
        }
        let mut raw = Vec::new();
        if gzip {
            state.gzip_calls += 1;
            if flate2::read::GzDecoder::new(body)
                .read_to_end(&mut raw)
                .is_err()
            {
                return (
                    400,
                    String::new(),
                    json!({"itemsReceived": 0, "itemsAccepted": 0, "errors": [{"index": 0, "statusCode": 400, "message": "bad gzip"}]}),
                );
            }
        } else {
            raw = body.to_vec();
        }
        let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(&raw) else {
            return (
                400,
                String::new(),
                json!({"itemsReceived": 0, "itemsAccepted": 0, "errors": [{"index": 0, "statusCode": 400, "message": "body is not a JSON array"}]}),
            );
        };
        let mut errors = Vec::new();
        for (index, item) in items.iter().enumerate() {
            if let Some((indexes, code)) = &fail
                && indexes.contains(&index)
            {
                errors.push(json!({"index": index, "statusCode": code, "message": "told to fail"}));
                continue;
            }
            match validate(item) {
                Ok(()) => state.accepted.push(item.clone()),
                Err(message) => {
                    state.rejected.push((item.clone(), message.clone()));
                    errors.push(json!({"index": index, "statusCode": 400, "message": message}));
                }
            }
        }
        let accepted = items.len() - errors.len();
        let status = if errors.is_empty() {
            200
        } else if accepted == 0 && fail.is_none() {
            400
        } else {
            206
        };
        (
            status,
            String::new(),
            json!({"itemsReceived": items.len(), "itemsAccepted": accepted, "errors": errors}),
        )
    }
}

/// The Request envelopes of `all`.
pub fn requests(all: &[Value]) -> Vec<&Value> {
    all.iter()
        .filter(|e| e["name"] == "Microsoft.ApplicationInsights.Request")
        .collect()
}

pub const IKEY: &str = "0d3c4f2a-5b6e-4c7d-8e9f-a0b1c2d3e4f5";

fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn is_time(s: &str) -> bool {
    // 2024-01-02T03:04:05.1234567Z (fraction optional, 1-7 digits)
    let b = s.as_bytes();
    if b.len() < 20 || !s.ends_with('Z') {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && (b.len() == 20
            || (b[19] == b'.' && (21..=28).contains(&b.len()) && digits(20..b.len() - 1)))
}

/// `d.hh:mm:ss.fffffff` or `hh:mm:ss.fffffff` (fraction optional).
pub fn is_duration(s: &str) -> bool {
    let (days, rest) = match s.split_once('.') {
        Some((d, r)) if !d.contains(':') => (Some(d), r),
        _ => (None, s),
    };
    if days.is_some_and(|d| d.is_empty() || !d.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    let (hms, frac) = match rest.split_once('.') {
        Some((h, f)) => (h, Some(f)),
        None => (rest, None),
    };
    let parts: Vec<&str> = hms.split(':').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()))
        && frac.is_none_or(|f| (1..=7).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()))
}

fn string(v: &Value, field: &str, max: usize, required: bool) -> Result<(), String> {
    match v.get(field) {
        None | Some(Value::Null) if !required => Ok(()),
        None | Some(Value::Null) => Err(format!("{field} is required")),
        Some(Value::String(s)) if s.chars().count() <= max => Ok(()),
        Some(Value::String(_)) => Err(format!("{field} is longer than {max}")),
        Some(other) => Err(format!("{field} must be a string, found {other}")),
    }
}

fn properties(v: &Value) -> Result<(), String> {
    match v.get("properties") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(map)) => {
            for (k, val) in map {
                if k.chars().count() > 150 {
                    return Err(format!("property name {k} is longer than 150"));
                }
                match val {
                    Value::String(s) if s.chars().count() <= 8192 => {}
                    _ => return Err(format!("property {k} must be a string of at most 8192")),
                }
            }
            Ok(())
        }
        Some(other) => Err(format!("properties must be an object, found {other}")),
    }
}

/// Validates one envelope as the ingestion service does.
pub fn validate(e: &Value) -> Result<(), String> {
    let name = e
        .get("name")
        .and_then(Value::as_str)
        .ok_or("name is required")?;
    let expected_base = match name {
        "Microsoft.ApplicationInsights.Request" => "RequestData",
        "Microsoft.ApplicationInsights.RemoteDependency" => "RemoteDependencyData",
        "Microsoft.ApplicationInsights.Exception" => "ExceptionData",
        "Microsoft.ApplicationInsights.Message" => "MessageData",
        "Microsoft.ApplicationInsights.Event" => "EventData",
        other => return Err(format!("unknown envelope name {other}")),
    };
    let time = e
        .get("time")
        .and_then(Value::as_str)
        .ok_or("time is required")?;
    if !is_time(time) {
        return Err(format!("time {time} is not ISO 8601 UTC"));
    }
    let ikey = e
        .get("iKey")
        .and_then(Value::as_str)
        .ok_or("iKey is required")?;
    if !is_guid(ikey) {
        return Err("iKey is not a GUID".to_string());
    }
    if let Some(rate) = e.get("sampleRate") {
        let r = rate.as_f64().ok_or("sampleRate must be a number")?;
        if !(r > 0.0 && r <= 100.0) {
            return Err(format!("sampleRate {r} out of (0, 100]"));
        }
    }
    if let Some(tags) = e.get("tags") {
        let tags = tags.as_object().ok_or("tags must be an object")?;
        for (k, v) in tags {
            let s = v
                .as_str()
                .ok_or_else(|| format!("tag {k} must be a string"))?;
            let max = match k.as_str() {
                "ai.operation.id" | "ai.operation.parentId" | "ai.user.id" => 128,
                "ai.operation.name" | "ai.cloud.role" | "ai.cloud.roleInstance" => 1024,
                _ => 8192,
            };
            if s.chars().count() > max {
                return Err(format!("tag {k} is longer than {max}"));
            }
        }
    }
    let data = e
        .get("data")
        .and_then(Value::as_object)
        .ok_or("data is required")?;
    let base_type = data
        .get("baseType")
        .and_then(Value::as_str)
        .ok_or("data.baseType is required")?;
    if base_type != expected_base {
        return Err(format!("baseType {base_type} does not match {name}"));
    }
    let base = data.get("baseData").ok_or("data.baseData is required")?;
    if base.get("ver").and_then(Value::as_i64) != Some(2) {
        return Err("baseData.ver must be 2".to_string());
    }
    match base_type {
        "RequestData" => {
            string(base, "id", 128, true)?;
            string(base, "name", 1024, false)?;
            string(base, "responseCode", 1024, true)?;
            string(base, "url", 2048, false)?;
            string(base, "source", 1024, false)?;
            let d = base
                .get("duration")
                .and_then(Value::as_str)
                .ok_or("duration is required")?;
            if !is_duration(d) {
                return Err(format!("duration {d} is not d.hh:mm:ss.fffffff"));
            }
            if !base.get("success").is_some_and(Value::is_boolean) {
                return Err("success must be a boolean".to_string());
            }
            properties(base)?;
        }
        "RemoteDependencyData" => {
            string(base, "name", 1024, true)?;
            string(base, "id", 128, false)?;
            string(base, "resultCode", 1024, false)?;
            string(base, "data", 8192, false)?;
            string(base, "type", 1024, false)?;
            string(base, "target", 1024, false)?;
            let d = base
                .get("duration")
                .and_then(Value::as_str)
                .ok_or("duration is required")?;
            if !is_duration(d) {
                return Err(format!("duration {d} is not d.hh:mm:ss.fffffff"));
            }
            properties(base)?;
        }
        "ExceptionData" => {
            let exceptions = base
                .get("exceptions")
                .and_then(Value::as_array)
                .ok_or("exceptions must be an array")?;
            if exceptions.is_empty() {
                return Err("exceptions is empty".to_string());
            }
            for x in exceptions {
                string(x, "typeName", 1024, true)?;
                string(x, "message", 32768, true)?;
                string(x, "stack", 32768, false)?;
                if let Some(parsed) = x.get("parsedStack")
                    && !parsed.is_array()
                {
                    return Err("parsedStack must be an array of frames".to_string());
                }
            }
            properties(base)?;
        }
        "MessageData" => {
            string(base, "message", 32768, true)?;
            properties(base)?;
        }
        _ => {
            string(base, "name", 512, true)?;
            properties(base)?;
        }
    }
    Ok(())
}

#[test]
fn the_validator_rejects_what_ingestion_rejects() {
    let good = json!({
        "name": "Microsoft.ApplicationInsights.Request",
        "time": "2024-01-02T03:04:05.1234567Z",
        "iKey": IKEY,
        "tags": {"ai.operation.id": "0af7651916cd43dd8448eb211c80319c"},
        "data": {"baseType": "RequestData", "baseData": {
            "ver": 2, "id": "b7ad6b7169203331", "name": "GET /", "duration": "00:00:00.0012345",
            "responseCode": "200", "success": true, "url": "http://x/"}}
    });
    validate(&good).unwrap();
    let mut bad_duration = good.clone();
    bad_duration["data"]["baseData"]["duration"] = json!("1.5ms");
    assert!(validate(&bad_duration).is_err());
    let mut bad_key = good.clone();
    bad_key["iKey"] = json!("not-a-guid");
    assert!(validate(&bad_key).is_err());
    let exception = json!({
        "name": "Microsoft.ApplicationInsights.Exception",
        "time": "2024-01-02T03:04:05Z",
        "iKey": IKEY,
        "data": {"baseType": "ExceptionData", "baseData": {"ver": 2, "exceptions": [
            {"typeName": "E", "message": "m", "parsedStack": "a string, as OpenCensus sent"}]}}
    });
    assert!(validate(&exception).unwrap_err().contains("parsedStack"));
    assert!(is_duration("1.02:03:04.5"));
    assert!(!is_duration("02:03"));
}
