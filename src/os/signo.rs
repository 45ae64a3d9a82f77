//! The signal numbers rinit's policy names, as this target's kernel ABI
//! numbers them, so that nothing outside this layer names libc. A leaf of
//! its own: `signals` takes its numbers from here, and `sys` takes
//! `signals`' types, so neither depends on the other both ways.

pub use libc::{SIGABRT, SIGBUS, SIGCHLD, SIGCONT, SIGFPE, SIGHUP, SIGILL, SIGINT, SIGKILL};
pub use libc::{SIGPIPE, SIGPOLL, SIGQUIT, SIGSEGV, SIGSTOP, SIGSYS, SIGTERM, SIGTRAP, SIGXFSZ};
