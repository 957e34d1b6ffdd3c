//! Error classes from what agents print, and messages that say what to do.

use crate::process::Exit;
use maestro_protocol::ErrorClass;
use serde_json::Value;

/// The class of an error message, from the words CLIs and providers use. `Agent` when none fits.
pub fn classify(text: &str) -> ErrorClass {
    let t = text.to_lowercase();
    let any = |words: &[&str]| words.iter().any(|w| t.contains(w));
    // Order matters: "quota exceeded (429)" is exhaustion, not a rate limit.
    if any(&[
        "quota",
        "credit balance",
        "insufficient_quota",
        "insufficient credits",
        "out of credits",
        "billing",
        "usage limit",
        "context length",
        "context window",
        "prompt is too long",
        "maximum context",
        "token limit",
        "out of tokens",
        "tokens exhausted",
    ]) {
        ErrorClass::TokenExhaustion
    } else if any(&[
        "rate limit",
        "rate_limit",
        "ratelimit",
        "too many requests",
        "429",
        "overloaded",
        "resource_exhausted",
    ]) {
        ErrorClass::RateLimit
    } else if any(&[
        "unauthorized",
        "401",
        "403",
        "invalid api key",
        "invalid x-api-key",
        "api key",
        "authentication",
        "not logged in",
        "please run /login",
        "login required",
        "credentials",
        "permission denied by provider",
    ]) {
        ErrorClass::Auth
    } else if any(&[
        "network",
        "connection refused",
        "connection reset",
        "econnrefused",
        "econnreset",
        "enotfound",
        "etimedout",
        "getaddrinfo",
        "dns",
        "unable to connect",
        "fetch failed",
        "socket hang up",
        "could not resolve host",
        "stream disconnected",
    ]) {
        ErrorClass::Network
    } else {
        ErrorClass::Agent
    }
}

/// What a person should do about an error of this class.
pub fn advice(class: ErrorClass, cli: &str) -> String {
    match class {
        ErrorClass::NotFound => format!("install {cli} or set agents.{cli}.path"),
        ErrorClass::Auth => format!(
            "{cli} is not logged in or its key is wrong: run `{cli}` once in a terminal to log in, or set its API key in the daemon's environment"
        ),
        ErrorClass::RateLimit => {
            "the provider is throttling: wait, then `maestro agent send` again".to_owned()
        }
        ErrorClass::TokenExhaustion => {
            "out of tokens, credits or context: top up the account, pick another model (--model), or start a fresh agent".to_owned()
        }
        ErrorClass::Network => {
            "the provider cannot be reached: check the network and proxy settings of the daemon's environment".to_owned()
        }
        ErrorClass::Crash => format!(
            "{cli} exited unexpectedly: see `maestro agent logs` and the CLI's own logs"
        ),
        ErrorClass::Timeout => {
            "raise agents.silence_timeout_secs / agents.turn_timeout_secs if the task needs longer".to_owned()
        }
        ErrorClass::Agent => format!("see `maestro agent logs` for what {cli} said"),
    }
}

/// "claude exited with code 1 without a result: `<stderr>`".
pub fn crash_message(cli: &str, exit: &Exit, what: &str) -> String {
    let how = describe_exit(exit);
    let stderr = strip_ansi(&exit.stderr_tail);
    let stderr = stderr.trim();
    if stderr.is_empty() {
        format!("{cli} {how} {what}")
    } else {
        let last: Vec<&str> = stderr.lines().rev().take(3).collect();
        let last: Vec<&str> = last.into_iter().rev().collect();
        format!("{cli} {how} {what}: {}", last.join(" | "))
    }
}

/// `text` without terminal escape sequences (colours, cursor moves, titles): CLIs colour their
/// errors even on a pipe.
pub fn strip_ansi(text: &str) -> String {
    // A sequence cut at the end of the text is dropped with it.
    crate::output::Plain::default().push(text)
}

/// "exited with code 1", "was killed by signal 9".
pub fn describe_exit(exit: &Exit) -> String {
    match (exit.code, exit.signal) {
        (Some(c), _) => format!("exited with code {c}"),
        (None, Some(s)) => format!("was killed by signal {s}"),
        (None, None) => "ended".to_owned(),
    }
}

pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn escape_sequences_are_stripped() {
        assert_eq!(
            super::strip_ansi("\x1b[31mnot trusted\x1b[0m \x1b]0;title\x07ok \x1b(Bdone"),
            "not trusted ok done"
        );
    }

    use super::*;

    #[test]
    fn provider_messages_fall_in_their_class() {
        for (text, class) in [
            ("Invalid API key · Please run /login", ErrorClass::Auth),
            (
                "API Error: 401 {\"type\":\"authentication_error\"}",
                ErrorClass::Auth,
            ),
            ("429 Too Many Requests", ErrorClass::RateLimit),
            (
                "Claude AI usage limit reached|1750000000",
                ErrorClass::TokenExhaustion,
            ),
            (
                "You exceeded your current quota (429)",
                ErrorClass::TokenExhaustion,
            ),
            (
                "prompt is too long: 210000 tokens",
                ErrorClass::TokenExhaustion,
            ),
            (
                "request failed: connect ECONNREFUSED 127.0.0.1:443",
                ErrorClass::Network,
            ),
            ("stream disconnected before completion", ErrorClass::Network),
            ("something odd happened", ErrorClass::Agent),
        ] {
            assert_eq!(classify(text), class, "{text}");
        }
    }
}
