//! Tests for this area live here (see main.rs).
