//! Parsing messages on worker threads while the reader keeps splitting the
//! container, with outcomes handed back strictly in source order and the
//! bytes in flight bounded.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::Scope;

use spoor_normalize::Locator;

use super::message::{parse_message, MessageContext, ParsedMessage};
use crate::read::Limits;

/// Most message bytes handed to workers and not yet written out.
const MAX_IN_FLIGHT: usize = 32 << 20;

/// One item in source order: a message to parse, or something already
/// judged unreadable (kept in the queue so order holds).
pub(crate) enum Job {
    Parse {
        bytes: Vec<u8>,
        context: MessageContext<'static>,
    },
    Quarantine {
        locator: Locator,
        reason: String,
        raw: Vec<u8>,
        size: u64,
    },
}

/// What became of a job.
pub(crate) enum Outcome {
    Parsed(Box<ParsedMessage>),
    Quarantine {
        locator: Locator,
        reason: String,
        raw: Vec<u8>,
        size: u64,
    },
}

/// Turns a job into its outcome. A panic in the parser quarantines the
/// message instead of losing it.
pub(crate) fn process(job: Job, limits: &Limits) -> Outcome {
    match job {
        Job::Parse { bytes, context } => {
            let locator = context.locator.clone();
            match catch_unwind(AssertUnwindSafe(|| parse_message(&bytes, context, limits))) {
                Ok(Ok(parsed)) => Outcome::Parsed(Box::new(parsed)),
                Ok(Err(reason)) => {
                    let size = bytes.len() as u64;
                    Outcome::Quarantine {
                        locator,
                        reason,
                        raw: bytes,
                        size,
                    }
                }
                Err(_) => {
                    let size = bytes.len() as u64;
                    let reason = "the MIME parser failed on this message".to_owned();
                    Outcome::Quarantine {
                        locator,
                        reason,
                        raw: bytes,
                        size,
                    }
                }
            }
        }
        Job::Quarantine {
            locator,
            reason,
            raw,
            size,
        } => Outcome::Quarantine {
            locator,
            reason,
            raw,
            size,
        },
    }
}

fn job_bytes(job: &Job) -> usize {
    match job {
        Job::Parse { bytes, .. } => bytes.len(),
        Job::Quarantine { raw, .. } => raw.len(),
    }
}

/// Worker threads fed in order; outcomes come back in the same order.
pub(crate) struct Pool<'a> {
    limits: &'a Limits,
    jobs: Option<SyncSender<(u64, Job, usize)>>,
    results: Receiver<(u64, Outcome, usize)>,
    pending: BTreeMap<u64, (Outcome, usize)>,
    next_seq: u64,
    next_emit: u64,
    in_flight: usize,
}

impl<'a> Pool<'a> {
    pub(crate) fn start<'scope>(
        scope: &'scope Scope<'scope, '_>,
        limits: &'a Limits,
        workers: usize,
    ) -> Pool<'a>
    where
        'a: 'scope,
    {
        let (job_tx, job_rx) = mpsc::sync_channel::<(u64, Job, usize)>(workers * 4);
        let (result_tx, result_rx) = mpsc::channel();
        let job_rx = Arc::new(Mutex::new(job_rx));
        for _ in 0..workers.max(1) {
            let job_rx = Arc::clone(&job_rx);
            let result_tx = result_tx.clone();
            scope.spawn(move || loop {
                let next = match job_rx.lock() {
                    Ok(guard) => guard.recv(),
                    Err(_) => return,
                };
                let Ok((seq, job, size)) = next else { return };
                if result_tx.send((seq, process(job, limits), size)).is_err() {
                    return;
                }
            });
        }
        Pool {
            limits,
            jobs: Some(job_tx),
            results: result_rx,
            pending: BTreeMap::new(),
            next_seq: 0,
            next_emit: 0,
            in_flight: 0,
        }
    }

    /// Queues a job, then emits whatever is ready, waiting while too many
    /// bytes are in flight.
    pub(crate) fn submit<E>(
        &mut self,
        job: Job,
        emit: &mut impl FnMut(Outcome) -> Result<(), E>,
    ) -> Result<(), E> {
        let size = job_bytes(&job);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.in_flight += size;
        let unsent = match &self.jobs {
            Some(jobs) => jobs.send((seq, job, size)).err().map(|e| e.0 .1),
            None => Some(job),
        };
        if let Some(job) = unsent {
            // No worker is left (cannot happen unless threads died):
            // do the work here rather than lose it.
            self.pending.insert(seq, (process(job, self.limits), size));
        }
        while let Ok((seq, outcome, size)) = self.results.try_recv() {
            self.pending.insert(seq, (outcome, size));
        }
        self.emit_ready(emit)?;
        while self.in_flight > MAX_IN_FLIGHT {
            let Ok((seq, outcome, size)) = self.results.recv() else {
                break;
            };
            self.pending.insert(seq, (outcome, size));
            self.emit_ready(emit)?;
        }
        Ok(())
    }

    /// Waits for every job and emits the rest.
    pub(crate) fn finish<E>(
        mut self,
        emit: &mut impl FnMut(Outcome) -> Result<(), E>,
    ) -> Result<(), E> {
        self.jobs = None;
        while self.next_emit < self.next_seq {
            let Ok((seq, outcome, size)) = self.results.recv() else {
                break;
            };
            self.pending.insert(seq, (outcome, size));
            self.emit_ready(emit)?;
        }
        Ok(())
    }

    fn emit_ready<E>(&mut self, emit: &mut impl FnMut(Outcome) -> Result<(), E>) -> Result<(), E> {
        while let Some((outcome, size)) = self.pending.remove(&self.next_emit) {
            self.next_emit += 1;
            self.in_flight -= size;
            emit(outcome)?;
        }
        Ok(())
    }
}
