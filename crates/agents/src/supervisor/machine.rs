//! The supervisor's pure core. [`Watch`] is the clock of one running turn: the silence and turn
//! watchdogs, the needs-input decision, the prompt a terminal UI gets typed once it is up, and the
//! escalation from SIGTERM to SIGKILL after a stop. The driver (`turn.rs`) feeds it what happened
//! and when, asks when to wake next, and does what it answers. [`end_of_turn`] is the state a
//! turn's outcome leaves the agent in. Nothing here reads a clock or touches a process, so the
//! rules are tested over event sequences with made-up instants.

use super::Outcome;
use crate::classify::advice;
use maestro_protocol::{AgentState, ErrorClass};
use std::time::{Duration, Instant};

/// How long a stopped process has between SIGTERM and SIGKILL.
pub(super) const KILL_GRACE: Duration = Duration::from_secs(3);

/// The limits of one turn.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// No output for this long kills the turn.
    pub silence: Option<Duration>,
    /// The turn may run this long in all.
    pub total: Option<Duration>,
    /// Quiet this long while working (on a partial line, or in a terminal) means it waits for
    /// a person.
    pub needs_input_after: Duration,
}

/// What the driver does now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Act {
    /// Nothing is due.
    Wait,
    /// A watchdog fired: say why, record the timeout, SIGTERM the process group.
    TimedOut(String),
    /// The grace after SIGTERM is over: SIGKILL.
    Kill,
    /// The terminal UI is up and quiet: type the prompt it could not take as an argument.
    TypePrompt,
    /// Quiet while working: the agent waits for a person.
    NeedsInput,
}

#[derive(Debug, Clone)]
pub(super) struct Watch {
    limits: Limits,
    interactive: bool,
    started: Instant,
    last_output: Instant,
    /// When SIGTERM went out (a stop or a watchdog); from then on only the kill is due.
    terminated: Option<Instant>,
    /// A prompt waits to be typed into the terminal UI.
    prompt_pending: bool,
}

impl Watch {
    pub(super) fn new(
        limits: Limits,
        interactive: bool,
        prompt_pending: bool,
        now: Instant,
    ) -> Watch {
        Watch {
            limits,
            interactive,
            started: now,
            last_output: now,
            terminated: None,
            prompt_pending,
        }
    }

    /// The process wrote on stdout: the state the agent moves to, if it changes.
    pub(super) fn stdout(&mut self, now: Instant, state: AgentState) -> Option<AgentState> {
        self.last_output = now;
        matches!(state, AgentState::Starting | AgentState::NeedsInput)
            .then_some(AgentState::Working)
    }

    /// The process wrote on stderr: diagnostics show it started, but do not answer a question.
    pub(super) fn stderr(&mut self, now: Instant, state: AgentState) -> Option<AgentState> {
        self.last_output = now;
        (state == AgentState::Starting).then_some(AgentState::Working)
    }

    /// Someone asked for the turn to stop: whether to SIGTERM now (not when already sent).
    pub(super) fn stop(&mut self, now: Instant) -> bool {
        if self.terminated.is_some() {
            return false;
        }
        self.terminated = Some(now);
        true
    }

    /// Whether a stop request is still listened to.
    pub(super) fn stoppable(&self) -> bool {
        self.terminated.is_none()
    }

    /// When to wake next (`None`: only output or a stop will change anything). `partial_line`:
    /// the last output ends without a line break (a prompt for an answer, in a headless CLI).
    pub(super) fn next_due(&self, state: AgentState, partial_line: bool) -> Option<Instant> {
        if let Some(t) = self.terminated {
            return Some(t + KILL_GRACE);
        }
        [
            // An agent waiting for a person's answer is not silent: it waits.
            self.limits
                .silence
                .filter(|_| state != AgentState::NeedsInput)
                .map(|s| self.last_output + s),
            self.limits.total.map(|t| self.started + t),
            self.waits_for_input(state, partial_line)
                .then(|| self.last_output + self.limits.needs_input_after),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn waits_for_input(&self, state: AgentState, partial_line: bool) -> bool {
        let quiet_means_waiting = self.interactive || partial_line;
        (quiet_means_waiting && state == AgentState::Working) || self.prompt_pending
    }

    /// What is due at `now`, in order: the kill after a stop, a watchdog, the typed prompt, a
    /// question.
    pub(super) fn tick(&mut self, now: Instant, state: AgentState, partial_line: bool) -> Act {
        if let Some(t) = self.terminated {
            return if now >= t + KILL_GRACE {
                Act::Kill
            } else {
                Act::Wait
            };
        }
        let quiet = now.saturating_duration_since(self.last_output);
        if let Some(s) = self
            .limits
            .silence
            .filter(|s| quiet >= *s && state != AgentState::NeedsInput)
        {
            self.terminated = Some(now);
            return Act::TimedOut(format!(
                "no output for {} s: killed by the watchdog (agents.silence_timeout_secs)",
                s.as_secs()
            ));
        }
        if let Some(t) = self
            .limits
            .total
            .filter(|t| now.saturating_duration_since(self.started) >= *t)
        {
            self.terminated = Some(now);
            return Act::TimedOut(format!(
                "the turn ran over {} s: killed by the watchdog (agents.turn_timeout_secs)",
                t.as_secs()
            ));
        }
        if quiet < self.limits.needs_input_after {
            return Act::Wait;
        }
        if self.prompt_pending {
            self.prompt_pending = false;
            // Typing is output of sorts: the terminal gets time to answer it.
            self.last_output = now;
            return Act::TypePrompt;
        }
        if (self.interactive || partial_line) && state == AgentState::Working {
            return Act::NeedsInput;
        }
        Act::Wait
    }
}

/// What a turn's end makes of the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct End {
    pub state: AgentState,
    /// Why, for the person (`AgentInfo.reason`).
    pub reason: Option<String>,
    pub class: Option<ErrorClass>,
    /// The turn's outcome as stored: `ok`, `warned`, `failed` or `stopped`.
    pub label: &'static str,
}

/// The state the turn `turn` of agent `name` (a `cli` agent) leaves it in. `prompted`: the turn
/// had a prompt (not only a setup command); `warnings`: what went wrong although it ended.
pub(super) fn end_of_turn(
    outcome: &Outcome,
    interactive: bool,
    prompted: bool,
    warnings: &[String],
    turn: u32,
    name: &str,
    cli: &str,
) -> End {
    let end = |state, reason, class, label| End {
        state,
        reason,
        class,
        label,
    };
    match outcome {
        Outcome::Ok if interactive && prompted => end(
            AgentState::Idle,
            Some(format!(
                "its terminal UI exited; `maestro agent send {name} PROMPT` starts it again"
            )),
            None,
            "ok",
        ),
        Outcome::Ok if !warnings.is_empty() => end(
            AgentState::Idle,
            Some(format!(
                "turn {turn} ended with warnings: {}",
                warnings.join("; ")
            )),
            None,
            "warned",
        ),
        Outcome::Ok => end(AgentState::Idle, None, None, "ok"),
        Outcome::Failed { class, message } => end(
            AgentState::Failed,
            Some(format!("{message} — {}", advice(*class, cli))),
            Some(*class),
            "failed",
        ),
        Outcome::Stopped(why) => end(AgentState::Done, Some(why.clone()), None, "stopped"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AgentState::*;

    const S: Duration = Duration::from_secs(1);

    fn limits(silence: Option<u64>, total: Option<u64>, needs_input: u64) -> Limits {
        Limits {
            silence: silence.map(Duration::from_secs),
            total: total.map(Duration::from_secs),
            needs_input_after: Duration::from_secs(needs_input),
        }
    }

    #[test]
    fn output_keeps_the_silence_watchdog_away_and_silence_kills() {
        let t0 = Instant::now();
        let mut w = Watch::new(limits(Some(10), None, 5), false, false, t0);
        assert_eq!(w.next_due(Starting, false), Some(t0 + 10 * S));
        assert_eq!(w.stdout(t0 + 8 * S, Starting), Some(Working));
        assert_eq!(w.tick(t0 + 10 * S, Working, false), Act::Wait);
        assert_eq!(w.next_due(Working, false), Some(t0 + 18 * S));
        let act = w.tick(t0 + 18 * S, Working, false);
        assert_eq!(
            act,
            Act::TimedOut(
                "no output for 10 s: killed by the watchdog (agents.silence_timeout_secs)".into()
            )
        );
        // Terminated: a stop is no longer listened to, and the kill follows the grace.
        assert!(!w.stoppable());
        assert_eq!(w.next_due(Working, false), Some(t0 + 18 * S + KILL_GRACE));
        assert_eq!(w.tick(t0 + 19 * S, Working, false), Act::Wait);
        assert_eq!(w.tick(t0 + 18 * S + KILL_GRACE, Working, false), Act::Kill);
    }

    #[test]
    fn an_agent_waiting_for_a_person_is_not_silent_but_the_turn_limit_holds() {
        let t0 = Instant::now();
        let mut w = Watch::new(limits(Some(10), Some(100), 5), false, false, t0);
        assert_eq!(w.tick(t0 + 50 * S, NeedsInput, false), Act::Wait);
        assert_eq!(w.next_due(NeedsInput, false), Some(t0 + 100 * S));
        assert!(matches!(
            w.tick(t0 + 100 * S, NeedsInput, false),
            Act::TimedOut(_)
        ));
        // Working again after the answer, its silence counts.
        let mut w = Watch::new(limits(Some(10), None, 5), false, false, t0);
        assert!(matches!(
            w.tick(t0 + 11 * S, Working, false),
            Act::TimedOut(_)
        ));
    }

    #[test]
    fn the_turn_limit_holds_however_chatty_the_agent_is() {
        let t0 = Instant::now();
        let mut w = Watch::new(limits(Some(10), Some(30), 5), false, false, t0);
        for s in 1..30 {
            w.stdout(t0 + s * S, Working);
            assert_eq!(w.tick(t0 + s * S, Working, false), Act::Wait, "at {s} s");
        }
        assert_eq!(w.next_due(Working, false), Some(t0 + 30 * S));
        assert!(matches!(
            w.tick(t0 + 30 * S, Working, false),
            Act::TimedOut(m) if m.starts_with("the turn ran over 30 s")
        ));
    }

    #[test]
    fn a_headless_agent_needs_input_only_when_quiet_on_a_partial_line() {
        let t0 = Instant::now();
        let mut w = Watch::new(limits(None, None, 5), false, false, t0);
        w.stdout(t0, Starting);
        // Whole lines and then quiet: thinking, not asking.
        assert_eq!(w.next_due(Working, false), None);
        assert_eq!(w.tick(t0 + 60 * S, Working, false), Act::Wait);
        // A question without a line break, then quiet.
        w.stdout(t0 + 60 * S, Working);
        assert_eq!(w.next_due(Working, true), Some(t0 + 65 * S));
        assert_eq!(w.tick(t0 + 64 * S, Working, true), Act::Wait);
        assert_eq!(w.tick(t0 + 65 * S, Working, true), Act::NeedsInput);
        // Already waiting: not said again; output moves it back to work.
        assert_eq!(w.tick(t0 + 70 * S, NeedsInput, true), Act::Wait);
        assert_eq!(w.stdout(t0 + 71 * S, NeedsInput), Some(Working));
        // Stderr does not answer a question.
        assert_eq!(w.stderr(t0 + 72 * S, NeedsInput), None);
        assert_eq!(w.stderr(t0 + 72 * S, Starting), Some(Working));
    }

    #[test]
    fn a_terminal_ui_gets_its_prompt_typed_when_up_then_waits_for_its_person() {
        let t0 = Instant::now();
        // Interactive agents have no watchdogs unless given their own.
        let mut w = Watch::new(limits(None, None, 2), true, true, t0);
        assert_eq!(w.next_due(Starting, false), Some(t0 + 2 * S));
        w.stdout(t0 + S, Starting);
        assert_eq!(w.tick(t0 + 2 * S, Working, false), Act::Wait);
        assert_eq!(w.tick(t0 + 3 * S, Working, false), Act::TypePrompt);
        // Typed once; the terminal gets time to answer before it counts as waiting.
        assert_eq!(w.tick(t0 + 4 * S, Working, false), Act::Wait);
        assert_eq!(w.tick(t0 + 5 * S, Working, false), Act::NeedsInput);
    }

    #[test]
    fn a_stop_terminates_once_and_kills_after_the_grace() {
        let t0 = Instant::now();
        let mut w = Watch::new(limits(Some(10), Some(20), 5), false, false, t0);
        assert!(w.stop(t0 + S));
        assert!(!w.stop(t0 + 2 * S), "SIGTERM goes out once");
        // No watchdog after a stop: only the kill is due.
        assert_eq!(w.next_due(Working, true), Some(t0 + S + KILL_GRACE));
        assert_eq!(w.tick(t0 + 3 * S, Working, true), Act::Wait);
        assert_eq!(w.tick(t0 + S + KILL_GRACE, Working, true), Act::Kill);
    }

    #[test]
    fn a_turn_ends_idle_warned_failed_or_done() {
        let end = |o: &Outcome, interactive, warnings: &[String]| {
            end_of_turn(o, interactive, true, warnings, 3, "fix-it", "codex")
        };
        let ok = end(&Outcome::Ok, false, &[]);
        assert_eq!((ok.state, ok.reason, ok.label), (Idle, None, "ok"));
        let warned = end(
            &Outcome::Ok,
            false,
            &["git commit denied".into(), "tests failed".into()],
        );
        assert_eq!(warned.state, Idle);
        assert_eq!(warned.label, "warned");
        assert_eq!(
            warned.reason.as_deref(),
            Some("turn 3 ended with warnings: git commit denied; tests failed")
        );
        let failed = end(
            &Outcome::Failed {
                class: ErrorClass::Auth,
                message: "401 from the provider".into(),
            },
            false,
            &[],
        );
        assert_eq!(
            (failed.state, failed.class),
            (Failed, Some(ErrorClass::Auth))
        );
        assert!(
            failed
                .reason
                .as_deref()
                .unwrap()
                .starts_with("401 from the provider — "),
            "{failed:?}"
        );
        let stopped = end(&Outcome::Stopped("stopped by a person".into()), false, &[]);
        assert_eq!(
            (stopped.state, stopped.reason.as_deref(), stopped.label),
            (Done, Some("stopped by a person"), "stopped")
        );
        // A terminal UI that exited is ready for the next prompt, and says how.
        let exited = end(&Outcome::Ok, true, &[]);
        assert_eq!(exited.state, Idle);
        assert!(
            exited
                .reason
                .unwrap()
                .contains("`maestro agent send fix-it PROMPT`")
        );
        // A setup command alone leaves no reason.
        let setup = end_of_turn(&Outcome::Ok, true, false, &[], 0, "fix-it", "codex");
        assert_eq!((setup.state, setup.reason), (Idle, None));
    }
}
