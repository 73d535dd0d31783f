//! `albert serve` drains on SIGTERM: a real server process on an ephemeral loopback port gets SIGTERM while
//! requests are admitted and computing; every one of them is answered 200, the server then refuses connections and
//! exits 0.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use albert_testkit::http::{self, metric};
use serde_json::json;

#[cfg(unix)]
#[test]
fn sigterm_answers_every_admitted_request_then_exits_0() {
    let model = format!("{}/../../models/albert-small-sst2", env!("CARGO_MANIFEST_DIR"));
    // One input per forward pass: the requests stay in flight long enough to be caught by the signal.
    let mut server = Command::new(env!("CARGO_BIN_EXE_albert"))
        .args(["serve", "--port", "0", "--model", &format!("sst2={model}"), "--max-batch-requests", "1"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("start albert serve");
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let stderr = server.stderr.take().unwrap();
    // Reads every log line (a full pipe would block the server), handing over the address.
    let logs = std::thread::spawn(move || {
        let mut log = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("listening on http://") {
                addr_tx.send(addr.parse::<SocketAddr>().unwrap()).unwrap();
            }
            log.push(line);
        }
        log
    });
    let addr = addr_rx.recv_timeout(Duration::from_secs(60)).expect("the server printed its address once ready");
    assert_eq!(http::get(addr, "/health").unwrap().status, 200);

    let text = "the film was long and loud but the music was lovely ".repeat(8);
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let body = json!({"inputs": vec![vec![text.clone()]; 8], "truncate": true}).to_string();
            std::thread::spawn(move || http::post(addr, "/predict", &body).expect("an answer"))
        })
        .collect();
    let start = Instant::now();
    while metric(&http::get(addr, "/metrics").unwrap().text(), "te_request_in_flight") < 4.0 {
        assert!(start.elapsed() < Duration::from_secs(30), "the requests were never all in flight");
        std::thread::sleep(Duration::from_millis(1));
    }
    let kill = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    assert!(kill.success());

    for client in clients {
        let answer = client.join().unwrap();
        assert_eq!(answer.status, 200, "{}", answer.text());
        assert!(answer.header("x-request-id").is_some());
    }
    let status = server.wait().unwrap();
    let log = logs.join().unwrap().join("\n");
    assert!(status.success(), "albert serve exits 0 on SIGTERM ({status}); its log:\n{log}");
    assert!(log.contains("shutting down"), "{log}");
    assert!(http::get(addr, "/health").is_err(), "no connection after the server stopped");
}
