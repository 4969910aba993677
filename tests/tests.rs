//! End-to-end tests: each runs the real `spoor` binary on a fresh store.

mod util;

mod attest;

mod bad_input;
mod cli;
mod crash;
mod disk;
mod notify;
mod reading;
mod run;
mod signal;
mod tamper;
mod teams;
mod trail;
mod whatsapp;
