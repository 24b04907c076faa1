//! One module per subcommand.
pub mod db;
pub mod inspect;
pub mod sbom;
pub mod scan;
pub mod keygen;
pub mod verify_blob;
pub mod rules;
pub mod watch;
