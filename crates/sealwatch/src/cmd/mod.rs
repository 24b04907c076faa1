//! One module per subcommand.
pub mod db;
pub mod inspect;
pub mod sbom;
pub mod scan;
pub mod keygen;
pub mod verify_blob;
pub mod sign;
pub mod attest;
pub mod verify;
pub mod rules;
pub mod watch;
pub mod watch_live;
pub mod admission;
pub mod policy;
