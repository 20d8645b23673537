//! Gathering file facts (in progress).
