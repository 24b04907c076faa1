//! One module per subcommand.
pub mod admission;
pub mod attest;
pub mod compare;
pub mod completions;
pub mod db;
pub mod inspect;
pub mod keygen;
pub mod policy;
pub mod rules;
pub mod sbom;
pub mod scan;
pub mod sign;
pub mod verify;
pub mod verify_blob;
pub mod watch;
pub mod watch_live;
