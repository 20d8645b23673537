//! The caller state (in progress).
